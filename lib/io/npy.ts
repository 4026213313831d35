/**
 * NumPy `.npy` arrays (format versions 1 to 3) and `.npz` archives of them: {@linkcode readNpy},
 * {@linkcode readNpz}, {@linkcode npyToVolume} and the float32 writer {@linkcode writeNpy}.
 *
 * Only little-endian, C-ordered arrays are read: that is what `numpy.save` writes on every common machine,
 * and it lets the data be viewed as a typed array without reordering.
 * @module
 */
import { unzipSync } from "../deps.ts";
import { UserError } from "../errors.ts";
import { makeVolume, type Volume } from "../volume.ts";
import { alignedCopy, assertFinite, toFloat32, volumeShape } from "./checks.ts";

/** The dtypes blendct reads, as NumPy writes them in the header's `descr`. */
export type NpyDtype = "<f4" | "<f8" | "<i2" | "<u2" | "<i4" | "|u1" | "<u1" | "|i1" | "<i1";

/** The typed arrays an {@linkcode NpyArray} can hold. */
export type NpyData =
  | Float32Array
  | Float64Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint8Array
  | Int8Array;

/** One array read from a `.npy` file: its dtype, its shape (C order, slowest axis first) and its values. */
export interface NpyArray {
  /** The dtype, as the header's `descr` states it. */
  dtype: NpyDtype;
  /** The shape, C order, slowest axis first. */
  shape: number[];
  /** The values, in the typed array that matches `dtype`. */
  data: NpyData;
}

/** Options for {@linkcode readNpy} and {@linkcode readNpz}. */
export interface ReadNpyOptions {
  /** Name used in error messages, usually the file path. Default `"npy data"` / `"npz archive"`. */
  name?: string;
}

const DTYPES: Record<NpyDtype, { bytes: number; view: (b: ArrayBuffer) => NpyData }> = {
  "<f4": { bytes: 4, view: (b) => new Float32Array(b) },
  "<f8": { bytes: 8, view: (b) => new Float64Array(b) },
  "<i2": { bytes: 2, view: (b) => new Int16Array(b) },
  "<u2": { bytes: 2, view: (b) => new Uint16Array(b) },
  "<i4": { bytes: 4, view: (b) => new Int32Array(b) },
  "|u1": { bytes: 1, view: (b) => new Uint8Array(b) },
  "<u1": { bytes: 1, view: (b) => new Uint8Array(b) },
  "|i1": { bytes: 1, view: (b) => new Int8Array(b) },
  "<i1": { bytes: 1, view: (b) => new Int8Array(b) },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/**
 * Parses a `.npy` file. Throws a {@linkcode UserError} for a file that is not `.npy`, is truncated, is
 * Fortran-ordered, or holds a dtype other than {@linkcode NpyDtype}.
 *
 * @example
 * ```ts
 * import { readNpy, writeNpy } from "./npy.ts";
 * import { makeVolume } from "../volume.ts";
 * const array = readNpy(writeNpy(makeVolume(new Float32Array([1, 2, 3, 4]), [1, 2, 2])));
 * console.log(array.dtype, array.shape, array.data[3]); // <f4 [1, 2, 2] 4
 * ```
 */
export function readNpy(bytes: Uint8Array, options: ReadNpyOptions = {}): NpyArray {
  const name = options.name ?? "npy data";
  const { header, dataOffset } = splitHeader(bytes, name);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new UserError(`${name}: the .npy header is malformed (${JSON.stringify(header.trim())})`);
  }
  if (fortran === "True") {
    throw new UserError(
      `${name}: array is in Fortran order; blendct reads C order: save numpy.ascontiguousarray(a) instead`,
    );
  }
  const dtype = checkDtype(descr, name);
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (shape.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new UserError(`${name}: the .npy header has an invalid shape (${shapeText})`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const length = count * DTYPES[dtype].bytes;
  if (bytes.length < dataOffset + length) {
    throw new UserError(
      `${name}: file is truncated: shape (${shape.join(", ")}) ${dtype} needs ${length} bytes of data ` +
        `but only ${Math.max(0, bytes.length - dataOffset)} follow the header; re-save it`,
    );
  }
  return { dtype, shape, data: DTYPES[dtype].view(alignedCopy(bytes, dataOffset, length)) };
}

function splitHeader(bytes: Uint8Array, name: string): { header: string; dataOffset: number } {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) {
    throw new UserError(`${name}: is not a .npy file (no \\x93NUMPY magic)`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Version 1 has a 2-byte header length; versions 2 and 3 widened it to 4 bytes for huge structured dtypes.
  const [lengthBytes, headerLength] = major === 1
    ? [2, view.getUint16(8, true)]
    : major === 2 || major === 3
    ? [4, bytes.length >= 12 ? view.getUint32(8, true) : Infinity]
    : [0, NaN];
  if (lengthBytes === 0) {
    throw new UserError(`${name}: .npy format version ${major} is not supported (1, 2 and 3 are)`);
  }
  const start = 8 + lengthBytes;
  if (!(start + headerLength <= bytes.length)) {
    throw new UserError(`${name}: file is truncated inside its .npy header; re-save it`);
  }
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(start, start + headerLength),
  );
  return { header, dataOffset: start + headerLength };
}

function checkDtype(descr: string, name: string): NpyDtype {
  if (descr in DTYPES) return descr as NpyDtype;
  const allowed = Object.keys(DTYPES).join(", ");
  const hint = descr.startsWith(">") ? "big-endian data: save a.astype(a.dtype.newbyteorder('<'))" : "";
  throw new UserError(
    `${name}: dtype '${descr}' is not supported (allowed: ${allowed})${hint ? `; ${hint}` : ""}; ` +
      `convert with a.astype('float32')`,
  );
}

/**
 * Reads every `.npy` member of an `.npz` archive (plain `numpy.savez` or `savez_compressed`), keyed by the
 * member name without `.npy`, in archive order.
 *
 * @example
 * ```ts
 * import { readNpz, writeNpy } from "./npy.ts";
 * import { makeVolume } from "../volume.ts";
 * import { zipSync } from "../deps.ts";
 * const npy = writeNpy(makeVolume(new Float32Array(8), [2, 2, 2]));
 * const arrays = readNpz(zipSync({ "arr_0.npy": npy }));
 * console.log(Object.keys(arrays), arrays.arr_0.shape); // ["arr_0"] [2, 2, 2]
 * ```
 */
export function readNpz(bytes: Uint8Array, options: ReadNpyOptions = {}): Record<string, NpyArray> {
  const name = options.name ?? "npz archive";
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes);
  } catch (e) {
    throw new UserError(`${name}: is not a readable .npz (zip) archive (${(e as Error).message})`);
  }
  const out: Record<string, NpyArray> = {};
  for (const [member, content] of Object.entries(members)) {
    if (!member.endsWith(".npy")) continue;
    out[member.slice(0, -4)] = readNpy(content, { name: `${name}:${member}` });
  }
  if (Object.keys(out).length === 0) throw new UserError(`${name}: the archive holds no .npy arrays`);
  return out;
}

/** Options for {@linkcode npyToVolume}. */
export interface NpyToVolumeOptions {
  /** Name used in error messages. Default `"npy data"`. */
  name?: string;
  /** Voxel size `[dz, dy, dx]` in mm, since `.npy` stores none. Default `[1, 1, 1]`. */
  spacing?: [number, number, number];
  /** Unit of the values. Default `"image"`. */
  unit?: Volume["unit"];
  /** Read a 2D array (one image, or a 2D sinogram of views x bins) as one slice. Default `false`. */
  planar?: boolean;
}

/**
 * Turns a 3D array (`[Z, Y, X]`, trailing axes of size 1 allowed) into a float32 {@linkcode Volume} with a
 * diagonal affine from `spacing`. Throws a {@linkcode UserError} for other shapes or NaN/Inf values.
 *
 * @example
 * ```ts
 * import { npyToVolume } from "./npy.ts";
 * const volume = npyToVolume({ dtype: "<i2", shape: [2, 1, 2], data: new Int16Array([1, 2, 3, 4]) }, {
 *   spacing: [2.5, 0.7, 0.7],
 * });
 * console.log(volume.shape, volume.affine[2][2]); // [2, 1, 2] 2.5
 * ```
 */
export function npyToVolume(array: NpyArray, options: NpyToVolumeOptions = {}): Volume {
  const name = options.name ?? "npy data";
  const shape = volumeShape(
    options.planar && array.shape.length === 2 ? [1, ...array.shape] : array.shape,
    name,
  );
  const data = toFloat32(array.data);
  assertFinite(data, shape, name);
  return makeVolume(data, shape, { spacing: options.spacing, unit: options.unit ?? "image" });
}

/**
 * Writes a volume's data as a version-1 `.npy` file: dtype `<f4`, C order, shape `(Z, Y, X)`. Spacing,
 * affine and unit are not stored; write NIfTI to keep them.
 *
 * @example
 * ```ts
 * import { writeNpy } from "./npy.ts";
 * import { makeVolume } from "../volume.ts";
 * const bytes = writeNpy(makeVolume(new Float32Array(6), [1, 2, 3]));
 * console.log(bytes.length); // 152: 128 bytes of header, 6 float32 values
 * ```
 */
export function writeNpy(volume: Volume): Uint8Array {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${volume.shape.join(", ")}), }`;
  // NumPy pads the header with spaces and a final newline so the data starts on a 64-byte boundary.
  const unpadded = 10 + dict.length + 1;
  const padded = Math.ceil(unpadded / 64) * 64;
  const header = dict + " ".repeat(padded - unpadded) + "\n";
  const out = new Uint8Array(padded + volume.data.length * 4);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  new Float32Array(out.buffer, padded, volume.data.length).set(volume.data);
  return out;
}
