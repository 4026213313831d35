/**
 * NIfTI volumes: {@linkcode readNifti} parses `.nii` / `.nii.gz` with nifti-reader-js, and
 * {@linkcode writeNifti} is blendct's own small NIfTI-1 single-file writer (float32 or scaled int16, sform
 * and qform from the volume's affine, optionally gzipped).
 *
 * NIfTI stores voxels x fastest, then y, then z: exactly the memory order of a {@linkcode Volume}'s
 * `[z][y][x]` C-order array, so no reordering is needed either way; only the shape is listed backwards.
 * @module
 */
import { gzipSync, nifti } from "../deps.ts";
import { gunzipChecked, isGzip } from "./gzip.ts";
import { UserError } from "../errors.ts";
import type { Volume } from "../volume.ts";
import { alignedCopy, assertFinite, toFloat32 } from "./checks.ts";
import { checkStatedUnit, inferUnit } from "../units.ts";

/** Options for {@linkcode readNifti}. */
export interface ReadNiftiOptions {
  /** Name used in error messages, usually the file path. Default `"NIfTI data"`. */
  name?: string;
  /**
   * Unit of the values (checked against them: HU within [0, 1] is refused). Default: the unit blendct wrote
   * into the header's description, else inferred from the values (`unitNotice` says so), else a one-line
   * error asking for `--unit hu|mu|image`.
   */
  unit?: Volume["unit"];
  /** Read 2D data (one image, or a 2D sinogram of views x bins) as one slice. Default `false`. */
  planar?: boolean;
}

/** Options for {@linkcode writeNifti}. */
export interface WriteNiftiOptions {
  /** Gzip the file (for `.nii.gz`). Default `true`. */
  gzip?: boolean;
  /**
   * Stored voxel type. Default `"float32"`, which is lossless. `"int16"` halves the size: integer data within
   * the int16 range is stored exactly (slope 1), anything else is mapped linearly onto the int16 range with
   * `scl_slope` / `scl_inter`.
   */
  datatype?: "float32" | "int16";
  /** Free text for the header's 80-byte description. Default: `"blendct unit=<unit>"`. */
  description?: string;
}

interface DatatypeInfo {
  name: string;
  bytes: number;
  /** Typed-array view for little-endian data, the common case, which avoids a DataView call per voxel. */
  view: (buffer: ArrayBuffer) => ArrayLike<number>;
  get: (view: DataView, offset: number, littleEndian: boolean) => number;
}

const DATATYPES: Record<number, DatatypeInfo> = {
  2: { name: "uint8", bytes: 1, view: (b) => new Uint8Array(b), get: (v, o) => v.getUint8(o) },
  4: { name: "int16", bytes: 2, view: (b) => new Int16Array(b), get: (v, o, le) => v.getInt16(o, le) },
  8: { name: "int32", bytes: 4, view: (b) => new Int32Array(b), get: (v, o, le) => v.getInt32(o, le) },
  16: { name: "float32", bytes: 4, view: (b) => new Float32Array(b), get: (v, o, le) => v.getFloat32(o, le) },
  64: { name: "float64", bytes: 8, view: (b) => new Float64Array(b), get: (v, o, le) => v.getFloat64(o, le) },
  256: { name: "int8", bytes: 1, view: (b) => new Int8Array(b), get: (v, o) => v.getInt8(o) },
  512: { name: "uint16", bytes: 2, view: (b) => new Uint16Array(b), get: (v, o, le) => v.getUint16(o, le) },
};

const DATATYPE_NAMES: Record<number, string> = {
  1: "binary",
  32: "complex64",
  128: "rgb24",
  768: "uint32",
  1024: "int64",
  1280: "uint64",
  1536: "float128",
  1792: "complex128",
  2048: "complex256",
  2304: "rgba32",
};

const SUPPORTED = Object.values(DATATYPES).map((d) => d.name).join(", ");
const UNITS = ["HU", "attenuation", "image"] as const;
type Header = ReturnType<typeof nifti.readHeader>;

/**
 * Reads a NIfTI-1 or NIfTI-2 single file (`.nii`, gzipped or not) into a {@linkcode Volume}.
 *
 * Values are scaled by `scl_slope` / `scl_inter` when the slope is non-zero. The affine comes from the sform
 * when `sform_code > 0`, else from the qform when `qform_code > 0`, else from pixdim alone; metres and
 * microns are converted to mm. A truncated file, data that is not one 3D volume, an unsupported datatype or
 * NaN/Inf values throw a {@linkcode UserError}.
 *
 * @example
 * ```ts
 * import { readNifti, writeNifti } from "./nifti.ts";
 * import { makeVolume } from "../volume.ts";
 * const bytes = writeNifti(makeVolume(new Float32Array([1, 2, 3, 4, 5, 6]), [1, 2, 3], { unit: "HU" }));
 * const volume = readNifti(bytes, { name: "example.nii.gz" });
 * console.log(volume.shape, volume.data[5]); // [1, 2, 3] 6
 * ```
 */
export function readNifti(bytes: Uint8Array, options: ReadNiftiOptions = {}): Volume {
  const name = options.name ?? "NIfTI data";
  const raw = decompressIfGzipped(bytes, name);
  const header = parseHeader(raw, name);
  const shape = niftiShape(header, name, options.planar ?? false);
  const type = DATATYPES[header.datatypeCode];
  if (!type) {
    const typeName = DATATYPE_NAMES[header.datatypeCode] ?? "unknown";
    throw new UserError(
      `${name}: NIfTI datatype ${header.datatypeCode} (${typeName}) is not supported; supported: ${SUPPORTED}; ` +
        `convert the file to float32 first (e.g. with nibabel)`,
    );
  }
  const count = shape[0] * shape[1] * shape[2];
  // A single file's voxels cannot start inside its own header; some writers leave vox_offset 0 there.
  const minimum = header instanceof nifti.NIFTI2 ? 544 : 352;
  const offset = Math.max(Math.floor(header.vox_offset), minimum);
  const needed = offset + count * type.bytes;
  if (raw.byteLength < needed) {
    throw new UserError(
      `${name}: file is truncated: the header promises ${shape[2]}x${shape[1]}x${
        shape[0]
      } ${type.name} voxels ` +
        `(${needed} bytes) but the file holds ${raw.byteLength}; re-export or re-download it`,
    );
  }
  const values = readValues(raw, offset, count, type, header.littleEndian);
  const slope = header.scl_slope;
  const scaled = Number.isFinite(slope) && slope !== 0;
  const inter = scaled && Number.isFinite(header.scl_inter) ? header.scl_inter : 0;
  const data = toFloat32(values, scaled ? { slope, inter } : undefined);
  assertFinite(data, shape, name);
  const mm = spatialScale(header.xyzt_units);
  const affine = niftiAffine(header, raw).map((row, r) => r < 3 ? row.map((v) => v * mm) : row);
  const spacing = niftiSpacing(header, affine, mm);
  const noted = unitFromDescription(header.description);
  // no sform or qform and a pixdim of 0 (or NaN): the voxel size is unknown, 1 mm is assumed, and said
  const unsized = header.sform_code <= 0 && header.qform_code <= 0 &&
    [1, 2, 3].some((i) => !(header.pixDims[i] > 0));
  const sized = unsized
    ? {
      spacingNotice: `${name} states no voxel size (pixdim ${
        [1, 2, 3].map((i) => header.pixDims[i]).join(" x ")
      }, no affine): read as 1 mm voxels, which sets the line integrals' scale; write the voxel size into the file to change it`,
    }
    : {};
  if (options.unit) {
    checkStatedUnit(data, options.unit, name);
    return { data, shape, spacing, affine, unit: options.unit, ...sized };
  }
  if (noted) return { data, shape, spacing, affine, ...noted, ...sized };
  const guess = inferUnit(data, name);
  return { data, shape, spacing, affine, unit: guess.unit, unitNotice: guess.notice, ...sized };
}

function decompressIfGzipped(bytes: Uint8Array, name: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  return gunzipChecked(bytes, { name, promise: niftiPromise, promiseBytes: 540 });
}

/**
 * The bytes a NIfTI-1 or NIfTI-2 single file promises (voxel offset + voxel count × voxel size), read from
 * the first inflated bytes; null when they are not a NIfTI header (the reader's own checks say why).
 */
export function niftiPromise(head: Uint8Array): number | null {
  if (head.length < 348) return null;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  for (const le of [true, false]) {
    const size = view.getInt32(0, le);
    if (size === 348) {
      const dims = Array.from({ length: 8 }, (_, i) => view.getInt16(40 + 2 * i, le));
      const bitpix = view.getInt16(72, le), offset = view.getFloat32(108, le);
      return promiseOf(dims, bitpix, offset);
    }
    if (size === 540 && head.length >= 540) {
      const dims = Array.from({ length: 8 }, (_, i) => Number(view.getBigInt64(16 + 8 * i, le)));
      const bitpix = view.getInt16(14, le), offset = Number(view.getBigInt64(168, le));
      return promiseOf(dims, bitpix, offset);
    }
  }
  return null;
}

function promiseOf(dims: number[], bitpix: number, offset: number): number | null {
  const rank = dims[0];
  if (!(rank >= 1 && rank <= 7) || !(bitpix > 0) || !Number.isFinite(offset)) return null;
  let n = 1;
  for (let i = 1; i <= rank; i++) n *= Math.max(dims[i], 1);
  return Math.max(Math.floor(offset), 352) + Math.ceil(n * bitpix / 8);
}

function parseHeader(raw: Uint8Array, name: string): Header {
  if (raw.byteLength < 348) {
    throw new UserError(
      `${name}: file is truncated: ${raw.byteLength} bytes is shorter than a NIfTI header (348); re-export it`,
    );
  }
  const whole = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength;
  const buffer =
    (whole ? raw.buffer : raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)) as ArrayBuffer;
  if (!nifti.isNIFTI(buffer)) {
    const magic = new TextDecoder().decode(raw.subarray(344, 347));
    if (magic === "ni1" || magic === "ni2") {
      throw new UserError(
        `${name}: is the header of a .hdr/.img pair, which blendct does not read; convert it to a single .nii file`,
      );
    }
    throw new UserError(`${name}: is not a NIfTI file (no NIfTI magic in its header)`);
  }
  try {
    return nifti.readHeader(buffer);
  } catch (e) {
    throw new UserError(`${name}: the NIfTI header cannot be read (${(e as Error).message})`);
  }
}

/** `[Z, Y, X]` from NIfTI's `dim`, which lists x first; anything beyond 3 axes must have size 1. */
function niftiShape(header: Header, name: string, planar: boolean): [number, number, number] {
  const dims = header.dims;
  const rank = dims[0];
  if (!(rank >= 1 && rank <= 7)) {
    throw new UserError(`${name}: the header's dim[0] is ${rank}, not 1..7; the file is damaged`);
  }
  const axes = dims.slice(1, rank + 1);
  if (planar && rank === 2) axes.push(1);
  if (rank === 2 && !planar) {
    throw new UserError(
      `${name}: holds 2D data (${
        axes.join("x")
      }, x first), but blendct needs a volume: give it a third axis ` +
        `of size 1 (one slice; nibabel: img[..., None])`,
    );
  }
  if (axes.length < 3 || axes.slice(3).some((n) => n !== 1)) {
    throw new UserError(
      `${name}: holds ${rank}D data (${axes.join("x")}, x first), but blendct needs one 3D volume; ` +
        `extract a single 3D volume first (e.g. fslroi in.nii.gz out.nii.gz 0 1)`,
    );
  }
  if (axes.slice(0, 3).some((n) => n < 1)) {
    throw new UserError(`${name}: has an empty dimension (${axes.join("x")}); the file is damaged`);
  }
  return [axes[2], axes[1], axes[0]];
}

function readValues(
  raw: Uint8Array,
  offset: number,
  count: number,
  type: DatatypeInfo,
  littleEndian: boolean,
): ArrayLike<number> {
  if (littleEndian) return type.view(alignedCopy(raw, offset, count * type.bytes));
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = type.get(view, offset + i * type.bytes, false);
  return out;
}

/** NIfTI `xyzt_units` spatial code → factor to millimetres; "unknown" (0) is taken as mm, as most tools do. */
function spatialScale(xyztUnits: number): number {
  const code = xyztUnits & 7;
  return code === 1 ? 1000 : code === 3 ? 0.001 : 1;
}

function niftiAffine(header: Header, raw: Uint8Array): number[][] {
  if (header.sform_code > 0) return sformRows(header, raw);
  if (header.qform_code > 0) {
    return qformToAffine(
      [header.quatern_b, header.quatern_c, header.quatern_d],
      [header.qoffset_x, header.qoffset_y, header.qoffset_z],
      [header.pixDims[1], header.pixDims[2], header.pixDims[3]],
      header.pixDims[0] < 0 ? -1 : 1,
    );
  }
  const [dx, dy, dz] = [1, 2, 3].map((i) => positiveOr(header.pixDims[i], 1));
  return [[dx, 0, 0, 0], [0, dy, 0, 0], [0, 0, dz, 0], [0, 0, 0, 1]];
}

/**
 * The srow vectors, read here rather than taken from nifti-reader-js's `affine`, because for NIfTI-1 that
 * library prefers the qform whenever `qform_code > sform_code`, while the standard (and nibabel) prefers a
 * valid sform.
 */
function sformRows(header: Header, raw: Uint8Array): number[][] {
  if (header instanceof nifti.NIFTI2) return header.affine.map((row) => row.slice());
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const rows = [0, 1, 2].map((r) =>
    [0, 1, 2, 3].map((c) => view.getFloat32(280 + (r * 4 + c) * 4, header.littleEndian))
  );
  return [...rows, [0, 0, 0, 1]];
}

/** NIfTI's qform method: rotation from the quaternion (b, c, d), then pixdim scales with qfac on z. */
function qformToAffine(
  [b, c, d]: number[],
  offset: number[],
  pixdim: number[],
  qfac: number,
): number[][] {
  // A slightly-over-unit quaternion from float rounding would make `a` NaN; the standard clamps it to 0.
  const a = Math.sqrt(Math.max(0, 1 - (b * b + c * c + d * d)));
  const r = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  const scale = [positiveOr(pixdim[0], 1), positiveOr(pixdim[1], 1), positiveOr(pixdim[2], 1) * qfac];
  return [
    ...r.map((row, i) => [row[0] * scale[0], row[1] * scale[1], row[2] * scale[2], offset[i]]),
    [0, 0, 0, 1],
  ];
}

function positiveOr(v: number, fallback: number): number {
  return Number.isFinite(v) && v !== 0 ? Math.abs(v) : fallback;
}

/** `[dz, dy, dx]` from pixdim; a zero or missing pixdim falls back to the affine's column length. */
function niftiSpacing(header: Header, affine: number[][], mm: number): [number, number, number] {
  const column = (c: number) => Math.hypot(affine[0][c], affine[1][c], affine[2][c]) || 1;
  const axis = (i: number) => {
    const p = header.pixDims[i + 1];
    return Number.isFinite(p) && p !== 0 ? Math.abs(p) * mm : column(i);
  };
  return [axis(2), axis(1), axis(0)];
}

/** blendct's own header note: `blendct unit=HU`, or `blendct unit=image hu=-160,240`; null when absent. */
function unitFromDescription(description: string): Pick<Volume, "unit" | "imageHu"> | null {
  const match = /blendct unit=(\w+)(?: hu=([-+\d.e]+),([-+\d.e]+))?/.exec(description ?? "");
  if (!match) return null;
  // files written before the units were physical said "unitless" for [0, 1] images
  const unit = match[1] === "unitless" ? "image" : UNITS.find((u) => u === match[1]);
  if (!unit) return null;
  const imageHu = match[2] !== undefined
    ? [Number(match[2]), Number(match[3])] as [number, number]
    : undefined;
  return imageHu ? { unit, imageHu } : { unit };
}

/**
 * Writes a {@linkcode Volume} as a NIfTI-1 single file: a 348-byte header, an empty 4-byte extension flag,
 * then the voxels from byte 352.
 *
 * The sform is the volume's affine (`sform_code` 1). The qform holds the same transform decomposed into a
 * rotation, pixdim scales and a possible z flip (`qfac`); when the affine has shear or its column lengths
 * differ from `spacing`, no qform can express it and `qform_code` is 0. Units are mm.
 *
 * @example
 * ```ts
 * import { writeNifti } from "./nifti.ts";
 * import { makeVolume } from "../volume.ts";
 * const volume = makeVolume(new Float32Array(8).fill(-1000), [2, 2, 2], { unit: "HU" });
 * const plain = writeNifti(volume, { gzip: false, datatype: "int16" });
 * console.log(plain.length); // 368: 352 bytes of header, 8 int16 voxels
 * ```
 */
export function writeNifti(volume: Volume, options: WriteNiftiOptions = {}): Uint8Array {
  const { data, shape } = volume;
  assertFinite(data, shape, "volume to write");
  const int16 = options.datatype === "int16";
  const scale = int16 ? int16Scale(data) : { slope: 1, inter: 0 };
  const bytesPer = int16 ? 2 : 4;
  const out = new Uint8Array(352 + data.length * bytesPer);
  const view = new DataView(out.buffer);
  writeHeader(view, volume, {
    datatype: int16 ? 4 : 16,
    bitpix: bytesPer * 8,
    scale,
    description: options.description ??
      `blendct unit=${volume.unit ?? "image"}${volume.imageHu ? ` hu=${volume.imageHu.join(",")}` : ""}`,
  });
  if (int16) {
    const values = new Int16Array(out.buffer, 352, data.length);
    for (let i = 0; i < data.length; i++) {
      values[i] = Math.max(-32768, Math.min(32767, Math.round((data[i] - scale.inter) / scale.slope)));
    }
  } else {
    new Float32Array(out.buffer, 352, data.length).set(data);
  }
  // mtime 0: the same volume always gives the same bytes (reproducible runs compare files)
  return options.gzip === false ? out : gzipSync(out, { mtime: 0 });
}

/** Exact for integer data in the int16 range; otherwise [min, max] spread over [-32767, 32767]. */
function int16Scale(data: Float32Array): { slope: number; inter: number } {
  let min = Infinity, max = -Infinity, integral = true;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
    if (integral && v !== Math.round(v)) integral = false;
  }
  if (data.length === 0 || (integral && min >= -32768 && max <= 32767)) return { slope: 1, inter: 0 };
  const inter = (max + min) / 2;
  return { slope: (max - min) / 65534 || 1, inter };
}

interface HeaderFields {
  datatype: number;
  bitpix: number;
  scale: { slope: number; inter: number };
  description: string;
}

function writeHeader(view: DataView, volume: Volume, fields: HeaderFields): void {
  const le = true;
  const [Z, Y, X] = volume.shape;
  const [dz, dy, dx] = volume.spacing;
  const a = volume.affine;
  const qform = qformFromAffine(a, [dx, dy, dz]);
  view.setInt32(0, 348, le); // sizeof_hdr
  view.setUint8(38, "r".charCodeAt(0)); // "regular", kept for ANALYZE readers
  [3, X, Y, Z, 1, 1, 1, 1].forEach((n, i) => view.setInt16(40 + i * 2, n, le));
  view.setInt16(70, fields.datatype, le);
  view.setInt16(72, fields.bitpix, le);
  [qform?.qfac ?? 1, dx, dy, dz, 0, 0, 0, 0].forEach((p, i) => view.setFloat32(76 + i * 4, p, le));
  view.setFloat32(108, 352, le); // vox_offset
  view.setFloat32(112, fields.scale.slope, le);
  view.setFloat32(116, fields.scale.inter, le);
  view.setUint8(123, 2); // xyzt_units: mm, no time unit
  const [min, max] = range(volume.data);
  view.setFloat32(124, max, le); // cal_max, so viewers open with the full range
  view.setFloat32(128, min, le);
  writeString(view, 148, 80, fields.description);
  view.setInt16(252, qform ? 1 : 0, le); // qform_code: scanner anatomical
  view.setInt16(254, 1, le); // sform_code
  if (qform) {
    qform.quaternion.forEach((q, i) => view.setFloat32(256 + i * 4, q, le));
    [a[0][3], a[1][3], a[2][3]].forEach((o, i) => view.setFloat32(268 + i * 4, o, le));
  }
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) view.setFloat32(280 + (r * 4 + c) * 4, a[r][c], le);
  }
  writeString(view, 344, 4, "n+1\0");
  // Bytes 348..351 stay zero: the extension flag says "no extensions follow".
}

function range(data: Float32Array): [number, number] {
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    if (data[i] < min) min = data[i];
    if (data[i] > max) max = data[i];
  }
  return data.length ? [min, max] : [0, 0];
}

function writeString(view: DataView, offset: number, length: number, text: string): void {
  const bytes = new TextEncoder().encode(text).subarray(0, length);
  bytes.forEach((b, i) => view.setUint8(offset + i, b));
}

/**
 * Splits the affine's 3x3 part into rotation x diag(pixdim), flipping z (`qfac = -1`) when the rotation is
 * improper; `null` when the columns are not orthogonal or their lengths differ from the spacing, since a
 * qform cannot then describe the same voxel-to-world map.
 */
function qformFromAffine(
  affine: number[][],
  pixdim: [number, number, number],
): { quaternion: [number, number, number]; qfac: number } | null {
  const cols = [0, 1, 2].map((c) => [affine[0][c], affine[1][c], affine[2][c]]);
  const norms = cols.map((v) => Math.hypot(v[0], v[1], v[2]));
  const tolerance = 1e-4;
  if (norms.some((n, i) => !(n > 0) || Math.abs(n - pixdim[i]) > tolerance * Math.max(n, pixdim[i]))) {
    return null;
  }
  const unit = cols.map((v, i) => v.map((x) => x / norms[i]));
  for (let i = 0; i < 3; i++) {
    for (let j = i + 1; j < 3; j++) {
      const dot = unit[i][0] * unit[j][0] + unit[i][1] * unit[j][1] + unit[i][2] * unit[j][2];
      if (Math.abs(dot) > tolerance) return null;
    }
  }
  const [u, v, w] = unit;
  const det = u[0] * (v[1] * w[2] - v[2] * w[1]) - v[0] * (u[1] * w[2] - u[2] * w[1]) +
    w[0] * (u[1] * v[2] - u[2] * v[1]);
  const qfac = det < 0 ? -1 : 1;
  // r[row][col]: the rotation matrix with the (possibly flipped) unit columns.
  const r = [0, 1, 2].map((row) => [u[row], v[row], w[row] * qfac]);
  return { quaternion: rotationToQuaternion(r), qfac };
}

/** (b, c, d) of the unit quaternion with a ≥ 0 for a proper rotation, using the numerically safest branch. */
function rotationToQuaternion(r: number[][]): [number, number, number] {
  const trace = r[0][0] + r[1][1] + r[2][2];
  let a: number, b: number, c: number, d: number;
  if (trace > 0) {
    const s = 2 * Math.sqrt(1 + trace);
    [a, b, c, d] = [s / 4, (r[2][1] - r[1][2]) / s, (r[0][2] - r[2][0]) / s, (r[1][0] - r[0][1]) / s];
  } else if (r[0][0] > r[1][1] && r[0][0] > r[2][2]) {
    const s = 2 * Math.sqrt(1 + r[0][0] - r[1][1] - r[2][2]);
    [a, b, c, d] = [(r[2][1] - r[1][2]) / s, s / 4, (r[0][1] + r[1][0]) / s, (r[0][2] + r[2][0]) / s];
  } else if (r[1][1] > r[2][2]) {
    const s = 2 * Math.sqrt(1 + r[1][1] - r[0][0] - r[2][2]);
    [a, b, c, d] = [(r[0][2] - r[2][0]) / s, (r[0][1] + r[1][0]) / s, s / 4, (r[1][2] + r[2][1]) / s];
  } else {
    const s = 2 * Math.sqrt(1 + r[2][2] - r[0][0] - r[1][1]);
    [a, b, c, d] = [(r[1][0] - r[0][1]) / s, (r[0][2] + r[2][0]) / s, (r[1][2] + r[2][1]) / s, s / 4];
  }
  // The file stores only (b, c, d) and rebuilds a = sqrt(1 - b² - c² - d²) ≥ 0, so pick the sign with a ≥ 0.
  return a < 0 ? [-b, -c, -d] : [b, c, d];
}
