/**
 * All of blendct's image-quality metrics in one call: both volumes are mapped linearly from a stated data
 * range `[lo, hi]` in their own unit (HU by default [−1024, 3071], the 12-bit CT range) onto [0, 1] and
 * clipped to it, as CT evaluations score within the range a scanner stores; PSNR and SSIM use data range 1
 * (scikit-image's `data_range = hi − lo`) and are the mean over the slices of each plane; TV and
 * z-consistency are computed on the same mapped volumes, for the reconstruction and the reference alike.
 * Only the scores clip: the physics and the outputs never do.
 *
 * @example
 * ```ts
 * import { computeMetrics } from "./index.ts";
 * import { makeVolume } from "../volume.ts";
 * const ref = makeVolume(Float32Array.from({ length: 8 * 8 * 8 }, (_, i) => (i % 5) / 4), [8, 8, 8]);
 * const m = computeMetrics(ref, ref);
 * console.log(m.psnr.coronal, m.ssim.axial, m.zConsistencyRatio); // 100 1 1
 * ```
 * @module
 */
import type { Volume } from "../volume.ts";
import { checkSameShape, type PerPlane, type Plane } from "./planes.ts";
import { psnrPerPlane } from "./psnr.ts";
import { type SsimOptions, ssimPerPlane } from "./ssim.ts";
import { type TotalVariation, totalVariation } from "./tv.ts";

export * from "./planes.ts";
export * from "./psnr.ts";
export * from "./ssim.ts";
export * from "./tv.ts";
export * from "./zconsistency.ts";

/** Options for {@linkcode computeMetrics}. */
export interface ComputeMetricsOptions {
  /**
   * The data range `[lo, hi]` in the volumes' unit, mapped linearly onto [0, 1] and clipped there, e.g.
   * `[-1024, 3071]` for HU volumes. Default `[0, 1]`.
   */
  range?: [number, number];
  /** SSIM with the Gaussian window (Wang et al.) instead of skimage's 7×7 uniform default. Default `false`. */
  gaussian?: boolean;
  /** Further SSIM settings (window size, sigma, covariance, constants). Defaults as in {@linkcode SsimOptions}. */
  ssim?: Omit<SsimOptions, "gaussian" | "dataRange">;
  /** PSNR of a slice with zero error, instead of +∞. Default 100 (dB). */
  maxPsnrDb?: number;
  /** Planes for PSNR and SSIM. Default all three; others come back as `NaN`. */
  planes?: readonly Plane[];
}

/** What {@linkcode computeMetrics} returns. */
export interface Metrics {
  /** Mean per-slice PSNR in dB, per plane. */
  psnr: PerPlane<number>;
  /** Mean per-slice SSIM, per plane. */
  ssim: PerPlane<number>;
  /** Anisotropic TV of the reconstruction. */
  tv: TotalVariation;
  /** Anisotropic TV of the reference. */
  tvReference: TotalVariation;
  /** Mean |x[z+1] − x[z]| of the reconstruction. */
  zConsistency: number;
  /** The same for the reference. */
  zConsistencyReference: number;
  /** `zConsistency / zConsistencyReference`: 1 is ideal, above 1 is slice flicker, below is z-blur. */
  zConsistencyRatio: number;
}

/**
 * Maps a volume's values from `range` (default [0, 1]) linearly onto [0, 1] and clips them there: the form
 * every metric sees.
 *
 * @example
 * ```ts
 * import { toUnitRange } from "./index.ts";
 * import { makeVolume } from "../volume.ts";
 * const hu = makeVolume(Float32Array.from([-2000, -1000, 0, 1000, 3000]), [1, 1, 5], { unit: "HU" });
 * console.log(Array.from(toUnitRange(hu, { range: [-1000, 1000] }).data)); // [ 0, 0, 0.5, 1, 1 ]
 * ```
 */
export function toUnitRange(volume: Volume, options: { range?: [number, number] } = {}): Volume {
  const [lo, hi] = options.range ?? [0, 1];
  if (!(hi > lo)) throw new RangeError(`data range [${lo}, ${hi}] must have hi > lo`);
  const scale = 1 / (hi - lo);
  const src = volume.data;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = (src[i] - lo) * scale;
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return { ...volume, data: out, unit: "image" };
}

/** Per-plane PSNR/SSIM, total TV and z-consistency of one result, as tables and metrics.json hold them. */
export interface MethodMetrics {
  /** PSNR per plane (dB). */
  psnr: PerPlane<number>;
  /** SSIM per plane. */
  ssim: PerPlane<number>;
  /** Total variation of the result. */
  tv: number;
  /** Total variation of the ground truth. */
  tvReference: number;
  /** z-consistency of the result. */
  zConsistency: number;
  /** z-consistency of the ground truth. */
  zConsistencyReference: number;
}

/**
 * {@linkcode computeMetrics} reduced to the numbers a results table keeps.
 *
 * @example
 * ```ts
 * import { methodMetrics } from "./index.ts";
 * import { makeVolume } from "../volume.ts";
 * const v = makeVolume(Float32Array.from({ length: 1000 }, (_, i) => (i % 7) / 7), [10, 10, 10]);
 * console.log(methodMetrics(v, v, {}).tv === methodMetrics(v, v, {}).tvReference); // true
 * ```
 */
export function methodMetrics(
  recon: Volume,
  reference: Volume,
  options: ComputeMetricsOptions,
): MethodMetrics {
  const m = computeMetrics(recon, reference, options);
  return {
    psnr: m.psnr,
    ssim: m.ssim,
    tv: m.tv.total,
    tvReference: m.tvReference.total,
    zConsistency: m.zConsistency,
    zConsistencyReference: m.zConsistencyReference,
  };
}

/**
 * PSNR and SSIM per plane, TV and z-consistency of `recon` against `reference` (same shape, else a
 * RangeError).
 *
 * @example
 * ```ts
 * import { computeMetrics } from "./index.ts";
 * import { makeVolume } from "../volume.ts";
 * const n = 10 * 12 * 14;
 * const ref = makeVolume(Float32Array.from({ length: n }, (_, i) => 0.5 + 0.4 * Math.sin(i / 9)), [10, 12, 14]);
 * const rec = makeVolume(ref.data.map((v) => v + 0.01), ref.shape);
 * const m = computeMetrics(rec, ref);
 * console.log(m.psnr.axial.toFixed(1), m.ssim.sagittal > 0.99); // 40.0 true
 * ```
 */
export function computeMetrics(
  recon: Volume,
  reference: Volume,
  options: ComputeMetricsOptions = {},
): Metrics {
  checkSameShape(recon, reference);
  const a = toUnitRange(recon, { range: options.range });
  const b = toUnitRange(reference, { range: options.range });
  const psnr = psnrPerPlane(a, b, { maxDb: options.maxPsnrDb, planes: options.planes });
  const ssim = ssimPerPlane(a, b, { ...options.ssim, gaussian: options.gaussian, planes: options.planes });
  const tv = totalVariation(a);
  const tvReference = totalVariation(b);
  return {
    psnr,
    ssim,
    tv,
    tvReference,
    zConsistency: tv.z,
    zConsistencyReference: tvReference.z,
    zConsistencyRatio: tvReference.z === 0 ? NaN : tv.z / tvReference.z,
  };
}
