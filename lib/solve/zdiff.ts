/**
 * GPU finite differences along z (`D_z`, `D_zᵀ`, `D_zᵀD_z`) and the soft-threshold step of the z-TV ADMM.
 * @module
 */
import { type GpuContext, params } from "../gpu/context.ts";
import { grid } from "../gpu/vector.ts";
import type { LinearOperator, SliceShape } from "../ct/operator.ts";

/**
 * `D_z` as an operator: forward differences between neighbouring slices (`x[k+1] − x[k]`, 0 on the last
 * slice, or wrapping around with `circular`), domain and range both the `[Z][H][W]` volume. Besides the
 * seam's forward and adjoint it has the fused {@linkcode ZDiff.addGram} that CG uses.
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { ZDiff } from "./zdiff.ts";
 * const gpu = await GpuContext.create();
 * const D = new ZDiff(gpu, { Z: 3, H: 1, W: 1 });
 * const y = gpu.buffer(12);
 * await D.forward(gpu.upload(new Float32Array([1, 4, 9])), y);
 * console.log(await gpu.download(y, 3)); // Float32Array(3) [ 3, 5, 0 ]
 * gpu.dispose();
 * ```
 */
export class ZDiff implements LinearOperator {
  readonly rangeShape: readonly number[];
  readonly domainSize: number;
  readonly rangeSize: number;

  /** `circular`: the last slice differences with the first (the DDS reference's operator). */
  constructor(private readonly gpu: GpuContext, readonly shape: SliceShape, readonly circular = false) {
    this.rangeShape = [shape.Z, shape.H, shape.W];
    this.domainSize = this.rangeSize = shape.Z * shape.H * shape.W;
  }

  forward(x: GPUBuffer, y: GPUBuffer): Promise<void> {
    return applyDz(this.gpu, x, y, this.domainSize, this.shape.H * this.shape.W, this.circular);
  }

  adjoint(w: GPUBuffer, x: GPUBuffer): Promise<void> {
    const n = this.domainSize;
    return this.gpu.run("zdiff", "apply_dzt", params(n, this.shape.H * this.shape.W, this.circular ? 1 : 0), [
      w,
      x,
    ], grid(n));
  }

  /** Queues `y += b·D_zᵀD_z x` in one pass. */
  addGram(x: GPUBuffer, y: GPUBuffer, b: number): Promise<void> {
    return addLapZ(this.gpu, x, y, this.domainSize, this.shape.H * this.shape.W, b, this.circular);
  }

  /** Queues `y = a·y + b·D_zᵀ w` in one pass. */
  addAdjoint(w: GPUBuffer, y: GPUBuffer, a: number, b: number): Promise<void> {
    return addDzt(this.gpu, w, y, this.domainSize, this.shape.H * this.shape.W, a, b, this.circular);
  }

  dispose(): void {}
}

/** Queues `y = D_z x` for a volume of `n` voxels with `hw` voxels per slice (`circular`: slices wrap). */
export function applyDz(
  gpu: GpuContext,
  x: GPUBuffer,
  y: GPUBuffer,
  n: number,
  hw: number,
  circular = false,
): Promise<void> {
  return gpu.run("zdiff", "apply_dz", params(n, hw, circular ? 1 : 0), [x, y], grid(n));
}

/** Queues `y = a·y + b·D_zᵀ w`. */
export function addDzt(
  gpu: GpuContext,
  w: GPUBuffer,
  y: GPUBuffer,
  n: number,
  hw: number,
  a: number,
  b: number,
  circular = false,
): Promise<void> {
  return gpu.run("zdiff", "add_dzt", params(n, hw, circular ? 1 : 0, 0, { f: a }, { f: b }), [w, y], grid(n));
}

/** Queues `y = y + b·D_zᵀD_z x`. */
export function addLapZ(
  gpu: GpuContext,
  x: GPUBuffer,
  y: GPUBuffer,
  n: number,
  hw: number,
  b: number,
  circular = false,
): Promise<void> {
  return gpu.run(
    "zdiff",
    "add_lapz",
    params(n, hw, circular ? 1 : 0, 0, { f: 0 }, { f: b }),
    [x, y],
    grid(n),
  );
}

/** Queues the ADMM update `t = D_z v + u; z = soft(t, thr); u = t − z` given `dzv = D_z v`. */
export function shrink(
  gpu: GpuContext,
  dzv: GPUBuffer,
  z: GPUBuffer,
  u: GPUBuffer,
  n: number,
  thr: number,
): Promise<void> {
  return gpu.run("zdiff", "shrink", params(n, 0, 0, 0, { f: thr }), [dzv, z, u], grid(n));
}

/** Reference `D_z x` (float64); `circular`: the last slice differences with the first. */
export function dzRef(x: Float32Array, hw: number, circular = false): Float32Array {
  const n = x.length, y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (i + hw < n) y[i] = x[i + hw] - x[i];
    else if (circular) y[i] = x[(i + hw) % n] - x[i];
  }
  return y;
}

/** Reference `D_zᵀ w`. */
export function dztRef(w: Float32Array, hw: number, circular = false): Float32Array {
  const n = w.length, y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (circular) {
      y[i] = w[(i + n - hw) % n] - w[i];
      continue;
    }
    let v = 0;
    if (i >= hw) v += w[i - hw];
    if (i + hw < n) v -= w[i];
    y[i] = v;
  }
  return y;
}
