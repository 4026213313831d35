/**
 * One entry point for every reconstruction method blendct runs on the same operator and data: FBP,
 * FBP-UNet, CGLS, 3D TV (PDHG, non-negative), and the diffusion samplers `dds2d`, `dds`, `mbir`
 * (DiffusionMBIR), `tpdm`, `blend` and `blend++`.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import type { Geometry } from "../ct/geometry.ts";
import { type LinearOperator, type SliceShape, viewAngles } from "../ct/operator.ts";
import { FanProjector } from "../ct/fan.ts";
import { ConeProjector } from "../ct/cone.ts";
import { isCone } from "../ct/cone_geometry.ts";
import { Projector } from "../ct/projector.ts";
import { createProjector } from "../ct/system.ts";
import type { ProjectorEngine } from "../ct/sparse.ts";
import { type FbpFilter, fbpOnGpu } from "../ct/fbp.ts";
import { cgls } from "../solve/cgls.ts";
import { applyFbpunet } from "./fbpunet.ts";
import { runMbir } from "../diffusion/mbir.ts";
import { tvPdhg } from "../solve/tv.ts";
import {
  type EpsModel,
  type ProgressEvent,
  runSampler,
  type SamplerConfig,
  type SamplerState,
} from "../diffusion/sampler.ts";
import type { LinearSchedule } from "../diffusion/schedule.ts";
import { UserError } from "../errors.ts";
import type { AdaptConfig } from "../diffusion/adapt.ts";
import { finishIterations, METHOD_DEFAULTS } from "../defaults.ts";

/** The methods of the evaluation table. */
export const METHODS = [
  "fbp",
  "fbpunet",
  "cgls",
  "tv",
  "dds2d",
  "dds",
  "mbir",
  "tpdm",
  "blend",
  "blend++",
] as const;
/** One of {@linkcode METHODS}. */
export type Method = typeof METHODS[number];

/** Whether a method needs the learned prior. */
export function isDiffusion(m: Method): boolean {
  return m === "dds" || m === "dds2d" || m === "mbir" || m === "tpdm" || m === "blend" || m === "blend++";
}

/** Settings of all methods; each method reads its own. */
export interface MethodConfig {
  /** The method to run. */
  method: Method;
  /** FBP filter. Default "ramp". */
  filter?: FbpFilter;
  /** CGLS / TV iterations. Defaults 30 / 300. */
  iterations?: number;
  /** TV weight (`tv`, a TV start or finish), x in u. Default `METHOD_DEFAULTS.tv.lambda` (0.16; `evaluate` tunes it per setting). */
  tvLambda?: number;
  /** Sampler steps. Default 80 (`dds`: 50): the default run stays under 10 minutes on 2 CPU cores. */
  steps?: number;
  /** DDIM η. Default 0.85. */
  eta?: number;
  /** CG iterations per step. Default 5. */
  cgIters?: number;
  /** Jump partition every this many steps. Default 2. */
  jumpEvery?: number;
  /** z-TV penalty ρ in blendct units. Default 0 (`dds`: the reference's 10, converted). */
  rho?: number;
  /** z-TV weight λ in blendct units. Default 0 (`dds`: the reference's 0.04, converted). */
  lambda?: number;
  /** Seed. Default 0. */
  seed?: number;
  /** The model's schedule. */
  schedule?: LinearSchedule;
  /** The model card's map from u to the network's range (see `modelMap`). Default `[2, −1]`. */
  modelMap?: [number, number];
  /**
   * Diffusion: where the reverse process starts. `noise` (default) at the top of the schedule, or a
   * classical estimate (`fbp`, `cgls`, `tv` with their defaults) forward-noised to `t0`.
   */
  start?: StartFrom;
  /** Diffusion: the timestep to start at (required with a classical `start`; optional with `noise`). */
  t0?: number;
  /** Diffusion: independent chains whose mean is the output (seeds derived from `seed`). Default 1. */
  samples?: number;
  /** Diffusion: data consistency `cg` (default) or `tv` (see `SamplerConfig.dc`). */
  dc?: "cg" | "tv";
  /** `dc: tv`: TV weight. Default `METHOD_DEFAULTS.dcTv.lambda` (0.005). */
  dcLambda?: number;
  /** `dc: tv`: proximity weight γ. Default `METHOD_DEFAULTS.dcTv.gamma` (0.1). */
  dcGamma?: number;
  /** Diffusion: `tv` ends with a TV solve anchored to the diffusion output (λ = `dcLambda` or `tvLambda`). */
  finish?: "tv" | "none";
  /** `finish: tv`: weight γ of the anchor (γ → 0 gives plain TV). Default `METHOD_DEFAULTS.finish.gamma` (0.5). */
  finishGamma?: number;
  /** Iterations of a classical `start` (CGLS or TV). Default: that method's own default. */
  startIters?: number;
  /** `finish: tv`: PDHG iterations. Default `finishIterations(views)` (100; 300 from 16 views). */
  finishIters?: number;
  /** `dds`: run its z-TV ADMM only once t ≤ this (a labelled variant; the reference runs it at every step). */
  ztvFrom?: number;
  /** `tpdm`: the auxiliary (coronal) model at every K-th step; fractional K: with probability 1/K. Default 2. */
  auxEvery?: number;
  /** `mbir`: the predictor (`reverse`, the reference's, or `ancestral`). Default: METHOD_DEFAULTS.mbir. */
  predictor?: "reverse" | "ancestral";
  /** `mbir`: noise levels. Default 30. */
  levels?: number;
  /** `blend++`, `blend`, `dds`: test-time adaptation of the prior (needs a model with an adapter: torch). */
  adapt?: AdaptConfig;
  /**
   * Named settings of `blend` / `blend++` ({@linkcode resolveMethod}): `default` (the measured best under
   * 10 minutes) or `paper` (the published loop). @default {"default"}
   */
  preset?: Preset;
}

/** The named presets of `blend` and `blend++`. */
export const PRESETS = ["default", "paper"] as const;
/** One of {@linkcode PRESETS}. */
export type Preset = typeof PRESETS[number];

/**
 * The one place a method name and its settings become a run: the command line, {@linkcode reconstruct},
 * `evaluate` and the browser page all call it, so `blend++` means the same run everywhere. For `blend` and
 * `blend++` the `default` preset starts from the TV estimate (150 iterations) noised to t0 = 300, runs 20
 * steps and finishes with a TV solve anchored to the result (each unless set); `paper` is the published loop
 * (200 steps from noise, CG 5, no z-TV, one chain, no finish). Other methods pass through. Idempotent.
 *
 * @example
 * ```ts
 * import { resolveMethod } from "./reconstruct.ts";
 * const r = resolveMethod({ method: "blend++" });
 * console.log(r.start, r.t0, r.steps, r.finish); // tv 300 20 tv
 * console.log(resolveMethod({ method: "blend++", preset: "paper" }).steps); // 200
 * console.log(resolveMethod({ method: "blend++", start: "noise", steps: 50 }).t0); // undefined
 * ```
 */
export function resolveMethod(c: MethodConfig): MethodConfig {
  if (c.method !== "blend" && c.method !== "blend++") return c;
  if (c.preset === "paper") {
    return {
      ...c,
      ...METHOD_DEFAULTS.paper,
      rho: 0,
      lambda: 0,
      start: "noise",
      samples: 1,
      finish: "none",
      t0: undefined,
      startIters: undefined,
    };
  }
  const d = METHOD_DEFAULTS.cliBlend;
  const defaulted = c.start === undefined;
  return {
    ...c,
    start: c.start ?? d.start,
    t0: c.t0 ?? (defaulted ? d.t0 : undefined),
    startIters: c.startIters ?? (defaulted ? d.startIters : undefined),
    steps: c.steps ?? (defaulted ? d.steps : undefined),
    finish: c.finish ?? d.finish,
  };
}

/** TV weight λ of `tv` (and of a TV start or finish) when none is given, for x in u: see `METHOD_DEFAULTS`. */
export const DEFAULT_TV_LAMBDA: number = METHOD_DEFAULTS.tv.lambda;

/** Starting points of the reverse process. */
export const STARTS = ["noise", "fbp", "cgls", "tv"] as const;
/** One of {@linkcode STARTS}. */
export type StartFrom = typeof STARTS[number];

/** The seed of chain `k` of a run seeded `seed` (chain 0 keeps the run's seed, so K = 1 is unchanged). */
export function chainSeed(seed: number, k: number): number {
  return k === 0 ? seed >>> 0 : (Math.imul(seed >>> 0, 2654435761) + Math.imul(k, 40503) + 1) >>> 0;
}

/**
 * The reference code's back-projection is `π/(2n)` times blendct's exact adjoint, so its normal equations
 * are scaled by `c = π/(2n)`; dividing its ρ and λ by `c` gives the same problem in blendct's units.
 */
export function fromReferenceUnits(value: number, views: number): number {
  return value / (Math.PI / (2 * views));
}

/**
 * What the sampler's reference-unit conversions read as views: the middle axis of a 3-axis range (a
 * projector's views; slice subsampling's rows, as it always was for dds on it).
 */
function viewsOf(A: LinearOperator): number {
  return A.rangeShape.length === 3 ? A.rangeShape[1] : 1;
}

/** The sampler configuration a method implies (resolved defaults), or null for classic methods. */
export function samplerConfig(c: MethodConfig, views: number): SamplerConfig | null {
  if (c.adapt && !["blend++", "blend", "dds"].includes(c.method)) {
    throw new UserError(`adapt applies to blend++, blend and dds, not ${c.method}`);
  }
  if (!isDiffusion(c.method)) return null;
  const dds = c.method === "dds", mbir = c.method === "mbir";
  const d = mbir ? { ...METHOD_DEFAULTS.mbir, steps: METHOD_DEFAULTS.mbir.levels, eta: 0 } : METHOD_DEFAULTS[
    c.method as "dds" | "dds2d" | "tpdm" | "blend" | "blend++"
  ];
  // DDS and DiffusionMBIR run the reference's z-TV ADMM, ρ and λ converted from its units
  const ref = dds ? METHOD_DEFAULTS.dds : mbir ? METHOD_DEFAULTS.mbir : null;
  const modes: Record<string, SamplerConfig["mode"]> = {
    dds: "fixed",
    dds2d: "single",
    mbir: "single",
    tpdm: "blend",
    blend: "blend",
  };
  return {
    mode: modes[c.method] ?? "blend++",
    steps: c.levels ?? c.steps ?? d.steps,
    eta: c.eta ?? d.eta,
    cgIters: c.cgIters ?? d.cgIters,
    jumpEvery: c.jumpEvery ?? METHOD_DEFAULTS.blend.jumpEvery,
    rho: c.rho ?? (ref ? fromReferenceUnits(ref.referenceRho, views) : 0),
    lambda: c.lambda ?? (ref ? fromReferenceUnits(ref.referenceLambda, views) : 0),
    auxEvery: c.method === "tpdm" ? c.auxEvery ?? METHOD_DEFAULTS.tpdm.auxEvery : undefined,
    seed: c.seed ?? 0,
    schedule: c.schedule,
    modelMap: c.modelMap,
    t0: c.t0,
    dc: c.dc,
    dcLambda: c.dcLambda,
    dcGamma: c.dcGamma,
    // DDS as its reference code (HJ-harry/DDS solver_3d.py): no clip of Tweedie's estimate, circular D_z
    nonNegative: dds ? false : undefined,
    circularDz: dds ? true : undefined,
    ztvFrom: c.ztvFrom,
    ...(c.adapt ? { adapt: c.adapt } : {}),
  };
}

/** Options for {@linkcode reconstruct}. */
export interface ReconstructOptions {
  /** The context to run on; {@linkcode reconstruct} releases its own buffers and leaves the context open. */
  gpu: GpuContext;
  /** The prior, required by diffusion methods. */
  model?: EpsModel;
  /** Pixel size (mm) a fan geometry without its own is applied with. Default 1. */
  pixelSize?: number;
  /**
   * Where the projector's forward and adjoint run: `auto` takes the sparse CPU engine on a software
   * adapter (`lib/ct/sparse.ts`), `wgsl` the GPU kernels, `sparse` the CPU engine. @default "auto"
   */
  projector?: ProjectorEngine;
  /** `fbpunet`: the folder of its networks. Default blendct's `models/`. */
  fbpunetDir?: URL;
  /**
   * Progress of iterative methods: `done` of `total` units. Diffusion steps add their event and a download
   * of the step's estimate (in u; `chain` counts from 0 with `samples` > 1).
   */
  onProgress?: (
    done: number,
    total: number,
    event?: ProgressEvent,
    estimate?: { chain: number; get: () => Promise<Float32Array> },
  ) => void | Promise<void>;
  /** Diffusion: periodic state for `--resume`. */
  onState?: (state: SamplerState) => Promise<void>;
  /** Diffusion: save state every this many steps. Default `METHOD_DEFAULTS.stateEvery` (10). */
  stateEvery?: number;
  /** Diffusion: continue from this state. */
  resume?: SamplerState;
  /** Stop after the current step (diffusion) when aborted. */
  signal?: AbortSignal;
  /**
   * Diffusion: an estimate (in u) to start from, forward-noised to `config.t0`. With a classical `start` it
   * is that estimate when the caller already has it (an evaluation reuses the tuned TV) instead of
   * computing it with the method's defaults; generation passes its coarse stage's upsampled volume.
   */
  startEstimate?: Float32Array;
  /** Diffusion with `samples` > 1: receives the per-voxel standard deviation over the chains (in u). */
  onStd?: (std: Float32Array) => void | Promise<void>;
}

/**
 * Reconstructs `[Z][H][W]` slices in attenuation units u from measurements `y = A u` (`[Z][A][D]`).
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { sparseView } from "../ct/geometry.ts";
 * import { reconstruct } from "./reconstruct.ts";
 * const gpu = await GpuContext.create();
 * const g = sparseView(8, { imageSize: 8 });
 * const y = new Float32Array(2 * 8 * g.detectorCount);
 * const x = await reconstruct(y, g, { Z: 2, H: 8, W: 8 }, { method: "cgls", iterations: 2 }, { gpu });
 * console.log(x.length); // 128
 * gpu.dispose();
 * ```
 */
export async function reconstruct(
  y: Float32Array,
  geometry: Geometry,
  shape: SliceShape,
  config: MethodConfig,
  options: ReconstructOptions,
): Promise<Float32Array> {
  const A = await createProjector(options.gpu, geometry, shape, {
    pixelSize: options.pixelSize,
    // FBP (and FBP-UNet) run only the back-projection kernel: a sparse copy of A would go unused
    engine: (config.method === "fbp" || config.method === "fbpunet") && !isCone(geometry)
      ? "wgsl"
      : options.projector,
  });
  try {
    if (y.length !== A.rangeSize) {
      throw new UserError(
        `measurement has ${y.length} values but ${shape.Z} slices x ${geometry.angles.length} views x ${geometry.detectorCount} bins need ${A.rangeSize}`,
      );
    }
    return await reconstructWith(A, y, config, options);
  } finally {
    A.dispose();
  }
}

/**
 * {@linkcode reconstruct} on any {@linkcode LinearOperator} `A` (a projector, slice subsampling for
 * z-super-resolution, a composition): `y` holds `A.rangeSize` floats, on the host or already on the device
 * (a run's `openProblem`). FBP needs a CT projector; the other methods only use `A`'s forward and
 * adjoint. `A` and a device `y` stay the caller's.
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { SliceSubsample } from "../ct/subsample.ts";
 * import { reconstructWith } from "./reconstruct.ts";
 * const gpu = await GpuContext.create();
 * const S = new SliceSubsample(gpu, { Z: 4, H: 2, W: 2 }, 2);
 * const x = await reconstructWith(S, new Float32Array(8).fill(1), { method: "cgls", iterations: 3 }, { gpu });
 * console.log(x[0], x[4]); // 1 1
 * gpu.dispose();
 * ```
 */
export async function reconstructWith(
  A: LinearOperator,
  y: Float32Array | GPUBuffer,
  config: MethodConfig,
  options: ReconstructOptions,
): Promise<Float32Array> {
  const { gpu } = options;
  config = resolveMethod(config);
  const given = !(y instanceof Float32Array);
  const values = given ? Math.floor(y.size / 4) : y.length;
  if (given ? values < A.rangeSize : values !== A.rangeSize) {
    throw new UserError(`measurement has ${values} values but the operator's range needs ${A.rangeSize}`);
  }
  // measurements already on the device (a run's problem) are used in place and stay the caller's
  const yb = given ? y : gpu.upload(y, "y");
  const x = gpu.buffer(A.domainSize * 4, "recon");
  // min ½‖Ax − y‖² + λ TV(x) + (γ/2)‖x − d‖², x ≥ 0, from d: the diffusion output d as an anchor
  const finishTv = async (d: Float32Array): Promise<Float32Array> => {
    const anchor = gpu.upload(d);
    try {
      gpu.write(x, d);
      await tvPdhg(gpu, A, x, yb, {
        lambda: config.dc === "tv"
          ? config.dcLambda ?? METHOD_DEFAULTS.dcTv.lambda
          : config.tvLambda ?? DEFAULT_TV_LAMBDA,
        gamma: config.finishGamma ?? METHOD_DEFAULTS.finish.gamma,
        anchor,
        // an operator without views (slice subsampling) keeps the sparse-view count
        iterations: config.finishIters ?? finishIterations(viewAngles(A)?.length ?? 0),
      });
      return await gpu.download(x, A.domainSize);
    } finally {
      gpu.release(anchor);
    }
  };
  try {
    switch (config.method) {
      case "fbp":
      case "fbpunet": {
        if (!(A instanceof Projector || A instanceof FanProjector || A instanceof ConeProjector)) {
          throw new UserError(
            `${config.method} needs a CT projector (parallel, fan or cone beam): pick another method for this operator`,
          );
        }
        const net = config.method === "fbpunet";
        if (net && !(A instanceof Projector)) {
          throw new UserError(
            "fbpunet's networks are trained for parallel beam: pick another method for this operator",
          );
        }
        const scratch = gpu.buffer(A.rangeSize * 4);
        await fbpOnGpu(gpu, A, yb, scratch, x, net ? "ramp" : config.filter ?? "ramp");
        gpu.release(scratch);
        if (net) {
          return await applyFbpunet(
            await gpu.download(x, A.domainSize),
            A.shape,
            A.geometry,
            options.fbpunetDir,
          );
        }
        break;
      }
      case "mbir": {
        if (!options.model) throw new UserError("method mbir needs a model (the learned prior)");
        const sc = samplerConfig(config, viewsOf(A))!;
        return await runMbir({ gpu, A, model: options.model, y: yb }, {
          levels: sc.steps,
          snr: METHOD_DEFAULTS.mbir.snr,
          cgIters: config.cgIters ?? METHOD_DEFAULTS.mbir.cgIters,
          rho: sc.rho,
          lambda: sc.lambda,
          finalCg: METHOD_DEFAULTS.mbir.finalCg,
          ztvFrom: config.ztvFrom,
          predictor: config.predictor,
          seed: sc.seed,
          schedule: sc.schedule,
          modelMap: sc.modelMap,
        }, {
          signal: options.signal,
          onStep: (e) => options.onProgress?.(e.step, e.steps, e),
        });
      }
      case "cgls": {
        const total = config.iterations ?? METHOD_DEFAULTS.cgls.iterations;
        await cgls(gpu, A, x, yb, {
          iterations: total,
          onIteration: (k) => options.onProgress?.(k + 1, total),
        });
        break;
      }
      case "tv": {
        const total = config.iterations ?? METHOD_DEFAULTS.tv.iterations;
        await tvPdhg(gpu, A, x, yb, {
          lambda: config.tvLambda ?? DEFAULT_TV_LAMBDA,
          iterations: total,
          onIteration: async (k) => {
            if (k % 10 === 9 || k === total - 1) {
              await gpu.sync();
              await options.onProgress?.(k + 1, total);
            }
          },
        });
        break;
      }
      default: {
        if (!options.model) throw new UserError(`method ${config.method} needs a model (the learned prior)`);
        const sc = samplerConfig(config, viewsOf(A))!;
        const every = options.stateEvery ?? METHOD_DEFAULTS.stateEvery;
        const start = config.start ?? "noise";
        if ((start !== "noise" || options.startEstimate) && config.t0 === undefined) {
          throw new UserError(`--start ${start} needs --t0 (the timestep the estimate is noised to)`);
        }
        const init = options.startEstimate ?? (start === "noise" ? undefined : await reconstructWith(A, yb, {
          method: start,
          tvLambda: config.tvLambda,
          iterations: config.startIters,
        }, { gpu, pixelSize: options.pixelSize }));
        const K = config.samples ?? 1, first = options.resume?.chain ?? 0;
        // chains before a resumed one come back as their Welford accumulators
        let mean: Float64Array | null = options.resume?.mean ? Float64Array.from(options.resume.mean) : null,
          m2: Float64Array | null = options.resume?.m2 ? Float64Array.from(options.resume.m2) : null;
        for (let k = first; k < K; k++) {
          const chain = await runSampler({ gpu, A, model: options.model, y: yb }, {
            ...sc,
            seed: chainSeed(sc.seed, k),
          }, {
            resume: k === first ? options.resume : undefined,
            signal: options.signal,
            init,
            onStep: async (e, state, get) => {
              await options.onProgress?.(k * e.steps + e.step, K * e.steps, e, { chain: k, get });
              const done = e.step === e.steps;
              if (options.onState && !done && (e.step % every === 0 || options.signal?.aborted)) {
                const s = await state();
                await options.onState(
                  K === 1 ? s : { ...s, chain: k, mean: mean ?? undefined, m2: m2 ?? undefined },
                );
              }
            },
          });
          if (K === 1) return config.finish === "tv" ? await finishTv(chain) : chain;
          // Welford's running mean and variance, in float64 so the order of chains does not round differently
          mean ??= new Float64Array(chain.length);
          m2 ??= new Float64Array(chain.length);
          for (let i = 0; i < chain.length; i++) {
            const d = chain[i] - mean[i];
            mean[i] += d / (k + 1);
            m2[i] += d * (chain[i] - mean[i]);
          }
        }
        await options.onStd?.(Float32Array.from(m2!, (v) => Math.sqrt(v / K)));
        const out = Float32Array.from(mean!);
        return config.finish === "tv" ? await finishTv(out) : out;
      }
    }
    return await gpu.download(x, A.domainSize);
  } finally {
    gpu.release(given ? undefined : yb, x);
  }
}
