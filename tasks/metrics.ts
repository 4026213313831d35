/**
 * `deno task metrics`: compares a reconstruction with a reference volume and prints PSNR and SSIM per plane,
 * total variation and z-consistency, as a table or as JSON. Parsing and printing only; the metrics are in
 * `lib/metrics/`.
 *
 * ```sh
 * deno task metrics --reference gt.nii.gz --input recon.nii.gz --metric-range=-1024,3071
 * deno task metrics --reference gt.npy --input recon.npy --json --gaussian
 * ```
 * @module
 */
import { z } from "../lib/deps.ts";
import { UserError } from "../lib/errors.ts";
import { readVolumeFile, VOLUME_INPUTS } from "../lib/io/files.ts";
import { computeMetrics, type Metrics, PLANES } from "../lib/metrics/index.ts";
import { DEFAULT_MU_WATER, defaultMetricRange } from "../lib/units.ts";
import { flagSchema, parseFlags, rangeFlag, runTask, unitFlag } from "./_cli.ts";

const USAGE = "Usage: deno task metrics --reference GROUND_TRUTH --input RECONSTRUCTION " +
  "[--metric-range LO,HI] [--unit hu|mu|image] [--gaussian] [--json]";

// Every flag has a short name: cli.ts passes `short: undefined` through, which node:util's parseArgs rejects.
const FLAGS = {
  reference: {
    type: "string",
    help: `Ground-truth volume: ${VOLUME_INPUTS}`,
    short: "r",
    schema: z.string({ error: "is required" }).min(1, "must not be empty"),
  },
  input: {
    type: "string",
    help: "Volume to score, same shape as the reference",
    short: "i",
    schema: z.string({ error: "is required" }).min(1, "must not be empty"),
  },
  "metric-range": {
    type: "string",
    help: "Data range LO,HI of PSNR/SSIM in the volumes' unit",
    default: "HU -1024,3071; image 0,1; mu the same HU range in 1/mm",
    short: "m",
    schema: rangeFlag("metric-range").optional(),
  },
  unit: {
    type: "string",
    help: "Unit of both volumes when their files do not say: hu, mu or image",
    short: "u",
    schema: unitFlag.optional(),
  },
  gaussian: {
    type: "boolean",
    help: "SSIM with the 11-tap Gaussian window (Wang et al.), not 7x7 uniform",
    short: "g",
    schema: z.boolean().default(false),
  },
  json: {
    type: "boolean",
    help: "Print one JSON object instead of a table",
    short: "j",
    schema: z.boolean().default(false),
  },
} as const;

const Schema = flagSchema(FLAGS);

function table(
  m: Metrics,
  flags: z.infer<typeof Schema>,
  shape: number[],
  range: [number, number],
  unit: string,
): string {
  const f = (v: number, d: number) => (Number.isFinite(v) ? v.toFixed(d) : "n/a");
  const window = `${range[0]},${range[1]} ${unit}`;
  const ratio = (a: number, b: number) => (b === 0 ? "n/a" : (a / b).toFixed(3));
  const lines = [
    `reference ${flags.reference}`,
    `input     ${flags.input}`,
    `shape ${shape.join("x")} (z, y, x), data range ${window}, SSIM ${
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
    readVolumeFile(flags.reference, { unit: flags.unit }),
    readVolumeFile(flags.input, { unit: flags.unit }),
  ]);
  for (const v of [reference, input]) if (v.unitNotice) console.error(`note: ${v.unitNotice}`);
  if (reference.unit !== input.unit) {
    throw new UserError(
      `--input is in ${input.unit} but --reference is in ${reference.unit}: convert one, or pass --unit`,
    );
  }
  if (reference.shape.some((n, i) => n !== input.shape[i])) {
    throw new UserError(
      `--input: shape ${input.shape.join("x")} differs from --reference's ${reference.shape.join("x")} ` +
        `(z, y, x); metrics compare voxel by voxel`,
    );
  }
  const units = { unit: reference.unit ?? "image", muWater: DEFAULT_MU_WATER } as const;
  const range = flags["metric-range"] ?? defaultMetricRange(units);
  const m = computeMetrics(input, reference, { range, gaussian: flags.gaussian });
  if (flags.json) {
    console.log(JSON.stringify(
      {
        reference: flags.reference,
        input: flags.input,
        shape: reference.shape,
        unit: units.unit,
        range,
        ssimWindow: flags.gaussian ? "gaussian" : "uniform7",
        ...m,
      },
      null,
      2,
    ));
  } else {
    console.log(table(m, flags, reference.shape, range, units.unit));
  }
}

if (import.meta.main) await runTask(main);
