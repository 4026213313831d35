/**
 * The flags of `deno task reconstruct --task zsr` and their schema.
 * @module
 */
import { z } from "../lib/deps.ts";
import { VOLUME_INPUTS } from "../lib/io/files.ts";
import { intFlag, rangeFlag, unitFlag } from "./cli.ts";

export const ZSR_METHODS = ["blend++", "blend", "cgls", "tv", "linear", "cubic"] as const;

/** The defaults of zsr's diffusion run: cubic interpolation noised to t0, a short reverse process, no finish. */
export const ZSR_DEFAULTS = { t0: 40, steps: 5 } as const;

export const FLAGS = {
  task: { type: "string", help: "zsr: z-super-resolution of a thick-slice volume" },
  factor: { type: "string", help: "Thin slices per thick slice (>= 2)" },
  input: { type: "string", help: `Thick-slice volume (${VOLUME_INPUTS})` },
  slices: { type: "string", help: "Use thick slices A:B only" },
  output: { type: "string", help: "Thin volume", default: "OUT-DIR/thin.nii.gz" },
  "out-dir": { type: "string", help: "Output folder", default: "out, or the folder of --output" },
  method: { type: "string", help: `One of ${ZSR_METHODS.join(", ")}`, default: "blend++" },
  steps: { type: "string", help: "Diffusion steps from --t0", default: String(ZSR_DEFAULTS.steps) },
  t0: {
    type: "string",
    help: "Diffusion: timestep cubic interpolation is noised to",
    default: String(ZSR_DEFAULTS.t0),
  },
  seed: { type: "string", help: "Seed", default: "0" },
  model: { type: "string", help: "Model card JSON", default: "models/blendct-prior.json" },
  backend: { type: "string", help: "Denoiser back end: auto, webgpu, wasm, native", default: "auto" },
  unit: { type: "string", help: "Unit of the input when its file does not say: hu, mu or image" },
  resample: { type: "boolean", help: "Resample slices to the model's size instead of refusing" },
  reference: { type: "string", help: "Thin ground truth: metrics against linear and cubic interpolation" },
  "metric-range": {
    type: "string",
    help: "PSNR/SSIM data range LO,HI in the input's unit",
    default: "HU -1024,3071",
  },
  force: { type: "boolean", help: "Replace an earlier run's outputs in OUT-DIR" },
} as const;

export const Schema = z.object({
  task: z.literal("zsr"),
  factor: intFlag("factor").pipe(z.number().int().min(2, "must be a whole number >= 2")),
  input: z.string({ error: "is required (the thick-slice volume)" }),
  slices: z.string().optional(),
  output: z.string().optional(),
  "out-dir": z.string().optional(),
  method: z.enum(ZSR_METHODS, { error: `must be one of ${ZSR_METHODS.join(", ")}` }).default("blend++"),
  steps: intFlag("steps").pipe(z.number().int().min(1, "must be >= 1")).optional(),
  t0: intFlag("t0").pipe(z.number().int().min(1, "must be in 1..999").max(999, "must be in 1..999"))
    .optional(),
  seed: intFlag("seed").default(0),
  model: z.string().optional(),
  backend: z.enum(["auto", "webgpu", "wasm", "native"], { error: "must be auto, webgpu, wasm or native" })
    .default("auto"),
  unit: unitFlag.optional(),
  resample: z.boolean().default(false),
  reference: z.string().optional(),
  "metric-range": rangeFlag("metric-range").optional(),
  force: z.boolean().default(false),
});
