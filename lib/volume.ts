/**
 * The `Volume` type every stage of blendct passes along, and small helpers to make and check one.
 * @module
 */

/** A 3D image in C order `[z][y][x]`. */
export interface Volume {
  /** Voxel values, `shape[0] * shape[1] * shape[2]` of them, x fastest. */
  data: Float32Array;
  /** `[Z, Y, X]`: slices, rows, columns. */
  shape: [number, number, number];
  /** Voxel size in mm, in the same order as `shape`: `[dz, dy, dx]`. */
  spacing: [number, number, number];
  /**
   * 4x4 row-major matrix mapping voxel indices `(i, j, k) = (x, y, z)` to world millimetres, as NIfTI's
   * sform does.
   */
  affine: number[][];
  /**
   * What the numbers mean: Hounsfield units, linear attenuation μ in 1/mm, or a unitless image (such as an
   * 8-bit windowed export). See `lib/units.ts`.
   */
  unit?: "HU" | "attenuation" | "image";
  /** For `image` volumes: the HU their values 0 and 1 stand for, when known (e.g. a display window). */
  imageHu?: [number, number];
  /** How the unit was decided, when it was guessed from the values (a one-line notice). */
  unitNotice?: string;
  /** When the file gave no usable voxel size and 1 mm was assumed (a one-line notice). */
  spacingNotice?: string;
  /** For volumes read from DICOM: the series' BIDS-style fields (modality, series, scanner, orientation). */
  dicom?: Record<string, string | number | number[]>;
}

/** Options for {@linkcode makeVolume}. */
export interface MakeVolumeOptions {
  /** Voxel size `[dz, dy, dx]` in mm. Default `[1, 1, 1]`. */
  spacing?: [number, number, number];
  /** Voxel-to-world matrix. Default: diagonal from `spacing`. */
  affine?: number[][];
  /** Unit of the values. Default `"image"`. */
  unit?: Volume["unit"];
}

/**
 * Wraps a data array as a {@linkcode Volume}, checking that its length matches the shape.
 *
 * @example
 * ```ts
 * import { makeVolume } from "./volume.ts";
 * const v = makeVolume(new Float32Array(2 * 3 * 4), [2, 3, 4]);
 * console.log(v.affine[0][0]); // 1
 * ```
 */
export function makeVolume(
  data: Float32Array,
  shape: [number, number, number],
  options: MakeVolumeOptions = {},
): Volume {
  const n = shape[0] * shape[1] * shape[2];
  if (data.length !== n) {
    throw new RangeError(`volume data has ${data.length} values but shape ${shape.join("x")} needs ${n}`);
  }
  const spacing = options.spacing ?? [1, 1, 1];
  const affine = options.affine ?? [
    [spacing[2], 0, 0, 0],
    [0, spacing[1], 0, 0],
    [0, 0, spacing[0], 0],
    [0, 0, 0, 1],
  ];
  return { data, shape, spacing, affine, unit: options.unit ?? "image" };
}

/** Number of voxels of a shape. */
export function voxelCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
