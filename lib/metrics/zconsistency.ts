/**
 * Z-consistency: the mean absolute difference between adjacent axial slices. A 2D prior applied slice by
 * slice leaves slice-to-slice flicker, which raises it above the ground truth's; over-smoothing in z lowers
 * it. The ratio to the reference's value is what to read: 1 is ideal.
 *
 * @module
 */
import type { Volume } from "../volume.ts";
import { checkSameShape } from "./planes.ts";
import { axisVariation } from "./tv.ts";

/** Z-consistency of a volume, and of a reference when one was given. */
export interface ZConsistency {
  /** Mean |x[z+1] − x[z]| over all neighbouring voxel pairs along z. */
  value: number;
  /** The same for the reference volume, when given. */
  reference?: number;
  /** `value / reference` (NaN when the reference is constant along z). */
  ratio?: number;
}

/** Options for {@linkcode zConsistency}. */
export interface ZConsistencyOptions {
  /** Clip values to [0, 1] first, as the metrics do. Default `false`. */
  clip?: boolean;
}

/**
 * Mean absolute difference between adjacent slices of `volume`, optionally compared with `reference`.
 *
 * @example
 * ```ts
 * import { zConsistency } from "./zconsistency.ts";
 * import { makeVolume } from "../volume.ts";
 * const flicker = makeVolume(Float32Array.from([0, 0, 0.2, 0.2, 0, 0]), [3, 1, 2]);
 * const smooth = makeVolume(Float32Array.from([0, 0, 0.1, 0.1, 0.2, 0.2]), [3, 1, 2]);
 * const z = zConsistency(flicker, smooth);
 * console.log(z.value.toFixed(2), z.reference?.toFixed(2), z.ratio?.toFixed(2)); // 0.20 0.10 2.00
 * ```
 */
export function zConsistency(
  volume: Volume,
  reference?: Volume,
  options: ZConsistencyOptions = {},
): ZConsistency {
  const value = axisVariation(volume, { clip: options.clip, axis: "z" });
  if (!reference) return { value };
  checkSameShape(volume, reference);
  const ref = axisVariation(reference, { clip: options.clip, axis: "z" });
  return { value, reference: ref, ratio: ref === 0 ? NaN : value / ref };
}
