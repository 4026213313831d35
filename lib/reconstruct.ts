/**
 * One entry point for every reconstruction method blendct runs on the same operator and data: FBP, CGLS,
 * 3D TV (PDHG with a [0, 1] box), and the diffusion samplers `dds`, `blend` and `blend++`.
 * @module
 */
import type { GpuContext } from "./gpu/context.ts";
import type { Geometry } from "./ct/geometry.ts";
import { Projector, type SliceShape } from "./ct/projector.ts";
import { type FbpFilter, fbpOnGpu } from "./ct/fbp.ts";
import { cgls } from "./solve/cgls.ts";
import { tvPdhg } from "./solve/tv.ts";
import {
  type EpsModel,
  type ProgressEvent,
  runSampler,
  type SamplerConfig,
  type SamplerState,
} from "./diffusion/sampler.ts";
import type { LinearSchedule } from "./diffusion/schedule.ts";
import { UserError } from "./errors.ts";

/** The methods of the evaluation table. */
export const METHODS = ["fbp", "cgls", "tv", "dds", "blend", "blend++"] as const;
/** One of {@linkcode METHODS}. */
export type Method = typeof METHODS[number];

/** Whether a method needs the learned prior. */
export function isDiffusion(m: Method): boolean {
  return m === "dds" || m === "blend" || m === "blend++";
}

/** Settings of all methods; each method reads its own. */
export interface MethodConfig {
  /** The method to run. */
  method: Method;
  /** FBP filter. Default "ramp". */
  filter?: FbpFilter;
  /** CGLS / TV iterations. Defaults 30 / 300. */
  iterations?: number;
  /** TV weight for `tv`. Default 0.05 (tuned on LIDC at 8 views; `evaluate` tunes it per setting). */
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
}

/**
 * The reference code's back-projection is `π/(2n)` times blendct's exact adjoint, so its normal equations
 * are scaled by `c = π/(2n)`; dividing its ρ and λ by `c` gives the same problem in blendct's units.
 */
export function fromReferenceUnits(value: number, views: number): number {
  return value / (Math.PI / (2 * views));
}

/** The sampler configuration a method implies (resolved defaults), or null for classic methods. */
export function samplerConfig(c: MethodConfig, views: number): SamplerConfig | null {
  if (!isDiffusion(c.method)) return null;
  const dds = c.method === "dds";
  return {
    mode: dds ? "fixed" : c.method === "blend" ? "blend" : "blend++",
    steps: c.steps ?? (dds ? 50 : 80),
    eta: c.eta ?? 0.85,
    cgIters: c.cgIters ?? 5,
    jumpEvery: c.jumpEvery ?? 2,
    rho: c.rho ?? (dds ? fromReferenceUnits(10, views) : 0),
    lambda: c.lambda ?? (dds ? fromReferenceUnits(0.04, views) : 0),
    seed: c.seed ?? 0,
    schedule: c.schedule,
  };
}

/** Options for {@linkcode reconstruct}. */
export interface ReconstructOptions {
  /** The context to run on; {@linkcode reconstruct} releases its own buffers and leaves the context open. */
  gpu: GpuContext;
  /** The prior, required by diffusion methods. */
  model?: EpsModel;
  /** Progress of iterative methods: `done` of `total` units. */
  onProgress?: (done: number, total: number, event?: ProgressEvent) => void | Promise<void>;
  /** Diffusion: periodic state for `--resume`. */
  onState?: (state: SamplerState) => Promise<void>;
  /** Diffusion: save state every this many steps. Default 10. */
  stateEvery?: number;
  /** Diffusion: continue from this state. */
  resume?: SamplerState;
  /** Stop after the current step (diffusion) when aborted. */
  signal?: AbortSignal;
}

/**
 * Reconstructs `[Z][H][W]` slices in [0, 1] units from measurements `y` (`[Z][A][D]`).
 *
 * @example
 * ```ts
 * import { GpuContext } from "./gpu/context.ts";
 * import { sparseView } from "./ct/geometry.ts";
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
  const { gpu } = options;
  const A = await Projector.create(gpu, geometry, shape);
  if (y.length !== A.rangeSize) {
    throw new UserError(
      `measurement has ${y.length} values but ${shape.Z} slices x ${geometry.angles.length} views x ${geometry.detectorCount} bins need ${A.rangeSize}`,
    );
  }
  const yb = gpu.upload(y, "y");
  const x = gpu.buffer(A.domainSize * 4, "recon");
  try {
    switch (config.method) {
      case "fbp": {
        const scratch = gpu.buffer(A.rangeSize * 4);
        await fbpOnGpu(gpu, A, yb, scratch, x, config.filter ?? "ramp");
        gpu.release(scratch);
        break;
      }
      case "cgls": {
        const total = config.iterations ?? 30;
        await cgls(gpu, A, x, yb, {
          iterations: total,
          onIteration: (k) => options.onProgress?.(k + 1, total),
        });
        break;
      }
      case "tv": {
        const total = config.iterations ?? 300;
        await tvPdhg(gpu, A, x, yb, {
          lambda: config.tvLambda ?? 0.05,
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
        const sc = samplerConfig(config, geometry.angles.length)!;
        const every = options.stateEvery ?? 10;
        return await runSampler({ gpu, A, model: options.model, y: yb }, sc, {
          resume: options.resume,
          signal: options.signal,
          onStep: async (e, state) => {
            await options.onProgress?.(e.step, e.steps, e);
            const last = e.step === e.steps;
            if (options.onState && !last && (e.step % every === 0 || options.signal?.aborted)) {
              await options.onState(await state());
            }
          },
        });
      }
    }
    return await gpu.download(x, A.domainSize);
  } finally {
    gpu.release(yb, x);
    A.dispose();
  }
}
