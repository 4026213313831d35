/**
 * `deno task metrics`: compares a reconstruction with a reference volume and prints PSNR and SSIM per plane,
 * total variation and z-consistency, as a table or as JSON. Parsing and printing only; the metrics are in
 * `lib/metrics/`.
 *
 * ```sh
 * deno task metrics --reference gt.nii.gz --input recon.nii.gz --window=-1000,1000
 * deno task metrics --reference gt.npy --input recon.npy --json --gaussian
 * ```
 * @module
 */
import { z } from "../lib/deps.ts";
import { UserError } from "../lib/errors.ts";
import { readVolumeFile, VOLUME_INPUTS } from "../lib/io/files.ts";
import { computeMetrics, type Metrics, PLANES } from "../lib/metrics/index.ts";
import type { Volume } from "../lib/volume.ts";
import { type FlagSpec, parseFlags, runTask } from "./cli.ts";

const USAGE = "Usage: deno task metrics --reference GROUND_TRUTH --input RECONSTRUCTION [--window=lo,hi] " +
  "[--gaussian] [--json]";

// Every flag has a short name: cli.ts passes `short: undefined` through, which node:util's parseArgs rejects.
const FLAGS: Record<string, FlagSpec> = {
  reference: { type: "string", help: `Ground-truth volume: ${VOLUME_INPUTS}`, short: "r" },
  input: { type: "string", help: "Volume to score, same shape as the reference", short: "i" },
  window: {
    type: "string",
    help:
      "Map values lo..hi to 0..1 before clipping, e.g. --window=-1000,1000 for HU (the = is needed when lo < 0)",
    short: "w",
  },
  gaussian: {
    type: "boolean",
    help: "SSIM with the 11-tap Gaussian window (Wang et al.), not 7x7 uniform",
    short: "g",
  },
  json: { type: "boolean", help: "Print one JSON object instead of a table", short: "j" },
};

const WINDOW_ERROR = "must be two numbers lo,hi with lo < hi";
const Schema = z.object({
  reference: z.string({ error: "is required" }).min(1, "must not be empty"),
  input: z.string({ error: "is required" }).min(1, "must not be empty"),
  window: z.string()
    .regex(
      /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*,\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i,
      WINDOW_ERROR,
    )
    .transform((s) => s.split(",").map(Number) as [number, number])
    .refine(([lo, hi]) => lo < hi, WINDOW_ERROR)
    .optional(),
  gaussian: z.boolean().default(false),
  json: z.boolean().default(false),
});

/**
 * Without --window the metrics clip to [0, 1], which silently turns a HU volume into a black-and-white mask;
 * refuse instead when a sizeable part of a volume lies far outside that range.
 */
function checkUnitRange(volume: Volume, flag: string, path: string): void {
  let outside = 0, lo = Infinity, hi = -Infinity;
  for (const v of volume.data) {
    if (v < -0.5 || v > 1.5) outside++;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (outside > 0.01 * volume.data.length) {
    throw new UserError(
      `--window: ${flag} ${path} has values in [${+lo.toFixed(3)}, ${+hi.toFixed(3)}], not [0, 1]; give ` +
        `--window=lo,hi to map them (e.g. --window=-1000,1000 for HU)`,
    );
  }
}

function table(m: Metrics, flags: z.infer<typeof Schema>, shape: number[]): string {
  const f = (v: number, d: number) => (Number.isFinite(v) ? v.toFixed(d) : "n/a");
  const window = flags.window ? `${flags.window[0]},${flags.window[1]}` : "none (values in [0, 1])";
  const ratio = (a: number, b: number) => (b === 0 ? "n/a" : (a / b).toFixed(3));
  const lines = [
    `reference ${flags.reference}`,
    `input     ${flags.input}`,
    `shape ${shape.join("x")} (z, y, x), window ${window}, SSIM ${
      flags.gaussian ? "Gaussian 11x11" : "uniform 7x7"
    }`,
    "",
    "plane       PSNR (dB)     SSIM",
    ...PLANES.map((p) => `${p.padEnd(10)}${f(m.psnr[p], 2).padStart(11)}${f(m.ssim[p], 4).padStart(9)}`),
    "",
    "                   input  reference   ratio",
    `TV (total)    ${f(m.tv.total, 5).padStart(10)} ${f(m.tvReference.total, 5).padStart(10)} ${
      ratio(m.tv.total, m.tvReference.total).padStart(7)
    }`,
    `z-consistency ${f(m.zConsistency, 5).padStart(10)} ${f(m.zConsistencyReference, 5).padStart(10)} ${
      f(m.zConsistencyRatio, 3).padStart(7)
    }`,
  ];
  if (PLANES.some((p) => !Number.isFinite(m.ssim[p]))) {
    lines.push("", "n/a: that plane's slices are smaller than the SSIM window");
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, USAGE, FLAGS, Schema);
  const [reference, input] = await Promise.all([
    readVolumeFile(flags.reference),
    readVolumeFile(flags.input),
  ]);
  if (reference.shape.some((n, i) => n !== input.shape[i])) {
    throw new UserError(
      `--input: shape ${input.shape.join("x")} differs from --reference's ${reference.shape.join("x")} ` +
        `(z, y, x); metrics compare voxel by voxel`,
    );
  }
  if (!flags.window) {
    checkUnitRange(reference, "--reference", flags.reference);
    checkUnitRange(input, "--input", flags.input);
  }
  const m = computeMetrics(input, reference, { window: flags.window, gaussian: flags.gaussian });
  if (flags.json) {
    console.log(JSON.stringify(
      {
        reference: flags.reference,
        input: flags.input,
        shape: reference.shape,
        window: flags.window ?? null,
        ssimWindow: flags.gaussian ? "gaussian" : "uniform7",
        ...m,
      },
      null,
      2,
    ));
  } else {
    console.log(table(m, flags, reference.shape));
  }
}

if (import.meta.main) await runTask(main);
