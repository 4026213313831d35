/** `deno task train`'s flags and their schema. @module */
import { z } from "../lib/deps.ts";
import { UserError } from "../lib/errors.ts";
import { intFlag, numberFlag, unitFlag } from "./_cli.ts";

/** The flags, with help texts. */
export const FLAGS = {
  data: {
    type: "string",
    help: "A folder of NIfTI files and DICOM series (any mix), or a JSON list of paths",
  },
  out: { type: "string", help: "Run folder: volumes, checkpoint, loss log, model.onnx and model.json" },
  val: {
    type: "string",
    help: "Validation volumes (folder or JSON list)",
    default: "every 5th volume of --data",
  },
  unit: { type: "string", help: "Unit of volumes whose files do not say: hu, mu or image" },
  init: {
    type: "string",
    help: "Fine-tune from a model card (its .ckpt.pt next to it), e.g. models/blendct-prior.json",
  },
  steps: { type: "string", help: "Train this many steps in total" },
  minutes: { type: "string", help: "Train this many minutes (this session)", default: "60 unless --steps" },
  axes: { type: "string", help: "Triplets along z only, or along all three axes", default: "all" },
  crop: { type: "string", help: "Training crop size in pixels", default: "96" },
  batch: { type: "string", help: "Triplets per step (over all processes)", default: "16" },
  device: { type: "string", help: "auto (CUDA when torch sees it), cpu or cuda", default: "auto" },
  nproc: {
    type: "string",
    help: "Processes (PyTorch DDP via torchrun): gloo on CPU, nccl on GPU",
    default: "1",
  },
  shipped: {
    type: "boolean",
    help:
      "Also draw the shipped prior's own training data (colin27 pseudo-CT, procedural phantoms), so a fine-tune keeps what it learned",
  },
  whole: {
    type: "boolean",
    help:
      "Whole slices shrunk to --crop pixels instead of crops: a coarse prior for `deno task generate --coarse` (e.g. --crop 64)",
  },
  force: { type: "boolean", help: "Start over in a RUN_DIR that holds another run" },
  tiny: { type: "boolean", help: "A tiny network (for tests)" },
} as const;

const pos = (name: string) => intFlag(name).pipe(z.number().int().min(1, "must be at least 1"));
/** Their validation. */
export const Schema = z.object({
  data: z.string().optional(),
  out: z.string().optional(),
  val: z.string().optional(),
  unit: unitFlag.optional(),
  init: z.string().optional(),
  steps: pos("steps").optional(),
  minutes: numberFlag("minutes").pipe(z.number().positive("must be > 0")).optional(),
  axes: z.enum(["z", "all"], { error: "must be z or all" }).default("all"),
  crop: pos("crop").pipe(z.number().min(16, "must be at least 16")).default(96),
  batch: pos("batch").default(16),
  device: z.enum(["auto", "cpu", "cuda"], { error: "must be auto, cpu or cuda" }).default("auto"),
  nproc: pos("nproc").default(1),
  shipped: z.boolean().default(false),
  whole: z.boolean().default(false),
  force: z.boolean().default(false),
  tiny: z.boolean().default(false),
});
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
