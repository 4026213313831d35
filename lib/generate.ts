/**
 * Unconditional generation (TPDM's generation task): the same blended 3-slice sampler with no data, so
 * every slice comes from the prior alone and blending along z ties them into one volume.
 * @module
 */
import type { GpuContext } from "./gpu/context.ts";
import { ZeroOperator } from "./ct/operator.ts";
import type { EpsModel, ProgressEvent } from "./diffusion/sampler.ts";
import { reconstructWith } from "./reconstruct.ts";
import type { LinearSchedule } from "./diffusion/schedule.ts";
import { UserError } from "./errors.ts";

/** Options of {@linkcode generateVolume}. */
export interface GenerateOptions {
  /** Slices (at least 3). */
  slices: number;
  /** Slice width and height: the model's image size. */
  size: number;
  /** DDIM steps from pure noise. Default 50. */
  steps?: number;
  /** Seed. Default 0. */
  seed?: number;
  /** DDIM η. Default 0.85. */
  eta?: number;
  /** The model's schedule and its map from u to the network's range (from the card). */
  schedule?: LinearSchedule;
  /** See `modelMap` in `lib/diffusion/card.ts`. */
  modelMap?: [number, number];
  /** Progress per step. */
  onProgress?: (done: number, total: number, event?: ProgressEvent) => void | Promise<void>;
}

/**
 * Samples a `[slices][size][size]` volume in attenuation units u (water 1) from the prior.
 *
 * @example
 * ```ts ignore
 * const u = await generateVolume(gpu, prior.denoiser, { slices: 16, size: 256, steps: 50 });
 * ```
 */
export async function generateVolume(
  gpu: GpuContext,
  model: EpsModel,
  o: GenerateOptions,
): Promise<Float32Array> {
  if (!Number.isInteger(o.slices) || o.slices < 3) {
    throw new UserError(
      `--slices must be a whole number >= 3 (the prior sees 3 slices at a time; got ${o.slices})`,
    );
  }
  const O = new ZeroOperator(gpu, { Z: o.slices, H: o.size, W: o.size });
  try {
    return await reconstructWith(O, new Float32Array(0), {
      method: "blend++",
      steps: o.steps ?? 50,
      eta: o.eta,
      cgIters: 0,
      seed: o.seed ?? 0,
      schedule: o.schedule,
      modelMap: o.modelMap,
      start: "noise",
    }, { gpu, model, onProgress: o.onProgress });
  } finally {
    O.dispose();
  }
}
