/**
 * Sinogram files: the measurements `[Z][A][D]` as a NIfTI (x = detector, y = view, z = slice) plus a
 * `.geometry.json` sidecar that states the geometry, the image size and the intensity mapping, so a
 * reconstruction from measured data knows everything a simulation knew.
 * @module
 */
import { z } from "../deps.ts";
import { type ParallelGeometry, parallelGeometryZod } from "../ct/geometry.ts";
import { UserError } from "../errors.ts";
import type { Schema } from "../schema.ts";
import { makeVolume } from "../volume.ts";
import { readVolumeFile, writeFileAtomic, writeVolumeFile } from "./files.ts";

/** The sidecar's content. */
export interface SinogramMeta {
  /** The geometry the measurements were taken with. */
  geometry: ParallelGeometry;
  /** Slices, rows, columns of the image the rays pass through. */
  imageShape: [number, number, number];
  /** Voxel size of that image `[dz, dy, dx]` in mm. Default `[1, 1, 1]`. */
  spacing: [number, number, number];
  /**
   * How the image's values map to the [0, 1] units of the line integrals:
   * `unit = clip((value − lo) / (hi − lo), 0, 1)`. Default identity (`lo` 0, `hi` 1).
   */
  mapping: {
    kind: "window" | "identity";
    lo: number;
    hi: number;
    unit?: "HU" | "attenuation" | "unitless";
  };
  /** The Poisson noise that was simulated (see `addPoissonNoise`); null (the default) for noise-free data. */
  noise: { photons: number; attenuation: number; seed: number } | null;
}

/** Zod schema of the sidecar; it fills in the defaults of {@linkcode SinogramMeta}. */
export const SinogramMetaSchema: Schema<SinogramMeta> = z.object({
  geometry: parallelGeometryZod,
  imageShape: z.tuple([z.number().int().min(1), z.number().int().min(1), z.number().int().min(1)]),
  spacing: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]).default([1, 1, 1]),
  mapping: z.object({
    kind: z.enum(["window", "identity"]),
    lo: z.number(),
    hi: z.number(),
    unit: z.enum(["HU", "attenuation", "unitless"]).optional(),
  }).default({ kind: "identity", lo: 0, hi: 1 }),
  noise: z.object({ photons: z.number(), attenuation: z.number(), seed: z.number() }).nullable().default(
    null,
  ),
});

/** `a/b/sino.nii.gz` → `a/b/sino.geometry.json`. */
export function sidecarPath(path: string): string {
  return path.replace(/(\.nii\.gz|\.nii|\.npy)$/i, "") + ".geometry.json";
}

/** Writes the sinogram and its sidecar (both atomically, never over an input). */
export async function writeSinogram(
  path: string,
  y: Float32Array,
  meta: SinogramMeta,
  options: { inputs?: string[] } = {},
): Promise<void> {
  const [Z] = meta.imageShape;
  const A = meta.geometry.angles.length, D = meta.geometry.detectorCount;
  await writeVolumeFile(path, makeVolume(y, [Z, A, D]), options);
  await writeFileAtomic(
    sidecarPath(path),
    new TextEncoder().encode(JSON.stringify(meta, null, 2) + "\n"),
    options,
  );
}

/**
 * Reads a sinogram and its geometry (the sidecar, or `geometryPath`), checking that the array's shape is
 * `[slices, views, bins]` of that geometry.
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
  const parsed = SinogramMetaSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new UserError(`geometry file ${gpath}: field ${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  const meta = parsed.data;
  const vol = await readVolumeFile(path, { unit: "unitless" });
  const [Z, A, D] = vol.shape;
  const g = meta.geometry;
  if (A !== g.angles.length) {
    throw new UserError(
      `sinogram ${path} has ${A} views but the geometry lists ${g.angles.length} angles: use the matching --geometry`,
    );
  }
  if (D !== g.detectorCount || Z !== meta.imageShape[0]) {
    throw new UserError(
      `sinogram ${path} is ${Z}x${A}x${D} (slices x views x bins) but the geometry needs ${
        meta.imageShape[0]
      }x${g.angles.length}x${g.detectorCount}`,
    );
  }
  return { y: vol.data, meta };
}
