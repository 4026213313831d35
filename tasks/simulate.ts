/**
 * `deno task simulate --input VOL --views N [--angle-range DEG] [--noise I0] --output SINO.nii.gz`:
 * writes the parallel-beam measurement of a volume and its `.geometry.json` sidecar.
 * @module
 */
import { z } from "../lib/deps.ts";
import { GpuContext } from "../lib/gpu/context.ts";
import { readVolumeFile, VOLUME_INPUTS } from "../lib/io/files.ts";
import { writeSinogram } from "../lib/io/sinogram.ts";
import { chooseMapping, toUnit } from "../lib/intensity.ts";
import { measure } from "../lib/ct/measure.ts";
import { intFlag, numberFlag, parseFlags, runTask, windowFlag } from "./cli.ts";

const FLAGS = {
  input: { type: "string", help: `Volume to project (${VOLUME_INPUTS})` },
  views: { type: "string", help: "Number of views", default: "8" },
  "angle-range": {
    type: "string",
    help: "Limited angle: views over [0, DEG) degrees (default: 180, sparse view)",
  },
  noise: { type: "string", help: "Incident photons per ray (Poisson noise); none if absent" },
  seed: { type: "string", help: "Noise seed", default: "0" },
  window: {
    type: "string",
    help: "Map values to [0, 1] with this window, e.g. --window=-160,240 (HU default)",
  },
  output: { type: "string", help: "Sinogram output (.nii.gz, .nii, .npy); sidecar OUTPUT.geometry.json" },
} as const;

const Schema = z.object({
  input: z.string({ error: "is required" }),
  output: z.string({ error: "is required" }),
  views: intFlag("views").pipe(z.number().int().min(1, "must be at least 1")).default(8),
  "angle-range": numberFlag("angle-range").pipe(
    z.number().gt(0, "must be in (0, 360]").max(360, "must be in (0, 360]"),
  )
    .optional(),
  noise: numberFlag("noise").pipe(z.number().positive("must be > 0 photons")).optional(),
  seed: intFlag("seed").default(0),
  window: windowFlag.optional(),
});

if (import.meta.main) {
  runTask(async () => {
    const f = parseFlags(
      Deno.args,
      "Usage: deno task simulate --input VOL --views N --output SINO.nii.gz",
      FLAGS,
      Schema,
    );
    const volume = await readVolumeFile(f.input);
    const mapping = chooseMapping(volume, { window: f.window });
    const [Z, H, W] = volume.shape;
    const gpu = await GpuContext.create();
    try {
      const { y, geometry } = await measure(gpu, toUnit(volume.data, mapping), { Z, H, W }, {
        views: f.views,
        angleRange: f["angle-range"],
        photons: f.noise,
        seed: f.seed,
      });
      await writeSinogram(f.output, y, {
        geometry: { ...geometry, detectorSpacing: geometry.detectorSpacing },
        imageShape: [Z, H, W],
        spacing: volume.spacing,
        mapping: { kind: mapping.kind, lo: mapping.lo, hi: mapping.hi, unit: mapping.unit },
        noise: f.noise ? { photons: f.noise, attenuation: 0.02, seed: f.seed } : null,
      }, { inputs: [f.input] });
      console.log(
        `wrote ${f.output}: ${Z} slices x ${geometry.angles.length} views x ${geometry.detectorCount} bins`,
      );
    } finally {
      gpu.dispose();
    }
  });
}
