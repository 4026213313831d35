/**
 * TypeScript reference of the WGSL projector (shaders/projector.wgsl): the same Joseph weights, evaluated
 * in float64 on the CPU. Slow; it exists to test the kernels against and to run where speed is irrelevant.
 * @module
 */
import type { ParallelGeometry } from "./geometry.ts";
import type { SliceShape } from "./operator.ts";

export type { SliceShape } from "./operator.ts";

const hat = (d: number) => Math.max(0, 1 - Math.abs(d));

/** The f32 (cos, sin) table the kernels use, so reference and GPU see identical angles. */
export function trigTable(angles: readonly number[]): Float32Array {
  const t = new Float32Array(angles.length * 2);
  angles.forEach((th, a) => {
    t[2 * a] = Math.cos(th);
    t[2 * a + 1] = Math.sin(th);
  });
  return t;
}

/**
 * Visits every nonzero Joseph weight of one ray: `visit(pixel, weight)` for ray (angle `a`, bin `u`) of a
 * `H`×`W` slice. Forward and adjoint references both walk these weights, so they are each other's transpose
 * by construction and independent of the kernels' closed-form gathers.
 */
function rayWeights(
  trig: Float32Array,
  a: number,
  u: number,
  g: ParallelGeometry,
  H: number,
  W: number,
  visit: (pixel: number, weight: number) => void,
): void {
  const D = g.detectorCount;
  const c = trig[2 * a], s = trig[2 * a + 1];
  const su = (u - (D - 1) / 2) * g.detectorSpacing;
  const cx = (W - 1) / 2, cy = (H - 1) / 2;
  if (Math.abs(c) >= Math.abs(s)) {
    for (let j = 0; j < H; j++) {
      const f = (su - (j - cy) * s) / c + cx;
      const i0 = Math.floor(f);
      for (let i = Math.max(i0, 0); i <= Math.min(i0 + 1, W - 1); i++) {
        visit(j * W + i, hat(f - i) / Math.abs(c));
      }
    }
  } else {
    for (let i = 0; i < W; i++) {
      const f = (su - (i - cx) * c) / s + cy;
      const j0 = Math.floor(f);
      for (let j = Math.max(j0, 0); j <= Math.min(j0 + 1, H - 1); j++) {
        visit(j * W + i, hat(f - j) / Math.abs(s));
      }
    }
  }
}

/**
 * The weights of ray (angle `a`, bin `u`) of a parallel geometry, one `visit(pixel, weight)` per nonzero:
 * what the sparse copy of A (`sparse.ts`) is built from, so it is the reference's operator entry for entry.
 */
export function parallelRays(
  g: ParallelGeometry,
  H: number,
  W: number,
): (a: number, u: number, visit: (pixel: number, weight: number) => void) => void {
  const trig = trigTable(g.angles);
  return (a, u, visit) => rayWeights(trig, a, u, g, H, W, visit);
}

/**
 * Reference forward projection `y = A x` of slices `[Z][H][W]` into sinograms `[Z][A][D]`.
 *
 * @example
 * ```ts
 * import { forwardRef } from "./projector_ref.ts";
 * import { sparseView } from "./geometry.ts";
 * const g = sparseView(2, { imageSize: 4 });
 * const y = forwardRef(new Float32Array(16).fill(1), g, { Z: 1, H: 4, W: 4 });
 * console.log(y.length); // 2 angles x 6 bins = 12
 * ```
 */
export function forwardRef(x: Float32Array, g: ParallelGeometry, shape: SliceShape): Float32Array {
  const { Z, H, W } = shape;
  const A = g.angles.length, D = g.detectorCount;
  const trig = trigTable(g.angles);
  const y = new Float32Array(Z * A * D);
  for (let z = 0; z < Z; z++) {
    const base = z * H * W;
    for (let a = 0; a < A; a++) {
      for (let u = 0; u < D; u++) {
        let acc = 0;
        rayWeights(trig, a, u, g, H, W, (k, w) => acc += w * x[base + k]);
        y[(z * A + a) * D + u] = acc;
      }
    }
  }
  return y;
}

/**
 * Reference adjoint `x = Aᵀ y`, computed as a scatter over the forward weights so that it is an
 * independent check of the kernel's gather.
 *
 * @example
 * ```ts
 * import { adjointRef } from "./projector_ref.ts";
 * import { sparseView } from "./geometry.ts";
 * const g = sparseView(2, { imageSize: 4 });
 * const x = adjointRef(new Float32Array(12).fill(1), g, { Z: 1, H: 4, W: 4 });
 * console.log(x.length); // 16
 * ```
 */
export function adjointRef(y: Float32Array, g: ParallelGeometry, shape: SliceShape): Float32Array {
  const { Z, H, W } = shape;
  const A = g.angles.length, D = g.detectorCount;
  const trig = trigTable(g.angles);
  const x = new Float64Array(Z * H * W);
  for (let z = 0; z < Z; z++) {
    const base = z * H * W;
    for (let a = 0; a < A; a++) {
      for (let u = 0; u < D; u++) {
        const v = y[(z * A + a) * D + u];
        if (v !== 0) rayWeights(trig, a, u, g, H, W, (k, w) => x[base + k] += w * v);
      }
    }
  }
  return Float32Array.from(x);
}

/** Reference pixel-driven back-projection with linear interpolation along the detector (FBP's last step). */
export function backprojectRef(
  q: Float32Array,
  g: ParallelGeometry,
  shape: SliceShape,
  scale = 1,
): Float32Array {
  const { Z, H, W } = shape;
  const A = g.angles.length, D = g.detectorCount, ds = g.detectorSpacing;
  const trig = trigTable(g.angles);
  const out = new Float32Array(Z * H * W);
  const cu = (D - 1) / 2;
  for (let z = 0; z < Z; z++) {
    for (let j = 0; j < H; j++) {
      for (let i = 0; i < W; i++) {
        const x = i - (W - 1) / 2, y = j - (H - 1) / 2;
        let acc = 0;
        for (let a = 0; a < A; a++) {
          const f = (x * trig[2 * a] + y * trig[2 * a + 1]) / ds + cu;
          const u0 = Math.floor(f), w = f - u0, row = (z * A + a) * D;
          if (u0 >= 0 && u0 < D) acc += (1 - w) * q[row + u0];
          if (u0 + 1 >= 0 && u0 + 1 < D) acc += w * q[row + u0 + 1];
        }
        out[(z * H + j) * W + i] = acc * scale;
      }
    }
  }
  return out;
}
