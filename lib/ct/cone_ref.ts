/**
 * TypeScript reference of the cone-beam projector (`cone.ts`): the same factored Joseph weights
 * (`cone_plan.ts`), evaluated ray by ray in float64 — the fan weights of the ray's in-plane projection, the
 * linear interpolation along z at each pixel, the 3D length factor — and its adjoint as the scatter over
 * the same weights. Slow; it exists to test the engine against.
 * @module
 */
import { type ConePlan, rowRange } from "./cone_plan.ts";
import { fanRayWeights } from "./fan_ref.ts";

/** The value of pixel column `p` of `x` (`[Z][H·W]`) at slice coordinate `t` (linear, zero outside). */
function sample(x: Float32Array, P: number, Z: number, p: number, t: number): number {
  const k = Math.floor(t), f = t - k;
  const at = (s: number) => (s >= 0 && s < Z ? x[s * P + p] : 0);
  return (1 - f) * at(k) + f * at(k + 1);
}

/** Calls `each(p, w, a1, b)` for every in-plane weight of ray (view `a`, column `c`). */
function inPlane(
  plan: ConePlan,
  a: number,
  c: number,
  each: (p: number, w: number, a1: number, b: number) => void,
) {
  const { H, W } = plan.shape, P = H * W;
  fanRayWeights(plan.tab, a, c, H, W, (p, w) => each(p, w, plan.alpha[a * P + p] + 1, plan.beta[a * P + p]));
}

/**
 * Reference projection of `x` (`[Z][H][W]`) into `[V][A][U]` (ASTRA's layout), line integrals in pixel
 * lengths.
 *
 * @example
 * ```ts
 * import { conePlan } from "./cone_plan.ts";
 * import { coneForwardRef } from "./cone_ref.ts";
 * const plan = conePlan({ type: "cone", angles: [0, 1], detectorCount: 12, detectorRows: 6, detectorSpacing: 2,
 *   detectorSpacingV: 2, sourceOrigin: 40, originDetector: 40, detectorOffset: 0, detectorOffsetV: 0 },
 *   { Z: 4, H: 8, W: 8 }, [1, 1, 1]);
 * console.log(coneForwardRef(new Float32Array(256).fill(1), plan).length); // 6 x 2 x 12 = 144
 * ```
 */
export function coneForwardRef(x: Float32Array, plan: ConePlan): Float32Array {
  const { Z, H, W } = plan.shape, P = H * W, { A, U, V } = plan;
  const y = new Float32Array(V * A * U);
  for (let a = 0; a < A; a++) {
    for (let c = 0; c < U; c++) {
      const acc = new Float64Array(V);
      inPlane(plan, a, c, (p, w, a1, b) => {
        const [lo, hi] = rowRange(a1, b, Z, V);
        for (let r = lo; r < hi; r++) acc[r] += w * sample(x, P, Z, p, a1 + b * r - 1);
      });
      for (let r = 0; r < V; r++) y[(r * A + a) * U + c] = acc[r] * plan.amp[(a * U + c) * V + r];
    }
  }
  return y;
}

/** Reference adjoint: the scatter of `y` (`[V][A][U]`) over the forward's weights into `[Z][H][W]`. */
export function coneAdjointRef(y: Float32Array, plan: ConePlan): Float32Array {
  const { Z, H, W } = plan.shape, P = H * W, { A, U, V } = plan;
  const x = new Float64Array(Z * P);
  for (let a = 0; a < A; a++) {
    for (let c = 0; c < U; c++) {
      inPlane(plan, a, c, (p, w, a1, b) => {
        const [lo, hi] = rowRange(a1, b, Z, V);
        for (let r = lo; r < hi; r++) {
          const v = y[(r * A + a) * U + c] * plan.amp[(a * U + c) * V + r] * w;
          const t = a1 + b * r - 1, k = Math.floor(t), f = t - k;
          if (k >= 0 && k < Z) x[k * P + p] += (1 - f) * v;
          if (k + 1 >= 0 && k + 1 < Z) x[(k + 1) * P + p] += f * v;
        }
      });
    }
  }
  return Float32Array.from(x);
}
