/**
 * Slice subsampling `S`: keeps every `factor`-th slice of a `[Z][H][W]` volume, the measurement of
 * z-super-resolution (a thick-slice scan is the thin volume seen through `S`).
 * @module
 */
import { type GpuContext, params } from "../gpu/context.ts";
import { grid } from "../gpu/vector.ts";
import type { LinearOperator, SliceShape } from "./operator.ts";

/** Slices `S` keeps of `Z`: `offset, offset + factor, …` below `Z`. */
export function keptSlices(Z: number, factor: number, offset = 0): number[] {
  const out: number[] = [];
  for (let z = offset; z < Z; z += factor) out.push(z);
  return out;
}

/**
 * Keeps slices `offset + k·factor` of the volume; the adjoint writes them back and zeros the rest.
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { SliceSubsample } from "./subsample.ts";
 * const gpu = await GpuContext.create();
 * const S = new SliceSubsample(gpu, { Z: 8, H: 2, W: 2 }, 4, 1);
 * console.log(S.kept, S.rangeShape); // [ 1, 5 ] [ 2, 2, 2 ]
 * gpu.dispose();
 * ```
 */
export class SliceSubsample implements LinearOperator {
  readonly shape: SliceShape;
  readonly rangeShape: readonly number[];
  readonly domainSize: number;
  readonly rangeSize: number;
  /** The slice indices kept, in order. */
  readonly kept: readonly number[];

  /** `factor` ≥ 1; `offset` in `[0, factor)` is the first slice kept (default 0). */
  constructor(
    private readonly gpu: GpuContext,
    shape: SliceShape,
    readonly factor: number,
    readonly offset = 0,
  ) {
    if (!Number.isInteger(factor) || factor < 1) throw new RangeError(`factor must be a whole number >= 1`);
    if (!Number.isInteger(offset) || offset < 0 || offset >= factor) {
      throw new RangeError(`offset must be in [0, ${factor})`);
    }
    this.shape = shape;
    this.kept = keptSlices(shape.Z, factor, offset);
    this.rangeShape = [this.kept.length, shape.H, shape.W];
    this.domainSize = shape.Z * shape.H * shape.W;
    this.rangeSize = this.kept.length * shape.H * shape.W;
  }

  #params(): ArrayBuffer {
    const { Z, H, W } = this.shape;
    return params(H * W, Z, this.kept.length, this.factor, this.offset, 0, 0, 0);
  }

  forward(x: GPUBuffer, y: GPUBuffer): Promise<void> {
    return this.gpu.run("subsample", "forward", this.#params(), [x, y], grid(this.rangeSize));
  }

  adjoint(y: GPUBuffer, x: GPUBuffer): Promise<void> {
    return this.gpu.run("subsample", "adjoint", this.#params(), [y, x], grid(this.domainSize));
  }

  dispose(): void {}
}

/** Reference `S x` on the host (the kernel's check). */
export function subsampleRef(x: Float32Array, shape: SliceShape, factor: number, offset = 0): Float32Array {
  const hw = shape.H * shape.W, kept = keptSlices(shape.Z, factor, offset);
  const y = new Float32Array(kept.length * hw);
  kept.forEach((z, k) => y.set(x.subarray(z * hw, (z + 1) * hw), k * hw));
  return y;
}

/** Reference `Sᵀ y` on the host. */
export function subsampleAdjointRef(
  y: Float32Array,
  shape: SliceShape,
  factor: number,
  offset = 0,
): Float32Array {
  const hw = shape.H * shape.W, x = new Float32Array(shape.Z * hw);
  keptSlices(shape.Z, factor, offset).forEach((z, k) => x.set(y.subarray(k * hw, (k + 1) * hw), z * hw));
  return x;
}
