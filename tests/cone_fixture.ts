/**
 * Analytic cone-beam data for the tests, independent of blendct's projector: line integrals of ellipsoids
 * as chord lengths along ASTRA's rays (source to detector pixel centre `d + (c − U/2 + ½)u + (r − V/2 + ½)v`,
 * `[rows][views][cols]`), and the same ellipsoids sampled on ASTRA's voxel grid (rows along +y).
 */

/** An ellipsoid: centre and semi-axes in mm (`[x, y, z]`), rotation about z in radians, density. */
export interface Ellipsoid {
  c: [number, number, number];
  r: [number, number, number];
  phi: number;
  rho: number;
}

/** An asymmetric head-like phantom in a box of half-width `s` mm (nothing mirrors onto itself). */
export function phantom(s: number, h: number): Ellipsoid[] {
  return [
    { c: [0, 0, 0], r: [0.8 * s, 0.65 * s, 0.8 * h], phi: 0, rho: 1 },
    { c: [0.3 * s, 0.2 * s, 0.1 * h], r: [0.2 * s, 0.12 * s, 0.3 * h], phi: 0.5, rho: 0.5 },
    { c: [-0.35 * s, -0.1 * s, -0.3 * h], r: [0.15 * s, 0.25 * s, 0.25 * h], phi: -0.3, rho: -0.4 },
    { c: [0.05 * s, -0.4 * s, 0.4 * h], r: [0.1 * s, 0.08 * s, 0.2 * h], phi: 0, rho: 0.8 },
  ];
}

function chord(e: Ellipsoid, o: number[], d: number[]): number {
  const cs = Math.cos(e.phi), sn = Math.sin(e.phi);
  // into the ellipsoid's frame: translate, rotate by −phi about z, scale to the unit sphere
  const loc = (v: number[], t: boolean) => {
    const x = v[0] - (t ? e.c[0] : 0), y = v[1] - (t ? e.c[1] : 0), z = v[2] - (t ? e.c[2] : 0);
    return [(cs * x + sn * y) / e.r[0], (-sn * x + cs * y) / e.r[1], z / e.r[2]];
  };
  const p = loc(o, true), q = loc(d, false);
  const a = q[0] ** 2 + q[1] ** 2 + q[2] ** 2, b = 2 * (p[0] * q[0] + p[1] * q[1] + p[2] * q[2]);
  const c = p[0] ** 2 + p[1] ** 2 + p[2] ** 2 - 1;
  const disc = b * b - 4 * a * c;
  if (disc <= 0) return 0;
  // the parameter interval times the direction's length in mm
  return (Math.sqrt(disc) / a) * Math.hypot(d[0], d[1], d[2]);
}

/** Line integrals (density × mm ÷ `unit` mm) of `es` along every ray of `vectors`, `[V][A][U]`. */
export function projectEllipsoids(
  es: Ellipsoid[],
  vectors: number[][],
  U: number,
  V: number,
  unit: number,
): Float32Array {
  const A = vectors.length, y = new Float32Array(V * A * U);
  vectors.forEach((w, a) => {
    for (let r = 0; r < V; r++) {
      for (let c = 0; c < U; c++) {
        const cu = c + 0.5 - U / 2, cv = r + 0.5 - V / 2;
        const P = [0, 1, 2].map((i) => w[3 + i] + cu * w[6 + i] + cv * w[9 + i]);
        const D = [0, 1, 2].map((i) => P[i] - w[i]);
        let s = 0;
        for (const e of es) s += e.rho * chord(e, w.slice(0, 3), D);
        y[(r * A + a) * U + c] = s / unit;
      }
    }
  });
  return y;
}

/** The ellipsoids sampled at ASTRA's voxel centres (`[Z][H][W]`, rows along +y), `n`³ samples per voxel. */
export function voxelize(
  es: Ellipsoid[],
  shape: { Z: number; H: number; W: number },
  spacing: [number, number, number],
  n = 2,
): Float32Array {
  const { Z, H, W } = shape, [dz, dy, dx] = spacing, out = new Float32Array(Z * H * W);
  const inside = (e: Ellipsoid, x: number, y: number, z: number) => {
    const cs = Math.cos(e.phi), sn = Math.sin(e.phi), X = x - e.c[0], Y = y - e.c[1], Zz = z - e.c[2];
    return ((cs * X + sn * Y) / e.r[0]) ** 2 + ((-sn * X + cs * Y) / e.r[1]) ** 2 + (Zz / e.r[2]) ** 2 <= 1;
  };
  for (let k = 0; k < Z; k++) {
    for (let j = 0; j < H; j++) {
      for (let i = 0; i < W; i++) {
        let acc = 0;
        for (let a = 0; a < n; a++) {
          for (let b = 0; b < n; b++) {
            for (let c = 0; c < n; c++) {
              const x = (i - (W - 1) / 2 + (a + 0.5) / n - 0.5) * dx;
              const y = (j - (H - 1) / 2 + (b + 0.5) / n - 0.5) * dy;
              const z = (k - (Z - 1) / 2 + (c + 0.5) / n - 0.5) * dz;
              for (const e of es) if (inside(e, x, y, z)) acc += e.rho;
            }
          }
        }
        out[(k * H + j) * W + i] = acc / n ** 3;
      }
    }
  }
  return out;
}
