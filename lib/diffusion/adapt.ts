/**
 * Test-time adaptation of the prior to the scan at hand (D3IP, Chung & Ye, ECCV 2024; METHOD.md "Test-time
 * adaptation"): at each sampler step, with x_t fixed, a few Adam steps on the network's adapters lower
 * ‖A x̂₀(x_t; φ) − y‖² for a seeded random subset of the step's triplets. The data term's gradient
 * 2Aᵀ(A x̂₀ − y) comes from blendct's own operator (any operator: parallel, fan, slice subsampling);
 * the back end only back-propagates it through the network.
 * @module
 */
import type { SliceShape } from "../ct/operator.ts";
import { Rng } from "../random.ts";
import type { Adapter, AdapterKind } from "../prior/denoiser_torch.ts";
import type { Partition } from "./partition.ts";

/** Settings of `--adapt`. */
export interface AdaptConfig {
  /** Adam steps per sampler step. */
  iters: number;
  /** Adam's learning rate. */
  lr: number;
  /** Slices adapted on per Adam step (rounded up to whole triplets), drawn at random from the seed. */
  slices: number;
  /** LoRA rank (`layers: lora`). */
  rank: number;
  /** Which layers carry adapters. */
  layers: AdapterKind;
}

/** What one sampler step's adaptation did. */
export interface AdaptReport {
  /** Relative data residual ‖A x̂₀ − y‖ / ‖y‖ before each Adam step. */
  residuals: number[];
}

/** `2Aᵀ(A u − y)` of a whole volume `u` (host, attenuation units), with ‖A u − y‖ / ‖y‖. */
export type DataGradient = (u: Float32Array) => Promise<{ grad: Float32Array; residual: number }>;

/**
 * The groups of `part` adapted on at Adam step `iter` of sampler step `step`: `count` distinct groups
 * drawn without replacement, a pure function of (seed, step, iter).
 *
 * @example
 * ```ts
 * import { adaptGroups } from "./adapt.ts";
 * import { adjacentPartition } from "./partition.ts";
 * const p = adjacentPartition(9, 0);
 * const g = adaptGroups(p, 2, 0, 5, 1);
 * console.log(g.length, new Set(g).size, g.every((i) => i < 3)); // 2 2 true
 * ```
 */
export function adaptGroups(
  part: Partition,
  count: number,
  seed: number,
  step: number,
  iter: number,
): number[] {
  const groups = part.gaps.length;
  const order = Array.from({ length: groups }, (_, i) => i);
  const rng = new Rng(`${seed >>> 0}:adapt:${step}:${iter}`);
  const n = Math.min(count, groups);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(groups - i);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, n);
}

/**
 * Adapts the network at one sampler step. `xt` is the noisy volume in model units, `estimate` the current
 * estimate of the whole volume in u (the last step's x̂₀ after data consistency), which fills the slices
 * outside the chosen triplets when the data term is evaluated. Each slice's gradient reaches the network
 * only through the triplet channel that owns it in `part`, as the sampler's ε does.
 *
 * @example
 * ```ts ignore
 * const report = await adaptStep(adapter, dataGradient, shape, xt, estimate, part, t, abar[t], map, cfg, seed, i);
 * ```
 */
export async function adaptStep(
  adapter: Adapter,
  dataGradient: DataGradient,
  shape: SliceShape,
  xt: Float32Array,
  estimate: Float32Array,
  part: Partition,
  t: number,
  abar: number,
  map: [number, number],
  config: AdaptConfig,
  seed: number,
  step: number,
  nonNegative = true,
): Promise<AdaptReport> {
  const { H, W } = shape;
  const hw = H * W;
  const a = Math.sqrt(abar), b = Math.sqrt(1 - abar);
  const [scale, offset] = map;
  const residuals: number[] = [];
  const groupsPerStep = Math.max(1, Math.ceil(config.slices / 3));
  for (let iter = 0; iter < config.iters; iter++) {
    const groups = adaptGroups(part, groupsPerStep, seed, step, iter);
    const m = groups.length;
    const x = new Float32Array(m * 3 * hw);
    groups.forEach((g, j) => {
      for (let c = 0; c < 3; c++) {
        const z = part.slices[3 * g + c];
        x.set(xt.subarray(z * hw, (z + 1) * hw), (3 * j + c) * hw);
      }
    });
    const tt = new Float32Array(m).fill(t);
    const kk = Float32Array.from(groups, (g) => part.gaps[g]);
    const eps = await adapter.forward(x, tt, kk, [m, 3, H, W]);
    const full = Float32Array.from(estimate);
    // which channels count: the one owning each slice (a slice may sit in two edge groups)
    const owns = new Uint8Array(m * 3);
    const clamped = new Uint8Array(m * 3 * hw);
    groups.forEach((g, j) => {
      for (let c = 0; c < 3; c++) {
        const z = part.slices[3 * g + c];
        if (part.owner[z] !== 3 * g + c) continue;
        owns[3 * j + c] = 1;
        const at = (3 * j + c) * hw;
        for (let p = 0; p < hw; p++) {
          const u = ((x[at + p] - b * eps[at + p]) / a - offset) / scale;
          // where the sampler clamps x̂₀ at 0 (non-negative attenuation), no gradient passes the clamp
          const cut = nonNegative && u < 0;
          if (cut) clamped[at + p] = 1;
          full[z * hw + p] = cut ? 0 : u;
        }
      }
    });
    const { grad, residual } = await dataGradient(full);
    residuals.push(residual);
    // d/dε of the data term through x̂₀ = (x − b ε)/a and u = (x̂₀ − offset)/scale
    const k = -b / (a * scale);
    const g = new Float32Array(m * 3 * hw);
    groups.forEach((grp, j) => {
      for (let c = 0; c < 3; c++) {
        if (!owns[3 * j + c]) continue;
        const z = part.slices[3 * grp + c], at = (3 * j + c) * hw;
        for (let p = 0; p < hw; p++) g[at + p] = clamped[at + p] ? 0 : k * grad[z * hw + p];
      }
    });
    await adapter.backward(g);
  }
  return { residuals };
}
