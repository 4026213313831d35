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
import type { SliceShape } from "./operator.ts";
import { createProjector, type CtProjector } from "./system.ts";

/** The reconstruction filters blendct offers. */
export const FBP_FILTERS = ["ramp", "shepp-logan", "cosine", "hann"] as const;
/** One of {@linkcode FBP_FILTERS}. */
export type FbpFilter = typeof FBP_FILTERS[number];

function windowAt(filter: FbpFilter, f: number): number {
  // f in cycles per bin, |f| <= 0.5
  switch (filter) {
    case "ramp":
      return 1;
    case "shepp-logan":
      return f === 0 ? 1 : Math.sin(Math.PI * f) / (Math.PI * f);
    case "cosine":
      return Math.cos(Math.PI * f);
    case "hann":
      return 0.5 * (1 + Math.cos(2 * Math.PI * f));
  }
}

/**
 * Spatial filter taps for `D` bins of width `ds`, index `D - 1` being offset 0. The ramp is the
 * band-limited discrete ramp (Kak & Slaney), which has no DC offset; other filters multiply its spectrum by
 * their window.
 *
 * @example
 * ```ts
 * import { filterTaps } from "./fbp.ts";
 * const k = filterTaps(5, 1, "ramp");
 * console.log(k.length, k[4]); // 9 0.25
 * ```
 */
export function filterTaps(D: number, ds: number, filter: FbpFilter): Float32Array {
  const ramp = (
    m: number,
  ) => (m === 0 ? 1 / (4 * ds) : m % 2 === 0 ? 0 : -1 / (m * m * Math.PI * Math.PI * ds));
  const taps = new Float32Array(2 * D - 1);
  if (filter === "ramp") {
    for (let m = -(D - 1); m <= D - 1; m++) taps[m + D - 1] = ramp(m);
    return taps;
  }
  let P = 1;
  while (P < 2 * D) P *= 2;
  // the kernel is real and even, so its spectrum is a cosine series
  const k = new Float64Array(P);
  for (let m = 0; m < P; m++) k[m] = ramp(m <= P / 2 ? m : m - P);
  const spec = new Float64Array(P);
  for (let f = 0; f < P; f++) {
    let acc = 0;
    for (let m = 0; m < P; m++) acc += k[m] * Math.cos((2 * Math.PI * f * m) / P);
    const freq = f <= P / 2 ? f / P : (f - P) / P;
    spec[f] = acc * windowAt(filter, freq);
  }
  for (let m = -(D - 1); m <= D - 1; m++) {
    let acc = 0;
    for (let f = 0; f < P; f++) acc += spec[f] * Math.cos((2 * Math.PI * f * m) / P);
    taps[m + D - 1] = acc / P;
  }
  return taps;
}

/** Reference of the WGSL row filter: `q[u] = Σ_v taps[u - v + D - 1] p[v]` for every row. */
export function filterRowsRef(sino: Float32Array, D: number, taps: Float32Array): Float32Array {
  const out = new Float32Array(sino.length);
  for (let r = 0; r < sino.length / D; r++) {
    for (let u = 0; u < D; u++) {
      let acc = 0;
      for (let v = 0; v < D; v++) acc += taps[u + D - 1 - v] * sino[r * D + v];
      out[r * D + u] = acc;
    }
  }
  return out;
}

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
