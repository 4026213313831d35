/**
 * `deno task generate [--slices 16] [--size 256] [--steps 50] [--seed 0] [--output out/generated.nii.gz]`:
 * unconditional samples from the prior with the same blending as reconstruction, written as a NIfTI in HU
 * (1 mm voxels) and a preview PNG of its mid-planes. With `--coarse CARD` coarse to fine: a whole-slice prior
 * you trained (`train.py --whole`) draws the layout at its size, the 256² prior the detail from `--refine-t0`;
 * by default the 256² prior alone.
 * @module
 */
import { z } from "../lib/deps.ts";
import { writeFileAtomic, writeJsonAtomic, writeVolumeFile } from "../lib/io/files.ts";
import { gpuFor, openCoarsePrior, openPrior, type Prior, priorSummary } from "../lib/prior/prior.ts";
import type { GpuContext } from "../lib/gpu/context.ts";
import { modelMap } from "../lib/prior/card.ts";
import { generateVolume, REFINE_T0, refineSteps } from "../lib/jobs/generate.ts";
import { DEFAULT_MU_WATER, displayWindow, fromU, type UnitMap } from "../lib/units.ts";
import { makeVolume } from "../lib/volume.ts";
import { midPlanesPng } from "../lib/report/png.ts";
import { displayOriented } from "../lib/report/orient.ts";
import { createProgress, formatDuration } from "../lib/report/progress.ts";
import { buildManifest } from "../lib/report/manifest.ts";
import { UserError } from "../lib/errors.ts";
import { flagSchema, intFlag, makeOutputFolder, parseFlags, runTask } from "./_cli.ts";
import { claimOutputs, type OutputClaim } from "../lib/report/sidecars.ts";
import { MODEL_FLAG, ORT_BACKEND_FLAG, PRECISION_FLAG, SEED_FLAG } from "./_shared_flags.ts";

const FLAGS = {
  slices: {
    type: "string",
    help: "Slices to generate (>= 3)",
    default: "16",
    schema: intFlag("slices").pipe(
      z.number().int().min(3, "must be >= 3 (the prior sees 3 slices at a time)"),
    )
      .default(16),
  },
  size: {
    type: "string",
    help: "Slice width and height (must be the model's)",
    default: "the model's (256)",
    schema: intFlag("size").pipe(z.number().int().min(8, "must be >= 8")).optional(),
  },
  steps: {
    type: "string",
    help: "DDIM steps from noise",
    default: "50",
    schema: intFlag("steps").pipe(z.number().int().min(1, "must be >= 1").max(1000, "must be <= 1000"))
      .default(
        50,
      ),
  },
  seed: SEED_FLAG,
  model: MODEL_FLAG,
  coarse: {
    type: "string",
    help: "Whole-slice prior drawing the layout first (model card JSON), or none: the fine prior alone",
    default: "none (the shipped whole-slice prior was withdrawn: its training saw a reserved volume)",
    schema: z.string().optional(),
  },
  "refine-t0": {
    type: "string",
    help: "Timestep the upsampled coarse volume is noised to before the fine prior takes over",
    default: String(REFINE_T0),
    schema: intFlag("refine-t0").pipe(
      z.number().int().gt(0, "must be in (0, 1000)").lt(1000, "must be in (0, 1000)"),
    ).default(REFINE_T0),
  },
  backend: ORT_BACKEND_FLAG,
  precision: PRECISION_FLAG,
  output: {
    type: "string",
    help: "Volume path",
    default: "out/generated.nii.gz",
    schema: z.string().default("out/generated.nii.gz"),
  },
  force: {
    type: "boolean",
    help: "Replace an earlier run's outputs in the output's folder",
    schema: z.boolean().default(false),
  },
} as const;

const Schema = flagSchema(FLAGS);

async function main(): Promise<void> {
  const f = parseFlags(Deno.args, "Usage: deno task generate [--slices 16] [--seed 0]", FLAGS, Schema);
  const t0 = performance.now();
  const prior = await openPrior({ model: f.model, backend: f.backend, precision: f.precision });
  let coarse: Prior | null = null, gpu: GpuContext | null = null;
  let claim: OutputClaim | null = null;
  try {
    const size = f.size ?? prior.card.imageSize;
    if (size !== prior.card.imageSize) {
      throw new UserError(
        `--size ${size}: the model generates ${prior.card.imageSize}x${prior.card.imageSize} slices (its training size); pass --size ${prior.card.imageSize} or another --model`,
      );
    }
    const opts = { backend: f.backend, precision: f.precision };
    coarse = f.coarse === undefined || f.coarse === "none"
      ? null
      : await openCoarsePrior({ model: f.coarse, ...opts });
    // made once every input is known good, so a refusal leaves nothing behind
    await makeOutputFolder(f.output);
    claim = await claimOutputs(f.output, { force: f.force });
    const files = claim.files;
    gpu = await gpuFor(prior);
    // with a coarse stage the count runs over both stages: say so, so 4 steps counting to 6 is no surprise
    const label = coarse
      ? `generate (${f.steps} coarse + ${refineSteps(f.steps, f["refine-t0"])} refining steps)`
      : "generate";
    const progress = createProgress(label, { unit: "step" });
    const u = await generateVolume(gpu, prior.denoiser, {
      slices: f.slices,
      size,
      steps: f.steps,
      seed: f.seed,
      schedule: prior.card.schedule,
      modelMap: modelMap(prior.card),
      coarse: coarse
        ? {
          model: coarse.denoiser,
          size: coarse.card.imageSize,
          schedule: coarse.card.schedule,
          modelMap: modelMap(coarse.card),
        }
        : undefined,
      refineT0: f["refine-t0"],
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.done();
    const units: UnitMap = { unit: "HU", muWater: DEFAULT_MU_WATER };
    const volume = makeVolume(fromU(u, units), [f.slices, size, size], { spacing: [1, 1, 1], unit: "HU" });
    await writeVolumeFile(f.output, volume);
    const png = files.preview;
    await writeFileAtomic(
      png,
      midPlanesPng([{ label: `generated, seed ${f.seed}`, volume: displayOriented(volume) }], {
        window: displayWindow(units),
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const manifest = buildManifest({
      command: ["deno", "task", "generate", ...Deno.args],
      adapter: gpu.adapter,
      seed: f.seed,
      config: { ...f, size, units, coarse: coarse ? priorSummary(coarse) : "none" },
      model: priorSummary(prior),
      inputs: [],
      timings: { total: seconds },
      outputs: [f.output, png, files.manifest],
      ortVersion: prior.ortVersion,
    });
    await writeJsonAtomic(files.manifest, manifest);
    await claim.finish([f.output, png, files.manifest]);
    console.log(`wrote ${f.output}, ${png}, ${files.manifest} in ${formatDuration(seconds)}`);
  } finally {
    await claim?.release();
    await prior.dispose();
    await coarse?.dispose();
    gpu?.dispose();
  }
}

if (import.meta.main) runTask(main);
