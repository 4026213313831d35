/**
 * Cone-beam geometries (flat detector) over a whole volume, in mm, in ASTRA's 3D conventions: the circular
 * `cone` (angles, distances, detector pixel sizes) and the general `cone_vec` (per view: source, detector
 * centre, and the vectors between neighbouring detector pixels along a row, `u`, and along a column, `v`).
 * TIGRE's geometry is read into `cone_vec`. Everything reduces to {@linkcode coneVectors}, which the
 * projector and FDK read.
 *
 * World frame (ASTRA 3D): voxel `[z][row][col]` of a `[Z][H][W]` volume sits at
 * `x = cx + (col − (W−1)/2)·dx`, `y = cy + (row − (H−1)/2)·dy`, `z = cz + (z − (Z−1)/2)·dz` — rows run with
 * +y, unlike the 2D geometries, whose row 0 is at the top. Detector pixel (row r, column c) of a view sits
 * at `d + (c − U/2 + ½)·u + (r − V/2 + ½)·v`. Projections are `[rows][views][columns]`, ASTRA's layout.
 * @module
 */
import { z } from "../deps.ts";
import { UserError } from "../errors.ts";

/** Where the volume sits in the world: voxel size and centre, in mm, each `[z, y, x]`. */
export interface VolumePlacement {
  /** Voxel size `[dz, dy, dx]` in mm. Default: the volume's spacing. `dy` must equal `dx`. */
  voxelSize?: [number, number, number];
  /** World position of the volume's centre `[z, y, x]` in mm. Default `[0, 0, 0]`. */
  volumeCenter?: [number, number, number];
}

/**
 * Circular cone beam, ASTRA's `cone`: for angle θ the source sits at `DSO·(sin θ, −cos θ, 0)`, the
 * detector's centre at `DOD·(−sin θ, cos θ, 0) + offsetU·û + offsetV·ẑ`, its rows along
 * `û = (cos θ, sin θ, 0)` and its columns along +z.
 */
export interface ConeGeometry extends VolumePlacement {
  /** The beam type. */
  type: "cone";
  /** Projection angles in radians. */
  angles: number[];
  /** Detector columns (pixels along a row, `u`). */
  detectorCount: number;
  /** Detector rows (`v`, along z). */
  detectorRows: number;
  /** Pixel width along a row in mm (ASTRA's `det_spacing_x`). */
  detectorSpacing: number;
  /** Pixel height along a column in mm (ASTRA's `det_spacing_y`). */
  detectorSpacingV: number;
  /** Distance from the source to the rotation axis (mm). */
  sourceOrigin: number;
  /** Distance from the rotation axis to the detector (mm), ≥ 0. */
  originDetector: number;
  /** Shift of the detector along its rows (mm; an offset, half-fan detector). Default 0. */
  detectorOffset: number;
  /** Shift of the detector along z (mm). Default 0. */
  detectorOffsetV: number;
}

/** Cone beam with one 12-number row per view, ASTRA's `cone_vec`: `[src(3), d(3), u(3), v(3)]` in mm. */
export interface ConeVecGeometry extends VolumePlacement {
  /** The beam type. */
  type: "cone_vec";
  /** One row per view: source, detector centre, u (between columns), v (between rows). */
  vectors: number[][];
  /** Detector columns. */
  detectorCount: number;
  /** Detector rows. */
  detectorRows: number;
  /** Each view's angle about z (radians, ASTRA's θ: the source at `(sin θ, −cos θ)`), derived from the source. */
  angles: number[];
}

/** Either cone-beam geometry. */
export type AnyCone = ConeGeometry | ConeVecGeometry;

const placementZod = {
  voxelSize: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]).optional(),
  volumeCenter: z.tuple([z.number().finite(), z.number().finite(), z.number().finite()]).optional(),
};

/** The zod object of a blendct `cone` geometry. */
export const coneGeometryZod = z.object({
  type: z.literal("cone"),
  angles: z.array(z.number().finite()).min(1, "a geometry needs at least one angle"),
  detectorCount: z.number().int().min(1),
  detectorRows: z.number().int().min(1),
  detectorSpacing: z.number().positive(),
  detectorSpacingV: z.number().positive(),
  sourceOrigin: z.number().positive(),
  originDetector: z.number().min(0, "must be >= 0 mm (the detector cannot sit between source and axis)"),
  detectorOffset: z.number().finite().default(0),
  detectorOffsetV: z.number().finite().default(0),
  ...placementZod,
});

/** The zod object of a blendct `cone_vec` geometry as written (its `angles`, if any, are ignored). */
export const coneVecObjectZod = z.object({
  type: z.literal("cone_vec"),
  vectors: z.array(z.array(z.number().finite()).length(12, "a cone_vec row has 12 numbers")).min(
    1,
    "a geometry needs at least one view",
  ),
  detectorCount: z.number().int().min(1),
  detectorRows: z.number().int().min(1),
  angles: z.array(z.number()).optional(),
  ...placementZod,
});

/** A `cone_vec` geometry of `vectors`, its angles derived from the sources; refuses degenerate rows. */
export function withAngles(
  vectors: number[][],
  rows: number,
  cols: number,
  placement: VolumePlacement = {},
): ConeVecGeometry {
  vectors.forEach(checkRow);
  return {
    type: "cone_vec",
    vectors,
    detectorCount: cols,
    detectorRows: rows,
    angles: unwrap(vectors.map((r) => Math.atan2(r[0], -r[1]))),
    ...(placement.voxelSize ? { voxelSize: placement.voxelSize } : {}),
    ...(placement.volumeCenter ? { volumeCenter: placement.volumeCenter } : {}),
  };
}

/** Angles made continuous (no jump of 2π between neighbours), so a scan's span reads true. */
function unwrap(a: number[]): number[] {
  const out = a.slice();
  for (let i = 1; i < out.length; i++) {
    while (out[i] - out[i - 1] > Math.PI) out[i] -= 2 * Math.PI;
    while (out[i] - out[i - 1] < -Math.PI) out[i] += 2 * Math.PI;
  }
  return out;
}

function checkRow(r: number[], i: number): void {
  const [ux, uy, uz, vx, vy, vz] = r.slice(6);
  const nu = Math.hypot(ux, uy, uz), nv = Math.hypot(vx, vy, vz);
  if (!(nu > 0) || !(nv > 0)) {
    throw new UserError(
      `cone_vec row ${i}: its ${
        nu > 0 ? "v" : "u"
      } vector is zero: u and v are the steps between detector pixels (mm)`,
    );
  }
  const cross = Math.hypot(uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx);
  if (cross < 1e-6 * nu * nv) {
    throw new UserError(`cone_vec row ${i}: u and v are parallel: they must span the detector plane`);
  }
  const n = [uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx];
  const sd = (r[3] - r[0]) * n[0] + (r[4] - r[1]) * n[1] + (r[5] - r[2]) * n[2];
  if (Math.abs(sd) < 1e-9 * cross) {
    throw new UserError(`cone_vec row ${i}: the source lies in the detector's plane: no ray reaches it`);
  }
}

/**
 * The `cone_vec` rows of a `cone` geometry (ASTRA's own conversion, plus the detector offsets).
 *
 * @example
 * ```ts
 * import { coneVectors } from "./cone_geometry.ts";
 * const v = coneVectors({ type: "cone", angles: [0], detectorCount: 4, detectorRows: 2, detectorSpacing: 1,
 *   detectorSpacingV: 1, sourceOrigin: 100, originDetector: 50, detectorOffset: 0, detectorOffsetV: 0 });
 * console.log(v[0].map((x) => Math.round(x) + 0)); // [ 0, -100, 0, 0, 50, 0, 1, 0, 0, 0, 0, 1 ]
 * ```
 */
export function coneVectors(g: AnyCone): number[][] {
  if (g.type === "cone_vec") return g.vectors;
  return g.angles.map((t) => {
    const s = Math.sin(t), c = Math.cos(t);
    const du = g.detectorSpacing, off = g.detectorOffset;
    return [
      g.sourceOrigin * s,
      -g.sourceOrigin * c,
      0,
      -g.originDetector * s + off * c,
      g.originDetector * c + off * s,
      g.detectorOffsetV,
      du * c,
      du * s,
      0,
      0,
      0,
      g.detectorSpacingV,
    ];
  });
}

/** `g` as `cone_vec` (a `cone` converted; the same projections, see the tests). */
export function toConeVec(g: AnyCone): ConeVecGeometry {
  if (g.type === "cone_vec") return g;
  return withAngles(coneVectors(g), g.detectorRows, g.detectorCount, g);
}

const tigreVec = (n: number) => z.union([z.number(), z.array(z.number()).length(n)]);

/** The zod object of TIGRE's geometry as JSON (Python's field names and orders: `[z, y, x]`, `[v, u]`). */
const tigreZod = z.object({
  DSD: z.union([z.number().positive(), z.array(z.number().positive())]),
  DSO: z.union([z.number().positive(), z.array(z.number().positive())]),
  nDetector: z.array(z.number().int().min(1)).length(2),
  dDetector: z.array(z.number().positive()).length(2),
  nVoxel: z.array(z.number().int().min(1)).length(3),
  dVoxel: z.array(z.number().positive()).length(3).optional(),
  sVoxel: z.array(z.number().positive()).length(3).optional(),
  offOrigin: tigreVec(3).optional(),
  offDetector: tigreVec(2).optional(),
  COR: z.number().finite().optional(),
  rotDetector: z.array(z.number()).length(3).optional(),
  angles: z.array(z.number().finite()).min(1, "needs at least one angle"),
  mode: z.string().optional(),
});

/** True for an object that looks like TIGRE's geometry (`DSD`, `DSO`, `nDetector`). */
export function isTigreGeometry(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && "DSD" in raw && "DSO" in raw && "nDetector" in raw;
}

/**
 * TIGRE's geometry (its Python field names, as JSON) as `cone_vec`: at angle α the source sits at
 * `DSO·(cos α, sin α, 0)`, the detector centre at `−(DSD − DSO)·(cos α, sin α, 0) + offU·(−sin α, cos α, 0)
 * + offV·ẑ`, `u = dU·(−sin α, cos α, 0)`, `v = dV·ẑ`; the volume's centre at `offOrigin`. TIGRE's image
 * `img[k, j, i]` is blendct's `[z][row][col]` as it is; its projections `(angles, v, u)` are ASTRA's
 * `(v, angles, u)` transposed.
 *
 * @example
 * ```ts
 * import { fromTigre } from "./cone_geometry.ts";
 * const g = fromTigre({ DSD: 1500, DSO: 1000, nDetector: [64, 96], dDetector: [1, 1], nVoxel: [32, 64, 64],
 *   dVoxel: [1, 1, 1], angles: [0, Math.PI / 2] });
 * console.log(g.geometry.type, g.grid); // cone_vec [ 32, 64, 64 ]
 * ```
 */
export function fromTigre(raw: unknown): { geometry: ConeVecGeometry; grid: [number, number, number] } {
  const p = tigreZod.safeParse(raw);
  if (!p.success) {
    const i = p.error.issues[0];
    throw new UserError(`TIGRE geometry: ${i.path.map(String).join(".") || "(root)"}: ${i.message}`);
  }
  const t = p.data;
  if (t.mode && t.mode !== "cone") {
    throw new UserError(
      `TIGRE geometry: mode ${JSON.stringify(t.mode)}: blendct reads TIGRE's cone mode only`,
    );
  }
  if (t.rotDetector && t.rotDetector.some((x) => x !== 0)) {
    throw new UserError(
      "TIGRE geometry: rotDetector is not zero: write the tilted detector as ASTRA cone_vec rows instead",
    );
  }
  const [nz, ny, nx] = t.nVoxel;
  const dVoxel = t.dVoxel ?? (t.sVoxel ? t.sVoxel.map((s, i) => s / t.nVoxel[i]) : null);
  if (!dVoxel) throw new UserError("TIGRE geometry: give dVoxel or sVoxel (voxel size in mm)");
  if (Math.abs(dVoxel[1] - dVoxel[2]) > 1e-6 * dVoxel[2]) {
    throw new UserError(
      `TIGRE geometry: voxels are ${dVoxel[2]} x ${dVoxel[1]} mm in plane: blendct needs square ones`,
    );
  }
  const n = t.angles.length;
  const per = (v: number | number[], i: number) => (typeof v === "number" ? v : v[i]);
  if (Array.isArray(t.DSD) && t.DSD.length !== n || Array.isArray(t.DSO) && t.DSO.length !== n) {
    throw new UserError(`TIGRE geometry: DSD and DSO need one value or one per angle (${n})`);
  }
  const offD = typeof t.offDetector === "number" ? [t.offDetector, t.offDetector] : t.offDetector ?? [0, 0];
  const offO = typeof t.offOrigin === "number"
    ? [t.offOrigin, t.offOrigin, t.offOrigin]
    : t.offOrigin ?? [0, 0, 0];
  const [dV, dU] = t.dDetector, [offV, offU] = offD, cor = t.COR ?? 0;
  const vectors = t.angles.map((a, i) => {
    const c = Math.cos(a), s = Math.sin(a), dso = per(t.DSO, i), dsd = per(t.DSD, i);
    if (dsd <= dso) throw new UserError(`TIGRE geometry: DSD (${dsd}) must exceed DSO (${dso})`);
    const kx = -cor * s, ky = cor * c;
    return [
      dso * c + kx,
      dso * s + ky,
      0,
      -(dsd - dso) * c - offU * s + kx,
      -(dsd - dso) * s + offU * c + ky,
      offV,
      -dU * s,
      dU * c,
      0,
      0,
      0,
      dV,
    ];
  });
  const geometry = withAngles(vectors, t.nDetector[0], t.nDetector[1], {
    voxelSize: [dVoxel[0], dVoxel[1], dVoxel[2]],
    volumeCenter: [offO[0], offO[1], offO[2]],
  });
  return { geometry, grid: [nz, ny, nx] };
}

/** True for the cone-beam geometries. */
export function isCone(g: { type: string }): g is AnyCone {
  return g.type === "cone" || g.type === "cone_vec";
}
