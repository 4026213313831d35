/**
 * The anatomical phantoms' scene: tissues, ellipsoid and tube primitives painted into a label volume, and
 * the correlated value noise that textures them. Private to `lib/ct/anatomy/`.
 * @module
 */
import { Rng } from "../../random.ts";

// ---------------------------------------------------------------------------------------------------------
// Anatomical phantoms: a scene of labelled primitives painted slice by slice
// ---------------------------------------------------------------------------------------------------------

export type Vec3 = [number, number, number];

/** A smooth radial deformation: radius × (1 + Σ amp·cos(kθ + phase + phaseZ·t)). */
export interface Harmonic {
  k: number;
  amp: number;
  phase: number;
  /** Phase change from the ellipsoid's centre to its top (t = 1), so the outline twists along z. */
  phaseZ: number;
}

export interface EllipsoidSpec {
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

export interface EllipsoidPrim {
  kind: "ellipsoid";
  spec: EllipsoidSpec;
  label: number;
  within: Uint8Array | null;
  zmin: number;
  zmax: number;
}

export interface SegmentPrim {
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

export type Prim = EllipsoidPrim | SegmentPrim;

export interface Tissue {
  name: string;
  hu: number;
  /** Amplitude (HU) of the correlated texture. */
  texture: number;
  /** HU per mm along y (posterior): gravity-dependent lung density. */
  gradY: number;
}

/** One tube of a vessel or airway tree: a segment with radii at both ends. */
export interface Branch {
  a: Vec3;
  b: Vec3;
  ra: number;
  rb: number;
}

export class Scene {
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
export interface Grid {
  X: number;
  Y: number;
  dx: number;
  dy: number;
}

export function paintEllipsoid(labels: Uint8Array, z: number, p: EllipsoidPrim, g: Grid): void {
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

export function paintSegment(labels: Uint8Array, z: number, p: SegmentPrim, g: Grid): void {
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
export class ValueNoise {
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

export function smooth(t: number): number {
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  return t * t * (3 - 2 * t);
}
