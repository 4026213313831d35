/** `deno task train`'s flags and their schema. @module */
import { z } from "../lib/deps.ts";
import { UserError } from "../lib/errors.ts";
import { flagSchema, intFlag, numberFlag, unitFlag } from "./_cli.ts";

const pos = (name: string) => intFlag(name).pipe(z.number().int().min(1, "must be at least 1"));
/** The flags, with help texts. */
export const FLAGS = {
  data: {
    type: "string",
    help: "A folder of NIfTI files and DICOM series (any mix), or a JSON list of paths",
    schema: z.string().optional(),
  },
  out: {
    type: "string",
    help: "Run folder: volumes, checkpoint, loss log, model.onnx and model.json",
    schema: z.string().optional(),
  },
  val: {
    type: "string",
    help: "Validation volumes (folder or JSON list)",
    default: "every 5th volume of --data",
    schema: z.string().optional(),
  },
  unit: {
    type: "string",
    help: "Unit of volumes whose files do not say: hu, mu or image",
    schema: unitFlag.optional(),
  },
  init: {
    type: "string",
    help: "Fine-tune from a model card (its .ckpt.pt next to it), e.g. models/blendct-prior.json",
    schema: z.string().optional(),
  },
  steps: { type: "string", help: "Train this many steps in total", schema: pos("steps").optional() },
  minutes: {
    type: "string",
    help: "Train this many minutes (this session)",
    default: "60 unless --steps",
    schema: numberFlag("minutes").pipe(z.number().positive("must be > 0")).optional(),
  },
  axes: {
    type: "string",
    help: "Triplets along z only, or along all three axes",
    default: "all",
    schema: z.enum(["z", "all"], { error: "must be z or all" }).default("all"),
  },
  crop: {
    type: "string",
    help: "Training crop size in pixels",
    default: "96",
    schema: pos("crop").pipe(z.number().min(16, "must be at least 16")).default(96),
  },
  batch: {
    type: "string",
    help: "Triplets per step (over all processes)",
    default: "16",
    schema: pos("batch").default(16),
  },
  device: {
    type: "string",
    help: "auto (CUDA when torch sees it), cpu or cuda",
    default: "auto",
    schema: z.enum(["auto", "cpu", "cuda"], { error: "must be auto, cpu or cuda" }).default("auto"),
  },
  nproc: {
    type: "string",
    help: "Processes (PyTorch DDP via torchrun): gloo on CPU, nccl on GPU",
    default: "1",
    schema: pos("nproc").default(1),
  },
  shipped: {
    type: "boolean",
    help:
      "Also draw the shipped prior's own training data (colin27 pseudo-CT, procedural phantoms), so a fine-tune keeps what it learned",
    schema: z.boolean().default(false),
  },
  whole: {
    type: "boolean",
    help:
      "Whole slices shrunk to --crop pixels instead of crops: a coarse prior for `deno task generate --coarse` (e.g. --crop 64)",
    schema: z.boolean().default(false),
  },
  force: {
    type: "boolean",
    help: "Start over in a RUN_DIR that holds another run",
    schema: z.boolean().default(false),
  },
  tiny: { type: "boolean", help: "A tiny network (for tests)", schema: z.boolean().default(false) },
} as const;

/** Their validation. */
export const Schema = flagSchema(FLAGS);
/** Validated flags. */
export type Flags = z.infer<typeof Schema>;

/** The settings a resumed run must share with the checkpoint in its folder. */
export function settingsOf(f: Flags) {
  return {
    axes: f.axes,
    crop: f.crop,
    tiny: f.tiny,
    init: f.init ?? null,
    data: f.data ?? null,
    shipped: f.shipped,
    whole: f.whole,
  };
}

/** Whether `out` holds a run to resume with the same settings; a run with other settings is refused. */
export async function checkRunDir(out: string, f: Flags): Promise<boolean> {
  let old: Record<string, unknown>;
  try {
    old = JSON.parse(await Deno.readTextFile(`${out}/run.json`));
  } catch {
    return false;
  }
  const now = settingsOf(f) as Record<string, unknown>;
  for (const [k, v] of Object.entries(now)) {
    // a run made before a setting existed ran with its default
    if (!(k in old) && v === false) continue;
    if (JSON.stringify(old[k]) !== JSON.stringify(v)) {
      if (f.force) return false;
      throw new UserError(
        `${out} holds a run with ${k} ${JSON.stringify(old[k])}, not ${
          JSON.stringify(v)
        }: pass the same, or --force to start over`,
      );
    }
  }
  return true;
}

/**
 * `deno task export`'s flags: checked here, with blendct's help and one-line errors, then passed on to
 * `train/export.py` unchanged.
 */
export const EXPORT_FLAGS = {
  ckpt: {
    type: "string",
    help: "Training checkpoint to export (train.py's ckpt.pt)",
    default: "$BLENDCT_CACHE/train/ckpt.pt ($BLENDCT_CACHE: ~/.cache/blendct)",
    schema: z.string().optional(),
  },
  out: {
    type: "string",
    help: "Folder for NAME.onnx, NAME.json (the card), NAME.parity.json and NAME.loss.png",
    default: "models",
    schema: z.string().optional(),
  },
  name: {
    type: "string",
    help: "File name stem of the exported prior",
    default: "blendct-prior",
    schema: z.string().regex(/^[\w.-]+$/, "must be a file name stem (letters, digits, _ . -)").optional(),
  },
  force: {
    type: "boolean",
    help: "Write even if the held-out x0 RMSE did not improve on the card there",
    schema: z.boolean().default(false),
  },
  "ckpt-copy": {
    type: "string",
    help: "Also copy a compact resumable checkpoint to this path",
    schema: z.string().optional(),
  },
  volumes: {
    type: "string",
    help: "volumes.json of a `deno task train` run: evaluate on its validation volumes",
    schema: z.string().optional(),
  },
  "eval-on": {
    type: "string",
    help: "With --volumes: the run's validation volumes (run) or blendct's held-out CTs (held-out)",
    default: "run",
    schema: z.enum(["run", "held-out"], { error: "must be run or held-out" }).optional(),
  },
  "eval-count": {
    type: "string",
    help: "Held-out triplets the x0 RMSE is measured on",
    default: "8",
    schema: pos("eval-count").optional(),
  },
  "eval-size": {
    type: "string",
    help: "Crop size of those triplets in pixels (a whole-slice prior is evaluated at its own size)",
    default: "256",
    schema: pos("eval-size").pipe(z.number().min(16, "must be at least 16")).optional(),
  },
} as const;

/** Their validation. */
export const ExportSchema = flagSchema(EXPORT_FLAGS);
