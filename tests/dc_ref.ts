/**
 * A float64 reference of one data-consistency step (DDS's order of operations), shared by the tests of
 * the samplers that use it.
 * @module
 */
import type { Projector } from "../lib/ct/projector.ts";
import { adjointRef, forwardRef } from "../lib/ct/projector_ref.ts";
import { dzRef, dztRef } from "../lib/solve/zdiff.ts";

/** One DDS data-consistency step in float64 (the reference's order of operations). */
export function ddsStepRef(
  v0: Float32Array,
  state: { z: Float64Array; u: Float64Array },
  A: Projector,
  y: Float32Array,
  o: { rho: number; lambda: number; cg: number; circular: boolean; admm: boolean },
): Float64Array {
  const hw = A.shape.H * A.shape.W, n = v0.length;
  const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
  const AtA = (v: Float64Array) =>
    Float64Array.from(adjointRef(forwardRef(f32(v), A.geometry, A.shape), A.geometry, A.shape));
  const rho = o.admm ? o.rho : 0;
  const M = (v: Float64Array) => {
    const out = AtA(v);
    if (rho) {
      const lap = dztRef(dzRef(f32(v), hw, o.circular), hw, o.circular);
      for (let i = 0; i < n; i++) out[i] += rho * lap[i];
    }
    return out;
  };
  const b = Float64Array.from(adjointRef(y, A.geometry, A.shape));
  if (rho) {
    const d = dztRef(f32(state.z.map((z, i) => z - state.u[i])), hw, o.circular);
    for (let i = 0; i < n; i++) b[i] += rho * d[i];
  }
  const x = Float64Array.from(v0);
  const r = M(x).map((m, i) => b[i] - m), p = Float64Array.from(r);
  let rr = r.reduce((s, v) => s + v * v, 0);
  for (let k = 0; k < o.cg; k++) {
    const q = M(p);
    const alpha = rr / p.reduce((s, v, i) => s + v * q[i], 0);
    for (let i = 0; i < n; i++) {
      x[i] += alpha * p[i];
      r[i] -= alpha * q[i];
    }
    const rrn = r.reduce((s, v) => s + v * v, 0);
    for (let i = 0; i < n; i++) p[i] = r[i] + (rrn / rr) * p[i];
    rr = rrn;
  }
  if (o.admm) {
    const dz = dzRef(f32(x), hw, o.circular), thr = o.lambda / o.rho;
    for (let i = 0; i < n; i++) {
      const t = dz[i] + state.u[i];
      state.z[i] = Math.sign(t) * Math.max(Math.abs(t) - thr, 0);
      state.u[i] = t - state.z[i];
    }
  }
  return x;
}
