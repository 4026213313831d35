/**
 * Filtered back-projection: ramp-type filtering of every projection row (WGSL direct convolution with a
 * kernel designed here in float64) followed by pixel-driven back-projection; cone beam goes to FDK
 * (`fdk.ts`).
 * @module
 */
import { GpuContext, groups, params } from "../gpu/context.ts";
import { angularStep, type Geometry, type SliceGeometry } from "./geometry.ts";
import { FanProjector } from "./fan.ts";
import { ConeProjector } from "./cone.ts";
import { isCone } from "./cone_geometry.ts";
import { fdk } from "./fdk.ts";
import { type FbpFilter, filterTaps } from "./ramp.ts";
import type { SliceShape } from "./operator.ts";
import { createProjector, type CtProjector } from "./system.ts";

export { FBP_FILTERS, type FbpFilter, filterRowsRef, filterTaps } from "./ramp.ts";

/** Options for {@linkcode fbp}. */
export interface FbpOptions {
  /** Reconstruction filter. Default `"ramp"`. */
  filter?: FbpFilter;
  /** GPU to use. Default: a new context, disposed afterwards. */
  gpu?: GpuContext;
  /** Pixel size in mm that a fan geometry without its own is applied with. Default 1. */
  pixelSize?: number;
  /** Voxel size `[dz, dy, dx]` in mm that a cone geometry without its own is applied with. Default: `pixelSize` cubed. */
  spacing?: [number, number, number];
}

/**
 * Filters sinogram rows on the GPU: `src` and `dst` hold `[Z][A][D]` floats; `spacing` is the bin width the
 * filter is designed for, in pixels (default the geometry's).
 */
export async function filterSinogram(
  gpu: GpuContext,
  A: { geometry: SliceGeometry; shape: SliceShape; slab: number },
  src: GPUBuffer,
  dst: GPUBuffer,
  filter: FbpFilter,
  spacing: number = A.geometry.detectorSpacing,
): Promise<void> {
  const g = A.geometry, D = g.detectorCount, nA = g.angles.length;
  const taps = gpu.upload(filterTaps(D, spacing, filter), "fbp taps");
  const { Z } = A.shape;
  for (let z0 = 0; z0 < Z; z0 += A.slab) {
    const nz = Math.min(A.slab, Z - z0);
    const off = z0 * nA * D * 4, size = nz * nA * D * 4;
    await gpu.run("fbp", "filter_rows", params(D, nA, nz), [taps, { buffer: src, offset: off, size }, {
      buffer: dst,
      offset: off,
      size,
    }], [groups(D), nA, nz]);
  }
  await gpu.sync();
  gpu.release(taps);
}

/**
 * Reconstructs slices `[Z][H][W]` from sinograms `[Z][A][D]` by filtered back-projection (parallel or fan
 * beam), streaming slabs through the GPU.
 *
 * @example
 * ```ts
 * import { fbp } from "./fbp.ts";
 * import { sparseView } from "./geometry.ts";
 * const g = sparseView(8, { imageSize: 8 });
 * const img = await fbp(new Float32Array(8 * g.detectorCount), g, { Z: 1, H: 8, W: 8 });
 * console.log(img.length); // 64
 * ```
 */
export async function fbp(
  sinogram: Float32Array,
  geometry: Geometry,
  shape: SliceShape,
  options: FbpOptions = {},
): Promise<Float32Array> {
  if (isCone(geometry)) {
    const px = options.pixelSize ?? 1;
    return fdk(sinogram, geometry, shape, options.spacing ?? [px, px, px], options.filter ?? "ramp");
  }
  const gpu = options.gpu ?? await GpuContext.create();
  try {
    const { Z, H, W } = shape;
    const per = geometry.angles.length * geometry.detectorCount;
    // FBP uses only the back-projection kernel: no sparse copy of A is worth building for it
    const full = await createProjector(gpu, geometry, shape, { ...options, engine: "wgsl" });
    const nz = Math.min((full as { slab: number }).slab, Z);
    full.dispose();
    const out = new Float32Array(Z * H * W);
    const sb = gpu.buffer(nz * per * 4), qb = gpu.buffer(nz * per * 4), xb = gpu.buffer(nz * H * W * 4);
    try {
      for (let z0 = 0; z0 < Z; z0 += nz) {
        const n = Math.min(nz, Z - z0);
        const A = await createProjector(gpu, geometry, { Z: n, H, W }, { ...options, engine: "wgsl" });
        gpu.write(sb, sinogram.subarray(z0 * per, (z0 + n) * per));
        await fbpOnGpu(gpu, A, sb, qb, xb, options.filter ?? "ramp");
        out.set(await gpu.download(xb, n * H * W), z0 * H * W);
        A.dispose();
      }
    } finally {
      gpu.release(sb, qb, xb);
    }
    return out;
  } finally {
    if (!options.gpu) gpu.dispose();
  }
}

/**
 * FBP on GPU buffers: `sino` → (filtered into `scratch`) → `out`; `sino` is left as it was. Fan beam adds
 * the cosine (and Parker) pre-weighting and the distance weighting of its back-projection.
 */
export async function fbpOnGpu(
  gpu: GpuContext,
  A: CtProjector,
  sino: GPUBuffer,
  scratch: GPUBuffer,
  out: GPUBuffer,
  filter: FbpFilter,
): Promise<void> {
  if (A instanceof ConeProjector) {
    const p = A.plan, sp: [number, number, number] = [p.dz, p.pixel, p.pixel];
    const x = fdk(await gpu.download(sino, A.rangeSize), A.geometry, A.shape, sp, filter);
    gpu.flush();
    gpu.write(out, x);
    return;
  }
  if (A instanceof FanProjector) {
    const w = A.fbpWeights;
    const weighted = gpu.buffer(A.rangeSize * 4, "fan weighted");
    try {
      await A.weightRows(sino, weighted);
      await filterSinogram(gpu, A, weighted, scratch, filter, w.spacing);
      await A.backproject(scratch, out, w.scale);
    } finally {
      gpu.release(weighted);
    }
    return;
  }
  await filterSinogram(gpu, A, sino, scratch, filter);
  await A.backproject(scratch, out, angularStep(A.geometry));
}
