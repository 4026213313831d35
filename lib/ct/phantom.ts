/**
 * Synthetic test volumes: the 3D Shepp-Logan phantom (unitless, [0, 1]) and seeded anatomical phantoms of a
 * head, chest or abdomen in Hounsfield units (convert with `toU` of `lib/units.ts`).
 *
 * The anatomical phantoms are blendct's unlimited training and test data: every random choice comes from
 * {@linkcode Rng} forks, so a seed fixes the volume bit for bit, and the anatomy is defined in millimetres,
 * so the same seed at another resolution shows the same patient.
 *
 * Conventions of the anatomical phantoms: voxel `[k][j][i]` sits at x = (i − (X−1)/2)·dx (patient left to
 * the image right, radiological display), y = (j − (Y−1)/2)·dy (anterior at row 0, the image top),
 * z = (k − (Z−1)/2)·dz (superior at the last slice).
 *
 * @module
 */
import { Rng } from "../random.ts";
import { makeVolume, type Volume } from "../volume.ts";

// ---------------------------------------------------------------------------------------------------------
// Shepp-Logan
// ---------------------------------------------------------------------------------------------------------

/**
 * The ten ellipsoids of the 3D Shepp-Logan phantom as popularised by Kak & Slaney's 2D table extended to 3D
 * (the table used by the common `phantom3d` implementations): semi-axes a, b, c, centre x0, y0, z0 in the
 * unit cube [−1, 1]³, and z-x-z Euler angles φ, θ, ψ in degrees.
 */
const SHEPP_LOGAN_GEOMETRY: readonly (readonly number[])[] = [
  [0.69, 0.92, 0.81, 0, 0, 0, 0, 0, 0],
  [0.6624, 0.874, 0.78, 0, -0.0184, 0, 0, 0, 0],
  [0.11, 0.31, 0.22, 0.22, 0, 0, -18, 0, 10],
  [0.16, 0.41, 0.28, -0.22, 0, 0, 18, 0, 10],
  [0.21, 0.25, 0.41, 0, 0.35, -0.15, 0, 0, 0],
  [0.046, 0.046, 0.05, 0, 0.1, 0.25, 0, 0, 0],
  [0.046, 0.046, 0.05, 0, -0.1, 0.25, 0, 0, 0],
  [0.046, 0.023, 0.05, -0.08, -0.605, 0, 0, 0, 0],
  [0.023, 0.023, 0.02, 0, -0.606, 0, 0, 0, 0],
  [0.023, 0.046, 0.02, 0.06, -0.605, 0, 0, 0, 0],
];

/** Added intensities: Shepp & Logan's originals (brain 0.02 on a skull of 1) and Toft's "modified" ones. */
const SHEPP_LOGAN_INTENSITY = {
  original: [1, -0.98, -0.02, -0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01],
  modified: [1, -0.8, -0.2, -0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
} as const;

/** Options for {@linkcode sheppLogan3d}. */
export interface SheppLoganOptions {
  /**
   * `"modified"` (default): Toft's higher-contrast intensities (skull 1, brain 0.2, ventricles 0, small
   * features 0.3), the usual choice for reconstruction tests. `"original"`: Shepp & Logan's (brain 0.02).
   */
  variant?: "modified" | "original";
  /** Edge of the cubic field of view in mm, which sets the spacing `fov / shape`. Default 256. */
  fovMm?: number;
}

/**
 * The 3D Shepp-Logan phantom sampled at voxel centres, values clipped to [0, 1] (both intensity tables
 * already lie there except where ellipsoids overlap at their rims).
 *
 * The phantom fills the unit cube [−1, 1]³ whatever the shape: x = (2i+1)/X − 1 runs left to right,
 * y = 1 − (2j+1)/Y runs from the top row down (so the small ellipsoids near y = −0.6 appear at the bottom
 * of an axial image, as in the familiar 2D picture), z = (2k+1)/Z − 1. Ellipsoid centres are in those
 * volume coordinates and each ellipsoid is rotated about its own centre by R = Rz(φ)·Rx(θ)·Rz(ψ); with
 * θ = 0 the two tilted ellipsoids end up rotated in-plane by φ + ψ.
 *
 * @example
 * ```ts
 * import { sheppLogan3d } from "./phantom.ts";
 * const v = sheppLogan3d([9, 9, 9]);
 * console.log(v.data[4 * 81 + 4 * 9 + 4].toFixed(2)); // 0.20  (the centre: brain)
 * ```
 */
export function sheppLogan3d(shape: [number, number, number], options: SheppLoganOptions = {}): Volume {
  checkShape(shape);
  const [Z, Y, X] = shape;
  const intensity = SHEPP_LOGAN_INTENSITY[options.variant ?? "modified"];
  if (!intensity) throw new RangeError(`unknown Shepp-Logan variant ${options.variant}`);
  const fov = options.fovMm ?? 256;
  const acc = new Float64Array(Z * Y * X);
  const deg = Math.PI / 180;
  SHEPP_LOGAN_GEOMETRY.forEach((g, e) => {
    const [a, b, c, x0, y0, z0, phi, theta, psi] = g;
    const R = eulerZXZ(phi * deg, theta * deg, psi * deg);
    // Half extent of the rotated ellipsoid along each world axis bounds the voxels worth testing.
    const half = [0, 1, 2].map((w) => Math.hypot(R[w][0] * a, R[w][1] * b, R[w][2] * c));
    const k0 = Math.max(0, Math.floor(((z0 - half[2] + 1) * Z) / 2 - 0.5));
    const k1 = Math.min(Z - 1, Math.ceil(((z0 + half[2] + 1) * Z) / 2 - 0.5));
    const j0 = Math.max(0, Math.floor(((1 - y0 - half[1]) * Y) / 2 - 0.5));
    const j1 = Math.min(Y - 1, Math.ceil(((1 - y0 + half[1]) * Y) / 2 - 0.5));
    const i0 = Math.max(0, Math.floor(((x0 - half[0] + 1) * X) / 2 - 0.5));
    const i1 = Math.min(X - 1, Math.ceil(((x0 + half[0] + 1) * X) / 2 - 0.5));
    const value = intensity[e];
    for (let k = k0; k <= k1; k++) {
      const pz = (2 * k + 1) / Z - 1 - z0;
      for (let j = j0; j <= j1; j++) {
        const py = 1 - (2 * j + 1) / Y - y0;
        for (let i = i0; i <= i1; i++) {
          const px = (2 * i + 1) / X - 1 - x0;
          // Local coordinates q = Rᵀ p.
          const qx = R[0][0] * px + R[1][0] * py + R[2][0] * pz;
          const qy = R[0][1] * px + R[1][1] * py + R[2][1] * pz;
          const qz = R[0][2] * px + R[1][2] * py + R[2][2] * pz;
          if ((qx / a) ** 2 + (qy / b) ** 2 + (qz / c) ** 2 <= 1) acc[(k * Y + j) * X + i] += value;
        }
      }
    }
  });
  const data = new Float32Array(acc.length);
  for (let p = 0; p < acc.length; p++) data[p] = Math.min(1, Math.max(0, acc[p]));
  return makeVolume(data, [Z, Y, X], { spacing: [fov / Z, fov / Y, fov / X], unit: "image" });
}

function eulerZXZ(phi: number, theta: number, psi: number): number[][] {
  const rz = (t: number) => [[Math.cos(t), -Math.sin(t), 0], [Math.sin(t), Math.cos(t), 0], [0, 0, 1]];
  const rx = (t: number) => [[1, 0, 0], [0, Math.cos(t), -Math.sin(t)], [0, Math.sin(t), Math.cos(t)]];
  return matMul(matMul(rz(phi), rx(theta)), rz(psi));
}

function matMul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => [0, 1, 2].map((c) => row[0] * b[0][c] + row[1] * b[1][c] + row[2] * b[2][c]));
}

function checkShape(shape: readonly number[]): void {
  if (shape.length !== 3 || !shape.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new RangeError(`shape must be three positive integers [Z, Y, X], got [${shape.join(", ")}]`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Anatomical phantoms: a scene of labelled primitives painted slice by slice
// ---------------------------------------------------------------------------------------------------------

type Vec3 = [number, number, number];

/** A smooth radial deformation: radius × (1 + Σ amp·cos(kθ + phase + phaseZ·t)). */
interface Harmonic {
  k: number;
  amp: number;
  phase: number;
  /** Phase change from the ellipsoid's centre to its top (t = 1), so the outline twists along z. */
  phaseZ: number;
}

interface EllipsoidSpec {
  /** Centre (mm). */
  c: Vec3;
  /** Semi-axes (mm). */
  r: Vec3;
  /** In-plane rotation (radians). */
  rot?: number;
  /** z profile: a true ellipsoid, a cylinder of constant section, or a dome (ellipsoid top, cylinder below). */
  profile?: "ellipsoid" | "cylinder" | "dome";
  /** Relative change of the section's radii from centre to top: section × (1 + taper·t). */
  taper?: number;
  /** Centre shift (mm) at t = 1, linear in t: organs lean. */
  drift?: [number, number];
  /** Centre shift (mm) at t = ±1, quadratic in t: organs bend. */
  bend?: [number, number];
  harmonics?: Harmonic[];
  /** Shrink the section's semi-axes by this many mm: shells are the same spec painted with two insets. */
  inset?: number;
  /** Paint only where lo ≤ y ≤ hi (mm): air-fluid levels. */
  clipY?: [number, number];
}

interface EllipsoidPrim {
  kind: "ellipsoid";
  spec: EllipsoidSpec;
  label: number;
  within: Uint8Array | null;
  zmin: number;
  zmax: number;
}

interface SegmentPrim {
  kind: "segment";
  a: Vec3;
  b: Vec3;
  ra: number;
  rb: number;
  label: number;
  within: Uint8Array | null;
  zmin: number;
  zmax: number;
}

type Prim = EllipsoidPrim | SegmentPrim;

interface Tissue {
  name: string;
  hu: number;
  /** Amplitude (HU) of the correlated texture. */
  texture: number;
  /** HU per mm along y (posterior): gravity-dependent lung density. */
  gradY: number;
}

/** One tube of a vessel or airway tree: a segment with radii at both ends. */
interface Branch {
  a: Vec3;
  b: Vec3;
  ra: number;
  rb: number;
}

class Scene {
  readonly tissues: Tissue[] = [{ name: "air", hu: -1000, texture: 0, gradY: 0 }];
  readonly prims: Prim[] = [];

  tissue(name: string, hu: number, texture: number, gradY = 0): number {
    if (this.tissues.length >= 255) throw new Error("too many tissues in one phantom");
    this.tissues.push({ name, hu, texture, gradY });
    return this.tissues.length - 1;
  }

  mask(labels: number[] | undefined): Uint8Array | null {
    if (!labels) return null;
    const m = new Uint8Array(256);
    for (const l of labels) m[l] = 1;
    return m;
  }

  ellipsoid(spec: EllipsoidSpec, label: number, within?: number[]): void {
    this.prims.push({
      kind: "ellipsoid",
      spec,
      label,
      within: this.mask(within),
      zmin: spec.c[2] - spec.r[2],
      zmax: spec.c[2] + spec.r[2],
    });
  }

  segment(a: Vec3, b: Vec3, ra: number, rb: number, label: number, within?: number[]): void {
    const r = Math.max(ra, rb);
    this.prims.push({
      kind: "segment",
      a,
      b,
      ra,
      rb,
      label,
      within: this.mask(within),
      zmin: Math.min(a[2], b[2]) - r,
      zmax: Math.max(a[2], b[2]) + r,
    });
  }

  tube(points: Vec3[], radius: number | number[], label: number, within?: number[]): void {
    const r = (i: number) => (typeof radius === "number" ? radius : radius[i]);
    for (let i = 0; i + 1 < points.length; i++) {
      this.segment(points[i], points[i + 1], r(i), r(i + 1), label, within);
    }
  }

  branches(list: Branch[], label: number, within?: number[], grow = 0): void {
    for (const br of list) this.segment(br.a, br.b, br.ra + grow, br.rb + grow, label, within);
  }
}

/** Grid geometry shared by the painters: voxel centres in mm. */
interface Grid {
  X: number;
  Y: number;
  dx: number;
  dy: number;
}

function paintEllipsoid(labels: Uint8Array, z: number, p: EllipsoidPrim, g: Grid): void {
  const s0 = p.spec;
  const t = (z - s0.c[2]) / s0.r[2];
  const profile = s0.profile ?? "ellipsoid";
  if (t < -1 || t > 1) return;
  let s = profile === "cylinder" || (profile === "dome" && t <= 0) ? 1 : Math.sqrt(1 - t * t);
  s *= 1 + (s0.taper ?? 0) * t;
  const inset = s0.inset ?? 0;
  const A = s0.r[0] * s - inset, B = s0.r[1] * s - inset;
  if (!(A > 0 && B > 0)) return;
  const cx = s0.c[0] + (s0.drift?.[0] ?? 0) * t + (s0.bend?.[0] ?? 0) * t * t;
  const cy = s0.c[1] + (s0.drift?.[1] ?? 0) * t + (s0.bend?.[1] ?? 0) * t * t;
  const cr = Math.cos(s0.rot ?? 0), sr = Math.sin(s0.rot ?? 0);
  // Harmonics as cos/sin coefficients per k at this z, so the per-pixel work is a complex-power recurrence.
  const hs = s0.harmonics ?? [];
  let kmax = 0, sumAmp = 0;
  for (const h of hs) {
    kmax = Math.max(kmax, h.k);
    sumAmp += Math.abs(h.amp);
  }
  const ca = new Float64Array(kmax + 1), sa = new Float64Array(kmax + 1);
  for (const h of hs) {
    const ph = h.phase + h.phaseZ * t;
    ca[h.k] += h.amp * Math.cos(ph);
    sa[h.k] += h.amp * Math.sin(ph);
  }
  const rmax = 1 + sumAmp, rmin = Math.max(0, 1 - sumAmp);
  const rmax2 = rmax * rmax, rmin2 = rmin * rmin;
  const reach = Math.max(A, B) * rmax;
  const { X, Y, dx, dy } = g;
  let i0 = Math.ceil((cx - reach) / dx + (X - 1) / 2), i1 = Math.floor((cx + reach) / dx + (X - 1) / 2);
  let j0 = Math.ceil((cy - reach) / dy + (Y - 1) / 2), j1 = Math.floor((cy + reach) / dy + (Y - 1) / 2);
  if (s0.clipY) {
    j0 = Math.max(j0, Math.ceil(s0.clipY[0] / dy + (Y - 1) / 2));
    j1 = Math.min(j1, Math.floor(s0.clipY[1] / dy + (Y - 1) / 2));
  }
  i0 = Math.max(0, i0);
  j0 = Math.max(0, j0);
  i1 = Math.min(X - 1, i1);
  j1 = Math.min(Y - 1, j1);
  const within = p.within;
  for (let j = j0; j <= j1; j++) {
    const ddy = (j - (Y - 1) / 2) * dy - cy;
    for (let i = i0; i <= i1; i++) {
      const q = j * X + i;
      if (within && !within[labels[q]]) continue;
      const ddx = (i - (X - 1) / 2) * dx - cx;
      const un = (cr * ddx + sr * ddy) / A;
      const vn = (-sr * ddx + cr * ddy) / B;
      const rho2 = un * un + vn * vn;
      if (rho2 > rmax2) continue;
      if (rho2 > rmin2) {
        const rho = Math.sqrt(rho2);
        const c1 = un / rho, s1 = vn / rho;
        let ck = 1, sk = 0, R = 1;
        for (let k = 1; k <= kmax; k++) {
          const nc = ck * c1 - sk * s1;
          sk = sk * c1 + ck * s1;
          ck = nc;
          R += ca[k] * ck - sa[k] * sk;
        }
        if (rho > R) continue;
      }
      labels[q] = p.label;
    }
  }
}

function paintSegment(labels: Uint8Array, z: number, p: SegmentPrim, g: Grid): void {
  const [ax, ay, az] = p.a;
  const ex = p.b[0] - ax, ey = p.b[1] - ay, ez = p.b[2] - az;
  const rmax = Math.max(p.ra, p.rb);
  // Only the part of the segment within rmax of this slice can reach it.
  let t0 = 0, t1 = 1;
  if (Math.abs(ez) > 1e-9) {
    const u0 = (z - rmax - az) / ez, u1 = (z + rmax - az) / ez;
    t0 = Math.max(0, Math.min(u0, u1));
    t1 = Math.min(1, Math.max(u0, u1));
    if (t0 > t1) return;
  }
  const xlo = Math.min(ax + t0 * ex, ax + t1 * ex) - rmax, xhi = Math.max(ax + t0 * ex, ax + t1 * ex) + rmax;
  const ylo = Math.min(ay + t0 * ey, ay + t1 * ey) - rmax, yhi = Math.max(ay + t0 * ey, ay + t1 * ey) + rmax;
  const { X, Y, dx, dy } = g;
  const i0 = Math.max(0, Math.ceil(xlo / dx + (X - 1) / 2)),
    i1 = Math.min(X - 1, Math.floor(xhi / dx + (X - 1) / 2));
  const j0 = Math.max(0, Math.ceil(ylo / dy + (Y - 1) / 2)),
    j1 = Math.min(Y - 1, Math.floor(yhi / dy + (Y - 1) / 2));
  const len2 = ex * ex + ey * ey + ez * ez;
  const wz = z - az;
  const within = p.within;
  for (let j = j0; j <= j1; j++) {
    const wy = (j - (Y - 1) / 2) * dy - ay;
    for (let i = i0; i <= i1; i++) {
      const q = j * X + i;
      if (within && !within[labels[q]]) continue;
      const wx = (i - (X - 1) / 2) * dx - ax;
      let t = len2 > 0 ? (wx * ex + wy * ey + wz * ez) / len2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const fx = wx - t * ex, fy = wy - t * ey, fz = wz - t * ez;
      const r = p.ra + (p.rb - p.ra) * t;
      if (fx * fx + fy * fy + fz * fz <= r * r) labels[q] = p.label;
    }
  }
}

/**
 * Smooth correlated noise with about unit standard deviation: value noise (random normals on a lattice,
 * smoothstep-interpolated) summed over three octaves, defined in millimetres so it does not depend on the
 * voxel grid.
 */
class ValueNoise {
  readonly octaves: { cell: number; weight: number; n: Vec3; origin: Vec3; lattice: Float32Array }[] = [];

  constructor(rng: Rng, extent: Vec3) {
    const spec = [{ cell: 28, weight: 0.6 }, { cell: 11, weight: 0.35 }, { cell: 4.5, weight: 0.2 }];
    // Interpolated value noise has a smaller variance than its lattice; this factor brings the sum back to
    // about one (measured on large volumes; it need not be exact).
    const norm = 1 / (Math.hypot(...spec.map((s) => s.weight)) * 0.62);
    spec.forEach(({ cell, weight }, o) => {
      const n = extent.map((e) => Math.ceil(e / cell) + 2) as Vec3;
      const origin = extent.map((e) => -e / 2 - cell / 2) as Vec3;
      const lattice = rng.fork(`octave${o}`).fillNormal(new Float32Array(n[0] * n[1] * n[2]));
      this.octaves.push({ cell, weight: weight * norm, n, origin, lattice });
    });
  }

  /** Adds amplitude-1 noise at slice height z (mm) to `out` ([Y][X]), scaled by `scale[q]`. */
  slice(z: number, g: Grid, out: Float32Array): void {
    out.fill(0);
    const { X, Y, dx, dy } = g;
    for (const oc of this.octaves) {
      const [nx, ny, nz] = oc.n;
      const fz = (z - oc.origin[2]) / oc.cell;
      const kz = Math.min(nz - 2, Math.max(0, Math.floor(fz)));
      const wz = smooth(fz - kz);
      // Collapse the lattice to a 2D plane at this z, then interpolate bilinearly.
      const plane = new Float32Array(nx * ny);
      const base0 = kz * nx * ny, base1 = (kz + 1) * nx * ny;
      for (let q = 0; q < nx * ny; q++) {
        plane[q] = oc.lattice[base0 + q] * (1 - wz) + oc.lattice[base1 + q] * wz;
      }
      const ix = new Int32Array(X), wx = new Float32Array(X);
      for (let i = 0; i < X; i++) {
        const f = ((i - (X - 1) / 2) * dx - oc.origin[0]) / oc.cell;
        ix[i] = Math.min(nx - 2, Math.max(0, Math.floor(f)));
        wx[i] = smooth(f - ix[i]);
      }
      for (let j = 0; j < Y; j++) {
        const f = ((j - (Y - 1) / 2) * dy - oc.origin[1]) / oc.cell;
        const jy = Math.min(ny - 2, Math.max(0, Math.floor(f)));
        const wy = smooth(f - jy);
        const r0 = jy * nx, r1 = (jy + 1) * nx;
        for (let i = 0; i < X; i++) {
          const a = ix[i], w = wx[i];
          const top = plane[r0 + a] * (1 - w) + plane[r0 + a + 1] * w;
          const bot = plane[r1 + a] * (1 - w) + plane[r1 + a + 1] * w;
          out[j * X + i] += oc.weight * (top * (1 - wy) + bot * wy);
        }
      }
    }
  }
}

function smooth(t: number): number {
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  return t * t * (3 - 2 * t);
}

// --- building blocks -------------------------------------------------------------------------------------

/** `v` scaled by a random factor in [1 − rel, 1 + rel]. */
function jit(rng: Rng, v: number, rel: number): number {
  return v * (1 + rel * (2 * rng.uniform() - 1));
}

function harmonics(rng: Rng, ks: number[], amp: number, twist = 1): Harmonic[] {
  return ks.map((k) => ({
    k,
    amp: amp * (0.5 + 0.5 * rng.uniform()),
    phase: 2 * Math.PI * rng.uniform(),
    phaseZ: twist * (2 * rng.uniform() - 1),
  }));
}

function unit(v: Vec3): Vec3 {
  const n = Math.hypot(...v) || 1;
  return [v[0] / n, v[1] / n, v[2] / n];
}

/** A random branching tree of tubes from `root` along `dir`, like lung vessels or hepatic veins. */
function tree(
  rng: Rng,
  root: Vec3,
  dir: Vec3,
  options: { length: number; radius: number; depth: number; spread?: number },
): Branch[] {
  const out: Branch[] = [];
  const spread = options.spread ?? 0.7;
  const grow = (a: Vec3, d: Vec3, len: number, r: number, depth: number) => {
    const l = jit(rng, len, 0.25);
    const b: Vec3 = [a[0] + d[0] * l, a[1] + d[1] * l, a[2] + d[2] * l];
    const rEnd = r * 0.85;
    out.push({ a, b, ra: r, rb: rEnd });
    if (depth <= 1) return;
    for (let c = 0; c < 2; c++) {
      const nd = unit([
        d[0] + spread * (2 * rng.uniform() - 1),
        d[1] + spread * (2 * rng.uniform() - 1),
        d[2] + spread * (2 * rng.uniform() - 1),
      ]);
      grow(b, nd, len * 0.78, rEnd * 0.78, depth - 1);
    }
  };
  grow(root, unit(dir), options.length, options.radius, options.depth);
  return out;
}

/** Bone labels with per-bone HU: cortical 700–1500, cancellous 200–400. */
function boneTissues(scene: Scene, rng: Rng, name: string): { cortical: number; cancellous: number } {
  return {
    cortical: scene.tissue(`${name} cortical`, rng.between(850, 1400), 60),
    cancellous: scene.tissue(`${name} cancellous`, rng.between(200, 400), 50),
  };
}

interface SpineOptions {
  /** y of the vertebral bodies' centre (mm). */
  y: number;
  z: [number, number];
  /** Height of one vertebra including its disc (mm). */
  level: number;
  /** Vertebral body semi-axes (x, y) in mm. */
  body: [number, number];
}

/** Vertebral bodies with discs, posterior arches, spinous and transverse processes, and the spinal canal. */
function spine(scene: Scene, rng: Rng, o: SpineOptions): void {
  const bone = boneTissues(scene, rng, "vertebra");
  const disc = scene.tissue("intervertebral disc", 85, 6);
  const cord = scene.tissue("spinal cord", 30, 3);
  const [bx, by] = o.body;
  const lean = rng.between(-6, 6);
  const xAt = (z: number) => lean * Math.sin(z / 90);
  const canalY = o.y + by + 10;
  for (let zc = o.z[0] - o.level; zc <= o.z[1] + o.level; zc += o.level) {
    const h = o.level / 2;
    const x = xAt(zc);
    const body: EllipsoidSpec = { c: [x, o.y, zc], r: [jit(rng, bx, 0.05), by, h], profile: "cylinder" };
    scene.ellipsoid({ ...body }, disc);
    scene.ellipsoid({ ...body, r: [body.r[0], by, h - 3.5] }, bone.cortical);
    scene.ellipsoid({ ...body, r: [body.r[0], by, h - 3.5], inset: 2.5 }, bone.cancellous);
    const arch: EllipsoidSpec = { c: [x, canalY, zc - 2], r: [16, 13, h * 0.75], profile: "cylinder" };
    scene.ellipsoid(arch, bone.cortical);
    scene.segment([x, canalY + 8, zc], [x, canalY + 38, zc - 14], 5, 3.5, bone.cortical);
    scene.segment([x, canalY + 8, zc], [x, canalY + 38, zc - 14], 3, 2, bone.cancellous);
    for (const side of [-1, 1]) {
      scene.segment([x + side * 8, canalY - 2, zc], [x + side * 32, canalY + 4, zc + 2], 5, 4, bone.cortical);
      scene.segment(
        [x + side * 8, canalY - 2, zc],
        [x + side * 32, canalY + 4, zc + 2],
        3,
        2.5,
        bone.cancellous,
      );
    }
  }
  // The canal runs through every level, so it is painted last as one continuous tube.
  const pts: Vec3[] = [];
  for (let z = o.z[0] - o.level; z <= o.z[1] + o.level; z += o.level / 2) pts.push([xAt(z), canalY, z]);
  scene.tube(pts, 8, cord);
}

interface RibOptions {
  /** Body centre y and the ellipse the ribs follow (mm). */
  cy: number;
  a: number;
  b: number;
  /** z where each rib pair leaves the spine. */
  starts: number[];
  /** How far a rib descends from spine to front (mm). */
  drop: number;
  /** Angles (degrees, 90 = posterior midline, 270 = anterior midline) where bone ends and cartilage ends. */
  boneEnd: number;
  cartilageEnd: number;
}

/** Curved rib tubes (cortex around marrow) following the body wall, ending in costal cartilage. */
function ribs(scene: Scene, rng: Rng, o: RibOptions): void {
  const cartilage = scene.tissue("costal cartilage", 120, 15);
  o.starts.forEach((z0, n) => {
    for (const side of [-1, 1]) {
      const r = rng.fork(`rib${n}${side}`);
      const bone = boneTissues(scene, r, `rib ${n + 1}${side < 0 ? "R" : "L"}`);
      const drop = jit(r, o.drop, 0.15);
      const rad = jit(r, 5, 0.15);
      const pts: Vec3[] = [], cpts: Vec3[] = [];
      const a0 = 100, steps = 16;
      const total = o.cartilageEnd - a0;
      for (let s = 0; s <= steps; s++) {
        const ang = a0 + (total * s) / steps;
        const f = (ang - a0) / total;
        const th = (ang * Math.PI) / 180;
        // a·cos θ is negative for θ in (90°, 270°): the patient's right (image left); mirror for the left.
        const p: Vec3 = [-side * o.a * Math.cos(th), o.cy + o.b * Math.sin(th), z0 - drop * f];
        if (ang <= o.boneEnd) pts.push(p);
        if (ang >= o.boneEnd - total / steps) cpts.push(p);
      }
      scene.tube(pts, rad, bone.cortical);
      scene.tube(pts, rad * 0.6, bone.cancellous);
      if (cpts.length > 1) scene.tube(cpts, rad * 0.9, cartilage);
    }
  });
}

// --- the three anatomies ---------------------------------------------------------------------------------

interface Tissues {
  fat: number;
  muscle: number;
  blood: number;
  soft: number;
}

function commonTissues(scene: Scene): Tissues {
  return {
    fat: scene.tissue("fat", -100, 10),
    muscle: scene.tissue("muscle", 50, 7),
    blood: scene.tissue("blood", 40, 4),
    soft: scene.tissue("soft tissue", 35, 6),
  };
}

function buildChest(scene: Scene, rng: Rng): void {
  const t = commonTissues(scene);
  const r = (l: string) => rng.fork(l);
  const cavityFat = scene.tissue("mediastinal fat", -90, 10);
  const lungR = scene.tissue("lung right", -800, 30, 0.5);
  const lungL = scene.tissue("lung left", -800, 30, 0.5);
  const vessel = scene.tissue("lung vessel", 40, 5);
  const airway = scene.tissue("airway", -1000, 0);
  const wall = scene.tissue("airway wall", 30, 5);
  const myocardium = scene.tissue("myocardium", 45, 5);
  const liver = scene.tissue("liver", 60, 6);
  const spleen = scene.tissue("spleen", 45, 6);

  // Body: subcutaneous fat, muscle wall, then the thoracic cavity.
  const rb = r("body");
  const cy = 10;
  const a = jit(rb, 160, 0.08), b = jit(rb, 112, 0.08);
  const body: EllipsoidSpec = {
    c: [0, cy, 0],
    r: [a, b, 150],
    profile: "cylinder",
    taper: -0.04,
    bend: [0, rb.between(-6, 6)],
    harmonics: harmonics(rb, [2, 3, 4, 5], 0.03, 2),
  };
  scene.ellipsoid(body, t.fat);
  scene.ellipsoid({ ...body, inset: jit(rb, 12, 0.3) }, t.muscle);
  scene.ellipsoid({ ...body, inset: 26 }, cavityFat);
  const inside = [cavityFat];

  // Lungs: domes cut below by the diaphragm, with posterior-dependent density.
  for (const [side, label] of [[-1, lungR], [1, lungL]] as const) {
    const rl = r(`lung${side}`);
    scene.ellipsoid(
      {
        c: [side * jit(rl, 80, 0.05), jit(rl, 5, 1), -40],
        r: [jit(rl, 66, 0.06), jit(rl, 96, 0.05), jit(rl, 172, 0.05)],
        profile: "dome",
        rot: side * rl.between(0, 0.15),
        drift: [side * rl.between(-8, 0), rl.between(0, 8)],
        harmonics: harmonics(rl, [2, 3, 4], 0.05, 1.5),
      },
      label,
      inside,
    );
  }
  // Diaphragm domes: liver on the right, spleen and stomach region on the left.
  const rd = r("diaphragm");
  scene.ellipsoid({ c: [-50, 15, jit(rd, -175, 0.05)], r: [140, 105, 115] }, liver, [
    lungR,
    lungL,
    cavityFat,
  ]);
  scene.ellipsoid({ c: [60, 20, jit(rd, -200, 0.05)], r: [115, 100, 115] }, spleen, [
    lungR,
    lungL,
    cavityFat,
  ]);

  // Heart in its fat, over the left lung's medial part.
  const rh = r("heart");
  const heart: EllipsoidSpec = {
    c: [jit(rh, 22, 0.3), jit(rh, -22, 0.2), jit(rh, -45, 0.15)],
    r: [jit(rh, 62, 0.08), jit(rh, 54, 0.08), jit(rh, 62, 0.08)],
    rot: rh.between(0.4, 0.8),
    harmonics: harmonics(rh, [2, 3], 0.04),
  };
  scene.ellipsoid({ ...heart, inset: -7 }, cavityFat, [lungR, lungL, cavityFat]);
  scene.ellipsoid(heart, myocardium);
  scene.ellipsoid({ ...heart, inset: 9 }, t.blood);

  // Great vessels: aorta (ascending, arch, descending), pulmonary trunk, superior vena cava.
  const ra = r("aorta");
  const ax = ra.between(15, 28);
  scene.tube(
    [[10, -20, -40], [6, -26, 40], [8, -18, 85], [ax, 20, 95], [ax + 4, 45, 70], [ax + 2, 48, -40], [
      ax,
      46,
      -160,
    ]],
    [14, 14, 13, 12, 12, 11, 11],
    t.blood,
  );
  scene.tube([[30, -38, -35], [26, -20, 10], [-40, 2, 0]], [12, 11, 8], t.blood);
  scene.segment([26, -20, 10], [45, 5, 5], 9, 8, t.blood);
  scene.tube([[-32, -12, -30], [-30, -8, 60], [-22, -12, 160]], 9, t.blood);
  // Esophagus with a thread of air.
  scene.tube([[6, 34, 160], [10, 36, 0], [14, 30, -160]], 7, t.soft);
  scene.tube([[6, 34, 160], [10, 36, 0], [14, 30, -160]], 1.6, airway);

  // Airways: trachea to the carina, main bronchi, then small trees inside each lung.
  const rw = r("airways");
  const carina: Vec3 = [0, 2, jit(rw, 30, 0.3)];
  scene.tube([[0, -20, 160], [0, -10, 80], carina], 11, wall);
  scene.tube([[0, -20, 160], [0, -10, 80], carina], 8.5, airway);
  const vesselTrees: Branch[] = [], airwayTrees: Branch[] = [];
  for (const side of [-1, 1]) {
    const hilum: Vec3 = [side * 42, 8, carina[2] - 20];
    scene.segment(carina, hilum, 8, 6.5, wall);
    scene.segment(carina, hilum, 6, 4.5, airway);
    const rv = r(`vessels${side}`);
    // One tree per lobe-ish direction: up, lateral, anterior, posterior, down.
    const dirs: Vec3[] = [[side * 0.5, -0.2, 1], [side, -0.6, 0.1], [side, 0.1, -0.2], [
      side * 0.5,
      0.8,
      -0.3,
    ], [
      side * 0.6,
      0.2,
      -1,
    ], [side * 0.3, -0.8, -0.6]];
    for (const dir of dirs) {
      for (let n = 0; n < 2; n++) {
        vesselTrees.push(...tree(rv, hilum, dir, { length: 30, radius: 4.5, depth: 6, spread: 0.9 }));
      }
      airwayTrees.push(...tree(rv, hilum, dir, { length: 26, radius: 2.8, depth: 2, spread: 0.5 }));
    }
  }
  scene.branches(vesselTrees, vessel, [lungR, lungL]);
  scene.branches(airwayTrees, wall, [lungR, lungL, vessel], 1);
  scene.branches(airwayTrees, airway, [wall]);

  // Skeleton: thoracic spine, ribs, sternum, scapulae.
  spine(scene, r("spine"), { y: 56, z: [-150, 150], level: 27, body: [19, 14] });
  ribs(scene, r("ribs"), {
    cy,
    a: a - 18,
    b: b - 16,
    starts: Array.from({ length: 12 }, (_, n) => 170 - 24 * n),
    drop: 55,
    boneEnd: 235,
    cartilageEnd: 262,
  });
  const rs = r("sternum");
  const sternum = boneTissues(scene, rs, "sternum");
  const sy = cy - b + 24;
  scene.ellipsoid({ c: [0, sy, 20], r: [17, 7, 110], profile: "cylinder", drift: [0, -6] }, sternum.cortical);
  scene.ellipsoid(
    { c: [0, sy, 20], r: [17, 7, 110], profile: "cylinder", drift: [0, -6], inset: 2 },
    sternum.cancellous,
  );
  for (const side of [-1, 1]) {
    const rsc = r(`scapula${side}`);
    const scap = boneTissues(scene, rsc, "scapula");
    const spec: EllipsoidSpec = {
      c: [side * jit(rsc, 92, 0.05), cy + b - 38, 60],
      r: [48, 6, 75],
      rot: side * rsc.between(0.35, 0.6),
    };
    scene.ellipsoid({ ...spec, inset: -2 }, t.muscle, [t.muscle, t.fat]);
    scene.ellipsoid(spec, scap.cortical, [t.muscle, t.fat]);
    scene.ellipsoid({ ...spec, inset: 2.5 }, scap.cancellous, [scap.cortical]);
  }
}

function buildAbdomen(scene: Scene, rng: Rng): void {
  const t = commonTissues(scene);
  const r = (l: string) => rng.fork(l);
  const visceralFat = scene.tissue("visceral fat", -100, 12);
  const liver = scene.tissue("liver", 60, 6);
  const hepaticVessel = scene.tissue("hepatic vessel", 38, 4);
  const spleen = scene.tissue("spleen", 45, 6);
  const kidney = scene.tissue("kidney", 30, 5);
  const sinusFat = scene.tissue("renal sinus fat", -80, 8);
  const pancreas = scene.tissue("pancreas", 40, 8);
  const fluid = scene.tissue("fluid", 10, 3);
  const bowelWall = scene.tissue("bowel wall", 40, 6);
  const gas = scene.tissue("bowel gas", -1000, 0);
  const lung = scene.tissue("lung base", -820, 30, 0.4);

  const rb = r("body");
  const cy = 5;
  const a = jit(rb, 155, 0.1), b = jit(rb, 120, 0.08);
  const body: EllipsoidSpec = {
    c: [0, cy, 0],
    r: [a, b, 130],
    profile: "cylinder",
    taper: 0.03,
    harmonics: harmonics(rb, [2, 3, 4, 6], 0.03, 2),
  };
  const subcut = jit(rb, 20, 0.4);
  scene.ellipsoid(body, t.fat);
  scene.ellipsoid({ ...body, inset: subcut }, t.muscle);
  scene.ellipsoid({ ...body, inset: subcut + 11 }, visceralFat);
  const cavity = [visceralFat];

  // Lung bases behind the liver at the top.
  for (const side of [-1, 1]) {
    scene.ellipsoid({ c: [side * 72, 55, 215], r: [55, 50, 95] }, lung, [visceralFat, t.muscle]);
  }

  // Solid organs.
  const rl = r("liver");
  const liverSpec: EllipsoidSpec = {
    c: [jit(rl, -55, 0.1), jit(rl, -5, 1), jit(rl, 55, 0.15)],
    r: [jit(rl, 92, 0.08), jit(rl, 88, 0.08), jit(rl, 105, 0.1)],
    rot: rl.between(-0.2, 0.2),
    drift: [rl.between(0, 15), 0],
    harmonics: harmonics(rl, [2, 3, 4], 0.07, 1.5),
  };
  scene.ellipsoid(liverSpec, liver, cavity);
  scene.branches(
    [
      ...tree(rl, [-25, 25, 10], [-1, -0.3, 0.6], { length: 30, radius: 6, depth: 5 }),
      ...tree(rl, [-20, 30, 60], [-1, -0.5, 0.2], { length: 30, radius: 5, depth: 5 }),
    ],
    hepaticVessel,
    [liver],
  );
  scene.ellipsoid({ c: [-50, -50, jit(rl, 5, 3)], r: [16, 20, 32], rot: 0.4 }, fluid, [liver, visceralFat]);
  const rsp = r("spleen");
  scene.ellipsoid(
    {
      c: [jit(rsp, 85, 0.08), jit(rsp, 48, 0.1), jit(rsp, 55, 0.2)],
      r: [jit(rsp, 32, 0.15), jit(rsp, 52, 0.1), jit(rsp, 58, 0.1)],
      rot: -0.5,
      harmonics: harmonics(rsp, [2, 3], 0.06),
    },
    spleen,
    cavity,
  );
  // Stomach with an air-fluid level (air rises anteriorly in a supine patient).
  const rst = r("stomach");
  const stomach: EllipsoidSpec = {
    c: [jit(rst, 40, 0.2), -35, jit(rst, 75, 0.1)],
    r: [jit(rst, 52, 0.1), 40, jit(rst, 50, 0.1)],
    rot: 0.3,
    harmonics: harmonics(rst, [2, 3], 0.06),
  };
  scene.ellipsoid(stomach, bowelWall, cavity);
  scene.ellipsoid({ ...stomach, inset: 5 }, fluid, [bowelWall]);
  scene.ellipsoid({ ...stomach, inset: 5, clipY: [-1000, rst.between(-55, -35)] }, gas, [fluid]);
  // Kidneys with sinus fat facing the spine.
  for (const side of [-1, 1]) {
    const rk = r(`kidney${side}`);
    const kc: Vec3 = [side * jit(rk, 72, 0.06), jit(rk, 58, 0.06), jit(rk, -15, 0.5) + (side < 0 ? -12 : 0)];
    scene.ellipsoid(
      { c: kc, r: [26, 34, 55], rot: side * -0.45, harmonics: harmonics(rk, [2], 0.04) },
      kidney,
    );
    scene.ellipsoid(
      { c: [kc[0] - side * 10, kc[1] - 4, kc[2]], r: [9, 13, 30], rot: side * -0.45 },
      sinusFat,
      [
        kidney,
      ],
    );
  }
  const rp = r("pancreas");
  scene.ellipsoid(
    { c: [rp.between(-5, 15), 12, rp.between(0, 25)], r: [70, 12, 16], rot: -0.25 },
    pancreas,
    cavity,
  );

  // Vessels and psoas muscles along the spine.
  scene.tube([[12, 24, 140], [10, 26, 0], [14, 24, -140]], 11, t.blood);
  scene.tube([[-24, 26, 140], [-22, 28, 0], [-20, 26, -140]], 12, t.blood);
  for (const side of [-1, 1]) scene.segment([10, 26, -10], [side * 62, 52, -10], 4, 3.5, t.blood, cavity);
  for (const side of [-1, 1]) {
    scene.ellipsoid(
      { c: [side * 38, 48, -130], r: [14, 14, 140], profile: "cylinder", taper: -0.5 },
      t.muscle,
    );
    scene.ellipsoid({ c: [side * 38, 100, 0], r: [28, 22, 140], profile: "cylinder" }, t.muscle);
  }

  // Bowel: random loops of tubes, gas- or fluid-filled, in the remaining fat.
  const rbw = r("bowel");
  for (let n = 0; n < 16; n++) {
    const pts: Vec3[] = [];
    let p: Vec3 = [rbw.between(-100, 100), rbw.between(-85, 10), rbw.between(-125, 40)];
    let d = unit([rbw.normal(), rbw.normal(), rbw.normal()]);
    for (let s = 0; s < 9; s++) {
      pts.push(p);
      d = unit([d[0] + 0.8 * rbw.normal(), d[1] + 0.8 * rbw.normal(), d[2] + 0.8 * rbw.normal()]);
      p = [
        Math.max(-115, Math.min(115, p[0] + 18 * d[0])),
        Math.max(-95, Math.min(30, p[1] + 18 * d[1])),
        Math.max(-140, Math.min(60, p[2] + 18 * d[2])),
      ];
    }
    const radius = rbw.between(8, 14);
    scene.tube(pts, radius, bowelWall, [visceralFat]);
    scene.tube(pts, radius - 2.5, rbw.uniform() < 0.4 ? gas : fluid, [bowelWall]);
  }
  // Colon: ascending and descending, gas-filled.
  for (const [x, y] of [[-95, 0], [98, 15]]) {
    const pts: Vec3[] = [[x, y, -140], [x + 4, y - 5, -40], [x, y, 40]];
    scene.tube(pts, 19, bowelWall, [visceralFat, bowelWall, fluid, gas]);
    scene.tube(pts, 16, gas, [bowelWall]);
  }

  spine(scene, r("spine"), { y: 45, z: [-130, 130], level: 34, body: [24, 18] });
  ribs(scene, r("ribs"), {
    cy,
    a: a - 20,
    b: b - 18,
    starts: [190, 165, 140, 115],
    drop: 50,
    boneEnd: 200,
    cartilageEnd: 215,
  });
}

function buildHead(scene: Scene, rng: Rng): void {
  const t = commonTissues(scene);
  const r = (l: string) => rng.fork(l);
  const scalp = scene.tissue("scalp", 30, 6);
  const skull = boneTissues(scene, r("skull"), "skull");
  const csf = scene.tissue("CSF", 10, 3);
  const grey = scene.tissue("grey matter", 40, 3);
  const white = scene.tissue("white matter", 25, 3);
  const deepGrey = scene.tissue("deep grey matter", 38, 3);
  const vitreous = scene.tissue("vitreous", 8, 2);
  const sinusAir = scene.tissue("sinus air", -1000, 0);

  const rh = r("head");
  const head: EllipsoidSpec = {
    c: [0, 5, -25],
    r: [jit(rh, 72, 0.06), jit(rh, 92, 0.05), 125],
    profile: "dome",
    harmonics: harmonics(rh, [2, 3, 4], 0.025, 1),
  };
  const brainH = [...head.harmonics!, ...harmonics(rh, [9, 12, 15, 18], 0.02, 8)];
  // Nose first, so the scalp and skull are painted around it.
  scene.ellipsoid({ c: [0, -98, -85], r: [12, 16, 26] }, scalp);
  scene.ellipsoid(head, scalp);
  scene.ellipsoid({ ...head, inset: 5 }, skull.cortical);
  scene.ellipsoid({ ...head, inset: 7 }, skull.cancellous);
  scene.ellipsoid({ ...head, inset: 10 }, skull.cortical);
  scene.ellipsoid({ ...head, inset: 12 }, csf);
  scene.ellipsoid({ ...head, harmonics: brainH, inset: 14 }, grey, [csf]);
  scene.ellipsoid({ ...head, harmonics: [...brainH, ...harmonics(rh, [7, 11], 0.03, 6)], inset: 21 }, white, [
    grey,
  ]);
  // Interhemispheric fissure.
  scene.ellipsoid({ c: [0, 0, 40], r: [1.5, 88, 110], profile: "dome" }, csf, [grey, white]);

  // Deep structures.
  const rv = r("ventricles");
  const vs = jit(rv, 1, 0.25);
  for (const side of [-1, 1]) {
    scene.ellipsoid({ c: [side * 20, -2, 0], r: [8, 16, 12] }, deepGrey, [white]);
    scene.ellipsoid({ c: [side * 10, 16, -6], r: [9, 12, 10] }, deepGrey, [white]);
    scene.ellipsoid(
      { c: [side * 12, -8, 18], r: [6 * vs, 32, 16], rot: side * 0.12, bend: [side * 4, 6] },
      csf,
      [
        white,
        deepGrey,
      ],
    );
    scene.ellipsoid({ c: [side * 18, 38, 8], r: [6 * vs, 18, 11], rot: side * -0.3 }, csf, [white, deepGrey]);
  }
  scene.ellipsoid({ c: [0, 8, -8], r: [2.5 * vs, 14, 9] }, csf, [white, deepGrey]);

  // Posterior fossa: cerebellum and brainstem.
  const rc = r("cerebellum");
  scene.ellipsoid(
    {
      c: [0, 52, -78],
      r: [jit(rc, 50, 0.05), 30, 24],
      harmonics: harmonics(rc, [10, 14, 20], 0.03, 4),
    },
    grey,
    [grey, white, csf],
  );
  scene.tube([[0, 18, -20], [0, 24, -60], [0, 28, -110]], 12, white, [grey, white, csf, deepGrey]);

  // Skull base: a bony floor, orbits with globes, ethmoid air, petrous bones, frontal sinus.
  const base = boneTissues(scene, r("skull base"), "skull base");
  scene.ellipsoid({ c: [0, 0, -112], r: [62, 82, 14] }, base.cortical, [grey, white, csf, deepGrey]);
  scene.ellipsoid({ c: [0, 0, -112], r: [62, 82, 14], inset: 3 }, base.cancellous, [base.cortical]);
  for (const side of [-1, 1]) {
    scene.ellipsoid({ c: [side * 32, -56, -72], r: [20, 26, 18] }, t.fat);
    scene.ellipsoid({ c: [side * 32, -64, -72], r: [12, 12, 12] }, vitreous);
    const pet = boneTissues(scene, r(`petrous${side}`), "petrous");
    scene.ellipsoid({ c: [side * 45, 15, -92], r: [28, 11, 11], rot: side * 0.7 }, pet.cortical);
  }
  scene.ellipsoid({ c: [0, -72, -92], r: [9, 16, 14] }, sinusAir);
  scene.ellipsoid({ c: [0, -84, -35], r: [15, 5, 11] }, sinusAir, [skull.cortical, skull.cancellous]);

  // Vessels: carotids, basilar artery, and a few random cortical vessels.
  for (const side of [-1, 1]) {
    scene.tube([[side * 20, -5, -110], [side * 18, -8, -70], [side * 22, -15, -40]], 3, t.blood);
  }
  scene.tube([[0, 8, -110], [0, 6, -50]], 2, t.blood);
  const rvs = r("vessels");
  for (let n = 0; n < 12; n++) {
    const pts: Vec3[] = [];
    let p: Vec3 = [rvs.between(-55, 55), rvs.between(-70, 70), rvs.between(-40, 70)];
    let d = unit([rvs.normal(), rvs.normal(), rvs.normal()]);
    for (let s = 0; s < 7; s++) {
      pts.push(p);
      d = unit([d[0] + 0.7 * rvs.normal(), d[1] + 0.7 * rvs.normal(), d[2] + 0.7 * rvs.normal()]);
      p = [p[0] + 10 * d[0], p[1] + 10 * d[1], p[2] + 10 * d[2]];
    }
    scene.tube(pts, rvs.between(1, 2), t.blood, [grey, white, csf]);
  }
}

/** Which body region {@linkcode anatomicalPhantom} builds. */
export type Anatomy = "head" | "chest" | "abdomen";

const ANATOMY = {
  head: { build: buildHead, fov: 240, zExtent: 200 },
  chest: { build: buildChest, fov: 360, zExtent: 300 },
  abdomen: { build: buildAbdomen, fov: 360, zExtent: 260 },
} as const;

/** Options for {@linkcode anatomicalPhantom}. */
export interface AnatomicalPhantomOptions {
  /** Seed of every random choice (shape jitter, vessel trees, bowel loops, texture). Default 0. */
  seed?: number | string;
  /** Body region. Default `"chest"`. */
  anatomy?: Anatomy;
  /** In-plane field of view in mm, setting dx = fov/X, dy = fov/Y. Default 240 (head) or 360 (chest, abdomen). */
  fovMm?: number;
  /** Length covered along z in mm, setting dz = extent/Z. Default 200 (head), 300 (chest), 260 (abdomen). */
  zExtentMm?: number;
  /** Multiplier on the correlated texture amplitude; 0 gives piecewise-constant tissues. Default 1. */
  texture?: number;
}

/** What {@linkcode anatomicalPhantomLabels} returns: the HU volume and the tissue label of every voxel. */
export interface LabelledPhantom {
  volume: Volume;
  /** Tissue index per voxel, same layout as `volume.data`. */
  labels: Uint8Array;
  /** Tissue names and base HU, indexed by label (0 is air). */
  tissues: { name: string; hu: number }[];
}

/**
 * A seeded anatomical CT phantom in Hounsfield units (see {@linkcode anatomicalPhantom}), with the tissue
 * label of each voxel, for tests and segmentation-aware metrics.
 *
 * @example
 * ```ts
 * import { anatomicalPhantomLabels } from "./phantom.ts";
 * const { labels, tissues } = anatomicalPhantomLabels([8, 32, 32], { anatomy: "chest", seed: 1 });
 * const names = new Set(Array.from(labels, (l) => tissues[l].name));
 * console.log(names.has("air"), names.has("lung right")); // true true
 * ```
 */
export function anatomicalPhantomLabels(
  shape: [number, number, number],
  options: AnatomicalPhantomOptions = {},
): LabelledPhantom {
  checkShape(shape);
  const anatomy = options.anatomy ?? "chest";
  const spec = ANATOMY[anatomy];
  if (!spec) throw new RangeError(`unknown anatomy ${anatomy}; use head, chest or abdomen`);
  const [Z, Y, X] = shape;
  const fov = options.fovMm ?? spec.fov;
  const zExtent = options.zExtentMm ?? spec.zExtent;
  const spacing: Vec3 = [zExtent / Z, fov / Y, fov / X];
  const rng = new Rng(options.seed ?? 0).fork(`anatomical/${anatomy}`);
  const scene = new Scene();
  spec.build(scene, rng.fork("scene"));
  const noise = new ValueNoise(rng.fork("texture"), [fov, fov, zExtent]);
  const textureScale = options.texture ?? 1;

  const g: Grid = { X, Y, dx: spacing[2], dy: spacing[1] };
  const labels = new Uint8Array(Z * Y * X);
  const data = new Float32Array(Z * Y * X);
  const hu = Float64Array.from(scene.tissues, (t) => t.hu);
  const tex = Float64Array.from(scene.tissues, (t) => t.texture * textureScale);
  const grad = Float64Array.from(scene.tissues, (t) => t.gradY);
  const tn = new Float32Array(Y * X);
  for (let k = 0; k < Z; k++) {
    const z = (k - (Z - 1) / 2) * spacing[0];
    const sl = labels.subarray(k * Y * X, (k + 1) * Y * X);
    for (const p of scene.prims) {
      if (z < p.zmin || z > p.zmax) continue;
      if (p.kind === "ellipsoid") paintEllipsoid(sl, z, p, g);
      else paintSegment(sl, z, p, g);
    }
    if (textureScale !== 0) noise.slice(z, g, tn);
    const out = data.subarray(k * Y * X, (k + 1) * Y * X);
    for (let j = 0; j < Y; j++) {
      const y = (j - (Y - 1) / 2) * spacing[1];
      for (let i = 0; i < X; i++) {
        const q = j * X + i;
        const l = sl[q];
        out[q] = hu[l] + grad[l] * y + tex[l] * tn[q];
      }
    }
  }
  const volume = makeVolume(data, [Z, Y, X], { spacing, unit: "HU" });
  return { volume, labels, tissues: scene.tissues.map(({ name, hu }) => ({ name, hu })) };
}

/**
 * A seeded anatomical CT phantom of a head, chest or abdomen, in Hounsfield units, as a {@linkcode Volume}
 * whose spacing follows `fovMm` and `zExtentMm`.
 *
 * Built from labelled primitives painted in anatomical order: a body outline that changes with z, organs as
 * smoothly deformed ellipsoids (low-order radial harmonics that twist along z), ribs, spine, sternum,
 * scapulae or skull, vessel and airway trees as random branching tubes, bowel loops as random walks. Tissue
 * values: air −1000, lung −850…−700 (denser posteriorly, with vessels), fat −100, soft tissue 20–60, blood
 * 40, liver 60, kidney 30, cortical bone 850–1400 and cancellous 200–400 (drawn per bone), grey/white
 * matter 40/25, CSF 10. On top, a smooth correlated texture (three octaves of value noise) of a few HU in
 * soft tissue and tens of HU in lung and bone. Air is noise-free.
 *
 * The same seed and options give the same bytes; the anatomy is defined in mm, so changing the shape
 * resamples the same patient.
 *
 * @example
 * ```ts
 * import { anatomicalPhantom } from "./phantom.ts";
 * import { toU } from "../units.ts";
 * const ct = anatomicalPhantom([8, 48, 48], { anatomy: "head", seed: 3 });
 * const [lo, hi] = ct.data.reduce(([a, b], v) => [Math.min(a, v), Math.max(b, v)], [Infinity, -Infinity]);
 * console.log(ct.unit, lo, hi > 700); // HU -1000 true
 * const u = toU(ct.data, { unit: "HU", muWater: 0.0193 }); // air 0, water 1
 * ```
 */
export function anatomicalPhantom(
  shape: [number, number, number],
  options: AnatomicalPhantomOptions = {},
): Volume {
  return anatomicalPhantomLabels(shape, options).volume;
}
