/**
 * GPU finite differences along z (`D_z`, `D_zᵀ`, `D_zᵀD_z`) and the soft-threshold step of the z-TV ADMM.
 * @module
 */
import { type GpuContext, params } from "../gpu/context.ts";
import { grid } from "../gpu/vector.ts";

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
