/**
 * The sampler's per-voxel step kernels (shaders/sampler.wgsl) with their TypeScript references: initial
 * noise, forward-noising a start estimate, Tweedie's estimate and the DDIM update. Like a diffusers
 * scheduler step they hold no model; unlike one they work in place on GPU buffers.
 * @module
 */
import { type GpuContext, params } from "../gpu/context.ts";
import { grid } from "../gpu/vector.ts";

/** Stream id of the initial noise (steps use their index). */
export const INIT_STREAM = 0x7fffffff;

/** A volume's layout for the kernels: voxels in all and per slice. */
export interface VoxelLayout {
  /** Voxels in the volume. */
  n: number;
  /** Voxels per slice. */
  hw: number;
}

/** `x = ξ` (unit Gaussian noise of `seed` on the initial stream). */
export function initialNoise(gpu: GpuContext, x: GPUBuffer, l: VoxelLayout, seed: number): Promise<void> {
  return gpu.run("sampler", "noise", params(l.hw, l.n, seed, INIT_STREAM, { f: 1 }), [x], grid(l.n));
}

/**
 * `x = √ᾱ (s u + o) + √(1−ᾱ) ξ`: an estimate `u` in attenuation units forward-noised to a timestep of
 * cumulative signal `abar`, with the same ξ as {@linkcode initialNoise} (the DDIM kernel with η = 1).
 */
export function noiseEstimate(
  gpu: GpuContext,
  u: GPUBuffer,
  scratch: GPUBuffer,
  x: GPUBuffer,
  l: VoxelLayout,
  o: { abar: number; map: [number, number]; seed: number },
): Promise<void> {
  const [s, off] = o.map, a = Math.sqrt(o.abar);
  return gpu.run(
    "sampler",
    "ddim",
    params(l.hw, l.n, o.seed, INIT_STREAM, { f: a * s }, { f: Math.sqrt(1 - o.abar) }, { f: 1 }, {
      f: a * off,
    }),
    [u, scratch, x],
    grid(l.n),
  );
}

/**
 * Tweedie's estimate in attenuation units: `v = ((x − √(1−ᾱ) ε) / √ᾱ − o) / s`, clamped at 0 when
 * `nonNegative`.
 */
export function tweedie(
  gpu: GpuContext,
  x: GPUBuffer,
  eps: GPUBuffer,
  v: GPUBuffer,
  l: VoxelLayout,
  o: { abar: number; map: [number, number]; nonNegative: boolean },
): Promise<void> {
  const [s, off] = o.map;
  return gpu.run(
    "sampler",
    "tweedie",
    params(l.hw, l.n, 0, 0, { f: Math.sqrt(o.abar) * s }, { f: Math.sqrt(1 - o.abar) }, { f: off / s }, {
      f: o.nonNegative ? 1 : 0,
    }),
    [x, eps, v],
    grid(l.n),
  );
}

/**
 * The DDIM update to the next timestep (cumulative signal `abarNext`) in DDS's form:
 * `x = √ᾱ' (s v + o) + √(1−ᾱ') (η ξ + √(1−η²) ε)`, ξ from stream `step`.
 */
export function ddimUpdate(
  gpu: GpuContext,
  v: GPUBuffer,
  eps: GPUBuffer,
  x: GPUBuffer,
  l: VoxelLayout,
  o: { abarNext: number; map: [number, number]; eta: number; seed: number; step: number },
): Promise<void> {
  const [s, off] = o.map, a = Math.sqrt(o.abarNext);
  return gpu.run(
    "sampler",
    "ddim",
    params(l.hw, l.n, o.seed, o.step, { f: a * s }, { f: Math.sqrt(1 - o.abarNext) }, { f: o.eta }, {
      f: a * off,
    }),
    [v, eps, x],
    grid(l.n),
  );
}

/** Reference of {@linkcode tweedie} (f32 arithmetic as the kernel does it). */
export function tweedieRef(
  x: Float32Array,
  eps: Float32Array,
  o: { abar: number; map: [number, number]; nonNegative: boolean },
): Float32Array {
  const f = Math.fround, [s, off] = o.map;
  const a = f(Math.sqrt(o.abar) * s), b = f(Math.sqrt(1 - o.abar)), c = f(off / s);
  return x.map((xi, i) => {
    const u = f(f(f(xi - f(b * eps[i])) / a) - c);
    return o.nonNegative ? Math.max(u, 0) : u;
  });
}

/** Reference of {@linkcode ddimUpdate}, with the noise `xi` given (see `normalAt`). */
export function ddimRef(
  v: Float32Array,
  eps: Float32Array,
  xi: (i: number) => number,
  o: { abarNext: number; map: [number, number]; eta: number },
): Float32Array {
  const f = Math.fround, [s, off] = o.map;
  const a = f(Math.sqrt(o.abarNext) * s), b = f(Math.sqrt(1 - o.abarNext)), c = f(o.eta);
  const d = f(Math.sqrt(o.abarNext) * off), r = f(Math.sqrt(f(1 - f(c * c))));
  return v.map((vi, i) => f(f(f(a * vi) + d) + f(b * f(f(c * xi(i)) + f(r * eps[i])))));
}
