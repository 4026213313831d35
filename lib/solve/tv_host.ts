/**
 * The PDHG of {@linkcode TvSolver} on host arrays, for operators whose forward and adjoint run on the CPU
 * anyway (the sparse engine): the same updates as shaders/tv.wgsl, in float32 arrays, without a read-back
 * and a write of the volume per iteration. Loops run in index order, so the same inputs give the same bits.
 * @module
 */
import type { HostProducts, SliceShape } from "../ct/operator.ts";
import { SparseEngine } from "../ct/sparse.ts";

/** The settings of one host PDHG solve (slice-major `anchor`, as `TvOptions` on the GPU). */
export interface HostTvOptions {
  /** TV weight λ. */
  lambda: number;
  /** PDHG iterations. */
  iterations: number;
  /** Weight γ of the proximity term (γ/2)‖x − anchor‖². Default 0. */
  gamma?: number;
  /** The proximity term's anchor, required when γ > 0. */
  anchor?: Float32Array;
  /** Called after each iteration. */
  onIteration?: (k: number) => void | Promise<void>;
}

/** Pock & Chambolle's diagonal step sizes: σ = 1/max(A·1, 1e-6), τ = 1/(Aᵀ·1 + 6). */
export async function tvStepsHost(
  A: HostProducts,
  domain: number,
  range: number,
): Promise<{ sig: Float32Array; tau: Float32Array }> {
  const sig = await A.forwardHost(new Float32Array(domain).fill(1));
  for (let i = 0; i < range; i++) sig[i] = 1 / Math.max(sig[i], 1e-6);
  const tau = await A.adjointHost(new Float32Array(range).fill(1));
  for (let i = 0; i < domain; i++) tau[i] = 1 / (tau[i] + 6);
  return { sig, tau };
}

/**
 * Runs `iterations` of PDHG for `min ½‖Ax − y‖² + λ‖∇x‖₁ + (γ/2)‖x − anchor‖², x ≥ 0` from `x` (updated in
 * place); the dual variables start at 0.
 *
 * @example
 * ```ts
 * import { tvPdhgHost, tvStepsHost } from "./tv_host.ts";
 * const A = { forwardHost: (x: Float32Array) => x.slice(), adjointHost: (y: Float32Array) => y.slice() };
 * const x = new Float32Array(8), y = new Float32Array(8).fill(1);
 * await tvPdhgHost(A, { Z: 2, H: 2, W: 2 }, x, y, await tvStepsHost(A, 8, 8), { lambda: 0.01, iterations: 200 });
 * console.log(x.every((v) => Math.abs(v - 1) < 1e-3)); // true
 * ```
 */
export async function tvPdhgHost(
  A: HostProducts,
  shape: SliceShape,
  x: Float32Array,
  y: Float32Array,
  steps: { sig: Float32Array; tau: Float32Array },
  o: HostTvOptions,
): Promise<void> {
  const { Z, H, W } = shape, hw = H * W, n = Z * hw, m = y.length;
  const { sig, tau } = steps, lam = o.lambda, gamma = o.gamma ?? 0, anchor = o.anchor;
  const pd = new Float32Array(m), q = new Float32Array(3 * n), xbar = x.slice();
  const qx = q.subarray(0, n), qy = q.subarray(n, 2 * n), qz = q.subarray(2 * n);
  const iterate = async () => {
    dualData(await A.forwardHost(xbar), y, sig, pd);
    dualTv(xbar, qx, qy, qz, shape, lam);
    primal(await A.adjointHost(pd), qx, qy, qz, tau, x, xbar, shape, gamma, anchor);
  };
  for (let k = 0; k < o.iterations; k++) {
    await iterate();
    await o.onIteration?.(k);
  }
}

/** PDHG's data dual: `pd = (pd + σ(Ax̄ − y)) / (1 + σ)`. (Sync helpers: V8 optimises them apart from the async loop.) */
function dualData(ax: Float32Array, y: Float32Array, sig: Float32Array, pd: Float32Array): void {
  for (let i = 0; i < pd.length; i++) {
    const s = sig[i];
    pd[i] = (pd[i] + s * (ax[i] - y[i])) / (1 + s);
  }
}

/** q = clip(q + ½∇x̄, −λ, λ), forward differences with 0 on the last index of each axis. */
function dualTv(
  xbar: Float32Array,
  qx: Float32Array,
  qy: Float32Array,
  qz: Float32Array,
  { Z, H, W }: SliceShape,
  lam: number,
): void {
  const hw = H * W;
  for (let z = 0, i = 0; z < Z; z++) {
    const zIn = z + 1 < Z;
    for (let r = 0; r < H; r++) {
      const rIn = r + 1 < H;
      for (let c = 0; c < W; c++, i++) {
        const v = xbar[i];
        let a = qx[i] + 0.5 * (c + 1 < W ? xbar[i + 1] - v : 0);
        qx[i] = a > lam ? lam : a < -lam ? -lam : a;
        a = qy[i] + 0.5 * (rIn ? xbar[i + W] - v : 0);
        qy[i] = a > lam ? lam : a < -lam ? -lam : a;
        a = qz[i] + 0.5 * (zIn ? xbar[i + hw] - v : 0);
        qz[i] = a > lam ? lam : a < -lam ? -lam : a;
      }
    }
  }
}

/** The primal step with the proximity term and non-negativity, and x̄ = 2x′ − x. */
function primal(
  atp: Float32Array,
  qx: Float32Array,
  qy: Float32Array,
  qz: Float32Array,
  tau: Float32Array,
  x: Float32Array,
  xbar: Float32Array,
  { Z, H, W }: SliceShape,
  gamma: number,
  anchor: Float32Array | undefined,
): void {
  const hw = H * W;
  for (let z = 0, i = 0; z < Z; z++) {
    const zLo = z > 0, zHi = z + 1 < Z;
    for (let r = 0; r < H; r++) {
      const rLo = r > 0, rHi = r + 1 < H;
      for (let c = 0; c < W; c++, i++) {
        // the column tests only bite at c = 0 and c = W − 1; the order of the sum is the same everywhere
        let g = 0;
        if (c > 0) g += qx[i - 1];
        if (c + 1 < W) g -= qx[i];
        if (rLo) g += qy[i - W];
        if (rHi) g -= qy[i];
        if (zLo) g += qz[i - hw];
        if (zHi) g -= qz[i];
        const old = x[i], t = tau[i];
        const nx = gamma === 0
          ? Math.max(old - t * (atp[i] + g), 0)
          : Math.max((old - t * (atp[i] + g) + t * gamma * anchor![i]) / (1 + t * gamma), 0);
        x[i] = nx;
        xbar[i] = 2 * nx - old;
      }
    }
  }
}

/** {@linkcode tvStepsHost}'s step sizes loaded into the sparse engine's pixel-major layout (pads at 0). */
export interface PixelMajorSteps {
  /** Pointer to σ (one per ray). */
  sig: number;
  /** Pointer to τ (one per pixel). */
  tau: number;
  /** Releases them. */
  free(): void;
}

/** Loads slice-major step sizes into the engine (released with `free`). */
export function pixelMajorSteps(
  E: SparseEngine,
  nz: number,
  steps: { sig: Float32Array; tau: Float32Array },
): PixelMajorSteps {
  const zp = SparseEngine.stride(nz);
  const sig = E.alloc(E.columns * zp), tau = E.alloc(E.pixels * zp);
  let live = true;
  const free = () => {
    if (live) [tau, sig].forEach((p) => E.free(p)); // once: a second dispose must not free a later allocation
    live = false;
  };
  try {
    E.loadPixelMajor(sig, steps.sig, nz, "sinogram");
    E.loadPixelMajor(tau, steps.tau, nz, "volume");
  } catch (e) {
    free();
    throw e;
  }
  return { sig, tau, free };
}

/**
 * {@linkcode tvPdhgHost} in the sparse engine's pixel-major layout with its kernels: x, x̄, the duals and the
 * products stay in its memory between iterations. `x` (updated in place), `y` and `anchor` are slice-major.
 */
export async function tvPdhgPixelMajor(
  E: SparseEngine,
  shape: SliceShape,
  x: Float32Array,
  y: Float32Array,
  steps: PixelMajorSteps,
  o: HostTvOptions,
): Promise<void> {
  const { Z: nz, H, W } = shape, zp = SparseEngine.stride(nz), k = E.kernels;
  if (H * W !== E.pixels) throw new RangeError(`TV: ${H}x${W} slices on an engine of ${E.pixels} pixels`);
  const n = E.pixels * zp, m = E.columns * zp, gamma = o.gamma ?? 0;
  const ptrs = [n, n, n, n, n, n, n, m, m, m].map((f) => E.alloc(f));
  const [X, XB, QX, QY, QZ, ATP, ANC, PD, AX, Y] = ptrs;
  try {
    E.loadPixelMajor(X, x, nz, "volume");
    E.view(XB, n).set(E.view(X, n));
    E.loadPixelMajor(Y, y, nz, "sinogram");
    if (gamma > 0) E.loadPixelMajor(ANC, o.anchor!, nz, "volume");
    for (let it = 0; it < o.iterations; it++) {
      E.forwardPixelMajor(XB, AX, nz);
      k.tv_dual_data(AX, Y, steps.sig, PD, m);
      k.tv_dual(XB, QX, QY, QZ, H, W, zp, nz, o.lambda);
      E.adjointPixelMajor(PD, ATP, nz);
      k.tv_primal(ATP, QX, QY, QZ, steps.tau, X, XB, ANC, gamma, H, W, zp, nz);
      await o.onIteration?.(it);
    }
    x.set(E.storePixelMajor(X, nz, "volume"));
  } finally {
    for (const p of ptrs.reverse()) E.free(p);
  }
}
