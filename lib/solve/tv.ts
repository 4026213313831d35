/**
 * 3D anisotropic TV reconstruction with non-negativity: `min_x ½‖Ax − y‖² + λ‖∇x‖₁, x ≥ 0`, solved by
 * diagonally preconditioned PDHG (Chambolle & Pock) on the GPU. x is attenuation u (water 1), so the only
 * physical constraint is x ≥ 0; there is no upper bound (bone and metal keep their values).
 * @module
 */
import { type GpuContext, params } from "../gpu/context.ts";
import { grid } from "../gpu/vector.ts";
import { hostApply, type HostProducts, hostProducts, type LinearOperator } from "../ct/operator.ts";
import type { SparseEngine } from "../ct/sparse.ts";
import {
  type PixelMajorSteps,
  pixelMajorSteps,
  tvPdhgHost,
  tvPdhgPixelMajor,
  tvStepsHost,
} from "./tv_host.ts";
import { METHOD_DEFAULTS } from "../defaults.ts";
import { axisVariationSum } from "../metrics/tv.ts";
import { adjointRef, forwardRef, type SliceShape } from "../ct/projector_ref.ts";
import type { ParallelGeometry } from "../ct/geometry.ts";

/** Options for {@linkcode tvPdhg} and {@linkcode TvSolver.solve}. */
export interface TvOptions {
  /** TV weight λ, in blendct's units (exact adjoint, pixel-sized rays, x in u). */
  lambda: number;
  /** PDHG iterations. @default {300} (`METHOD_DEFAULTS.tv`) */
  iterations?: number;
  /**
   * Called after each iteration; may inspect `x` (e.g. to log the objective) on the WGSL engine. On the
   * sparse engine the iterations run on the host and `x` is written back once, at the end.
   */
  onIteration?: (k: number) => void | Promise<void>;
  /** Weight γ of a proximity term (γ/2)‖x − anchor‖². Default 0 (none). */
  gamma?: number;
  /** The anchor of the proximity term (`A.domainSize` floats on the GPU); required when `gamma` > 0. */
  anchor?: GPUBuffer;
}

/**
 * PDHG for `min_x ½‖Ax − y‖² + λ‖∇x‖₁ + (γ/2)‖x − a‖², x ≥ 0` on one operator: the preconditioners
 * (σ = 1/(A·1), τ = 1/(Aᵀ·1 + 6)) and scratch buffers are made once, so many short solves (the sampler's
 * data consistency) pay for them once. The dual variables restart at 0 in each solve.
 */
export class TvSolver {
  private constructor(
    private readonly gpu: GpuContext,
    private readonly A: LinearOperator,
    private readonly sig: GPUBuffer | null,
    private readonly tau: GPUBuffer | null,
    private readonly scratch: GPUBuffer[],
    private readonly host: { engine: SparseEngine; steps: PixelMajorSteps } | null = null,
    private readonly plain:
      | { products: HostProducts; steps: { sig: Float32Array; tau: Float32Array } }
      | null = null,
  ) {}

  /**
   * Computes the preconditioners of `A`. An operator with a host side (the sparse engine) gets the host
   * iterations in the engine's layout ({@linkcode tvPdhgPixelMajor}).
   */
  static async create(gpu: GpuContext, A: LinearOperator): Promise<TvSolver> {
    const n = A.domainSize, m = A.rangeSize;
    const h = hostApply(A);
    if (h) {
      const steps = pixelMajorSteps(h.engine, A.shape.Z, await tvStepsHost(h, n, m));
      return new TvSolver(gpu, A, null, null, [], { engine: h.engine, steps });
    }
    const products = hostProducts(A);
    if (products) {
      return new TvSolver(gpu, A, null, null, [], null, {
        products,
        steps: await tvStepsHost(products, n, m),
      });
    }
    const sig = gpu.buffer(m * 4), tau = gpu.buffer(n * 4), ones = gpu.buffer(Math.max(n, m) * 4);
    try {
      gpu.write(ones, new Float32Array(Math.max(n, m)).fill(1));
      // σ = 1/(A·1), τ = 1/(Aᵀ·1 + 6): Pock & Chambolle's diagonal preconditioning with α = 1
      await A.forward(ones, sig);
      await gpu.run("tv", "invert", params(m), [sig], grid(m));
      await A.adjoint(ones, tau);
      await gpu.run("tv", "invert_tau", params(n), [tau], grid(n));
    } finally {
      gpu.release(ones);
    }
    const scratch = [m, 3 * n, n, m, n].map((k) => gpu.buffer(k * 4));
    return new TvSolver(gpu, A, sig, tau, scratch);
  }

  /** Runs PDHG from the start in `x` (updated in place, kept non-negative) against measurements `y`. */
  async solve(x: GPUBuffer, y: GPUBuffer, options: TvOptions): Promise<void> {
    const { gpu, A } = this;
    const n = A.domainSize, m = A.rangeSize;
    const { Z, H, W } = A.shape;
    const gamma = options.gamma ?? 0;
    if (gamma > 0 && !options.anchor) throw new RangeError("TV with a proximity term needs its anchor");
    const iterations = options.iterations ?? METHOD_DEFAULTS.tv.iterations;
    if (this.host || this.plain) {
      const xs = await gpu.download(x, n), ys = await gpu.download(y, m);
      const anchor = gamma > 0 ? await gpu.download(options.anchor!, n) : undefined;
      const o = { lambda: options.lambda, iterations, gamma, anchor, onIteration: options.onIteration };
      if (this.host) await tvPdhgPixelMajor(this.host.engine, A.shape, xs, ys, this.host.steps, o);
      else await tvPdhgHost(this.plain!.products, A.shape, xs, ys, this.plain!.steps, o);
      gpu.flush();
      gpu.write(x, xs);
      return;
    }
    const sig = this.sig!, tau = this.tau!;
    const P = params(n, W, H * W, Z, { f: options.lambda }, { f: gamma });
    const [pd, q, xbar, ax, atp] = this.scratch;
    gpu.write(pd, new Float32Array(m));
    gpu.write(q, new Float32Array(3 * n));
    gpu.copy(x, xbar, n * 4);
    for (let k = 0; k < iterations; k++) {
      await A.forward(xbar, ax);
      await gpu.run("tv", "dual_data", params(m), [ax, y, sig, pd], grid(m));
      await gpu.run("tv", "dual_tv", P, [xbar, q], grid(n));
      await A.adjoint(pd, atp);
      // with γ = 0 the anchor binding is read but multiplied by 0; τ is a valid stand-in
      await gpu.run("tv", "primal", P, [atp, q, tau, x, xbar, options.anchor ?? tau], grid(n));
      await options.onIteration?.(k);
    }
  }

  /** Releases the preconditioners and scratch buffers. */
  dispose(): void {
    this.host?.steps.free();
    this.gpu.release(this.sig ?? undefined, this.tau ?? undefined, ...this.scratch);
  }
}

/**
 * Runs PDHG from the start in `x` (updated in place, kept non-negative) against measurements `y`.
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { Projector } from "../ct/projector.ts";
 * import { sparseView } from "../ct/geometry.ts";
 * import { tvPdhg } from "./tv.ts";
 * const gpu = await GpuContext.create();
 * const A = await Projector.create(gpu, sparseView(8, { imageSize: 8 }), { Z: 2, H: 8, W: 8 });
 * const y = gpu.upload(new Float32Array(A.rangeSize).fill(2)), x = gpu.buffer(A.domainSize * 4);
 * await tvPdhg(gpu, A, x, y, { lambda: 0.1, iterations: 3 });
 * gpu.dispose();
 * ```
 */
export async function tvPdhg(
  gpu: GpuContext,
  A: LinearOperator,
  x: GPUBuffer,
  y: GPUBuffer,
  options: TvOptions,
): Promise<void> {
  const solver = await TvSolver.create(gpu, A);
  try {
    await solver.solve(x, y, options);
  } finally {
    solver.dispose();
  }
}

/** Anisotropic 3D TV ‖∇x‖₁ with forward differences (float64): the metric's kernel, summed over the axes. */
export function tv3d(x: Float32Array, shape: SliceShape): number {
  const dims = [shape.Z, shape.H, shape.W];
  return axisVariationSum(x, dims, "x") + axisVariationSum(x, dims, "y") + axisVariationSum(x, dims, "z");
}

/** The TV objective ½‖Ax − y‖² + λ‖∇x‖₁ given `Ax` already computed. */
export function tvObjective(
  x: Float32Array,
  ax: Float32Array,
  y: Float32Array,
  shape: SliceShape,
  lambda: number,
): number {
  let d = 0;
  for (let i = 0; i < y.length; i++) d += (ax[i] - y[i]) ** 2;
  return 0.5 * d + lambda * tv3d(x, shape);
}

/**
 * TypeScript reference of the same preconditioned PDHG (float64, CPU), for testing the kernels on tiny
 * problems.
 */
export function tvPdhgRef(
  x0: Float32Array,
  y: Float32Array,
  g: ParallelGeometry,
  shape: SliceShape,
  lambda: number,
  iterations: number,
  prox?: { gamma: number; anchor: Float32Array },
): Float32Array {
  const { Z, H, W } = shape;
  const gamma = prox?.gamma ?? 0;
  const n = Z * H * W, m = y.length;
  const fwd = (v: Float64Array) => forwardRef(Float32Array.from(v), g, shape);
  const adj = (w: Float64Array) => adjointRef(Float32Array.from(w), g, shape);
  const sig = Float64Array.from(fwd(new Float64Array(n).fill(1)), (v) => 1 / Math.max(v, 1e-6));
  const tau = Float64Array.from(adj(new Float64Array(m).fill(1)), (v) => 1 / (v + 6));
  const x = Float64Array.from(x0), xbar = Float64Array.from(x0);
  const pd = new Float64Array(m), q = new Float64Array(3 * n);
  const steps = [1, W, H * W];
  const last = (k: number, a: number) =>
    a === 0 ? k % W === W - 1 : a === 1 ? Math.floor(k / W) % H === H - 1 : Math.floor(k / (H * W)) === Z - 1;
  for (let it = 0; it < iterations; it++) {
    const ax = fwd(xbar);
    for (let i = 0; i < m; i++) pd[i] = (pd[i] + sig[i] * (ax[i] - y[i])) / (1 + sig[i]);
    for (let a = 0; a < 3; a++) {
      for (let k = 0; k < n; k++) {
        const gk = last(k, a) ? 0 : xbar[k + steps[a]] - xbar[k];
        q[a * n + k] = Math.min(lambda, Math.max(-lambda, q[a * n + k] + 0.5 * gk));
      }
    }
    const atp = adj(pd);
    for (let k = 0; k < n; k++) {
      let gt = 0;
      for (let a = 0; a < 3; a++) {
        const first = a === 0 ? k % W === 0 : a === 1 ? Math.floor(k / W) % H === 0 : k < H * W;
        if (!first) gt += q[a * n + k - steps[a]];
        if (!last(k, a)) gt -= q[a * n + k];
      }
      const t = tau[k];
      const nx = Math.max(
        0,
        (x[k] - t * (atp[k] + gt) + t * gamma * (prox?.anchor[k] ?? 0)) / (1 + t * gamma),
      );
      xbar[k] = 2 * nx - x[k];
      x[k] = nx;
    }
  }
  return Float32Array.from(x);
}
