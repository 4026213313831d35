/**
 * The tables the cone-beam projector, its reference and FDK share, computed once per geometry in float64
 * and stored in float32 (so the engine and the reference read identical numbers).
 *
 * The projector is Joseph's method in 3D, factored: a ray steps along its dominant in-plane axis (x or y)
 * and interpolates linearly across the other in-plane axis and along z. With a flat detector whose rows
 * are horizontal (u ⊥ z) and whose columns run along z (v ∥ z), the in-plane weights of ray (view a,
 * column c) are the fan-beam weights of its projection onto the xy-plane, the same for every detector row;
 * the height at which row r's ray passes pixel p is `z = α[a,p] + β[a,p]·r` (in slices), because the
 * fraction of the way from source to detector at p is the same for every ray of the view (the detector is
 * flat); and the 3D length per unit in-plane length is a per-ray factor. So `A = amp ∘ Σ_p W_fan ⊗ G_z`:
 * the fan matrix (sparse, applied by the WebAssembly SIMD kernels with the detector rows as the vector
 * dimension) after a linear resampling along z per (view, pixel). The height is taken at the pixel's centre
 * rather than at the ray's crossing point, which shifts it by at most `|v_z·V/2| · pixel / DSD` (0.03 mm for
 * a 60 mm detector at 1 m): well under a slice.
 * @module
 */
import { UserError } from "../errors.ts";
import { type AnyCone, coneVectors } from "./cone_geometry.ts";
import { FAN_STRIDE } from "./fan_ref.ts";
import type { SliceShape } from "./operator.ts";

/** Largest detector tilt (radians) that is ignored, with a note, rather than refused. */
export const MAX_TILT = 0.01;

/** Per-geometry tables of the factored cone-beam projector (pixel units: in-plane voxel size = 1). */
export interface ConePlan {
  /** Volume `[Z][H][W]`. */
  shape: SliceShape;
  /** Views. */
  A: number;
  /** Detector columns. */
  U: number;
  /** Detector rows. */
  V: number;
  /** In-plane voxel size (mm): the unit of the line integrals. */
  pixel: number;
  /** Slice thickness (mm). */
  dz: number;
  /** Per view, the in-plane fan table (source, column 0, step between columns) of `fan_ref.ts`. */
  tab: Float32Array;
  /** `[A][H·W]`: slice coordinate of row 0's ray at each pixel. */
  alpha: Float32Array;
  /** `[A][H·W]`: slices per detector row at each pixel. */
  beta: Float32Array;
  /** `[A][U][V]`: 3D ray length per unit of its in-plane length. */
  amp: Float32Array;
  /** Notes worth printing (a small detector tilt that was ignored). */
  notes: string[];
}

/**
 * The tables of `g` for a `[Z][H][W]` volume of `spacing` `[dz, dy, dx]` mm (the geometry's own
 * `voxelSize` wins). Refuses a detector tilted by more than {@linkcode MAX_TILT}, non-square voxels and a
 * source inside the volume.
 */
export function conePlan(g: AnyCone, shape: SliceShape, spacing: [number, number, number]): ConePlan {
  const { Z, H, W } = shape, P = H * W;
  const vecs = coneVectors(g);
  const A = vecs.length, U = g.detectorCount, V = g.detectorRows;
  if (V > 65535) throw new UserError(`cone geometry: ${V} detector rows: at most 65535 are accepted`);
  const [dz, dy, dx] = g.voxelSize ?? spacing;
  if (Math.abs(dy - dx) > 1e-3 * dx) {
    throw new UserError(
      `cone beam: voxels are ${dx} x ${dy} mm in plane: blendct's projector needs square pixels (resample the volume)`,
    );
  }
  const [cz, cy, cx] = g.volumeCenter ?? [0, 0, 0];
  const px = dx;
  const tab = new Float32Array(A * FAN_STRIDE);
  const alpha = new Float32Array(A * P), beta = new Float32Array(A * P);
  const amp = new Float32Array(A * U * V);
  let tilt = 0;
  checkSources(vecs, shape, [dz, dy, dx], [cz, cy, cx]);
  vecs.forEach((r, a) => {
    const [sx, sy, sz, ddx, ddy, ddz, ux, uy, uz, vx, vy, vz] = r;
    const nu = Math.hypot(ux, uy, uz), nv = Math.hypot(vx, vy, vz);
    const t = Math.max(
      Math.asin(Math.min(1, Math.abs(uz) / nu)),
      Math.asin(Math.min(1, Math.hypot(vx, vy) / nv)),
    );
    if (t > MAX_TILT) {
      throw new UserError(
        `cone geometry view ${a}: the detector is tilted by ${
          (t * 180 / Math.PI).toFixed(2)
        }° (u must be horizontal, v along z, within ${
          (MAX_TILT * 180 / Math.PI).toFixed(2)
        }°): blendct's cone projector does not model tilted detectors`,
      );
    }
    tilt = Math.max(tilt, t);
    // fan frame of fan_ref.ts: pixel units, origin at the volume's centre, y flipped (its row 0 is on top)
    const S = [(sx - cx) / px, -(sy - cy) / px];
    const lead = 0.5 - U / 2;
    const D0 = [(ddx + lead * ux - cx) / px, -(ddy + lead * uy - cy) / px];
    const st = [ux / px, -uy / px];
    tab.set([S[0], S[1], D0[0], D0[1], st[0], st[1], 0, 0], a * FAN_STRIDE);
    // in-plane normal of the detector: the fraction of the way to the detector is n·(q − S) / n·(d − S)
    const nx = -st[1], ny = st[0];
    const dc = [(ddx - cx) / px, -(ddy - cy) / px];
    const denom = nx * (dc[0] - S[0]) + ny * (dc[1] - S[1]);
    const zr0 = ddz + (0.5 - V / 2) * vz;
    for (let j = 0; j < H; j++) {
      const Y = (H - 1) / 2 - j;
      for (let i = 0; i < W; i++) {
        const X = i - (W - 1) / 2;
        const f = (nx * (X - S[0]) + ny * (Y - S[1])) / denom;
        const k = a * P + j * W + i;
        alpha[k] = (sz + f * (zr0 - sz) - cz) / dz + (Z - 1) / 2;
        beta[k] = (f * vz) / dz;
      }
    }
    for (let c = 0; c < U; c++) {
      const cu = c + 0.5 - U / 2;
      const qx = ddx + cu * ux - sx, qy = ddy + cu * uy - sy;
      const flat = Math.hypot(qx, qy);
      for (let rr = 0; rr < V; rr++) {
        const qz = ddz + cu * uz + (rr + 0.5 - V / 2) * vz - sz;
        amp[(a * U + c) * V + rr] = Math.hypot(flat, qz) / flat;
      }
    }
  });
  const notes = tilt > 1e-6
    ? [
      `note: the detector's tilt (up to ${
        (tilt * 180 / Math.PI).toFixed(3)
      }°) is ignored by the cone projector`,
    ]
    : [];
  return { shape, A, U, V, pixel: px, dz, tab, alpha, beta, amp, notes };
}

/** Refuses a source inside the volume's box (its rays would start among the voxels they measure). */
function checkSources(
  vecs: number[][],
  shape: SliceShape,
  [dz, dy, dx]: [number, number, number],
  [cz, cy, cx]: [number, number, number],
): void {
  const half = [(shape.W / 2) * dx, (shape.H / 2) * dy, (shape.Z / 2) * dz];
  vecs.forEach(([sx, sy, sz], a) => {
    if (Math.abs(sx - cx) <= half[0] && Math.abs(sy - cy) <= half[1] && Math.abs(sz - cz) <= half[2]) {
      throw new UserError(
        `cone geometry view ${a}: the source (${
          [sx, sy, sz].map((v) => v.toFixed(1)).join(", ")
        } mm) lies inside the volume: move the source out (sourceOrigin / DSO larger than the volume's half-diagonal)`,
      );
    }
  });
}

/**
 * The detector rows whose rays pass pixel column (view, pixel) inside the padded slice range: `r` with
 * `0 ≤ a' + b·r < Z + 1` where `a' = α + 1` (slice −1 and Z are zero padding). `[lo, hi)`, empty when
 * `lo ≥ hi`. The engine and the reference both use it, so they visit the same rows.
 */
export function rowRange(a1: number, b: number, Z: number, V: number): [number, number] {
  const out = new Int32Array(2);
  rowRangeInto(a1, b, Z, V, out);
  return [out[0], out[1]];
}

/** {@linkcode rowRange} written into `out` (no allocation: the engine calls it once per view and pixel). */
export function rowRangeInto(a1: number, b: number, Z: number, V: number, out: Int32Array): void {
  out[0] = 0;
  out[1] = 0;
  if (b === 0) {
    if (a1 >= 0 && a1 < Z + 1) out[1] = V;
    return;
  }
  // solve for the real interval, then tighten to integers that satisfy the strict bounds exactly
  let lo: number, hi: number;
  if (b > 0) {
    lo = Math.ceil(-a1 / b);
    hi = Math.ceil((Z + 1 - a1) / b);
  } else {
    lo = Math.floor((Z + 1 - a1) / b) + 1;
    hi = Math.floor(-a1 / b) + 1;
  }
  lo = Math.max(0, lo);
  hi = Math.min(V, hi);
  while (lo < hi && !(a1 + b * lo >= 0 && a1 + b * lo < Z + 1)) lo++;
  while (hi > lo && !(a1 + b * (hi - 1) >= 0 && a1 + b * (hi - 1) < Z + 1)) hi--;
  out[0] = lo;
  out[1] = Math.max(lo, hi);
}

/**
 * Over a grid of at most 16³ sample voxels: the fraction that some view misses (their projection falls off
 * the detector: truncated data) and the fraction that every view misses — what
 * {@linkcode checkConeGeometry} warns and refuses with.
 */
export function coverage(
  g: AnyCone,
  shape: SliceShape,
  spacing: [number, number, number],
): { truncated: number; unseen: number } {
  const { Z, H, W } = shape, vecs = coneVectors(g), U = g.detectorCount, V = g.detectorRows;
  const [dz, dy, dx] = g.voxelSize ?? spacing, [cz, cy, cx] = g.volumeCenter ?? [0, 0, 0];
  const pick = (n: number) => {
    const k = Math.min(n, 16);
    return Array.from({ length: k }, (_, i) => (k === 1 ? (n - 1) / 2 : (i * (n - 1)) / (k - 1)));
  };
  let unseen = 0, truncated = 0, total = 0;
  for (const k of pick(Z)) {
    for (const j of pick(H)) {
      for (const i of pick(W)) {
        const X = [cx + (i - (W - 1) / 2) * dx, cy + (j - (H - 1) / 2) * dy, cz + (k - (Z - 1) / 2) * dz];
        total++;
        const seen = vecs.filter((r) => {
          const S = r.slice(0, 3), d = r.slice(3, 6), u = r.slice(6, 9), v = r.slice(9, 12);
          const n = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
          const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
          const sub = (a: number[], b: number[]) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
          const t = dot(n, sub(d, S)) / dot(n, sub(X, S));
          if (!(t > 1)) return false; // the detector must lie beyond the voxel, seen from the source
          const hit = sub([0, 1, 2].map((q) => S[q] + t * (X[q] - S[q])), d);
          const c = dot(hit, u) / dot(u, u) + U / 2 - 0.5, rr = dot(hit, v) / dot(v, v) + V / 2 - 0.5;
          return c >= -0.5 && c <= U - 0.5 && rr >= -0.5 && rr <= V - 0.5;
        }).length;
        if (seen === 0) unseen++;
        if (seen < vecs.length) truncated++;
      }
    }
  }
  return { truncated: truncated / total, unseen: unseen / total };
}

/**
 * Checks a cone geometry against the volume it will see: the tables' own refusals (tilt, a source inside
 * the volume, non-square voxels), then the voxels no view sees — refused when it is all of them, a warning
 * with the fraction otherwise; `null` when every sample voxel is seen.
 */
export function checkConeGeometry(
  g: AnyCone,
  shape: SliceShape,
  spacing: [number, number, number],
): string | null {
  // the tilt and voxel checks of the tables, on a 2×2 stand-in grid (the tables are O(views × pixels))
  conePlan(g, { ...shape, H: Math.min(shape.H, 2), W: Math.min(shape.W, 2) }, spacing);
  checkSources(coneVectors(g), shape, g.voxelSize ?? spacing, g.volumeCenter ?? [0, 0, 0]);
  const { truncated: f, unseen } = coverage(g, shape, spacing);
  if (unseen >= 1) {
    throw new UserError(
      "cone geometry: no ray meets the volume (every voxel lies outside every view): check the distances, the detector's size and offsets, and voxelSize/volumeCenter",
    );
  }
  if (f === 0) return null;
  return `warning: the detector does not cover the volume: ${
    (100 * f).toFixed(1)
  }% of its voxels lie outside some view (truncated projections; ${
    (100 * unseen).toFixed(1)
  }% outside every view): a larger detector, or fewer slices`;
}

/**
 * A volume grid for a cone geometry that states none: `size × size` pixels spanning the circle every view
 * sees in the mid-plane, and as many slices of the same size as the detector's height covers at the
 * rotation axis.
 *
 * @example
 * ```ts
 * import { defaultConeGrid } from "./cone_plan.ts";
 * const g = { type: "cone" as const, angles: [0, 1], detectorCount: 200, detectorRows: 40, detectorSpacing: 1,
 *   detectorSpacingV: 1, sourceOrigin: 500, originDetector: 500, detectorOffset: 0, detectorOffsetV: 0 };
 * console.log(defaultConeGrid(g, 64).shape); // [ 40, 64, 64 ]
 * ```
 */
export function defaultConeGrid(g: AnyCone, size: number): {
  shape: [number, number, number];
  spacing: [number, number, number];
} {
  const vecs = coneVectors(g);
  let radius = Infinity, height = 0;
  for (const r of vecs) {
    const [sx, sy, , dx, dy, , ux, uy, , , , vz] = r;
    const nu = Math.hypot(ux, uy), dso = Math.hypot(sx, sy);
    const n = [-uy / nu, ux / nu], dsd = Math.abs(n[0] * (dx - sx) + n[1] * (dy - sy));
    // the narrower half of the detector sets the circle every view sees
    const cF = ((sx + dsd * n[0] * Math.sign(n[0] * (dx - sx) + n[1] * (dy - sy)) - dx) * ux +
      (sy + dsd * n[1] * Math.sign(n[0] * (dx - sx) + n[1] * (dy - sy)) - dy) * uy) / nu;
    const half = Math.min(g.detectorCount * nu / 2 - cF, g.detectorCount * nu / 2 + cF);
    radius = Math.min(radius, dso * Math.sin(Math.atan(Math.max(0, half) / dsd)));
    height = Math.max(height, (g.detectorRows * Math.abs(vz) * dso) / dsd);
  }
  const px = (2 * radius) / size;
  if (!(px > 0)) {
    throw new UserError("cone geometry: the detector sees no field of view: check its size and offsets");
  }
  const slices = Math.max(1, Math.floor(height / px));
  return { shape: [slices, size, size], spacing: [px, px, px] };
}
