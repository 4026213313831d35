/**
 * Sinogram files: physical line integrals −ln(I/I₀) `[Z][A][D]` as a NIfTI (x = detector, y = view,
 * z = slice) plus a `.geometry.json` sidecar that states the geometry, the voxel size in mm and μ_water, so a
 * reconstruction from measured data knows everything a simulation knew. Inside blendct the data are
 * `y = A u` in pixel lengths; the files hold `μ_water · pixel · y`.
 * @module
 */
import { z } from "../deps.ts";
import { type Geometry, geometryZod } from "../ct/geometry.ts";
import { isAstraGeometry } from "../ct/astra.ts";
import { fromTigre, isCone, isTigreGeometry } from "../ct/cone_geometry.ts";
import { astraFromFile } from "./geometry_file.ts";
import { UserError } from "../errors.ts";
import type { Schema } from "../schema.ts";
import { makeVolume } from "../volume.ts";
import { DEFAULT_MU_WATER } from "../units.ts";
import { checkOutputPath, readVolumeFile, writeJsonAtomic, writeVolumeFile } from "./files.ts";

/** The sidecar's content. */
export interface SinogramMeta {
  /** The geometry the measurements were taken with (parallel, or fan beam in mm). */
  geometry: Geometry;
  /** Slices, rows, columns of the image the rays pass through. */
  imageShape: [number, number, number];
  /** Voxel size of that image `[dz, dy, dx]` in mm (rows and columns square: `dy = dx`). Required. */
  spacing: [number, number, number];
  /** μ of water in 1/mm, linking line integrals to HU. Default 0.0193 (water at 70 keV). */
  muWater: number;
  /** The unit the reconstruction is written in. Default `"HU"`. */
  unit: "HU" | "attenuation" | "image";
  /** `image` unit only: the HU its 0 and 1 stand for. */
  imageHu?: [number, number];
  /** The Poisson noise that was simulated; null (the default) for noise-free or measured data. */
  noise: { photons: number; seed: number } | null;
  /** Voxel-to-world (RAS mm) matrix of the image, 4×4, so a reconstruction lands where the input was. */
  affine?: number[][];
}

/** Zod schema of the sidecar; it fills in the defaults of {@linkcode SinogramMeta}. */
export const SinogramMetaSchema: Schema<SinogramMeta> = z.object({
  geometry: geometryZod,
  imageShape: z.tuple([z.number().int().min(1), z.number().int().min(1), z.number().int().min(1)]),
  spacing: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()], {
    error: "is required: [dz, dy, dx] in mm (physical line integrals need the pixel size)",
  }),
  muWater: z.number({ error: "must be a number (1/mm)" }).finite().positive("must be > 0 (1/mm)").default(
    DEFAULT_MU_WATER,
  ),
  unit: z.enum(["HU", "attenuation", "image"]).default("HU"),
  imageHu: z.tuple([z.number(), z.number()]).optional(),
  noise: z.object({ photons: z.number(), seed: z.number() }).nullable().default(null),
  affine: z.array(z.array(z.number().finite()).length(4)).length(4).optional(),
});

/** Physical line integral per unit of blendct's `y = A u`: μ_water × pixel size. */
export function lineIntegralScale(meta: Pick<SinogramMeta, "muWater" | "spacing">): number {
  return meta.muWater * meta.spacing[2];
}

/**
 * The array shape of a measurement of `geometry` through an image of `imageShape`: `[slices, views, bins]`
 * slice by slice, `[detector rows, views, detector columns]` (ASTRA's 3D layout) for cone beam.
 */
export function measurementShape(
  geometry: Geometry,
  imageShape: readonly number[],
): [number, number, number] {
  return isCone(geometry)
    ? [geometry.detectorRows, geometry.angles.length, geometry.detectorCount]
    : [imageShape[0], geometry.angles.length, geometry.detectorCount];
}

/** `a/b/sino.nii.gz` → `a/b/sino.geometry.json`. */
export function sidecarPath(path: string): string {
  return path.replace(/(\.nii\.gz|\.nii|\.npy)$/i, "") + ".geometry.json";
}

/** Writes blendct's `y = A u` as physical line integrals, and the sidecar (both atomically, never over an input). */
export async function writeSinogram(
  path: string,
  y: Float32Array,
  meta: SinogramMeta,
  options: { inputs?: string[] } = {},
): Promise<void> {
  const shape = measurementShape(meta.geometry, meta.imageShape);
  const k = lineIntegralScale(meta);
  // both refused before either is written: the sidecar may be an input (a --geometry file)
  for (const p of [path, sidecarPath(path)]) await checkOutputPath(p, options.inputs ?? []);
  await writeVolumeFile(path, makeVolume(y.map((v) => v * k), shape, { unit: "attenuation" }), options);
  await writeJsonAtomic(sidecarPath(path), meta, options);
}

/**
 * Reads a sinogram of physical line integrals and its geometry (the sidecar, or `geometryPath`), checking
 * that the array's shape is `[slices, views, bins]` of that geometry; returns blendct's `y = A u`.
 *
 * @example
 * ```ts ignore
 * const { y, meta } = await readSinogram("sino.nii.gz");
 * ```
 */
export async function readSinogram(
  path: string,
  geometryPath?: string,
): Promise<{ y: Float32Array; meta: SinogramMeta }> {
  const gpath = geometryPath ?? sidecarPath(path);
  let text: string;
  try {
    text = await Deno.readTextFile(gpath);
  } catch {
    throw new UserError(
      `geometry file ${gpath} not found: pass --geometry FILE.json (written by deno task simulate)`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new UserError(`geometry file ${gpath} is not valid JSON`);
  }
  // ASTRA's 2D dictionaries do not say how many slices there are: the sinogram does (read once, here)
  let vol = isAstraGeometry(raw) ? await readVolumeFile(path, SINOGRAM_READ) : undefined;
  if (vol) raw = astraSidecar(raw, vol.shape[0], gpath);
  if (isTigreGeometry(raw)) raw = tigreSidecar(raw, gpath);
  const parsed = SinogramMetaSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    const field = i.path.join(".") || "(root)";
    const missing = field === "spacing" && (raw as Record<string, unknown>)?.spacing === undefined;
    const message = missing
      ? "is required: [dz, dy, dx] in mm (physical line integrals need the pixel size)"
      : i.message;
    throw new UserError(`geometry file ${gpath}: field ${field}: ${message}`);
  }
  const meta = parsed.data;
  vol ??= await readVolumeFile(path, SINOGRAM_READ);
  const [Z, A, D] = vol.shape;
  const g = meta.geometry;
  const want = measurementShape(g, meta.imageShape);
  const axes = isCone(g) ? "detector rows x views x columns, ASTRA's layout" : "slices x views x bins";
  if (A !== want[1] && !(isCone(g) && Z === want[1])) {
    throw new UserError(
      `sinogram ${path} has ${A} views but the geometry lists ${g.angles.length} angles: use the matching --geometry`,
    );
  }
  if (Z !== want[0] || A !== want[1] || D !== want[2]) {
    const hint = isCone(g) && Z === want[1] && A === want[0] && D === want[2]
      ? " (TIGRE's views x rows x columns: transpose its first two axes)"
      : "";
    throw new UserError(
      `${isCone(g) ? "projections" : "sinogram"} ${path} is ${Z}x${A}x${D} (${axes}) but the geometry needs ${
        want.join("x")
      }${hint}`,
    );
  }
  const k = lineIntegralScale(meta);
  return { y: vol.data.map((v) => v / k), meta };
}

/**
 * A sidecar from ASTRA's dictionaries: the grid and pixel size from `vol_geom`, the slice count from the
 * sinogram itself, slices as thick as the pixels are wide, muWater and unit at their defaults.
 */
// a 2D sinogram (views x bins, as ASTRA's 2D tools write it) is one slice
const SINOGRAM_READ = { unit: "attenuation", planar: true } as const;

function astraSidecar(raw: unknown, slices: number, gpath: string): unknown {
  const a = astraFromFile(raw, gpath);
  const px = a.pixelSize;
  if (isCone(a.geometry)) {
    return { geometry: a.geometry, imageShape: [a.slices ?? 1, ...a.grid], spacing: a.geometry.voxelSize };
  }
  return { geometry: a.geometry, imageShape: [slices, ...a.grid], spacing: [px, px, px] };
}

/** A sidecar from TIGRE's geometry: grid and voxel size from it, muWater and unit at their defaults. */
function tigreSidecar(raw: unknown, gpath: string): unknown {
  try {
    const t = fromTigre(raw);
    return { geometry: t.geometry, imageShape: t.grid, spacing: t.geometry.voxelSize };
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`geometry file ${gpath}: ${e.message}`);
    throw e;
  }
}
