/**
 * CG on the normal equations `(AᵀA + ρ D_zᵀD_z) v = b` on host arrays, for operators whose forward and
 * adjoint run on the CPU anyway (the sparse engine): the same recursion as {@linkcode NormalCg} on the GPU,
 * without a read-back and a write per operator application. Dot products accumulate in float64 in index
 * order, so the same inputs give the same bits.
 * @module
 */
import type { HostProducts, SliceShape } from "../ct/operator.ts";
import { SparseEngine } from "../ct/sparse.ts";

/** `out += b · D_zᵀD_z v` over `[Z][H][W]` (`circular`: the slices wrap around), as `add_lapz` in zdiff.wgsl. */
export function addLapZHost(
  v: Float32Array,
  out: Float32Array,
  shape: SliceShape,
  b: number,
  circular = false,
): void {
  const hw = shape.H * shape.W, n = shape.Z * hw;
  for (let i = 0; i < n; i++) {
    let s: number;
    if (circular) {
      s = 2 * v[i] - v[(i + n - hw) % n] - v[(i + hw) % n];
    } else {
      s = 0;
      if (i >= hw) s += v[i] - v[i - hw];
      if (i + hw < n) s -= v[i + hw] - v[i];
    }
    out[i] += b * s;
  }
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Runs `iterations` CG steps from the warm start in `x` (updated in place) and returns the residual norm
 * that CG's recursion reports (`iterations: 0`: the initial residual).
 *
 * @example
 * ```ts
 * import { normalCgHost } from "./cg_host.ts";
 * // A = 2·I on 4 values: AᵀA x = b is 4x = b
 * const A = { forwardHost: (x: Float32Array) => x.map((v) => 2 * v), adjointHost: (y: Float32Array) => y.map((v) => 2 * v) };
 * const x = new Float32Array(4);
 * await normalCgHost(A, { Z: 1, H: 2, W: 2 }, x, new Float32Array([4, 8, 12, 16]), { iterations: 1 });
 * console.log(x); // Float32Array(4) [ 1, 2, 3, 4 ]
 * ```
 */
export async function normalCgHost(
  A: HostProducts,
  shape: SliceShape,
  x: Float32Array,
  b: Float32Array,
  options: { iterations: number; rho?: number; circular?: boolean },
): Promise<number> {
  const rho = options.rho ?? 0, circular = options.circular ?? false, n = x.length;
  const normal = async (v: Float32Array): Promise<Float32Array> => {
    const q = await A.adjointHost(await A.forwardHost(v));
    if (rho !== 0) addLapZHost(v, q, shape, rho, circular);
    return q;
  };
  const r = await normal(x);
  for (let i = 0; i < n; i++) r[i] = b[i] - r[i];
  const p = r.slice();
  let rr = dot(r, r);
  for (let k = 0; k < options.iterations; k++) {
    const q = await normal(p);
    const pq = dot(p, q);
    const alpha = pq === 0 ? 0 : Math.fround(rr / pq);
    let next = 0;
    for (let i = 0; i < n; i++) {
      x[i] += alpha * p[i];
      const ri = r[i] - alpha * q[i];
      r[i] = ri;
      next += ri * ri;
    }
    const beta = rr === 0 ? 0 : Math.fround(next / rr);
    rr = next;
    for (let i = 0; i < n; i++) p[i] = r[i] + beta * p[i];
  }
  return Math.sqrt(Math.max(0, rr));
}

/**
 * {@linkcode normalCgHost} in the sparse engine's pixel-major layout with its kernels: the vectors stay in
 * its memory between iterations and no product pays a transpose. `x` and `b` are slice-major; `x` is
 * updated in place.
 */
export function normalCgPixelMajor(
  E: SparseEngine,
  shape: SliceShape,
  x: Float32Array,
  b: Float32Array,
  options: { iterations: number; rho?: number; circular?: boolean },
): number {
  const nz = shape.Z, zp = SparseEngine.stride(nz), n = E.pixels * zp, k = E.kernels;
  if (shape.H * shape.W !== E.pixels) {
    throw new RangeError(`CG: ${shape.H}x${shape.W} slices on an engine of ${E.pixels} pixels`);
  }
  const rho = options.rho ?? 0, circular = options.circular ? 1 : 0;
  const ptrs = [n, n, n, n, n, E.columns * zp].map((f) => E.alloc(f));
  const [X, B, R, P, Q, T] = ptrs;
  try {
    E.loadPixelMajor(X, x, nz, "volume");
    E.loadPixelMajor(B, b, nz, "volume");
    const normal = (v: number, out: number) => {
      E.forwardPixelMajor(v, T, nz);
      E.adjointPixelMajor(T, out, nz);
      if (rho !== 0) k.lapz_add(v, out, rho, E.pixels, zp, nz, circular);
    };
    normal(X, R);
    k.rsub(B, R, n);
    E.view(P, n).set(E.view(R, n));
    let rr = k.dot(R, R, n);
    for (let it = 0; it < options.iterations; it++) {
      normal(P, Q);
      const pq = k.dot(P, Q, n);
      const alpha = pq === 0 ? 0 : Math.fround(rr / pq);
      const next = k.cg_update(X, R, P, Q, alpha, n);
      const beta = rr === 0 ? 0 : Math.fround(next / rr);
      rr = next;
      k.xpby(R, P, beta, n);
    }
    x.set(E.storePixelMajor(X, nz, "volume"));
    return Math.sqrt(Math.max(0, rr));
  } finally {
    for (const p of ptrs.reverse()) E.free(p);
  }
}
