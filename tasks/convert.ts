/**
 * `deno task convert`: reads a volume (NIfTI, .npy, .npz, a DICOM folder or a sample) and writes it as
 * NIfTI or .npy. Parsing and printing only; the work is in `lib/io/`.
 *
 * ```sh
 * deno task convert --input dicom/series1 --output ct.nii.gz
 * deno run -A https://host/blendct/tasks/convert.ts --input sample:lidc --output lidc.nii.gz
 * ```
 * @module
 */
import { z } from "../lib/deps.ts";
import {
  readVolumeFile,
  VOLUME_INPUTS,
  VOLUME_OUTPUTS,
  writeJsonAtomic,
  writeVolumeFile,
} from "../lib/io/files.ts";
import { VERSION } from "../lib/version.ts";
import { UserError } from "../lib/errors.ts";
import { flagSchema, parseFlags, runTask, unitFlag } from "./_cli.ts";

const USAGE = "Usage: deno task convert --input <DICOM folder | .nii[.gz] | .npy | .npz | sample:NAME> " +
  "--output OUT.nii.gz";

// Every flag has a short name: cli.ts passes `short: undefined` through, which node:util's parseArgs rejects.
const SPACING_ERROR = "must be three positive numbers dz,dy,dx";
const positive = z.number({ error: SPACING_ERROR }).positive(SPACING_ERROR);
const FLAGS = {
  input: {
    type: "string",
    help: `Volume to read: ${VOLUME_INPUTS}`,
    short: "i",
    schema: z.string({ error: "is required" }).min(1, "must not be empty"),
  },
  output: {
    type: "string",
    help: `File to write: ${VOLUME_OUTPUTS}`,
    short: "o",
    schema: z.string({ error: "is required" }).regex(
      /\.(nii\.gz|nii|npy)$/i,
      `must end in ${VOLUME_OUTPUTS}`,
    ),
  },
  dtype: {
    type: "string",
    help: "Voxel type of a NIfTI output: float32 | int16",
    default: "float32",
    short: "t",
    schema: z.enum(["float32", "int16"], { error: "must be float32 or int16" }).default("float32"),
  },
  unit: {
    type: "string",
    help: "Unit of the values when the input does not say: hu, mu or image",
    short: "u",
    schema: unitFlag.optional(),
  },
  spacing: {
    type: "string",
    help: "Voxel size dz,dy,dx in mm for .npy/.npz inputs",
    default: "1,1,1",
    short: "s",
    schema: z.string()
      .regex(/^\s*[^,]+,[^,]+,[^,]+\s*$/, SPACING_ERROR)
      .transform((s) => s.split(",").map(Number))
      .pipe(z.tuple([positive, positive, positive]))
      .optional(),
  },
} as const;

const Schema = flagSchema(FLAGS);

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, USAGE, FLAGS, Schema);
  if (flags.spacing && !/\.np[yz](:[^/\\]+)?$/i.test(flags.input)) {
    throw new UserError(`--spacing: only applies to .npy/.npz inputs, which store no voxel size`);
  }
  const volume = await readVolumeFile(flags.input, { unit: flags.unit, spacing: flags.spacing });
  if (volume.unitNotice) console.error(`note: ${volume.unitNotice}`);
  if (volume.spacingNotice) console.error(`note: ${volume.spacingNotice}`);
  await writeVolumeFile(flags.output, volume, { inputs: [flags.input], datatype: flags.dtype });
  // a BIDS-style sidecar next to the output, as dcm2niix writes one: what downstream tools read
  const sidecar = flags.output.replace(/(\.nii\.gz|\.nii|\.npy)$/i, "") + ".json";
  const info = {
    ...(volume.dicom ?? {}),
    Unit: volume.unit ?? "image",
    ...(volume.imageHu ? { ImageHU: volume.imageHu } : {}),
    VoxelSizeMM: [...volume.spacing].reverse(),
    ConversionSoftware: "blendct",
    ConversionSoftwareVersion: VERSION,
    Source: flags.input,
  };
  await writeJsonAtomic(sidecar, info, {
    inputs: [flags.input],
  });
  const [dz, dy, dx] = volume.spacing.map((s) => +s.toFixed(4));
  console.log(
    `wrote ${flags.output}: ${volume.shape.join("x")} voxels (ZxYxX), spacing ${dz}x${dy}x${dx} mm, ` +
      `unit ${volume.unit ?? "image"}; sidecar ${sidecar}`,
  );
}

if (import.meta.main) await runTask(main);
