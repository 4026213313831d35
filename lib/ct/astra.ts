/**
 * ASTRA Toolbox geometry dictionaries, read as blendct geometries: `{"vol_geom": …, "proj_geom": …}` exactly
 * as `astra.create_vol_geom(rows, cols[, slices][, minx, maxx, miny, maxy[, minz, maxz]])` and
 * `astra.create_proj_geom('parallel' | 'fanflat' | 'cone' | 'cone_vec', …)` return them (lengths in the
 * volume's world units, here mm). A 3D window may sit off the origin; it becomes the cone geometry's
 * `volumeCenter`.
 * @module
 */
import { z } from "../deps.ts";
import { UserError } from "../errors.ts";
import type { FanGeometry, Geometry, ParallelGeometry } from "./geometry.ts";
import { type ConeGeometry, withAngles } from "./cone_geometry.ts";

const angles = z.array(z.number().finite()).min(1, "needs at least one angle");
const volGeomZod = z.object({
  GridRowCount: z.number().int().min(1),
  GridColCount: z.number().int().min(1),
  GridSliceCount: z.number().int().min(1).optional(),
  option: z.object({
    WindowMinX: z.number().finite(),
    WindowMaxX: z.number().finite(),
    WindowMinY: z.number().finite(),
    WindowMaxY: z.number().finite(),
    WindowMinZ: z.number().finite(),
    WindowMaxZ: z.number().finite(),
  }).partial().optional(),
});
const coneZod = z.object({
  type: z.literal("cone"),
  DetectorSpacingX: z.number().positive(),
  DetectorSpacingY: z.number().positive(),
  DetectorRowCount: z.number().int().min(1),
  DetectorColCount: z.number().int().min(1),
  ProjectionAngles: angles,
  DistanceOriginSource: z.number().positive(),
  DistanceOriginDetector: z.number().min(0, "must be >= 0"),
});
const coneVecZod = z.object({
  type: z.literal("cone_vec"),
  DetectorRowCount: z.number().int().min(1),
  DetectorColCount: z.number().int().min(1),
  Vectors: z.array(z.array(z.number().finite()).length(12, "a cone_vec row has 12 numbers")).min(
    1,
    "needs at least one view",
  ),
});

const parallelZod = z.object({
  type: z.literal("parallel"),
  DetectorWidth: z.number().positive(),
  DetectorCount: z.number().int().min(1),
  ProjectionAngles: angles,
});
const fanflatZod = z.object({
  type: z.literal("fanflat"),
  DetectorWidth: z.number().positive(),
  DetectorCount: z.number().int().min(1),
  ProjectionAngles: angles,
  DistanceOriginSource: z.number().positive(),
  DistanceOriginDetector: z.number().min(0, "must be >= 0"),
});

/** What an ASTRA pair of dictionaries says: the geometry, the image grid and its pixel size. */
export interface AstraGeometry {
  /** The blendct geometry (parallel angles converted to blendct's convention; fan and cone in mm). */
  geometry: Geometry;
  /** Rows and columns of the image grid. */
  grid: [number, number];
  /** Slices, for a 3D `vol_geom` (cone beam). */
  slices?: number;
  /** Pixel size in the dictionaries' world units (mm). */
  pixelSize: number;
}

/** True for an object that carries ASTRA's `vol_geom` / `proj_geom` keys. */
export function isAstraGeometry(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && ("proj_geom" in raw || "vol_geom" in raw);
}

function fail(where: string, issue: { path: PropertyKey[]; message: string }): never {
  const field = [where, ...issue.path.map(String)].join(".");
  throw new UserError(`ASTRA geometry: ${field}: ${issue.message}`);
}

/**
 * Reads ASTRA's dictionaries. Parallel beam: ASTRA's detector coordinate is `x cos θ + y sin θ` with y up,
 * blendct's uses the row index (y down), so blendct's angle is `−θ`. Fan beam keeps ASTRA's convention.
 *
 * @example
 * ```ts
 * import { fromAstra } from "./astra.ts";
 * const g = fromAstra({
 *   vol_geom: { GridRowCount: 64, GridColCount: 64, option: { WindowMinX: -32, WindowMaxX: 32, WindowMinY: -32, WindowMaxY: 32 } },
 *   proj_geom: { type: "fanflat", DetectorWidth: 2, DetectorCount: 100, ProjectionAngles: [0, 1], DistanceOriginSource: 300, DistanceOriginDetector: 300 },
 * });
 * console.log(g.geometry.type, g.pixelSize); // fanflat 1
 * ```
 */
export function fromAstra(raw: unknown): AstraGeometry {
  const r = raw as Record<string, unknown>;
  const pg = r.proj_geom as Record<string, unknown> | undefined;
  if (!pg || typeof pg !== "object") throw new UserError("ASTRA geometry: proj_geom is missing");
  if (!r.vol_geom) throw new UserError("ASTRA geometry: vol_geom is missing");
  const vg = volGeomZod.safeParse(r.vol_geom);
  if (!vg.success) fail("vol_geom", vg.error.issues[0]);
  const { GridRowCount: rows, GridColCount: cols } = vg.data;
  const o = vg.data.option ?? {};
  const minX = o.WindowMinX ?? -cols / 2, maxX = o.WindowMaxX ?? cols / 2;
  const minY = o.WindowMinY ?? -rows / 2, maxY = o.WindowMaxY ?? rows / 2;
  const px = (maxX - minX) / cols, py = (maxY - minY) / rows;
  if (!(px > 0) || !(py > 0)) throw new UserError("ASTRA geometry: vol_geom window has max <= min");
  if (Math.abs(px - py) > 1e-6 * px) {
    throw new UserError(`ASTRA geometry: vol_geom pixels are ${px} x ${py}: blendct needs square pixels`);
  }
  const is3d = pg.type === "cone" || pg.type === "cone_vec";
  if (!is3d && (Math.abs(minX + maxX) > 1e-6 * px || Math.abs(minY + maxY) > 1e-6 * py)) {
    throw new UserError(
      "ASTRA geometry: vol_geom window is not centred on the rotation axis: shift the volume",
    );
  }
  const type = pg.type;
  if (type === "cone" || type === "cone_vec") {
    return cone(pg, vg.data, [rows, cols], px, minX + maxX, minY + maxY);
  }
  if (type === "parallel") {
    const p = parallelZod.safeParse(pg);
    if (!p.success) fail("proj_geom", p.error.issues[0]);
    const geometry: ParallelGeometry = {
      type: "parallel",
      angles: p.data.ProjectionAngles.map((t) => -t),
      detectorCount: p.data.DetectorCount,
      detectorSpacing: p.data.DetectorWidth / px,
    };
    return { geometry, grid: [rows, cols], pixelSize: px };
  }
  if (type === "fanflat") {
    const f = fanflatZod.safeParse(pg);
    if (!f.success) fail("proj_geom", f.error.issues[0]);
    const geometry: FanGeometry = {
      type: "fanflat",
      angles: [...f.data.ProjectionAngles],
      detectorCount: f.data.DetectorCount,
      detectorSpacing: f.data.DetectorWidth,
      sourceOrigin: f.data.DistanceOriginSource,
      originDetector: f.data.DistanceOriginDetector,
      detectorOffset: 0,
      pixelSize: px,
    };
    return { geometry, grid: [rows, cols], pixelSize: px };
  }
  throw new UserError(
    `ASTRA geometry: proj_geom type ${
      JSON.stringify(type)
    } is not supported (blendct implements 'parallel', 'fanflat', 'cone' and 'cone_vec'; parallel3d and the other *_vec are not)`,
  );
}

/** ASTRA's 3D volume window (`vol_geom` with slices) and `cone` / `cone_vec` projection geometry. */
function cone(
  pg: Record<string, unknown>,
  vg: z.infer<typeof volGeomZod>,
  grid: [number, number],
  px: number,
  sumX: number,
  sumY: number,
): AstraGeometry {
  const slices = vg.GridSliceCount ?? 1;
  const o = vg.option ?? {};
  const minZ = o.WindowMinZ ?? -slices / 2, maxZ = o.WindowMaxZ ?? slices / 2;
  const dz = (maxZ - minZ) / slices;
  if (!(dz > 0)) throw new UserError("ASTRA geometry: vol_geom's z window has max <= min");
  const placement = {
    voxelSize: [dz, px, px] as [number, number, number],
    volumeCenter: [(minZ + maxZ) / 2, sumY / 2, sumX / 2] as [number, number, number],
  };
  if (pg.type === "cone") {
    const c = coneZod.safeParse(pg);
    if (!c.success) fail("proj_geom", c.error.issues[0]);
    const d = c.data;
    const geometry: ConeGeometry = {
      type: "cone",
      angles: [...d.ProjectionAngles],
      detectorCount: d.DetectorColCount,
      detectorRows: d.DetectorRowCount,
      detectorSpacing: d.DetectorSpacingX,
      detectorSpacingV: d.DetectorSpacingY,
      sourceOrigin: d.DistanceOriginSource,
      originDetector: d.DistanceOriginDetector,
      detectorOffset: 0,
      detectorOffsetV: 0,
      ...placement,
    };
    return { geometry, grid, slices, pixelSize: px };
  }
  const c = coneVecZod.safeParse(pg);
  if (!c.success) fail("proj_geom", c.error.issues[0]);
  const geometry = withAngles(c.data.Vectors, c.data.DetectorRowCount, c.data.DetectorColCount, placement);
  return { geometry, grid, slices, pixelSize: px };
}
