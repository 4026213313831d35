/**
 * TypeScript reference of the fan-beam kernels (shaders/fan.wgsl): Joseph weights along each source–bin ray,
 * evaluated in float64 on the same float32 per-angle table the kernels read.
 * @module
 */
import type { FanGeometry } from "./geometry.ts";
import type { SliceShape } from "./operator.ts";

const hat = (d: number) => Math.max(0, 1 - Math.abs(d));

/** Floats per angle in {@linkcode fanTable}. */
export const FAN_STRIDE = 8;

/**
 * The float32 per-angle table in pixel units (x right, y up, origin at the slice centre): source `S`,
 * the centre of bin 0 `P0` and the step between bins, so bin `u` sits at `P0 + u·step`.
 */
export function fanTable(g: FanGeometry, pixelSize: number): Float32Array {
  const t = new Float32Array(g.angles.length * FAN_STRIDE);
  const dso = g.sourceOrigin / pixelSize, dod = g.originDetector / pixelSize;
  const dw = g.detectorSpacing / pixelSize, off = g.detectorOffset / pixelSize;
  const cu = (g.detectorCount - 1) / 2;
  g.angles.forEach((th, a) => {
    const s = Math.sin(th), c = Math.cos(th);
    // bin u at −DOD·(sin, −cos) + ((u − cu)·dw + off)·(cos, sin)
    const lead = -cu * dw + off;
    t.set([dso * s, -dso * c, -dod * s + lead * c, dod * c + lead * s, dw * c, dw * s, 0, 0], a * FAN_STRIDE);
  });
  return t;
}

/** The pixel size (mm) a fan geometry is applied with: its own, else the volume's, else 1. */
export function fanPixelSize(g: FanGeometry, volumePixel?: number): number {
  return g.pixelSize ?? volumePixel ?? 1;
}

/**
 * Visits every nonzero weight of ray (angle `a`, bin `u`): march along the ray's dominant axis, linear
 * interpolation across the other; the weight carries the ray length per step.
 */
export function fanRayWeights(
  tab: Float32Array,
  a: number,
  u: number,
  H: number,
  W: number,
  visit: (pixel: number, weight: number) => void,
): void {
  const o = a * FAN_STRIDE;
  const sx = tab[o], sy = tab[o + 1];
  const dx = tab[o + 2] + u * tab[o + 4] - sx, dy = tab[o + 3] + u * tab[o + 5] - sy;
  const len = Math.hypot(dx, dy);
  const cx = (W - 1) / 2, cy = (H - 1) / 2;
  if (Math.abs(dx) >= Math.abs(dy)) {
    for (let i = 0; i < W; i++) {
      const f = cy - (sy + ((i - cx - sx) / dx) * dy); // row coordinate where the ray crosses column i
      const j0 = Math.floor(f);
      for (let j = Math.max(j0, 0); j <= Math.min(j0 + 1, H - 1); j++) {
        visit(j * W + i, (hat(f - j) * len) / Math.abs(dx));
      }
    }
  } else {
    for (let j = 0; j < H; j++) {
      const f = sx + ((cy - j - sy) / dy) * dx + cx; // column coordinate where the ray crosses row j
      const i0 = Math.floor(f);
      for (let i = Math.max(i0, 0); i <= Math.min(i0 + 1, W - 1); i++) {
        visit(j * W + i, (hat(f - i) * len) / Math.abs(dy));
      }
    }
  }
}

/**
 * The weights of ray (angle `a`, bin `u`) of a fan geometry applied with `pixelSize` mm, one
 * `visit(pixel, weight)` per nonzero: what the sparse copy of A (`sparse.ts`) is built from.
 */
export function fanRays(
  g: FanGeometry,
  H: number,
  W: number,
  pixelSize: number,
): (a: number, u: number, visit: (pixel: number, weight: number) => void) => void {
  const tab = fanTable(g, pixelSize);
  return (a, u, visit) => fanRayWeights(tab, a, u, H, W, visit);
}

/**
 * Reference fan-beam projection of slices `[Z][H][W]` into sinograms `[Z][A][D]` (line integrals in pixel
 * lengths).
 *
 * @example
 * ```ts
 * import { fanForwardRef } from "./fan_ref.ts";
 * import { fanBeam } from "./geometry.ts";
 * const g = fanBeam(4, { imageSize: 8 });
 * console.log(fanForwardRef(new Float32Array(64), g, { Z: 1, H: 8, W: 8 }).length); // 4 x 12 = 48
 * ```
 */
export function fanForwardRef(
  x: Float32Array,
  g: FanGeometry,
  shape: SliceShape,
  pixelSize?: number,
): Float32Array {
  const y = new Float32Array(shape.Z * g.angles.length * g.detectorCount);
  sweepRays(g, shape, pixelSize, (ray, base, visit) => {
    let acc = 0;
    visit((k, w) => acc += w * x[base + k]);
    y[ray] = acc;
  });
  return y;
}

/** Reference adjoint: a scatter over the forward weights, independent of the kernel's gather. */
export function fanAdjointRef(
  y: Float32Array,
  g: FanGeometry,
  shape: SliceShape,
  pixelSize?: number,
): Float32Array {
  const x = new Float64Array(shape.Z * shape.H * shape.W);
  sweepRays(g, shape, pixelSize, (ray, base, visit) => {
    const v = y[ray];
    if (v !== 0) visit((k, w) => x[base + k] += w * v);
  });
  return Float32Array.from(x);
}

/** Calls `each(ray index, slice offset, visit)` for every (slice, angle, bin); `visit` walks that ray's weights. */
function sweepRays(
  g: FanGeometry,
  shape: SliceShape,
  pixelSize: number | undefined,
  each: (ray: number, base: number, visit: (fn: (pixel: number, weight: number) => void) => void) => void,
): void {
  const { Z, H, W } = shape, A = g.angles.length, D = g.detectorCount;
  const tab = fanTable(g, fanPixelSize(g, pixelSize));
  for (let z = 0; z < Z; z++) {
    for (let a = 0; a < A; a++) {
      for (let u = 0; u < D; u++) {
        each((z * A + a) * D + u, z * H * W, (fn) => fanRayWeights(tab, a, u, H, W, fn));
      }
    }
  }
}

/**
 * Reference of the kernel's fan-beam FBP back-projection: for each pixel and view, the filtered row read
 * by linear interpolation where the source–pixel ray meets the detector, times `(DSO / L)²` with `L` the
 * pixel's distance from the source along the central ray, summed and scaled by `scale`.
 */
export function fanBackprojectRef(
  q: Float32Array,
  g: FanGeometry,
  shape: SliceShape,
  scale: number,
  pixelSize?: number,
): Float32Array {
  const { Z, H, W } = shape, A = g.angles.length, D = g.detectorCount;
  const tab = fanTable(g, fanPixelSize(g, pixelSize));
  const out = new Float32Array(Z * H * W);
  for (let z = 0; z < Z; z++) {
    for (let j = 0; j < H; j++) {
      for (let i = 0; i < W; i++) {
        const X = i - (W - 1) / 2, Y = (H - 1) / 2 - j;
        let acc = 0;
        for (let a = 0; a < A; a++) {
          const o = a * FAN_STRIDE;
          const sx = tab[o], sy = tab[o + 1], dso2 = sx * sx + sy * sy;
          const qx = X - sx, qy = Y - sy;
          const cross = (ax: number, ay: number) => ax * qy - ay * qx;
          const f = -cross(tab[o + 2] - sx, tab[o + 3] - sy) / cross(tab[o + 4], tab[o + 5]);
          const L = -(qx * sx + qy * sy) / Math.sqrt(dso2); // along the source's direction to the axis
          const u0 = Math.floor(f), w = f - u0, row = (z * A + a) * D;
          let v = 0;
          if (u0 >= 0 && u0 < D) v += (1 - w) * q[row + u0];
          if (u0 + 1 >= 0 && u0 + 1 < D) v += w * q[row + u0 + 1];
          acc += (v * dso2) / (L * L);
        }
        out[(z * H + j) * W + i] = acc * scale;
      }
    }
  }
  return out;
}
