/**
 * Checks every reader in `lib/io/` applies before handing a {@linkcode Volume} on, so that a bad file fails
 * at the edge with a message naming the file, not deep inside a solver with a NaN.
 * @module
 */
import { UserError } from "../errors.ts";

/**
 * Throws a {@linkcode UserError} naming `name` and the first voxel `(x, y, z)` that is NaN or ±Infinity.
 *
 * @example
 * ```ts
 * import { assertFinite } from "./checks.ts";
 * assertFinite(new Float32Array([0, 1, 2, 3]), [1, 2, 2], "a.npy"); // passes
 * try {
 *   assertFinite(new Float32Array([0, NaN, 2, 3]), [1, 2, 2], "a.npy");
 * } catch (e) {
 *   console.log((e as Error).message); // a.npy: contains NaN at voxel (x=1, y=0, z=0); ...
 * }
 * ```
 */
export function assertFinite(
  data: ArrayLike<number>,
  shape: readonly [number, number, number],
  name: string,
): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // `v - v` is NaN exactly for NaN and ±Infinity, and this loop runs over every voxel of every input.
    if (v - v !== 0) {
      const x = i % shape[2];
      const y = Math.floor(i / shape[2]) % shape[1];
      const z = Math.floor(i / (shape[2] * shape[1]));
      const what = Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
      throw new UserError(
        `${name}: contains ${what} at voxel (x=${x}, y=${y}, z=${z}); blendct needs finite values, ` +
          `replace them first (e.g. numpy.nan_to_num)`,
      );
    }
  }
}

/**
 * Returns `[Z, Y, X]` for a shape that is 3D, or 3D plus trailing axes of size 1; otherwise throws a
 * {@linkcode UserError} that says what the data is and what blendct needs.
 *
 * @example
 * ```ts
 * import { volumeShape } from "./checks.ts";
 * console.log(volumeShape([4, 5, 6, 1], "a.npy")); // [4, 5, 6]
 * ```
 */
export function volumeShape(shape: readonly number[], name: string): [number, number, number] {
  const extra = shape.slice(3);
  if (shape.length < 3 || extra.some((n) => n !== 1)) {
    const dims = shape.length === 0 ? "a scalar" : `${shape.length}D data (${shape.join("x")})`;
    if (shape.length === 2) {
      throw new UserError(
        `${name}: is ${dims}, but blendct needs a volume: give it a leading slice axis (one slice, ` +
          `1x${shape.join("x")}; numpy: a[None])`,
      );
    }
    throw new UserError(
      `${name}: is ${dims}, but blendct needs one 3D volume; extract a single 3D volume first`,
    );
  }
  if (shape.slice(0, 3).some((n) => !Number.isInteger(n) || n < 1)) {
    throw new UserError(`${name}: has an empty or invalid shape ${shape.join("x")}; the file is damaged`);
  }
  return [shape[0], shape[1], shape[2]];
}

/**
 * Copies any numeric typed array into a new `Float32Array`, applying `value * slope + inter` on the way when a
 * scale is given, because every stage after I/O works in float32.
 *
 * @example
 * ```ts
 * import { toFloat32 } from "./checks.ts";
 * console.log(toFloat32(new Int16Array([0, 10]), { slope: 2, inter: -1024 })); // Float32Array [-1024, -1004]
 * ```
 */
export function toFloat32(
  data: ArrayLike<number>,
  scale: { slope: number; inter: number } = { slope: 1, inter: 0 },
): Float32Array {
  const out = new Float32Array(data.length);
  const { slope, inter } = scale;
  if (slope === 1 && inter === 0) {
    out.set(data);
  } else {
    for (let i = 0; i < data.length; i++) out[i] = data[i] * slope + inter;
  }
  return out;
}

/**
 * Returns a copy of `bytes[offset, offset + length)` in a fresh, aligned `ArrayBuffer`, so that typed array
 * views of any element size can be laid on it whatever the file's header length was.
 *
 * @example
 * ```ts
 * import { alignedCopy } from "./checks.ts";
 * const buffer = alignedCopy(new Uint8Array([9, 1, 0, 2, 0]), 1, 4);
 * console.log(new Uint16Array(buffer)); // Uint16Array [1, 2]
 * ```
 */
export function alignedCopy(bytes: Uint8Array, offset: number, length: number): ArrayBuffer {
  const out = new Uint8Array(length);
  out.set(bytes.subarray(offset, offset + length));
  return out.buffer;
}
