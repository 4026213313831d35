/**
 * The one operator seam: a linear map between GPU buffers with its exact adjoint. Solvers (CG, CGLS, TV),
 * FBP's callers and the sampler take a {@linkcode LinearOperator}; a new geometry or a new measurement
 * (fan beam, slice subsampling, a composition) is a new class here, not a change to any solver.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import { Rng } from "../random.ts";
import type { SparseEngine } from "./sparse.ts";

/** Slice size and count that an operator acts on. */
export interface SliceShape {
  /** Number of slices. */
  Z: number;
  /** Rows per slice. */
  H: number;
  /** Columns per slice. */
  W: number;
}

/**
 * A linear map between GPU buffers whose `adjoint` is the exact transpose of `forward` (checked by
 * {@linkcode adjointMismatch} in one test over every operator). Both write their whole output.
 */
export interface LinearOperator {
  /** The `[Z][H][W]` volume the operator acts on. */
  readonly shape: SliceShape;
  /** The layout of the range, outermost first (e.g. `[Z, views, bins]` for a sinogram stack). */
  readonly rangeShape: readonly number[];
  /** Floats in the domain (`Z·H·W`). */
  readonly domainSize: number;
  /** Floats in the range (the product of `rangeShape`). */
  readonly rangeSize: number;
  /** Queues `y = A x`. */
  forward(x: GPUBuffer, y: GPUBuffer): Promise<void>;
  /** Queues `x = Aᵀ y`. */
  adjoint(y: GPUBuffer, x: GPUBuffer): Promise<void>;
  /** Releases what the operator owns (the context keeps the rest). */
  dispose(): void;
}

/** An operator applied to host arrays: `[Z][…]` in, a new array out (what the plain host solver loops take). */
export interface HostProducts {
  /** `A x` of a whole domain-sized array. */
  forwardHost(x: Float32Array): Float32Array | Promise<Float32Array>;
  /** `Aᵀ y` of a whole range-sized array. */
  adjointHost(y: Float32Array): Float32Array | Promise<Float32Array>;
}

/**
 * `A`'s host products when it computes on the CPU without a pixel-major engine (the cone projector): the
 * solvers then iterate on host arrays with the plain loops of `tv_host.ts` and `cg_host.ts`, with no GPU
 * round trip per product. `null` otherwise.
 */
export function hostProducts(A: LinearOperator): HostProducts | null {
  return (A as { hostProducts?: HostProducts | null }).hostProducts ?? null;
}

/**
 * The host side of an operator whose forward and adjoint run on the CPU anyway (the sparse engine). Solvers
 * that find it ({@linkcode hostApply}) iterate in the engine's pixel-major layout with its kernels, with no
 * GPU read-back and write per application.
 */
export interface HostApply extends HostProducts {
  /** `A x`, synchronously. */
  forwardHost(x: Float32Array): Float32Array;
  /** `Aᵀ y`, synchronously. */
  adjointHost(y: Float32Array): Float32Array;
  /** The sparse engine behind it. */
  readonly engine: SparseEngine;
}

/** `A`'s host side when it has one (a projector on the sparse engine), else `null`. */
export function hostApply(A: LinearOperator): HostApply | null {
  return (A as { host?: HostApply | null }).host ?? null;
}

/**
 * The view angles (radians) of a projector — parallel, fan or cone, whose `geometry` says them — or `null`
 * for an operator that measures no views (slice subsampling, a composition).
 */
export function viewAngles(A: LinearOperator): readonly number[] | null {
  return (A as { geometry?: { angles?: readonly number[] } }).geometry?.angles ?? null;
}

/** A projector's host side on its engine for `Z` slices (`null` without one: the WGSL kernels). */
export function hostSide(engine: SparseEngine | null, Z: number): HostApply | null {
  return engine &&
    { forwardHost: (x) => engine.forwardHost(x, Z), adjointHost: (y) => engine.adjointHost(y, Z), engine };
}

/**
 * `B ∘ A`: applies `A`, then `B` (whose domain must be `A`'s range, read as a volume). Owns one scratch
 * buffer of `A.rangeSize` floats; disposing it leaves `A` and `B` alone.
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { Compose } from "./operator.ts";
 * import { SliceSubsample } from "./subsample.ts";
 * const gpu = await GpuContext.create();
 * const keep2 = new SliceSubsample(gpu, { Z: 8, H: 4, W: 4 }, 2);
 * const keep4 = new Compose(gpu, new SliceSubsample(gpu, { Z: 4, H: 4, W: 4 }, 2), keep2);
 * console.log(keep4.rangeShape); // [ 2, 4, 4 ]
 * keep4.dispose();
 * gpu.dispose();
 * ```
 */
export class Compose implements LinearOperator {
  readonly shape: SliceShape;
  readonly rangeShape: readonly number[];
  readonly domainSize: number;
  readonly rangeSize: number;
  #mid: GPUBuffer;

  /** `outer ∘ inner`; throws when `inner`'s range size is not `outer`'s domain size. */
  constructor(
    private readonly gpu: GpuContext,
    readonly outer: LinearOperator,
    readonly inner: LinearOperator,
  ) {
    if (inner.rangeSize !== outer.domainSize) {
      throw new RangeError(
        `cannot compose: inner range ${inner.rangeSize} != outer domain ${outer.domainSize}`,
      );
    }
    this.shape = inner.shape;
    this.rangeShape = outer.rangeShape;
    this.domainSize = inner.domainSize;
    this.rangeSize = outer.rangeSize;
    this.#mid = gpu.buffer(inner.rangeSize * 4, "compose mid");
  }

  async forward(x: GPUBuffer, y: GPUBuffer): Promise<void> {
    await this.inner.forward(x, this.#mid);
    await this.outer.forward(this.#mid, y);
  }

  async adjoint(y: GPUBuffer, x: GPUBuffer): Promise<void> {
    await this.outer.adjoint(y, this.#mid);
    await this.inner.adjoint(this.#mid, x);
  }

  dispose(): void {
    this.gpu.release(this.#mid);
  }
}

/**
 * The dot-product test: `|⟨A x, y⟩ − ⟨x, Aᵀ y⟩| / (‖A x‖ ‖y‖)` for seeded random `x` and `y`, in float64
 * on the host. An exact adjoint gives float32 rounding (about 1e-6); a wrong one gives O(1).
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { Projector } from "./projector.ts";
 * import { sparseView } from "./geometry.ts";
 * import { adjointMismatch } from "./operator.ts";
 * const gpu = await GpuContext.create();
 * const A = await Projector.create(gpu, sparseView(4, { imageSize: 8 }), { Z: 1, H: 8, W: 8 });
 * console.log((await adjointMismatch(gpu, A)) < 1e-5); // true
 * A.dispose();
 * gpu.dispose();
 * ```
 */
export async function adjointMismatch(gpu: GpuContext, A: LinearOperator, seed = 1): Promise<number> {
  const rng = new Rng(`adjoint:${seed}`);
  const x = Float32Array.from({ length: A.domainSize }, () => rng.normal());
  const y = Float32Array.from({ length: A.rangeSize }, () => rng.normal());
  const xb = gpu.upload(x), yb = gpu.upload(y);
  const ax = gpu.buffer(A.rangeSize * 4), aty = gpu.buffer(A.domainSize * 4);
  try {
    await A.forward(xb, ax);
    await A.adjoint(yb, aty);
    const fx = await gpu.download(ax, A.rangeSize), bty = await gpu.download(aty, A.domainSize);
    let lhs = 0, rhs = 0, nax = 0, ny = 0;
    for (let i = 0; i < y.length; i++) {
      lhs += fx[i] * y[i];
      nax += fx[i] * fx[i];
      ny += y[i] * y[i];
    }
    for (let i = 0; i < x.length; i++) rhs += x[i] * bty[i];
    return Math.abs(lhs - rhs) / Math.max(1e-30, Math.sqrt(nax * ny));
  } finally {
    gpu.release(xb, yb, ax, aty);
  }
}

/**
 * The operator that measures nothing (range of size 0): a sampler run on it has no data to be consistent
 * with, which is unconditional generation from the prior.
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { ZeroOperator } from "./operator.ts";
 * const gpu = await GpuContext.create();
 * const O = new ZeroOperator(gpu, { Z: 3, H: 4, W: 4 });
 * console.log(O.rangeSize, O.domainSize); // 0 48
 * gpu.dispose();
 * ```
 */
export class ZeroOperator implements LinearOperator {
  readonly rangeShape: readonly number[] = [0];
  readonly domainSize: number;
  readonly rangeSize = 0;

  /** An operator on `[Z][H][W]` volumes that measures nothing. */
  constructor(private readonly gpu: GpuContext, readonly shape: SliceShape) {
    this.domainSize = shape.Z * shape.H * shape.W;
  }

  forward(_x: GPUBuffer, _y: GPUBuffer): Promise<void> {
    return Promise.resolve();
  }

  adjoint(_y: GPUBuffer, x: GPUBuffer): Promise<void> {
    this.gpu.write(x, new Float32Array(this.domainSize));
    return Promise.resolve();
  }

  dispose(): void {}
}
