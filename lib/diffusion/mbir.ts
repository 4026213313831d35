/**
 * DiffusionMBIR (Chung et al., CVPR 2023; HJ-harry/DiffusionMBIR `sampling.py`, the ADMM-TV
 * predictor–corrector for sparse-view CT) on blendct's VP prior: a 2D prior on every slice, a predictor
 * and one Langevin corrector per noise level, then one data step (CG on AᵀA + ρD_zᵀD_z with the z-TV
 * ADMM's split and dual variables persistent across levels), as the reference's `get_pc_radon_ADMM_TV_vol`
 * orders them, and a final data step. The reference is a VE score model; blendct's prior is VP, so the
 * score is converted:
 * x̃ = x/√ᾱ, σ = √((1−ᾱ)/ᾱ), s(x̃, σ) = −ε(√ᾱ x̃, t)/σ, with the noise levels placed at the prior's own
 * timesteps (σ capped to its range). Deviations, all stated in the README: fewer noise levels than the
 * reference's 2,000, and with them the option of score-SDE's ancestral predictor (the reverse-diffusion
 * predictor's Euler step adds too much noise when σ falls by a large ratio per level); the final Kaczmarz
 * sweep is a few CG iterations on AᵀA.
 * @module
 */
import { Rng } from "../random.ts";
import { METHOD_DEFAULTS } from "../defaults.ts";
import { DataConsistency } from "./consistency.ts";
import { singlePartition } from "./partition.ts";
import { alphasCumprod, DEFAULT_SCHEDULE, type LinearSchedule } from "./schedule.ts";
import type { ProgressEvent, SamplerInputs, StepTimings } from "./sampler.ts";
import { TripletDenoiser } from "./triplet_denoiser.ts";

/** DiffusionMBIR's settings in blendct's units. */
export interface MbirConfig {
  /** Noise levels (the reference: 2,000). */
  levels: number;
  /**
   * The predictor: `reverse` (reverse diffusion, the reference's) or `ancestral` (score-SDE's ancestral
   * sampling, exact in variance for any ratio of consecutive σ). @default {"ancestral"} (METHOD_DEFAULTS.mbir)
   */
  predictor?: MbirPredictor;
  /** Langevin corrector signal-to-noise ratio. @default {0.16} */
  snr?: number;
  /** CG iterations of each data step. @default {1} */
  cgIters?: number;
  /** z-TV ADMM penalty ρ (blendct units). */
  rho: number;
  /** z-TV weight λ (blendct units). */
  lambda: number;
  /** CG iterations of the final data step (the reference's Kaczmarz sweep). @default {5} */
  finalCg?: number;
  /** Run the z-TV ADMM only at levels whose t ≤ this (a labelled variant, as `dds --ztv-from`). */
  ztvFrom?: number;
  /** Seed of the noise. */
  seed: number;
  /** The prior's schedule. */
  schedule?: LinearSchedule;
  /** u → model units, `[scale, offset]`. @default {[2, -1]} */
  modelMap?: [number, number];
}

/** The predictors of {@linkcode MbirConfig}. */
export type MbirPredictor = "reverse" | "ancestral";

/**
 * The predictor's noise standard deviation from σᵢ to σᵢ₊₁ (both VE), after the mean step
 * x̄ = x + (σᵢ² − σᵢ₊₁²) s: reverse diffusion adds √(σᵢ² − σᵢ₊₁²), ancestral sampling
 * σᵢ₊₁ √(σᵢ² − σᵢ₊₁²) / σᵢ, which leaves exactly σᵢ₊₁ of noise when the score is exact.
 *
 * @example
 * ```ts
 * import { predictorStd } from "./mbir.ts";
 * console.log(predictorStd("reverse", 5, 3), predictorStd("ancestral", 5, 3)); // 4 2.4
 * ```
 */
export function predictorStd(kind: MbirPredictor, sigma: number, next: number): number {
  const d = Math.sqrt(sigma * sigma - next * next);
  return kind === "reverse" ? d : next * d / sigma;
}

/** VE noise level σ of VP timestep t: √((1 − ᾱ)/ᾱ). */
export function veSigma(abar: number): number {
  return Math.sqrt((1 - abar) / abar);
}

/**
 * The prior's timesteps for `levels` noise levels spaced geometrically in σ from the prior's largest
 * (σ at t = T − 1) to its smallest (t = 0), each at the nearest timestep, duplicates dropped; descending.
 *
 * @example
 * ```ts
 * import { mbirTimes } from "./mbir.ts";
 * const t = mbirTimes(10);
 * console.log(t[0], t[t.length - 1]); // 999 0
 * ```
 */
export function mbirTimes(levels: number, schedule: LinearSchedule = DEFAULT_SCHEDULE): number[] {
  const abar = alphasCumprod(schedule), T = abar.length;
  const logs = Array.from(abar, (a) => Math.log(veSigma(a)));
  const hi = logs[T - 1], lo = logs[0], out: number[] = [];
  for (let i = 0; i < levels; i++) {
    const target = levels === 1 ? hi : hi + (lo - hi) * i / (levels - 1);
    let best = 0;
    for (let t = 1; t < T; t++) if (Math.abs(logs[t] - target) < Math.abs(logs[best] - target)) best = t;
    if (out[out.length - 1] !== best) out.push(best);
  }
  return out;
}

/**
 * Runs DiffusionMBIR and returns the reconstruction in u (`A.domainSize` floats). Two network calls per
 * level (predictor, corrector), each on every slice, and one data step.
 *
 * @example
 * ```ts ignore
 * const u = await runMbir({ gpu, A, model, y }, { levels: 30, rho: 50, lambda: 0.2, seed: 0 });
 * ```
 */
export async function runMbir(
  inputs: SamplerInputs,
  config: MbirConfig,
  options: { onStep?: (e: ProgressEvent) => void | Promise<void>; signal?: AbortSignal } = {},
): Promise<Float32Array> {
  const { gpu, A, model, y } = inputs;
  const n = A.domainSize, { Z } = A.shape, hw = n / Z;
  const schedule = config.schedule ?? DEFAULT_SCHEDULE;
  const abar = alphasCumprod(schedule), times = mbirTimes(config.levels, schedule);
  const [s, o] = config.modelMap ?? [2, -1];
  const snr = config.snr ?? 0.16;
  const buf = gpu.buffer(n * 4, "mbir x"), epsBuf = gpu.buffer(n * 4, "mbir eps");
  const denoiser = new TripletDenoiser(gpu, model, A.shape);
  const dc = await DataConsistency.create(gpu, A, y, {
    cgIters: config.cgIters ?? 1,
    rho: config.rho,
    lambda: config.lambda,
    ztvFrom: config.ztvFrom,
  });
  const part = singlePartition(Z);
  const timings: StepTimings = { network: 0, transfer: 0, cg: 0, blend: 0, adapt: 0 };
  const rng = new Rng(`${config.seed >>> 0}:mbir`);
  // x̃ in model units, VE: x̃ = x0 + σ ξ
  const x = rng.fork("init").fillNormal(new Float32Array(n), { std: veSigma(abar[times[0]]) });
  const score = async (t: number): Promise<Float32Array> => {
    const a = Math.sqrt(abar[t]), sigma = veSigma(abar[t]);
    gpu.write(buf, x.map((v) => v * a));
    const net = await denoiser.eps(buf, t, part, epsBuf);
    timings.network += net.network / 1000;
    timings.transfer += net.transfer / 1000;
    const e = await gpu.download(epsBuf, n);
    for (let i = 0; i < n; i++) e[i] = -e[i] / sigma;
    return e;
  };
  const dataStep = async (step: DataConsistency, t: number, from: Float32Array): Promise<void> => {
    const t0 = performance.now();
    gpu.write(buf, from.map((v) => (v - o) / s));
    await step.apply(buf, t);
    const u = await gpu.download(buf, n);
    for (let i = 0; i < n; i++) x[i] = s * u[i] + o;
    timings.cg += (performance.now() - t0) / 1000;
  };
  try {
    for (let i = 0; i < times.length; i++) {
      const t0 = performance.now(), t = times[i];
      const sig = veSigma(abar[t]), next = i + 1 < times.length ? veSigma(abar[times[i + 1]]) : 0;
      // predictor: x̄ = x + (σᵢ² − σᵢ₊₁²) s, x = x̄ + std · ξ
      const d2 = sig * sig - next * next, g = await score(t);
      const std = predictorStd(config.predictor ?? METHOD_DEFAULTS.mbir.predictor, sig, next);
      const xi = rng.fork(`predictor:${i}`).fillNormal(new Float32Array(n));
      for (let j = 0; j < n; j++) x[j] = x[j] + d2 * g[j] + std * xi[j];
      // corrector (Langevin, step from the signal-to-noise ratio of score and noise, per slice as the
      // reference's per-image norms)
      const g2 = await score(t), z = rng.fork(`corrector:${i}`).fillNormal(new Float32Array(n));
      for (let k = 0; k < Z; k++) {
        let gn = 0, zn = 0;
        for (let j = k * hw; j < (k + 1) * hw; j++) {
          gn += g2[j] * g2[j];
          zn += z[j] * z[j];
        }
        const eps = 2 * (snr * Math.sqrt(zn) / Math.max(Math.sqrt(gn), 1e-12)) ** 2;
        for (let j = k * hw; j < (k + 1) * hw; j++) x[j] += eps * g2[j] + Math.sqrt(2 * eps) * z[j];
      }
      // one data step per level, after predictor and corrector
      await dataStep(dc, t, x);
      const seconds = (performance.now() - t0) / 1000;
      await options.onStep?.({
        step: i + 1,
        steps: times.length,
        t,
        partition: "single",
        seconds,
        timings: { ...timings },
      });
      if (options.signal?.aborted && i < times.length - 1) {
        throw new DOMException(`interrupted after level ${i + 1}`, "AbortError");
      }
    }
    // the last level's data-consistent x, made consistent once more (the reference's final Kaczmarz step)
    const last = await DataConsistency.create(gpu, A, y, { cgIters: config.finalCg ?? 5, rho: 0, lambda: 0 });
    try {
      await dataStep(last, 0, x);
    } finally {
      last.dispose();
    }
    return Float32Array.from(x, (v) => (v - o) / s);
  } finally {
    denoiser.dispose();
    dc.dispose();
    gpu.release(buf, epsBuf);
  }
}
