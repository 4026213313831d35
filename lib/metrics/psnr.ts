/**
 * Peak signal-to-noise ratio, per 2D slice and averaged per plane.
 *
 * Conventions (they change the numbers, so they are fixed here and stated in every report):
 * - values are clipped to [0, 1] and the data range is 1, so PSNR = −10·log10(MSE);
 * - a plane's PSNR is the **mean over its slices of the per-slice PSNR** (not the PSNR of the pooled MSE),
 *   matching how DiffusionBlend's evaluation averages slice metrics;
 * - a slice whose MSE is 0 (identical slices, e.g. air on both sides) would be +∞ dB and swamp the mean:
 *   its PSNR is capped at `maxDb` (default 100 dB), which is above any real reconstruction's value.
 * Per-slice MSE is accumulated in float64 like scikit-image's `peak_signal_noise_ratio`.
 *
 * @module
 */
import type { Volume } from "../volume.ts";
import {
  checkSameShape,
  extractSlice,
  informativeSlices,
  type PerPlane,
  type Plane,
  planeLayout,
  PLANES,
} from "./planes.ts";

/** Options for {@linkcode psnr2d}. */
export interface Psnr2dOptions {
  /** Peak-to-peak range of the data. Default 1. */
  dataRange?: number;
  /** Value returned when the MSE is 0, instead of +∞. Default 100 (dB). */
  maxDb?: number;
}

/**
 * PSNR in dB between two equally long arrays (any dimensionality): `10 log10(range² / MSE)`.
 *
 * @example
 * ```ts
 * import { psnr2d } from "./psnr.ts";
 * console.log(psnr2d([0, 0, 0, 0], [0.1, 0.1, 0.1, 0.1]).toFixed(6)); // 20.000000
 * ```
 */
export function psnr2d(a: ArrayLike<number>, b: ArrayLike<number>, options: Psnr2dOptions = {}): number {
  if (a.length !== b.length) throw new RangeError(`PSNR of ${a.length} vs ${b.length} values`);
  if (a.length === 0) throw new RangeError("PSNR of empty images");
  const range = options.dataRange ?? 1;
  const maxDb = options.maxDb ?? 100;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  const mse = s / a.length;
  if (mse === 0) return maxDb;
  return Math.min(maxDb, 10 * Math.log10((range * range) / mse));
}

/** Options for {@linkcode psnrPerPlane}. */
export interface PsnrPerPlaneOptions {
  /** Value a slice with zero error contributes, instead of +∞. Default 100 (dB). */
  maxDb?: number;
  /** Planes to compute. Default all three; others come back as `NaN`. */
  planes?: readonly Plane[];
  /** Average over constant reference slices too. Default false. */
  keepEmptySlices?: boolean;
}

/**
 * Mean per-slice PSNR (data range 1, both volumes clipped to [0, 1]) for each plane. Slices whose reference
 * is constant (empty air outside the body) are left out of the mean unless `keepEmptySlices`: a perfect
 * empty slice would count as `maxDb` and swamp the mean (their voxels still count in the other planes).
 * When every slice is constant, all are used.
 *
 * @example
 * ```ts
 * import { psnrPerPlane } from "./psnr.ts";
 * import { makeVolume } from "../volume.ts";
 * const ref = makeVolume(new Float32Array(4 * 5 * 6).fill(0.5), [4, 5, 6]);
 * const rec = makeVolume(new Float32Array(4 * 5 * 6).fill(0.51), [4, 5, 6]);
 * const p = psnrPerPlane(rec, ref);
 * console.log(p.axial.toFixed(2), p.coronal.toFixed(2)); // 40.00 40.00
 * ```
 */
export function psnrPerPlane(
  recon: Volume,
  reference: Volume,
  options: PsnrPerPlaneOptions = {},
): PerPlane<number> {
  checkSameShape(recon, reference);
  const result: PerPlane<number> = { axial: NaN, coronal: NaN, sagittal: NaN };
  for (const plane of options.planes ?? PLANES) {
    const l = planeLayout(reference.shape, plane);
    const a = new Float64Array(l.width * l.height);
    const b = new Float64Array(l.width * l.height);
    const kept = informativeSlices(reference, plane, options.keepEmptySlices);
    let sum = 0;
    for (const k of kept) {
      extractSlice(recon, plane, k, { clip: true, out: a });
      extractSlice(reference, plane, k, { clip: true, out: b });
      sum += psnr2d(a, b, { dataRange: 1, maxDb: options.maxDb });
    }
    result[plane] = sum / kept.length;
  }
  return result;
}
