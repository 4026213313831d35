/**
 * The flags of `deno task reconstruct --task zsr`, their schema, and reading the inputs they name.
 * @module
 */
import { BACKEND_FLAGS, refineBackend } from "./_reconstruct_flags.ts";
import { z } from "../lib/deps.ts";
import { readVolumeFile, VOLUME_INPUTS } from "../lib/io/files.ts";
import { readCaseVolume } from "../lib/jobs/case.ts";
import { DEFAULT_MU_WATER, type UnitMap } from "../lib/units.ts";
import { thinGrid } from "../lib/jobs/zsr.ts";
import type { Volume } from "../lib/volume.ts";
import { UserError } from "../lib/errors.ts";
import { flagSchema, intFlag, rangeFlag } from "./_cli.ts";
import { MODEL_FLAG, PRECISION_FLAG, SEED_FLAG, UNIT_FLAG } from "./_shared_flags.ts";

export const ZSR_METHODS = ["blend++", "blend", "cgls", "tv", "linear", "cubic"] as const;

/** The defaults of zsr's diffusion run: cubic interpolation noised to t0, a short reverse process, no finish. */
export const ZSR_DEFAULTS = { t0: 40, steps: 5 } as const;

export const FLAGS = {
  task: { type: "string", help: "zsr: z-super-resolution of a thick-slice volume", schema: z.literal("zsr") },
  factor: {
    type: "string",
    help: "Thin slices per thick slice (>= 2)",
    schema: intFlag("factor").pipe(z.number().int().min(2, "must be a whole number >= 2")),
  },
  input: {
    type: "string",
    help: `Thick-slice volume (${VOLUME_INPUTS})`,
    schema: z.string({ error: "is required (the thick-slice volume)" }),
  },
  slices: { type: "string", help: "Use thick slices A:B only", schema: z.string().optional() },
  output: {
    type: "string",
    help: "Thin volume",
    default: "OUT-DIR/thin.nii.gz",
    schema: z.string().optional(),
  },
  "out-dir": {
    type: "string",
    help: "Output folder",
    default: "out, or the folder of --output",
    schema: z.string().optional(),
  },
  method: {
    type: "string",
    help: `One of ${ZSR_METHODS.join(", ")}`,
    default: "blend++",
    schema: z.enum(ZSR_METHODS, { error: `must be one of ${ZSR_METHODS.join(", ")}` }).default("blend++"),
  },
  steps: {
    type: "string",
    help: "Diffusion steps from --t0",
    default: String(ZSR_DEFAULTS.steps),
    schema: intFlag("steps").pipe(z.number().int().min(1, "must be >= 1")).optional(),
  },
  t0: {
    type: "string",
    help: "Diffusion: timestep cubic interpolation is noised to",
    default: String(ZSR_DEFAULTS.t0),
    schema: intFlag("t0").pipe(z.number().int().min(1, "must be in 1..999").max(999, "must be in 1..999"))
      .optional(),
  },
  seed: SEED_FLAG,
  model: MODEL_FLAG,
  ...BACKEND_FLAGS,
  precision: PRECISION_FLAG,
  unit: UNIT_FLAG,
  resample: {
    type: "boolean",
    help: "Resample slices to the model's size instead of refusing",
    schema: z.boolean().default(false),
  },
  reference: {
    type: "string",
    help: "Thin ground truth: metrics against linear and cubic interpolation",
    schema: z.string().optional(),
  },
  "metric-range": {
    type: "string",
    help: "PSNR/SSIM data range LO,HI in the input's unit",
    default: "HU -1024,3071",
    schema: rangeFlag("metric-range").optional(),
  },
  force: {
    type: "boolean",
    help: "Replace an earlier run's outputs in OUT-DIR",
    schema: z.boolean().default(false),
  },
} as const;

export const Schema = flagSchema(FLAGS).superRefine((f, ctx) =>
  refineBackend(f, ctx, ["blend++", "blend", "dds"])
);

/** The parsed zsr flags. */
export type Flags = z.infer<typeof Schema>;

/** `--task` of argv (`--task zsr` or `--task=zsr`), or undefined. */
export function taskOf(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--task") return args[i + 1];
    if (args[i].startsWith("--task=")) return args[i].slice(7);
  }
  return undefined;
}

/** Thin volumes above this many voxels are refused (GPU buffers of a few times this size are needed). */
export const MAX_THIN_VOXELS = 256 * 256 * 512;

/** One console line per scored method of a metrics record. */
export function printScores(metrics: Record<string, unknown>): void {
  for (const [name, m] of Object.entries(metrics)) {
    if (typeof m !== "object" || !m || !("psnr" in m)) continue;
    const p = (m as { psnr: Record<string, number> }).psnr;
    const planes = [p.axial, p.coronal, p.sagittal].map((v) => v.toFixed(2)).join("/");
    console.log(`${name.padEnd(8)} PSNR axial (unseen)/coronal/sagittal ${planes} dB`);
  }
}

/** The thick volume (cropped, resampled to the model's slice size) and the optional thin reference. */
export async function readZsrInputs(f: Flags, imageSize?: number): Promise<{
  thick: Volume;
  reference: Volume | null;
  grid: Volume;
  units: UnitMap;
}> {
  // the one case reader (unit, slices, resampling), as reconstruct reads its input
  const read = await readCaseVolume({
    input: f.input,
    unit: f.unit,
    slices: f.slices,
    imageSize,
    resample: f.resample,
  });
  for (const line of read.notices) console.error(line);
  const thick = read.volume;
  const [Zt, H0, W0] = thick.shape;
  if (Zt * f.factor * H0 * W0 > MAX_THIN_VOXELS) {
    throw new UserError(
      `--factor ${f.factor}: ${Zt} slices x ${f.factor} of ${H0}x${W0} exceed ${MAX_THIN_VOXELS} voxels: use --slices A:B or a smaller factor`,
    );
  }
  const units: UnitMap = { unit: thick.unit ?? "image", muWater: DEFAULT_MU_WATER, imageHu: thick.imageHu };
  const grid = thinGrid(thick, f.factor);
  const reference = f.reference ? await readVolumeFile(f.reference, { unit: f.unit ?? thick.unit }) : null;
  if (reference && reference.shape.join() !== grid.shape.join()) {
    throw new UserError(
      `--reference is ${reference.shape.join("x")} but the thin volume is ${
        grid.shape.join("x")
      } (${Zt} slices x ${f.factor})`,
    );
  }
  return { thick, reference, grid, units };
}
