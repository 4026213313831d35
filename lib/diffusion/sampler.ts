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
import type { AdaptConfig } from "./adapt.ts";
import { Adaptation } from "./adaptation.ts";
import { UserError } from "../errors.ts";
import type { AdapterState } from "../prior/denoiser_torch.ts";
import type { EpsModel } from "../prior/eps_model.ts";

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

/** Per-step phase times: a lap waits for the device, so a phase's kernels count where they ran. */
class StepClock {
  #gpu: GpuContext;
  #last = performance.now();
  readonly start = this.#last;
  constructor(gpu: GpuContext) {
    this.#gpu = gpu;
  }
  /** Seconds since the previous lap, after the device has finished what was queued. */
  async lap(): Promise<number> {
    await this.#gpu.sync();
    const now = performance.now(), d = (now - this.#last) / 1000;
    this.#last = now;
    return d;
  }
}

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
  if (config.adapt && config.adapt.iters > 0 && !model.adapter) {
    throw new UserError("--adapt needs a back end with gradients: --backend torch");
  }
  const n = A.domainSize, layout = { n, hw: A.shape.H * A.shape.W };
  const { times, abar, seed, map } = samplerPlan(config);
  const nonNegative = config.nonNegative !== false;
  const x = gpu.buffer(n * 4, "x_t"), v = gpu.buffer(n * 4, "x0 in u"), eps = gpu.buffer(n * 4, "eps");
  const denoiser = new TripletDenoiser(gpu, model, A.shape);
  const coronal = config.auxEvery ? new CoronalDenoiser(gpu, model, A.shape, config.sizeMultiple ?? 8) : null;
  const dc = await DataConsistency.create(gpu, A, y, config);
  const init = options.init && config.t0 !== undefined ? options.init : undefined;
  const adaptation = config.adapt && config.adapt.iters > 0
    ? await Adaptation.open(gpu, A, y, model, config.adapt, { map, seed, nonNegative }, init)
    : null;
  const timings: StepTimings = { network: 0, transfer: 0, cg: 0, blend: 0, adapt: 0 };
  try {
    let done = await begin(
      gpu,
      { x, v, eps },
      layout,
      dc,
      adaptation,
      options.resume,
      init,
      abar[times[0]],
      map,
      seed,
    );
    const state = async (): Promise<SamplerState> => ({
      step: done,
      x: await gpu.download(x, n),
      ...await dc.state(),
      ...(adaptation ? await adaptation.state() : {}),
    });
    for (let i = done; i < times.length; i++) {
      const t = times[i], last = i === times.length - 1, clock = new StepClock(gpu);
      const rng = new Rng(`${seed}:partition:${i}`);
      const aux = !last && isAuxiliaryStep(config.auxEvery, i, seed); // the last step sees the data
      const part = aux ? null : partitionForStep(config.mode, i, A.shape.Z, rng, config.jumpEvery);
      const adapted = part && adaptation ? await adaptation.step(x, part, t, abar[t], i) : undefined;
      timings.adapt += adapted ? await clock.lap() : 0;
      const net = aux ? await coronal!.eps(x, t, rng.int(3), eps) : await denoiser.eps(x, t, part!, eps);
      await tweedie(gpu, x, eps, v, layout, { abar: abar[t], map, nonNegative });
      const denoise = await clock.lap();
      if (part) await dc.apply(v, t);
      if (part) await adaptation?.remember(v);
      timings.cg += await clock.lap();
      const next = last ? null : { abarNext: abar[times[i + 1]], map, eta: config.eta, seed, step: i };
      if (next) await ddimUpdate(gpu, v, eps, x, layout, next);
      else gpu.copy(v, x, n * 4); // the last estimate is the answer
      addNetwork(timings, net, denoise + await clock.lap());
      done = i + 1;
      const e = stepEvent(done, times.length, t, part, clock, timings, adapted);
      await options.onStep?.(e, state, () => gpu.download(v, n));
      if (options.signal?.aborted && !last) {
        throw new DOMException(`interrupted after step ${done}`, "AbortError");
      }
    }
    return await gpu.download(v, n);
  } finally {
    await adaptation?.dispose(); // adaptation is per run: the model leaves as it came
    denoiser.dispose();
    coronal?.dispose();
    dc.dispose();
    gpu.release(x, v, eps);
  }
}

/** The run's timesteps, ᾱ, seed and model map, from its configuration (pure). */
function samplerPlan(config: SamplerConfig) {
  const schedule = config.schedule ?? DEFAULT_SCHEDULE;
  const times = config.t0 !== undefined
    ? ddimTimesFrom(config.steps, config.t0)
    : ddimTimes(config.steps, schedule.T);
  return {
    times,
    abar: alphasCumprod(schedule),
    seed: config.seed >>> 0,
    map: config.modelMap ?? [2, -1] as [number, number],
  };
}

/**
 * Puts the run's first x_t on the device: a saved state's (with its data-consistency and adaptation
 * variables), else noise, forward-noised from `init` when the run starts from an estimate. Returns the
 * step to run next.
 */
async function begin(
  gpu: GpuContext,
  b: { x: GPUBuffer; v: GPUBuffer; eps: GPUBuffer },
  layout: { n: number; hw: number },
  dc: DataConsistency,
  adaptation: Adaptation | null,
  resume: SamplerState | undefined,
  init: Float32Array | undefined,
  abar0: number,
  map: [number, number],
  seed: number,
): Promise<number> {
  if (resume) {
    gpu.write(b.x, resume.x);
    dc.restore(resume);
    await adaptation?.restore(resume);
    return resume.step;
  }
  await initialNoise(gpu, b.x, layout, seed);
  if (init) {
    gpu.write(b.v, init);
    await noiseEstimate(gpu, b.v, b.eps, b.x, layout, { abar: abar0, map, seed });
  }
  return 0;
}

/** The event a step reports. */
function stepEvent(
  step: number,
  steps: number,
  t: number,
  part: Partition | null,
  clock: StepClock,
  timings: StepTimings,
  adapted: ProgressEvent["adapt"],
): ProgressEvent {
  const seconds = (performance.now() - clock.start) / 1000;
  const e: ProgressEvent = {
    step,
    steps,
    t,
    partition: part?.kind ?? "coronal",
    seconds,
    timings: { ...timings },
  };
  return adapted ? { ...e, adapt: adapted } : e;
}

/** Adds one step's denoising time: the network's and the transfers' as the denoiser measured them, the rest as blending. */
function addNetwork(timings: StepTimings, net: { network: number; transfer: number }, seconds: number): void {
  timings.network += net.network / 1000;
  timings.transfer += net.transfer / 1000;
  timings.blend += seconds - (net.network + net.transfer) / 1000;
}
