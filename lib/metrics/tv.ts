/**
 * Anisotropic total variation of a volume: how much it changes from voxel to voxel along each axis. The
 * DiffusionBlend paper uses it to show over-smoothing (a reconstruction's TV below the ground truth's) and
 * noise (above it), so it is reported next to the reference's.
 *
 * Units are per voxel step, not per millimetre, so numbers compare across methods on the same grid.
 *
 * @module
 */
import type { Volume } from "../volume.ts";

/** Total variation per axis and in all. */
export interface TotalVariation {
  /** Mean |x[z+1] − x[z]| over the (Z−1)·Y·X neighbouring pairs along z (0 when Z = 1). */
  z: number;
  /** Mean |x[y+1] − x[y]| along y. */
  y: number;
  /** Mean |x[x+1] − x[x]| along x. */
  x: number;
  /** `z + y + x`: the mean anisotropic gradient magnitude |∂z| + |∂y| + |∂x| per voxel. */
  total: number;
}

/** Options for {@linkcode totalVariation}. */
export interface TotalVariationOptions {
  /** Clip values to [0, 1] first, as the metrics do. Default `false`. */
  clip?: boolean;
}

/** Options for {@linkcode axisVariation}. */
export interface AxisVariationOptions extends TotalVariationOptions {
  /** Which axis to difference along. Default `"z"`. */
  axis?: "z" | "y" | "x";
}

/**
 * Mean |difference| between neighbouring voxels along one axis, over that axis's (n−1) pairs per line; 0
 * when the axis has a single voxel.
 *
 * @example
 * ```ts
 * import { axisVariation } from "./tv.ts";
 * import { makeVolume } from "../volume.ts";
 * const v = makeVolume(Float32Array.from([0, 0, 0.5, 0.5]), [2, 1, 2]);
 * console.log(axisVariation(v, { axis: "z" }), axisVariation(v, { axis: "x" })); // 0.5 0
 * ```
 */
export function axisVariation(volume: Volume, options: AxisVariationOptions = {}): number {
  const [Z, Y, X] = volume.shape;
  const axis = options.axis ?? "z";
  const d = options.clip ? clipped(volume.data) : volume.data;
  const pairs = axis === "z" ? (Z - 1) * Y * X : axis === "y" ? Z * (Y - 1) * X : Z * Y * (X - 1);
  const sum = axisVariationSum(d, [Z, Y, X], axis);
  return pairs > 0 ? sum / pairs : 0;
}

/**
 * Σ |difference| between neighbouring voxels along one axis of `[Z][Y][X]` data (float64, fixed order):
 * the one TV kernel behind both the metric and the TV solver's objective (`tv3d`).
 */
export function axisVariationSum(d: Float32Array, shape: readonly number[], axis: "z" | "y" | "x"): number {
  const [Z, Y, X] = shape, plane = Y * X;
  let s = 0;
  if (axis === "z") {
    const end = Math.max(0, Z - 1) * plane;
    for (let p = 0; p < end; p++) s += Math.abs(d[p + plane] - d[p]);
  } else if (axis === "y") {
    for (let k = 0; k < Z && Y > 1; k++) {
      const end = k * plane + (Y - 1) * X;
      for (let p = k * plane; p < end; p++) s += Math.abs(d[p + X] - d[p]);
    }
  } else if (axis === "x") {
    for (let r = 0; r < Z * Y && X > 1; r++) {
      const end = r * X + X - 1;
      for (let p = r * X; p < end; p++) s += Math.abs(d[p + 1] - d[p]);
    }
  } else throw new RangeError(`unknown axis ${axis}; use z, y or x`);
  return s;
}

function clipped(data: Float32Array): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}

/**
 * Anisotropic 3D TV with forward differences, each axis averaged over its own number of pairs. Sums are in
 * float64 in a fixed order, so the result is deterministic.
 *
 * @example
 * ```ts
 * import { totalVariation } from "./tv.ts";
 * import { makeVolume } from "../volume.ts";
 * // A step of height 1 between x = 1 and x = 2 in a 1x1x4 volume: one jump among three x-pairs.
 * const tv = totalVariation(makeVolume(Float32Array.from([0, 0, 1, 1]), [1, 1, 4]));
 * console.log(tv.x.toFixed(4), tv.y, tv.z); // 0.3333 0 0
 * ```
 */
export function totalVariation(volume: Volume, options: TotalVariationOptions = {}): TotalVariation {
  // Clip once here rather than once per axis.
  const v = options.clip ? { ...volume, data: clipped(volume.data) } : volume;
  const z = axisVariation(v, { axis: "z" });
  const y = axisVariation(v, { axis: "y" });
  const x = axisVariation(v, { axis: "x" });
  return { z, y, x, total: z + y + x };
}
