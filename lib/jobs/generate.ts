/**
 * Unconditional generation (TPDM's generation task): the same blended 3-slice sampler with no data, so
 * every slice comes from the prior alone and blending along z ties them into one volume.
 *
 * Coarse to fine: the 256² prior was trained on 96-pixel crops and never saw a whole slice, so alone it
 * draws texture without a body's layout. A second, whole-slice prior (64², `train.py --whole`) draws the
 * layout; its volume, upsampled, is forward-noised to `refineT0` and the fine prior draws the detail from
 * there (SDEdit-style refinement, as cascaded diffusion models do).
 *
 * The coarse stage draws its slices one after the other ({@linkcode extendAlongZ}), not with the blended
 * sampler: with no data to anchor them, alternating triplet partitions pull each slice towards the mean
 * of what its changing neighbours suggest, and a 64² sample loses its bone and organs (measured: the
 * 99.9th percentile of a blended 8-slice sample at 115 HU, of single triplets 200–1260 HU).
 * @module
 */
import { METHOD_DEFAULTS } from "../defaults.ts";
import type { GpuContext } from "../gpu/context.ts";
import { ZeroOperator } from "../ct/operator.ts";
import type { EpsModel, ProgressEvent } from "../diffusion/sampler.ts";
import { reconstructWith } from "./reconstruct.ts";
import { alphasCumprod, ddimTimes, type LinearSchedule } from "../diffusion/schedule.ts";
import { normalAt } from "../diffusion/sampler.ts";
import { ddimRef, tweedieRef } from "../diffusion/steps.ts";
import { UserError } from "../errors.ts";

/** The timestep the upsampled coarse volume is noised to by default (`--refine-t0`). */
export const REFINE_T0 = 300;

/** The coarse (whole-slice) stage of {@linkcode generateVolume}. */
export interface CoarseStage {
  /** The whole-slice prior. */
  model: EpsModel;
  /** Its slice size (its card's `imageSize`), smaller than the output's. */
  size: number;
  /** Its schedule (from its card). */
  schedule?: LinearSchedule;
  /** Its map from u to the network's range (from its card). */
  modelMap?: [number, number];
}

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
  /** See `modelMap` in `lib/prior/card.ts`. */
  modelMap?: [number, number];
  /** Draw the layout with a whole-slice prior first (see the module's note). Default: none. */
  coarse?: CoarseStage;
  /**
   * With `coarse`: the timestep the upsampled coarse volume is noised to before the fine prior takes over
   * (higher: the fine prior redraws more). @default {300}
   */
  refineT0?: number;
  /** Progress per step (both stages count, in one total). */
  onProgress?: (done: number, total: number, event?: ProgressEvent) => void | Promise<void>;
}

/**
 * Bilinear upsampling of each slice of a `[Z][c][c]` volume to `[Z][size][size]`, pixel centres aligned
 * (pixel i of the output sits at (i + ½)·c/size − ½ of the input; edges clamp).
 *
 * @example
 * ```ts
 * import { upsampleSlices } from "./generate.ts";
 * console.log(Array.from(upsampleSlices(Float32Array.of(0, 1, 2, 3), 1, 2, 4).slice(0, 4))); // [0, 0.25, 0.75, 1]
 * ```
 */
export function upsampleSlices(v: Float32Array, Z: number, c: number, size: number): Float32Array {
  if (v.length !== Z * c * c) throw new RangeError(`upsampleSlices: ${v.length} values, not ${Z}x${c}x${c}`);
  const out = new Float32Array(Z * size * size);
  const idx = new Int32Array(size), idx1 = new Int32Array(size), frac = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const s = Math.min(Math.max((i + 0.5) * c / size - 0.5, 0), c - 1);
    idx[i] = Math.floor(s);
    idx1[i] = Math.min(idx[i] + 1, c - 1);
    frac[i] = s - idx[i];
  }
  for (let z = 0; z < Z; z++) {
    const src = z * c * c, dst = z * size * size;
    for (let y = 0; y < size; y++) {
      const r0 = src + idx[y] * c, r1 = src + idx1[y] * c, fy = frac[y];
      for (let x = 0; x < size; x++) {
        const a = v[r0 + idx[x]] + (v[r0 + idx1[x]] - v[r0 + idx[x]]) * frac[x];
        const b = v[r1 + idx[x]] + (v[r1 + idx1[x]] - v[r1 + idx[x]]) * frac[x];
        out[dst + y * size + x] = a + (b - a) * fy;
      }
    }
  }
  return out;
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
  const steps = o.steps ?? 50, seed = o.seed ?? 0, Z = o.slices;
  const c = o.coarse;
  if (!c) {
    return await sample(gpu, model, Z, o.size, {
      steps,
      seed,
      eta: o.eta,
      schedule: o.schedule,
      modelMap: o.modelMap,
    }, o.onProgress);
  }
  if (c.size >= o.size) {
    throw new UserError(
      `--coarse: the coarse prior's slices (${c.size}²) must be smaller than the output's (${o.size}²); pass a smaller whole-slice prior or --coarse none`,
    );
  }
  const t0 = o.refineT0 ?? REFINE_T0;
  if (!Number.isInteger(t0) || t0 <= 0 || t0 >= 1000) {
    throw new UserError(`--refine-t0 must be a whole number in (0, 1000) (got ${t0})`);
  }
  const fine = refineSteps(steps, t0);
  const total = steps + fine;
  // progress in steps: a slice's share of the coarse stage's `steps`
  const coarse = await extendAlongZ(c.model, Z, c.size, {
    steps,
    seed,
    eta: o.eta,
    schedule: c.schedule,
    modelMap: c.modelMap,
    onSlice: (done) => o.onProgress?.(Math.round(steps * done / Z), total),
  });
  return await sample(gpu, model, Z, o.size, {
    steps: fine,
    seed: seed + 1,
    eta: o.eta,
    schedule: o.schedule,
    modelMap: o.modelMap,
    t0,
    init: upsampleSlices(coarse, Z, c.size, o.size),
  }, (done, _t, e) => o.onProgress?.(steps + done, total, e));
}

/** Options of {@linkcode extendAlongZ}. */
export interface ExtendOptions {
  /** DDIM steps per slice (from pure noise). */
  steps: number;
  /** Seed. */
  seed: number;
  /** DDIM η. @default {0.85} */
  eta?: number;
  /** The model's schedule. */
  schedule?: LinearSchedule;
  /** The model card's map from u to the network's range. @default {[2, -1]} */
  modelMap?: [number, number];
  /** Called after each slice is drawn. */
  onSlice?: (done: number, total: number) => void | Promise<void>;
}

/**
 * Samples a `[Z][size][size]` volume (u) slice by slice along z: the first triplet from noise, then each
 * next slice as the third of a triplet (gap 1) whose first two are the slices already drawn, held at their
 * values in every step's Tweedie estimate (replacement, the data consistency of a selection operator).
 * Host-side, one triplet per network call: meant for a coarse (64²) prior.
 *
 * @example
 * ```ts ignore
 * const u = await extendAlongZ(coarse.denoiser, 16, 64, { steps: 50, seed: 1 });
 * ```
 */
export async function extendAlongZ(
  model: EpsModel,
  Z: number,
  size: number,
  o: ExtendOptions,
): Promise<Float32Array> {
  if (!Number.isInteger(Z) || Z < 3) throw new UserError(`--slices must be a whole number >= 3 (got ${Z})`);
  const hw = size * size, abar = alphasCumprod(o.schedule), map = o.modelMap ?? [2, -1];
  const times = ddimTimes(o.steps, o.schedule?.T ?? 1000), eta = o.eta ?? METHOD_DEFAULTS.blend.eta;
  const out = new Float32Array(Z * hw);
  const k = Float32Array.of(1);
  // triplet 0..2 all free, then z = 3..Z−1 with the two slices before it fixed
  for (let z = 2; z < Z; z++) {
    const fixed = z === 2 ? 0 : 2;
    const stream = (n: number) => (z * 4099 + n) >>> 0;
    let x: Float32Array = Float32Array.from({ length: 3 * hw }, (_, i) => normalAt(o.seed, stream(0), i));
    for (let i = 0; i < times.length; i++) {
      const t = times[i];
      const eps = await model.predict(x, Float32Array.of(t), k, [1, 3, size, size]);
      const v = tweedieRef(x, eps, { abar: abar[t], map, nonNegative: true });
      if (fixed) v.set(out.subarray((z - 2) * hw, z * hw));
      if (i === times.length - 1) {
        x = v;
        break;
      }
      x = ddimRef(v, eps, (j) => normalAt(o.seed, stream(i + 1), j), {
        abarNext: abar[times[i + 1]],
        map,
        eta,
      });
    }
    out.set(z === 2 ? x : x.subarray(2 * hw), (z === 2 ? 0 : z) * hw);
    await o.onSlice?.(z + 1, Z);
  }
  return out;
}

/** One blended sampling run on `[Z][size][size]` with no data, from noise or from `init` noised to `t0`. */
async function sample(
  gpu: GpuContext,
  model: EpsModel,
  Z: number,
  size: number,
  s: {
    steps: number;
    seed: number;
    eta?: number;
    schedule?: LinearSchedule;
    modelMap?: [number, number];
    t0?: number;
    init?: Float32Array;
  },
  onProgress?: (done: number, total: number, event?: ProgressEvent) => void | Promise<void>,
): Promise<Float32Array> {
  const O = new ZeroOperator(gpu, { Z, H: size, W: size });
  try {
    return await reconstructWith(O, new Float32Array(0), {
      method: "blend++",
      steps: s.steps,
      eta: s.eta,
      cgIters: 0,
      seed: s.seed,
      schedule: s.schedule,
      modelMap: s.modelMap,
      start: "noise",
      finish: "none",
      t0: s.t0,
    }, { gpu, model, onProgress, startEstimate: s.init });
  } finally {
    O.dispose();
  }
}

/**
 * The refinement's steps after a coarse stage of `steps`: it walks the schedule at the coarse stage's
 * pace, ⌈steps · t0 / T⌉ steps from `t0` (so `--steps 4 --coarse C` runs 4 + 2 at t0 300).
 *
 * @example
 * ```ts
 * import { refineSteps } from "./generate.ts";
 * console.log(refineSteps(4, 300), refineSteps(50, 300)); // 2 15
 * ```
 */
export function refineSteps(steps: number, t0: number): number {
  return Math.max(1, Math.ceil(steps * t0 / 1000));
}
