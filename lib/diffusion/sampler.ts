/**
 * The DiffusionBlend++ sampler (METHOD.md "Reconstruction loop"): DDIM with η over the whole volume, the
 * 3-slice prior applied to a partition of the slices that changes from step to step, Tweedie, CG data
 * consistency with an optional z-TV ADMM term whose variables persist across steps. All volume-sized work
 * stays on the GPU; with a host-side (CPU) denoiser only the triplet batches cross to the host.
 *
 * Random choices are pure functions of (seed, step): partition offsets come from a generator seeded with
 * both, and Gaussian noise from a counter-based hash in WGSL. So a run resumed at step k continues exactly
 * as the uninterrupted run would have.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import type { LinearOperator } from "../ct/operator.ts";
import { Rng } from "../random.ts";
import { type ConsistencyConfig, DataConsistency } from "./consistency.ts";
import { ddimUpdate, initialNoise, noiseEstimate, tweedie } from "./steps.ts";
import { TripletDenoiser } from "./triplet_denoiser.ts";
import { CoronalDenoiser } from "./coronal_denoiser.ts";
import {
  alphasCumprod,
  ddimTimes,
  ddimTimesFrom,
  DEFAULT_SCHEDULE,
  type LinearSchedule,
} from "./schedule.ts";
import { type BlendMode, type Partition, partitionForStep } from "./partition.ts";
import { type AdaptConfig, adaptStep } from "./adapt.ts";
import type { AdapterState } from "../prior/denoiser_torch.ts";
import type { EpsModel } from "../prior/eps_model.ts";
import { UserError } from "../errors.ts";

export type { EpsModel } from "../prior/eps_model.ts";

/** Sampler settings; the defaults are METHOD.md's except where the README says otherwise. */
export interface SamplerConfig extends ConsistencyConfig {
  /** `blend++` (jump + adjacent), `blend` (adjacent only) or `fixed` (DDS: one fixed partition). */
  mode: BlendMode;
  /** DDIM steps. */
  steps: number;
  /** DDIM stochasticity η. */
  eta: number;
  /** Jump partition every this many steps (blend++). */
  jumpEvery: number;
  /** Seed of every random choice. */
  seed: number;
  /** Noise schedule of the model. */
  schedule?: LinearSchedule;
  /**
   * The model card's linear map from attenuation u to the network's input, `[scale, offset]` with
   * `model = scale · u + offset`. Default `[2, −1]` (u in [0, 1] onto [−1, 1]).
   */
  modelMap?: [number, number];
  /** Clamp Tweedie's estimate at 0 (non-negative attenuation) before data consistency. Default true. */
  nonNegative?: boolean;
  /**
   * Start the reverse process at this timestep instead of the top of the schedule: `steps` steps then run
   * from `t0` to 0, from `RunOptions.init` forward-noised to `t0` (or from noise without one).
   */
  t0?: number;
  /**
   * TPDM: steps on coronal triplets (the auxiliary direction, unconditional: no data consistency) between
   * the axial ones. An integer K runs the auxiliary at every K-th step (steps K−1, 2K−1, …); a fractional
   * K at each step with probability 1/K, drawn from the seed (the reference's K = 2.7). Absent: none.
   */
  auxEvery?: number;
  /** The network's size multiple along the coronal images' slice axis (2^(levels − 1)). Default 8. */
  sizeMultiple?: number;
  /**
   * Test-time adaptation (`adapt.ts`): before each step's ε, Adam steps on the network's adapters lower the
   * data residual of a seeded random subset of triplets. Needs a model with an `adapter` (the torch back end).
   */
  adapt?: AdaptConfig;
}

/**
 * Whether step `i` of a run is a TPDM auxiliary (coronal) step.
 *
 * @example
 * ```ts
 * import { isAuxiliaryStep } from "./sampler.ts";
 * console.log([0, 1, 2, 3].map((i) => isAuxiliaryStep(2, i, 0))); // [ false, true, false, true ]
 * ```
 */
export function isAuxiliaryStep(auxEvery: number | undefined, i: number, seed: number): boolean {
  if (!auxEvery) return false;
  if (Number.isInteger(auxEvery)) return i % auxEvery === auxEvery - 1;
  return new Rng(`${seed >>> 0}:auxiliary:${i}`).uniform() < 1 / auxEvery;
}

/** The state a run can be resumed from: the step to run next and the GPU-resident variables. */
export interface SamplerState {
  /** Steps completed, which is the index of the step to run next. */
  step: number;
  /** The noisy volume x_t in model units (the network's range plus noise), `A.domainSize` floats. */
  x: Float32Array;
  /** z-TV ADMM split variable (≈ D_z x), present when `rho > 0`. */
  z?: Float32Array;
  /** z-TV ADMM scaled dual variable, present when `rho > 0`. */
  u?: Float32Array;
  /**
   * Runs of K > 1 chains (`samples`): the chain this state belongs to (0-based); the chains before it are
   * folded into `mean` and `m2`, Welford's running mean and sum of squared deviations (float64).
   */
  chain?: number;
  /** See `chain`. */
  mean?: Float64Array;
  /** See `chain`. */
  m2?: Float64Array;
  /** With `adapt`: the estimate of the volume (u) that fills the slices outside the adapted triplets. */
  estimate?: Float32Array;
  /** With `adapt`: the adapters and their optimiser, as the back end saved them. */
  adapter?: AdapterState;
}

/** Seconds spent per phase, summed over steps. */
export interface StepTimings {
  /** In the denoiser. */
  network: number;
  /** Moving triplets between GPU and host; 0 when the denoiser works on the GPU. */
  transfer: number;
  /** Data consistency: CG and the z-TV ADMM updates. */
  cg: number;
  /** Everything else: gathering triplets, scattering eps, Tweedie and the DDIM update. */
  blend: number;
  /** Test-time adaptation (network forward and backward, the data term's gradient). */
  adapt: number;
}

/** Emitted after every step. */
export interface ProgressEvent {
  /** Steps completed, counting this one (1-based). */
  step: number;
  /** Steps in the whole run. */
  steps: number;
  /** DDPM timestep of this step. */
  t: number;
  /** The kind of partition this step used (`coronal`: a TPDM auxiliary step). */
  partition: Partition["kind"] | "coronal";
  /** Wall time of this step in seconds. */
  seconds: number;
  /** Seconds per phase, summed over all steps so far. */
  timings: StepTimings;
  /** With `adapt`: the relative data residual before each Adam step of this step, and the adapter's size. */
  adapt?: { residuals: number[]; parameters: number };
}

/** Inputs the sampler works on; all buffers live on `gpu`. */
export interface SamplerInputs {
  /** The context that owns every buffer. */
  gpu: GpuContext;
  /** The projector; its shape is the volume's. */
  A: LinearOperator;
  /** The prior's noise predictor. */
  model: EpsModel;
  /** Measurements `y = A u` of the volume in attenuation units, `A.rangeSize` floats. */
  y: GPUBuffer;
}

/** Options for {@linkcode runSampler}. */
export interface RunOptions {
  /** Continue from this state instead of pure noise. */
  resume?: SamplerState;
  /**
   * A classical estimate in u (`A.domainSize` floats) to start from when `config.t0` is set:
   * `x_t0 = √ᾱ(t0) · model(init) + √(1 − ᾱ(t0)) ξ`.
   */
  init?: Float32Array;
  /**
   * Called after each step; return a promise to save state (e.g. every few steps). `estimate` downloads the
   * step's Tweedie estimate after data consistency (in u), for a caller that plots PSNR against step.
   */
  onStep?: (
    e: ProgressEvent,
    state: () => Promise<SamplerState>,
    estimate: () => Promise<Float32Array>,
  ) => void | Promise<void>;
  /** Stop early (e.g. on Ctrl-C) after the current step; the last state goes to `onStep`. */
  signal?: AbortSignal;
}

/** Normal numbers exactly as the WGSL `normal_at` makes them (TypeScript reference, f32 math). */
export function normalAt(seed: number, stream: number, i: number): number {
  const pcg = (v: number) => {
    const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
    const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
    return ((word >>> 22) ^ word) >>> 0;
  };
  const key = pcg((seed ^ pcg((stream + 0x9e3779b9) >>> 0)) >>> 0);
  const h1 = pcg((key ^ pcg((2 * i) >>> 0)) >>> 0);
  const h2 = pcg((key ^ pcg((2 * i + 1) >>> 0)) >>> 0);
  const u1 = ((h1 >>> 8) + 1) / 16777216;
  const u2 = (h2 >>> 8) / 16777216;
  return Math.fround(Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
}

export { INIT_STREAM } from "./steps.ts";

/**
 * Runs the sampler and returns the reconstruction in attenuation units u (`A.domainSize` floats): a short
 * loop over the triplet denoiser, Tweedie's estimate, data consistency and the DDIM update, with a
 * callback after every step (progress, timings, checkpoints, abort).
 *
 * @example
 * ```ts ignore
 * const volume = await runSampler({ gpu, A, model, y }, { mode: "blend++", steps: 50, eta: 0.85,
 *   cgIters: 5, jumpEvery: 2, rho: 0, lambda: 0, seed: 0 });
 * ```
 */
export async function runSampler(
  inputs: SamplerInputs,
  config: SamplerConfig,
  options: RunOptions = {},
): Promise<Float32Array> {
  const { gpu, A, model, y } = inputs;
  const { Z, H, W } = A.shape;
  const layout = { n: A.domainSize, hw: H * W }, n = layout.n;
  const schedule = config.schedule ?? DEFAULT_SCHEDULE;
  const abar = alphasCumprod(schedule);
  const times = config.t0 !== undefined
    ? ddimTimesFrom(config.steps, config.t0)
    : ddimTimes(config.steps, schedule.T);
  const seed = config.seed >>> 0;
  const map = config.modelMap ?? [2, -1];
  const x = gpu.buffer(n * 4, "x_t"), v = gpu.buffer(n * 4, "x0 in u"), eps = gpu.buffer(n * 4, "eps");
  const denoiser = new TripletDenoiser(gpu, model, A.shape);
  const coronal = config.auxEvery ? new CoronalDenoiser(gpu, model, A.shape, config.sizeMultiple ?? 8) : null;
  const dc = await DataConsistency.create(gpu, A, y, config);
  const timings: StepTimings = { network: 0, transfer: 0, cg: 0, blend: 0, adapt: 0 };
  const adapt = config.adapt && config.adapt.iters > 0 ? config.adapt : null;
  if (adapt && !model.adapter) {
    throw new UserError("--adapt needs a back end with gradients: --backend torch");
  }
  let estimate: Float32Array | null = null, adapterSize = 0;
  const scratch = adapt
    ? { u: gpu.buffer(n * 4, "adapt u"), r: gpu.buffer(A.rangeSize * 4, "adapt r") }
    : null;
  const yHost = adapt ? await gpu.download(y, A.rangeSize) : null;
  let yNorm = 0;
  if (yHost) { for (const v of yHost) yNorm += v * v; }
  const dataGradient = async (u: Float32Array) => {
    gpu.write(scratch!.u, u);
    await A.forward(scratch!.u, scratch!.r);
    const r = await gpu.download(scratch!.r, A.rangeSize);
    let rr = 0;
    for (let i = 0; i < r.length; i++) {
      r[i] -= yHost![i];
      rr += r[i] * r[i];
    }
    gpu.write(scratch!.r, r);
    await A.adjoint(scratch!.r, scratch!.u);
    const grad = await gpu.download(scratch!.u, n);
    for (let i = 0; i < n; i++) grad[i] *= 2;
    return { grad, residual: Math.sqrt(rr / (yNorm || 1)) };
  };
  try {
    let done = 0;
    if (adapt) {
      adapterSize = await model.adapter!.reset({
        kind: adapt.layers,
        rank: adapt.rank,
        lr: adapt.lr,
        seed,
      });
    }
    if (options.resume) {
      done = options.resume.step;
      gpu.write(x, options.resume.x);
      dc.restore(options.resume);
      if (adapt) {
        if (!options.resume.adapter || !options.resume.estimate) {
          throw new UserError("--resume: the state was saved without --adapt; rerun with the same flags");
        }
        await model.adapter!.load(options.resume.adapter);
        estimate = options.resume.estimate;
      }
    } else {
      await initialNoise(gpu, x, layout, seed);
      if (options.init && config.t0 !== undefined) {
        gpu.write(v, options.init);
        await noiseEstimate(gpu, v, eps, x, layout, { abar: abar[times[0]], map, seed });
      }
    }
    if (adapt && !estimate) {
      estimate = options.init && config.t0 !== undefined ? options.init : new Float32Array(n);
    }
    const state = async (): Promise<SamplerState> => ({
      step: done,
      x: await gpu.download(x, n),
      ...await dc.state(),
      ...(adapt ? { estimate: estimate!, adapter: await model.adapter!.save() } : {}),
    });
    for (let i = done; i < times.length; i++) {
      const t = times[i], tStep = performance.now();
      const rng = new Rng(`${seed}:partition:${i}`);
      const aux = i < times.length - 1 && isAuxiliaryStep(config.auxEvery, i, seed); // the last step sees the data
      const part = aux ? null : partitionForStep(config.mode, i, Z, rng, config.jumpEvery);
      let adapted: ProgressEvent["adapt"];
      if (adapt && part) {
        const ta = performance.now();
        const report = await adaptStep(
          model.adapter!,
          dataGradient,
          A.shape,
          await gpu.download(x, n),
          estimate!,
          part,
          t,
          abar[t],
          map,
          adapt,
          seed,
          i,
          config.nonNegative !== false,
        );
        adapted = { residuals: report.residuals, parameters: adapterSize };
        timings.adapt += (performance.now() - ta) / 1000;
      }
      const t0 = performance.now();
      const net = aux ? await coronal!.eps(x, t, rng.int(3), eps) : await denoiser.eps(x, part!, t, eps);
      await tweedie(gpu, x, eps, v, layout, {
        abar: abar[t],
        map,
        nonNegative: config.nonNegative !== false,
      });
      await gpu.sync();
      const t1 = performance.now();
      if (!aux) await dc.apply(v, t);
      await gpu.sync();
      if (adapt && !aux) estimate = await gpu.download(v, n);
      const t2 = performance.now();
      if (i === times.length - 1) gpu.copy(v, x, n * 4); // the last estimate is the answer
      else {await ddimUpdate(gpu, v, eps, x, layout, {
          abarNext: abar[times[i + 1]],
          map,
          eta: config.eta,
          seed,
          step: i,
        });}
      await gpu.sync();
      const t3 = performance.now();
      timings.network += net.network / 1000;
      timings.transfer += net.transfer / 1000;
      timings.cg += (t2 - t1) / 1000;
      timings.blend += (t1 - t0 - net.network - net.transfer + (t3 - t2)) / 1000;
      done = i + 1;
      const e = {
        step: i + 1,
        steps: times.length,
        t,
        partition: part?.kind ?? "coronal" as const,
        seconds: (t3 - tStep) / 1000,
        ...(adapted ? { adapt: adapted } : {}),
      };
      await options.onStep?.({ ...e, timings: { ...timings } }, state, () => gpu.download(v, n));
      if (options.signal?.aborted && i < times.length - 1) {
        throw new DOMException(`interrupted after step ${i + 1}`, "AbortError");
      }
    }
    return await gpu.download(v, n);
  } finally {
    // adaptation is per run: the model leaves as it came (a worker that died has nothing to clear)
    if (adapt) await model.adapter!.clear().catch(() => {});
    denoiser.dispose();
    dc.dispose();
    gpu.release(x, v, eps, scratch?.u, scratch?.r);
  }
}
