/**
 * FDK (Feldkamp, Davis & Kress 1984): filtered back-projection for cone beam with a flat detector. Each
 * projection is weighted by the cosine of its ray's angle to the central ray (and, for a short scan, by
 * Parker's weights), ramp-filtered along the detector rows on the virtual detector through the axis, and
 * back-projected along the rays with the distance weight `(DSO / depth)²`. Works from the per-view vectors,
 * so an offset detector (in u or v) and `cone_vec` geometries whose source circles the z-axis are handled;
 * the filter's spacing and the redundancy weights use the views' mean distances.
 * @module
 */
import { type AnyCone, coneVectors } from "./cone_geometry.ts";
import { type FanFbpWeights, fanFbpWeights } from "./fan.ts";
import type { FanGeometry } from "./geometry.ts";
import { type FbpFilter, filterTaps } from "./ramp.ts";
import type { SliceShape } from "./operator.ts";

interface ViewFrame {
  /** Unit in-plane normal of the detector, from the source's side. */
  n: [number, number];
  /** Perpendicular distances source–detector plane and source–axis (mm). */
  dsd: number;
  dso: number;
  /** Detector coordinates (column, row) of the foot of the perpendicular from the source. */
  cF: number;
  rF: number;
}

function frame(r: number[], U: number, V: number): ViewFrame {
  const [sx, sy, sz, dx, dy, dz, ux, uy, , , , vz] = r;
  const nu = Math.hypot(ux, uy);
  let n: [number, number] = [-uy / nu, ux / nu];
  if (n[0] * (dx - sx) + n[1] * (dy - sy) < 0) n = [-n[0], -n[1]];
  const dsd = n[0] * (dx - sx) + n[1] * (dy - sy);
  const dso = -(n[0] * sx + n[1] * sy);
  const fx = sx + dsd * n[0], fy = sy + dsd * n[1];
  const cF = ((fx - dx) * ux + (fy - dy) * uy) / (nu * nu) + U / 2 - 0.5;
  const rF = (sz - dz) / vz + V / 2 - 0.5;
  return { n, dsd, dso, cF, rF };
}

/**
 * The circular fan geometry (mean distances, mean detector offset) that stands for a cone geometry's
 * mid-plane: what sets the scan's kind, Parker's weights and the filter's spacing.
 */
export function midPlaneFan(g: AnyCone, pixel: number): FanGeometry {
  const vecs = coneVectors(g), U = g.detectorCount, V = g.detectorRows;
  const frames = vecs.map((r) => frame(r, U, V));
  const mean = (f: (x: ViewFrame) => number) => frames.reduce((s, x) => s + f(x), 0) / frames.length;
  const du = Math.hypot(vecs[0][6], vecs[0][7]);
  const dso = mean((f) => f.dso);
  return {
    type: "fanflat",
    angles: g.angles,
    detectorCount: U,
    detectorSpacing: du,
    sourceOrigin: dso,
    originDetector: Math.max(0, mean((f) => f.dsd) - dso),
    detectorOffset: ((U - 1) / 2 - mean((f) => f.cF)) * du,
    pixelSize: pixel,
  };
}

/**
 * FDK reconstruction of `[V][A][U]` projections (line integrals in units of the in-plane voxel size, as the
 * cone projector makes them) into a `[Z][H][W]` volume of `spacing` `[dz, dy, dx]` mm.
 *
 * @example
 * ```ts
 * import { fdk } from "./fdk.ts";
 * const g = { type: "cone" as const, angles: [0, 1, 2, 3, 4, 5], detectorCount: 24, detectorRows: 12,
 *   detectorSpacing: 2, detectorSpacingV: 2, sourceOrigin: 60, originDetector: 60, detectorOffset: 0, detectorOffsetV: 0 };
 * console.log(fdk(new Float32Array(12 * 6 * 24), g, { Z: 6, H: 16, W: 16 }, [1, 1, 1]).length); // 1536
 * ```
 */
export function fdk(
  y: Float32Array,
  g: AnyCone,
  shape: SliceShape,
  spacing: [number, number, number],
  filter: FbpFilter = "ramp",
): Float32Array {
  const { Z, H, W } = shape, P = H * W;
  const vecs = coneVectors(g), A = vecs.length, U = g.detectorCount, V = g.detectorRows;
  const [dzv, , px] = g.voxelSize ?? spacing;
  const [cz, cy, cx] = g.volumeCenter ?? [0, 0, 0];
  const fan: FanFbpWeights = fanFbpWeights(midPlaneFan(g, px), px);
  const taps = filterTaps(U, fan.spacing, filter);
  const out = new Float64Array(Z * P);
  const q = new Float32Array(V * U), row = new Float64Array(U);
  for (let a = 0; a < A; a++) {
    const r = vecs[a], f = frame(r, U, V);
    const [sx, sy, sz, dx, dy, dz, ux, uy, , , , vz] = r;
    const du = Math.hypot(ux, uy);
    // weight, then filter each detector row along u
    for (let rr = 0; rr < V; rr++) {
      const vv = (rr - f.rF) * vz;
      for (let c = 0; c < U; c++) {
        const uu = (c - f.cF) * du;
        const flat = f.dsd * f.dsd + uu * uu;
        // the fan weight holds the in-plane cosine and Parker's weight; the rest is the vertical cosine
        row[c] = y[(rr * A + a) * U + c] * fan.weights[a * U + c] * Math.sqrt(flat / (flat + vv * vv));
      }
      for (let c = 0; c < U; c++) {
        let acc = 0;
        for (let k = 0; k < U; k++) acc += taps[c - k + U - 1] * row[k];
        q[rr * U + c] = acc;
      }
    }
    // back-project along the rays: column from the pixel's in-plane position, row linear in z
    for (let j = 0; j < H; j++) {
      const wy = cy + (j - (H - 1) / 2) * px;
      for (let i = 0; i < W; i++) {
        const wx = cx + (i - (W - 1) / 2) * px;
        const depth = f.n[0] * (wx - sx) + f.n[1] * (wy - sy);
        if (depth <= 0) continue;
        const m = f.dsd / depth;
        const hx = sx + m * (wx - sx) - dx, hy = sy + m * (wy - sy) - dy;
        const c = (hx * ux + hy * uy) / (du * du) + U / 2 - 0.5;
        const c0 = Math.floor(c), fc = c - c0;
        if (c0 < -1 || c0 >= U) continue;
        const w = (f.dso / depth) ** 2;
        const r0 = (sz + m * (cz - ((Z - 1) / 2) * dzv - sz) - dz) / vz + V / 2 - 0.5, rs = (m * dzv) / vz;
        for (let k = 0; k < Z; k++) {
          const rk = r0 + k * rs, i0 = Math.floor(rk), fr = rk - i0;
          let v = 0;
          if (i0 >= 0 && i0 < V) {
            if (c0 >= 0) v += (1 - fr) * (1 - fc) * q[i0 * U + c0];
            if (c0 + 1 < U) v += (1 - fr) * fc * q[i0 * U + c0 + 1];
          }
          if (i0 + 1 >= 0 && i0 + 1 < V) {
            if (c0 >= 0) v += fr * (1 - fc) * q[(i0 + 1) * U + c0];
            if (c0 + 1 < U) v += fr * fc * q[(i0 + 1) * U + c0 + 1];
          }
          out[k * P + j * W + i] += w * v;
        }
      }
    }
  }
  const x = new Float32Array(Z * P);
  for (let i = 0; i < x.length; i++) x[i] = out[i] * fan.scale;
  return x;
}
