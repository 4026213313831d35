/**
 * `--geometry FILE.json`: blendct's own geometry object (parallel, fan or cone beam), a sinogram sidecar
 * that holds one, ASTRA's `{"vol_geom", "proj_geom"}` dictionaries, or TIGRE's geometry (its Python field
 * names: `DSD`, `DSO`, `nDetector`, …).
 * @module
 */
import { type AstraGeometry, fromAstra, isAstraGeometry } from "../ct/astra.ts";
import { type Geometry, geometryZod } from "../ct/geometry.ts";
import { fromTigre, isTigreGeometry } from "../ct/cone_geometry.ts";
import { UserError } from "../errors.ts";

/** A geometry read from a file, with what the file says about the image grid. */
export interface GeometryFile {
  /** The geometry. */
  geometry: Geometry;
  /** `[rows, cols]` of the image grid when the file states it (ASTRA's `vol_geom`, a sidecar's `imageShape`). */
  grid?: [number, number];
  /** Slices, when the file states them (a 3D `vol_geom`, TIGRE's `nVoxel`, a sidecar). */
  slices?: number;
  /** Pixel size in mm when the file states it. */
  pixelSize?: number;
  /** `"astra"`, `"tigre"`, `"blendct"` or `"sidecar"`. */
  kind: "astra" | "tigre" | "blendct" | "sidecar";
}

/** {@linkcode fromAstra} for the dictionaries of the file at `path`, which its errors name. */
export function astraFromFile(raw: unknown, path: string): AstraGeometry {
  try {
    return fromAstra(raw);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`geometry file ${path}: ${e.message}`);
    throw e;
  }
}

/** Parses the JSON text of a geometry file (`path` names it in errors). */
export function parseGeometry(text: string, path: string): GeometryFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new UserError(`geometry file ${path} is not valid JSON`);
  }
  if (isAstraGeometry(raw)) {
    const a = astraFromFile(raw, path);
    return { geometry: a.geometry, grid: a.grid, slices: a.slices, pixelSize: a.pixelSize, kind: "astra" };
  }
  if (isTigreGeometry(raw)) {
    try {
      const t = fromTigre(raw);
      const [slices, ...grid] = t.grid;
      return {
        geometry: t.geometry,
        grid: grid as [number, number],
        slices,
        pixelSize: t.geometry.voxelSize![2],
        kind: "tigre",
      };
    } catch (e) {
      if (e instanceof UserError) throw new UserError(`geometry file ${path}: ${e.message}`);
      throw e;
    }
  }
  const r = raw as Record<string, unknown>;
  const sidecar = typeof r === "object" && r !== null && "geometry" in r;
  const parsed = geometryZod.safeParse(sidecar ? r.geometry : raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    const field = [...(sidecar ? ["geometry"] : []), ...i.path.map(String)].join(".") || "(root)";
    const hint = field.endsWith("type") || field === "(root)"
      ? ' (a blendct geometry has type "parallel", "fanflat", "cone" or "cone_vec"; ASTRA\'s dictionaries go under vol_geom and proj_geom; TIGRE\'s geometry has DSD, DSO, nDetector)'
      : "";
    throw new UserError(`geometry file ${path}: field ${field}: ${i.message}${hint}`);
  }
  const shape = sidecar ? (r.imageShape as number[] | undefined) : undefined;
  const spacing = sidecar ? (r.spacing as number[] | undefined) : undefined;
  return {
    geometry: parsed.data,
    grid: shape ? [shape[1], shape[2]] : undefined,
    slices: shape?.[0],
    pixelSize: parsed.data.type === "fanflat" ? parsed.data.pixelSize ?? spacing?.[2] : spacing?.[2],
    kind: sidecar ? "sidecar" : "blendct",
  };
}

/** Reads and parses `path`. */
export async function readGeometryFile(path: string): Promise<GeometryFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new UserError(`geometry file ${path} not found`);
  }
  return parseGeometry(text, path);
}
