/**
 * Mapping between a volume's own units (HU, or an image already in [0, 1]) and the [0, 1] units in which
 * blendct measures, solves and scores (the model works in 2u − 1). HU in gives HU out.
 * @module
 */
import type { Volume } from "./volume.ts";
import { UserError } from "./errors.ts";

/** How values were mapped to [0, 1]: `unit = clip((value − lo) / (hi − lo), 0, 1)`. */
export interface IntensityMapping {
  /** `window` for HU or an explicit window; `identity` for data already in [0, 1]. */
  kind: "window" | "identity";
  /** The value mapped to 0. */
  lo: number;
  /** The value mapped to 1. */
  hi: number;
  /** The unit the values came in. */
  unit: Volume["unit"];
}

/** Options for {@linkcode chooseMapping}. */
export interface MappingOptions {
  /** Explicit window `[lo, hi]` (any units). */
  window?: [number, number];
  /** Window for HU data when none is given (the model card's `huWindow`). Default `[-160, 240]`. */
  huWindow?: [number, number];
}

/**
 * Picks the mapping for a volume: an explicit window wins; HU data uses the HU window; other data must
 * already lie in [0, 1] (up to 1% of voxels outside [−0.5, 1.5]), else a one-line error asks for --window.
 *
 * @example
 * ```ts
 * import { chooseMapping } from "./intensity.ts";
 * import { makeVolume } from "./volume.ts";
 * const v = makeVolume(new Float32Array([0, 0.5, 1]), [1, 1, 3]);
 * console.log(chooseMapping(v).kind); // identity
 * ```
 */
export function chooseMapping(volume: Volume, options: MappingOptions = {}): IntensityMapping {
  if (options.window) {
    const [lo, hi] = options.window;
    if (!(hi > lo)) throw new UserError(`--window ${lo},${hi}: the upper bound must exceed the lower one`);
    return { kind: "window", lo, hi, unit: volume.unit };
  }
  if (volume.unit === "HU") {
    const [lo, hi] = options.huWindow ?? [-160, 240];
    return { kind: "window", lo, hi, unit: "HU" };
  }
  let outside = 0;
  for (const v of volume.data) if (v < -0.5 || v > 1.5) outside++;
  if (outside > 0.01 * volume.data.length) {
    throw new UserError(
      `input values are not in [0, 1] (${outside} voxels outside) and the unit is ${volume.unit}: pass --window=LO,HI (e.g. --window=-160,240 for HU)`,
    );
  }
  return { kind: "identity", lo: 0, hi: 1, unit: volume.unit };
}

/** Values → [0, 1] units (clipped). */
export function toUnit(data: Float32Array, m: IntensityMapping): Float32Array {
  const out = new Float32Array(data.length);
  const s = 1 / (m.hi - m.lo);
  for (let i = 0; i < data.length; i++) out[i] = Math.min(1, Math.max(0, (data[i] - m.lo) * s));
  return out;
}

/** [0, 1] units → the volume's own units. */
export function fromUnit(unit: Float32Array, m: IntensityMapping): Float32Array {
  if (m.kind === "identity") return unit.slice();
  return unit.map((v) => m.lo + v * (m.hi - m.lo));
}
