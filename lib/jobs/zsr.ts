/**
 * z-super-resolution (TPDM's z-axis task): a thick-slice volume is a thin volume seen through slice
 * subsampling `S` (every `factor`-th slice kept); the prior fills the slices in between while data
 * consistency keeps the measured ones. Also the interpolation baselines it is compared with.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import { SliceSubsample } from "../ct/subsample.ts";
import { type MethodConfig, type ReconstructOptions, reconstructWith } from "./reconstruct.ts";
import { makeVolume, type Volume } from "../volume.ts";
import { UserError } from "../errors.ts";
import { keptSlices } from "../ct/subsample.ts";
import { computeMetrics } from "../metrics/index.ts";

/** The first thin slice a thick slice stands for: thick slice k is thin slice `k·factor + zsrOffset(factor)`. */
export function zsrOffset(factor: number): number {
  // the measured slice sits in the middle of its block, so the thin volume extends equally at both ends
  return Math.floor(factor / 2);
}

/**
 * The thin volume's grid for a thick one: `factor`× the slices, spacing `dz / factor`, the affine moved so
 * that thick slice k lands on thin slice `k·factor + offset` (data zeroed).
 *
 * @example
 * ```ts
 * import { makeVolume } from "../volume.ts";
 * import { thinGrid } from "./zsr.ts";
 * const thick = makeVolume(new Float32Array(2 * 4), [2, 2, 2], { spacing: [4, 1, 1] });
 * const thin = thinGrid(thick, 4);
 * console.log(thin.shape, thin.spacing, thin.affine[2][3]); // [ 8, 2, 2 ] [ 1, 1, 1 ] -2
 * ```
 */
export function thinGrid(thick: Volume, factor: number): Volume {
  const [Zt, H, W] = thick.shape, Z = Zt * factor, off = zsrOffset(factor);
  const affine = thick.affine.map((r) => r.slice());
  for (let i = 0; i < 3; i++) {
    affine[i][2] /= factor;
    affine[i][3] -= affine[i][2] * off;
  }
  return {
    ...thick,
    data: new Float32Array(Z * H * W),
    shape: [Z, H, W],
    spacing: [thick.spacing[0] / factor, thick.spacing[1], thick.spacing[2]],
    affine,
  };
}

/**
 * Interpolates thick slices onto the thin grid along z: `linear`, or `cubic` (Keys' cubic convolution,
 * a = −0.5, Catmull–Rom); beyond the first and last thick slice the end values are held.
 *
 * @example
 * ```ts
 * import { interpolateSlices } from "./zsr.ts";
 * const thin = interpolateSlices(Float32Array.from([0, 4]), [2, 1, 1], 2, "linear");
 * console.log(Array.from(thin)); // [ 0, 0, 2, 4 ]
 * ```
 */
export function interpolateSlices(
  thick: Float32Array,
  shape: readonly [number, number, number] | number[],
  factor: number,
  kind: "linear" | "cubic",
): Float32Array {
  const [Zt, H, W] = shape, hw = H * W, Z = Zt * factor, off = zsrOffset(factor);
  const out = new Float32Array(Z * hw);
  const at = (k: number) => Math.min(Zt - 1, Math.max(0, k));
  const keys = (t: number) => {
    const a = -0.5, x = Math.abs(t);
    return x <= 1
      ? (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1
      : x < 2
      ? a * (x ** 3 - 5 * x ** 2 + 8 * x - 4)
      : 0;
  };
  for (let z = 0; z < Z; z++) {
    const pos = Math.min(Zt - 1, Math.max(0, (z - off) / factor)); // in thick-slice units, held at the ends
    const k = Math.floor(pos), t = pos - k;
    const row = out.subarray(z * hw, (z + 1) * hw);
    if (kind === "linear") {
      const a = thick.subarray(at(k) * hw), b = thick.subarray(at(k + 1) * hw);
      for (let i = 0; i < hw; i++) row[i] = (1 - t) * a[i] + t * b[i];
    } else {
      const w = [keys(t + 1), keys(t), keys(1 - t), keys(2 - t)];
      const s = [-1, 0, 1, 2].map((d) => thick.subarray(at(k + d) * hw));
      for (let i = 0; i < hw; i++) row[i] = w[0] * s[0][i] + w[1] * s[1][i] + w[2] * s[2][i] + w[3] * s[3][i];
    }
  }
  return out;
}

/** Options of {@linkcode superResolve}. */
export interface SuperResolveOptions extends ReconstructOptions {
  /** Where the reverse process starts (noised to `config.t0`): cubic interpolation unless the caller has another. */
  startEstimate?: Float32Array;
}

/**
 * Super-resolves `thick` (`[Zt][H][W]` in u) by `factor` with `config`'s method on the slice-subsampling
 * operator; a diffusion method with a `start` starts from cubic interpolation noised to `t0`. Returns the
 * thin volume in u, `Zt·factor` slices.
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { superResolve } from "./zsr.ts";
 * const gpu = await GpuContext.create();
 * const thin = await superResolve(gpu, Float32Array.from([1, 3]), [2, 1, 1], 2, { method: "cgls", iterations: 2 }, { gpu });
 * console.log(thin[1], thin[3]); // 1 3
 * gpu.dispose();
 * ```
 */
export async function superResolve(
  gpu: GpuContext,
  thick: Float32Array,
  shape: readonly [number, number, number] | number[],
  factor: number,
  config: MethodConfig,
  options: SuperResolveOptions,
): Promise<Float32Array> {
  if (!Number.isInteger(factor) || factor < 2) {
    throw new UserError(`--factor must be a whole number >= 2 (got ${factor})`);
  }
  const [Zt, H, W] = shape;
  const S = new SliceSubsample(gpu, { Z: Zt * factor, H, W }, factor, zsrOffset(factor));
  try {
    const startEstimate = options.startEstimate ??
      (config.start && config.start !== "noise"
        ? interpolateSlices(thick, shape, factor, "cubic")
        : undefined);
    return await reconstructWith(S, thick, config, { ...options, startEstimate });
  } finally {
    S.dispose();
  }
}

/** PSNR and SSIM per plane of one zsr result. */
export interface ZsrScore {
  psnr: { axial: number; coronal: number; sagittal: number };
  ssim: { axial: number; coronal: number; sagittal: number };
}

/**
 * Scores thin volumes against a thin reference: coronal and sagittal on the whole volume, axial only on
 * the slices that were not given (the given ones are the data, not a reconstruction).
 */
export function scoreZsr(
  volumes: [string, Volume][],
  reference: Volume,
  factor: number,
  range: [number, number],
): Record<string, ZsrScore> {
  const [Z, H, W] = reference.shape, hw = H * W;
  const kept = new Set(keptSlices(Z, factor, zsrOffset(factor)));
  const unseen = Array.from({ length: Z }, (_, z) => z).filter((z) => !kept.has(z));
  const pick = (v: Volume) => {
    const data = new Float32Array(unseen.length * hw);
    unseen.forEach((z, k) => data.set(v.data.subarray(z * hw, (z + 1) * hw), k * hw));
    return makeVolume(data, [unseen.length, H, W], { unit: v.unit });
  };
  const out: Record<string, ZsrScore> = {};
  for (const [name, vol] of volumes) {
    const all = computeMetrics(vol, reference, { range, planes: ["coronal", "sagittal"] });
    const ax = computeMetrics(pick(vol), pick(reference), { range, planes: ["axial"] });
    out[name] = { psnr: { ...all.psnr, axial: ax.psnr.axial }, ssim: { ...all.ssim, axial: ax.ssim.axial } };
  }
  return out;
}
