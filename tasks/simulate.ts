/**
 * `deno task simulate --input VOL (--views N [--angle-range DEG] | --geometry G.json) [--noise I0] --output
 * SINO.nii.gz`: writes the parallel- or fan-beam measurement of a volume as physical line integrals −ln(I/I₀) (from its values
 * in HU, μ or image units, the voxel size and μ_water) and its `.geometry.json` sidecar.
 * @module
 */
import { z } from "../lib/deps.ts";
import { GpuContext } from "../lib/gpu/context.ts";
import { VOLUME_INPUTS } from "../lib/io/files.ts";
import { measurementShape, writeSinogram } from "../lib/io/sinogram.ts";
import { isCone } from "../lib/ct/cone_geometry.ts";
import { loadCase } from "../lib/jobs/case.ts";
import { flagSchema, parseFlags, runTask } from "./_cli.ts";
import {
  ANGLE_RANGE_FLAG,
  MU_WATER_FLAG,
  NOISE_FLAG,
  SEED_FLAG,
  UNIT_FLAG,
  VIEWS_FLAG,
} from "./_shared_flags.ts";

const FLAGS = {
  input: {
    type: "string",
    help: `Volume to project (${VOLUME_INPUTS})`,
    schema: z.string({ error: "is required" }),
  },
  views: VIEWS_FLAG,
  "angle-range": ANGLE_RANGE_FLAG,
  geometry: {
    type: "string",
    help:
      "Geometry JSON instead of --views: parallel, fanflat, cone, cone_vec (mm), ASTRA's vol_geom/proj_geom or TIGRE's geometry",
    schema: z.string().optional(),
  },
  noise: NOISE_FLAG,
  seed: SEED_FLAG,
  unit: UNIT_FLAG,
  "mu-water": MU_WATER_FLAG,
  output: {
    type: "string",
    help: "Sinogram output (.nii.gz, .nii, .npy); sidecar OUTPUT.geometry.json",
    schema: z.string({ error: "is required" }),
  },
} as const;

const Schema = flagSchema(FLAGS).superRefine((f, ctx) => {
  const clash = f.geometry ? (["views", "angle-range"] as const).find((k) => f[k] !== undefined) : undefined;
  if (clash) {
    ctx.addIssue({
      code: "custom",
      path: [clash],
      message: "does not apply with --geometry (the file sets the views)",
    });
  }
});

if (import.meta.main) {
  runTask(async () => {
    const f = parseFlags(
      Deno.args,
      "Usage: deno task simulate --input VOL --views N --output SINO.nii.gz",
      FLAGS,
      Schema,
    );
    const gpu = await GpuContext.create();
    try {
      // the one case loader: read, unit, geometry and measurement exactly as reconstruct simulates them
      const c = await loadCase(gpu, {
        input: f.input,
        unit: f.unit,
        muWater: f["mu-water"],
        views: f.views ?? (f["angle-range"] ? Math.max(1, Math.round(f["angle-range"])) : 8),
        angleRange: f["angle-range"],
        noise: f.noise,
        seed: f.seed,
        geometry: f.geometry,
      });
      for (const line of c.notices) console.error(line);
      const { y, geometry, units } = c, [Z, H, W] = c.shape;
      await writeSinogram(f.output, y, {
        geometry,
        imageShape: [Z, H, W],
        spacing: c.spacing,
        muWater: units.muWater,
        unit: units.unit,
        ...(units.imageHu ? { imageHu: units.imageHu } : {}),
        noise: f.noise ? { photons: f.noise, seed: f.seed } : null,
        affine: c.affine,
      }, { inputs: [f.input, ...(f.geometry ? [f.geometry] : [])] });
      const [n0, n1, n2] = measurementShape(geometry, [Z, H, W]);
      console.log(
        isCone(geometry)
          ? `wrote ${f.output}: ${n0} detector rows x ${n1} views x ${n2} columns (ASTRA's layout)`
          : `wrote ${f.output}: ${n0} slices x ${n1} views x ${n2} bins`,
      );
    } finally {
      gpu.dispose();
    }
  });
}
