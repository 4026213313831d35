/**
 * A tiny DICOM Part-10 encoder used only by tests: explicit VR little endian (or any transfer syntax UID
 * written into the meta header), just the tags a CT slice reader needs. It lets the tests build series with
 * known geometry and values instead of shipping real patient files.
 * @module
 */

/** What one encoded slice holds. */
export interface SliceSpec {
  rows: number;
  columns: number;
  /** ImagePositionPatient, LPS mm. */
  position: [number, number, number];
  /** ImageOrientationPatient: row direction then column direction. Default axial `[1,0,0, 0,1,0]`. */
  orientation?: number[];
  /** PixelSpacing `[between rows, between columns]`. Default `[0.5, 0.75]`. */
  pixelSpacing?: [number, number];
  /** Stored values, row by row. */
  values: Int16Array | Uint16Array;
  seriesUid?: string;
  instance?: number;
  slope?: number;
  intercept?: number;
  /** Default: explicit VR little endian. */
  transferSyntax?: string;
  /** Write pixel data as an encapsulated (compressed-style) fragment sequence. Default false. */
  encapsulated?: boolean;
  modality?: string;
}

const LONG_VRS = new Set(["OB", "OW", "OF", "SQ", "UT", "UN"]);

/** Encodes one slice as a DICOM Part-10 file. */
export function encodeDicom(spec: SliceSpec): Uint8Array {
  const signed = spec.values instanceof Int16Array;
  const syntax = spec.transferSyntax ?? "1.2.840.10008.1.2.1";
  const sopClass = "1.2.840.10008.5.1.4.1.1.2"; // CT Image Storage
  const sopInstance = `1.2.826.0.1.3680043.99.${spec.instance ?? 1}.${Math.round(spec.position[2] * 1000)}`;
  const meta = [
    element(0x0002, 0x0001, "OB", new Uint8Array([0, 1])),
    element(0x0002, 0x0002, "UI", uid(sopClass)),
    element(0x0002, 0x0003, "UI", uid(sopInstance)),
    element(0x0002, 0x0010, "UI", uid(syntax)),
    element(0x0002, 0x0012, "UI", uid("1.2.826.0.1.3680043.99.1")),
  ];
  const metaLength = meta.reduce((n, e) => n + e.length, 0);
  const pixels = new Uint8Array(spec.values.buffer, spec.values.byteOffset, spec.values.byteLength);
  const body = [
    element(0x0008, 0x0016, "UI", uid(sopClass)),
    element(0x0008, 0x0018, "UI", uid(sopInstance)),
    element(0x0008, 0x0060, "CS", text(spec.modality ?? "CT")),
    element(0x0020, 0x000d, "UI", uid("1.2.826.0.1.3680043.99.100")),
    element(0x0020, 0x000e, "UI", uid(spec.seriesUid ?? "1.2.826.0.1.3680043.99.200")),
    element(0x0020, 0x0013, "IS", text(String(spec.instance ?? 1))),
    element(0x0020, 0x0032, "DS", text(spec.position.join("\\"))),
    element(0x0020, 0x0037, "DS", text((spec.orientation ?? [1, 0, 0, 0, 1, 0]).join("\\"))),
    element(0x0028, 0x0002, "US", u16(1)),
    element(0x0028, 0x0004, "CS", text("MONOCHROME2")),
    element(0x0028, 0x0010, "US", u16(spec.rows)),
    element(0x0028, 0x0011, "US", u16(spec.columns)),
    element(0x0028, 0x0030, "DS", text((spec.pixelSpacing ?? [0.5, 0.75]).join("\\"))),
    element(0x0028, 0x0100, "US", u16(16)),
    element(0x0028, 0x0101, "US", u16(16)),
    element(0x0028, 0x0102, "US", u16(15)),
    element(0x0028, 0x0103, "US", u16(signed ? 1 : 0)),
    element(0x0028, 0x1052, "DS", text(String(spec.intercept ?? 0))),
    element(0x0028, 0x1053, "DS", text(String(spec.slope ?? 1))),
    spec.encapsulated ? encapsulatedPixels(pixels) : element(0x7fe0, 0x0010, "OW", pixels),
  ];
  return concat([
    new Uint8Array(128),
    new TextEncoder().encode("DICM"),
    element(0x0002, 0x0000, "UL", u32(metaLength)),
    ...meta,
    ...body,
  ]);
}

function element(group: number, tag: number, vr: string, value: Uint8Array): Uint8Array {
  const padded = value.length % 2 ? concat([value, new Uint8Array([vr === "UI" ? 0 : 0x20])]) : value;
  const long = LONG_VRS.has(vr);
  const head = new Uint8Array(long ? 12 : 8);
  const view = new DataView(head.buffer);
  view.setUint16(0, group, true);
  view.setUint16(2, tag, true);
  head[4] = vr.charCodeAt(0);
  head[5] = vr.charCodeAt(1);
  if (long) view.setUint32(8, padded.length, true);
  else view.setUint16(6, padded.length, true);
  return concat([head, padded]);
}

function encapsulatedPixels(fragment: Uint8Array): Uint8Array {
  const head = new Uint8Array(12);
  const view = new DataView(head.buffer);
  view.setUint16(0, 0x7fe0, true);
  view.setUint16(2, 0x0010, true);
  head[4] = "O".charCodeAt(0);
  head[5] = "B".charCodeAt(0);
  view.setUint32(8, 0xffffffff, true);
  return concat([
    head,
    item(0xe000, new Uint8Array(0)),
    item(0xe000, fragment),
    item(0xe0dd, new Uint8Array(0)),
  ]);
}

function item(tag: number, value: Uint8Array): Uint8Array {
  const head = new Uint8Array(8);
  const view = new DataView(head.buffer);
  view.setUint16(0, 0xfffe, true);
  view.setUint16(2, tag, true);
  view.setUint32(4, value.length, true);
  return concat([head, value]);
}

const text = (s: string) => new TextEncoder().encode(s);
const uid = (s: string) => new TextEncoder().encode(s);
const u16 = (n: number) => new Uint8Array(new Uint16Array([n]).buffer);
const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Stored value of voxel (x, y, z) in the test series; the expected HU is `stored * slope + intercept`. */
export const storedValue = (x: number, y: number, z: number) => x + 10 * y + 100 * z - 300;

/** Options for {@linkcode makeSeries}. */
export interface SeriesOptions {
  slices?: number;
  rows?: number;
  columns?: number;
  /** Distance between slices along the normal, mm. Default 2.5. */
  gap?: number;
  orientation?: number[];
  origin?: [number, number, number];
  slope?: number;
  intercept?: number;
}

/**
 * Encodes a series whose slice z (in position order) holds `storedValue(x, y, z)`, returned in a shuffled
 * but fixed order with file names that do not sort by position.
 */
export function makeSeries(options: SeriesOptions = {}): { name: string; bytes: Uint8Array }[] {
  const { slices = 4, rows = 3, columns = 5, gap = 2.5, slope = 1, intercept = -1024 } = options;
  const orientation = options.orientation ?? [1, 0, 0, 0, 1, 0];
  const origin = options.origin ?? [-40, 25, 100];
  const normal = [
    orientation[1] * orientation[5] - orientation[2] * orientation[4],
    orientation[2] * orientation[3] - orientation[0] * orientation[5],
    orientation[0] * orientation[4] - orientation[1] * orientation[3],
  ];
  const files = [];
  for (let z = 0; z < slices; z++) {
    const values = new Int16Array(rows * columns);
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < columns; x++) values[y * columns + x] = storedValue(x, y, z);
    }
    const position = origin.map((o, i) => o + normal[i] * gap * z) as [number, number, number];
    // Instance numbers run backwards so that a reader sorting by them, not by position, gets it wrong.
    const bytes = encodeDicom({
      rows,
      columns,
      position,
      orientation,
      values,
      slope,
      intercept,
      instance: slices - z,
    });
    files.push({ name: `IM${String(1000 + ((z * 7919) % 997)).slice(1)}.dcm`, bytes });
  }
  return shuffled(files);
}

/** A Fisher-Yates shuffle with a fixed LCG seed: shuffled, but the same order in every run. */
function shuffled<T>(items: T[]): T[] {
  const out = items.slice();
  let state = 12345;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
