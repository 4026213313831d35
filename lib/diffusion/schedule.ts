/**
 * The DDPM noise schedule and DDIM time steps (METHOD.md: T = 1000, β linear from 1e-4 to 0.02).
 * @module
 */

/** A linear-β schedule as the model card states it. */
export interface LinearSchedule {
  /** The only schedule type blendct knows: β rises linearly with t. */
  type: "linear";
  /** β at t = 0. */
  beta_start: number;
  /** β at t = T − 1. */
  beta_end: number;
  /** Number of diffusion timesteps. */
  T: number;
}

/** The reference schedule. */
export const DEFAULT_SCHEDULE: LinearSchedule = { type: "linear", beta_start: 1e-4, beta_end: 0.02, T: 1000 };

/**
 * ᾱ_t = Π_{s ≤ t} (1 − β_s) in float64, for t = 0..T−1.
 *
 * @example
 * ```ts
 * import { alphasCumprod } from "./schedule.ts";
 * const abar = alphasCumprod();
 * console.log(abar.length, abar[0].toFixed(4)); // 1000 0.9999
 * ```
 */
export function alphasCumprod(schedule: LinearSchedule = DEFAULT_SCHEDULE): Float64Array {
  const { T, beta_start, beta_end } = schedule;
  const out = new Float64Array(T);
  let prod = 1;
  for (let t = 0; t < T; t++) {
    const beta = T === 1 ? beta_start : beta_start + ((beta_end - beta_start) * t) / (T - 1);
    prod *= 1 - beta;
    out[t] = prod;
  }
  return out;
}

/**
 * DDIM time steps, descending: `steps` values spaced `floor(T/steps)` apart ending at 0 (200 steps give
 * 995, 990, …, 0 as in the reference code).
 *
 * @example
 * ```ts
 * import { ddimTimes } from "./schedule.ts";
 * console.log(ddimTimes(4)); // [ 750, 500, 250, 0 ]
 * ```
 */
export function ddimTimes(steps: number, T = 1000): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new RangeError(`steps must be in 1..${T}`);
  const skip = Math.floor(T / steps);
  return Array.from({ length: steps }, (_, i) => (steps - 1 - i) * skip);
}

/**
 * `steps` DDIM timesteps from `t0` down to 0, evenly spaced (rounded): the schedule of a reverse process
 * that starts from a classical estimate forward-noised to `t0` ("come closer, diffuse faster").
 *
 * @example
 * ```ts
 * import { ddimTimesFrom } from "./schedule.ts";
 * console.log(ddimTimesFrom(5, 400)); // [ 400, 300, 200, 100, 0 ]
 * ```
 */
export function ddimTimesFrom(steps: number, t0: number): number[] {
  if (!Number.isInteger(t0) || t0 < 1) throw new RangeError(`t0 must be a whole number >= 1 (got ${t0})`);
  if (!Number.isInteger(steps) || steps < 1 || steps > t0 + 1) {
    throw new RangeError(`steps must be in 1..${t0 + 1} when starting at t0 = ${t0}`);
  }
  if (steps === 1) return [t0];
  return Array.from({ length: steps }, (_, i) => Math.round((t0 * (steps - 1 - i)) / (steps - 1)));
}
