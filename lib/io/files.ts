/**
 * Volumes on disk: {@linkcode readVolumeFile} picks the reader from the path (NIfTI, `.npy`, `.npz`, a DICOM
 * folder or `sample:NAME`), {@linkcode writeVolumeFile} the writer from the extension, and
 * {@linkcode writeFileAtomic} makes every output appear whole or not at all, and never on top of an input.
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "../errors.ts";
import type { Volume } from "../volume.ts";
import { isRawDataset, readDicomSeriesWithCodecs } from "./dicom.ts";
import { readNifti, writeNifti } from "./nifti.ts";
import { checkStatedUnit, inferUnit } from "../units.ts";
import { npyToVolume, readNpy, readNpz, writeNpy } from "./npy.ts";
import { loadSample, type LoadSampleOptions, type SampleName, SAMPLES } from "./samples.ts";

/** What {@linkcode readVolumeFile} accepts, for messages and `--help`. */
export const VOLUME_INPUTS =
  `.nii, .nii.gz, .npy, .npz (or file.npz:ARRAY), a folder of DICOM files, sample:${
    Object.keys(SAMPLES).join("|")
  }`;

/** What {@linkcode writeVolumeFile} writes, for messages and `--help`. */
export const VOLUME_OUTPUTS = ".nii.gz, .nii, .npy";

/** Options for {@linkcode readVolumeFile}. */
export interface ReadVolumeFileOptions {
  /** Unit of the values, overriding what the reader decided. Default: the reader's (see each reader). */
  unit?: Volume["unit"];
  /** Voxel size `[dz, dy, dx]` in mm for `.npy` / `.npz`, which store none. Default `[1, 1, 1]`. */
  spacing?: [number, number, number];
  /** Array to take from an `.npz`. Default: the `:ARRAY` suffix of the path, else the archive's first array. */
  array?: string;
  /** Passed to {@linkcode loadSample} for `sample:NAME` inputs. Default `{}`. */
  sample?: LoadSampleOptions;
  /** Read 2D `.npy` / `.npz` / NIfTI data (a 2D sinogram of views x bins) as one slice. Default `false`. */
  planar?: boolean;
}

/** Files in a DICOM folder that are certainly something else (exports often add a report or a preview). */
const NOT_DICOM = /\.(txt|json|md|xml|html?|pdf|csv|nii|gz|npy|npz|png|jpe?g|bmp|zip|tmp)$/i;

/**
 * Reads a volume from a path, dispatching on its form: `.nii` / `.nii.gz` (NIfTI), `.npy`, `.npz` (the
 * array named by a `:ARRAY` suffix or `options.array`, else the first), a folder (one DICOM series) or
 * `sample:lidc|headsq|stent`. In a folder, files without the DICOM Part-10 marker are ignored, as are
 * hidden files and subfolders. Throws a {@linkcode UserError} for a missing or unreadable path, an unknown
 * extension (listing the allowed ones), NaN/Inf values and data that is not one 3D volume.
 *
 * @example
 * ```ts
 * import { readVolumeFile, writeVolumeFile } from "./files.ts";
 * import { makeVolume } from "../volume.ts";
 * const path = await Deno.makeTempFile({ suffix: ".nii.gz" });
 * await writeVolumeFile(path, makeVolume(new Float32Array(8).fill(7), [2, 2, 2], { unit: "HU" }));
 * const volume = await readVolumeFile(path);
 * console.log(volume.shape, volume.data[0], volume.unit); // [2, 2, 2] 7 HU
 * await Deno.remove(path);
 * ```
 */
export async function readVolumeFile(path: string, options: ReadVolumeFileOptions = {}): Promise<Volume> {
  const volume = await readByKind(path, options);
  if (options.unit) {
    checkStatedUnit(volume.data, options.unit, path);
    return { ...volume, unit: options.unit, unitNotice: undefined };
  }
  return volume;
}

async function readByKind(path: string, options: ReadVolumeFileOptions): Promise<Volume> {
  if (path.startsWith("sample:")) return await readSample(path.slice("sample:".length), options);
  const npzMember = /^(.*\.npz):([^/\\]+)$/i.exec(path);
  const file = npzMember ? npzMember[1] : path;
  const info = await statInput(file);
  if (info.isDirectory) return await readDicomFolder(file);
  const lower = file.toLowerCase();
  if (lower.endsWith(".nii") || lower.endsWith(".nii.gz")) {
    return readNifti(await readInput(file), { name: file, unit: options.unit, planar: options.planar });
  }
  if (lower.endsWith(".npy")) {
    return withInferredUnit(
      npyToVolume(readNpy(await readInput(file), { name: file }), {
        name: file,
        spacing: options.spacing,
        planar: options.planar,
      }),
      file,
      options,
    );
  }
  if (lower.endsWith(".npz")) {
    return readNpzVolume(file, options.array ?? npzMember?.[2], options);
  }
  throw new UserError(`${path}: unknown file type; blendct reads ${VOLUME_INPUTS}`);
}

async function readSample(name: string, options: ReadVolumeFileOptions): Promise<Volume> {
  if (!(name in SAMPLES)) {
    throw new UserError(`unknown sample "${name}"; choose sample:${Object.keys(SAMPLES).join(", sample:")}`);
  }
  return await loadSample(name as SampleName, options.sample);
}

async function readNpzVolume(file: string, member: string | undefined, options: ReadVolumeFileOptions) {
  const arrays = readNpz(await readInput(file), { name: file });
  const names = Object.keys(arrays);
  const chosen = member ?? names[0];
  if (!(chosen in arrays)) {
    throw new UserError(`${file}: has no array "${chosen}"; it holds ${names.join(", ")}`);
  }
  const name = `${file}:${chosen}`;
  return withInferredUnit(
    npyToVolume(arrays[chosen], { name, spacing: options.spacing, planar: options.planar }),
    name,
    options,
  );
}

/** `.npy` / `.npz` store no unit: the values decide, unless `--unit` does. */
function withInferredUnit(volume: Volume, name: string, options: ReadVolumeFileOptions): Volume {
  if (options.unit) return volume;
  const guess = inferUnit(volume.data, name);
  return { ...volume, unit: guess.unit, unitNotice: guess.notice };
}

async function readDicomFolder(folder: string): Promise<Volume> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(folder)) {
    if (entry.isFile && !entry.name.startsWith(".") && !NOT_DICOM.test(entry.name)) names.push(entry.name);
  }
  if (names.length === 0) {
    throw new UserError(
      `${folder}: no DICOM files in this folder (subfolders are not searched); point to the folder of one series`,
    );
  }
  names.sort();
  const files = [];
  for (const name of names) {
    const bytes = await readInput(join(folder, name));
    // Part-10 files carry "DICM" at byte 128; a bare dataset starts with group 0002/0008; anything else in
    // the folder is a stray file, not a bad slice.
    if (new TextDecoder().decode(bytes.subarray(128, 132)) === "DICM" || isRawDataset(bytes)) {
      files.push({ name: join(folder, name), bytes });
    }
  }
  if (files.length === 0) {
    throw new UserError(
      `${folder}: none of its ${names.length} files is a DICOM file (no "DICM" marker at byte 128); ` +
        `point to the folder of one series`,
    );
  }
  return await readDicomSeriesWithCodecs(files, { name: folder });
}

async function statInput(path: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    throw inputError(path, e);
  }
}

async function readInput(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw inputError(path, e);
  }
}

function inputError(path: string, e: unknown): Error {
  if (e instanceof Deno.errors.NotFound) return new UserError(`input ${path} does not exist`);
  if (e instanceof Deno.errors.PermissionDenied) {
    return new UserError(`input ${path} cannot be read (permission denied)`);
  }
  if (e instanceof Deno.errors.NotCapable) {
    return new UserError(`input ${path} cannot be read: run deno with --allow-read`);
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** Options for {@linkcode writeFileAtomic} and {@linkcode writeVolumeFile}. */
export interface WriteFileOptions {
  /**
   * The paths this output was computed from; writing onto any of them is refused, since a failed run would
   * otherwise destroy its own input. `sample:` names and `.npz:ARRAY` suffixes are understood. Default `[]`.
   */
  inputs?: string[];
}

/**
 * Writes `bytes` to `path` through a temporary file in the same folder and a rename, so an interrupted run
 * (Ctrl-C, a crash, a full disk) never leaves a partial output. Throws a {@linkcode UserError} when the path
 * is one of `options.inputs` (also through symlinks and hard links), when its folder does not exist, when
 * it names a folder, a symbolic link or a device. An existing regular file that is not an input is replaced
 * (the tasks decide beforehand, with `--force`, whether it may be).
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/out.txt`, new TextEncoder().encode("done"), { inputs: [`${dir}/in.txt`] });
 * console.log(await Deno.readTextFile(`${dir}/out.txt`)); // done
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  options: WriteFileOptions = {},
): Promise<void> {
  const target = await checkOutputPath(path, options.inputs ?? []);
  const temp = join(
    dirname(target),
    `.${basename(target)}.${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.tmp`,
  );
  try {
    await Deno.writeFile(temp, bytes, { createNew: true });
    await Deno.rename(temp, target);
  } catch (e) {
    await Deno.remove(temp).catch(() => {});
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new UserError(`cannot write ${path}: permission denied in ${dirname(target)}`);
    }
    const code = (e as { code?: string }).code ?? "";
    if (/ENOSPC|EDQUOT/.test(code) || /No space left|quota/i.test((e as Error).message)) {
      throw new UserError(
        `cannot write ${path}: the disk is full; free space and rerun (nothing was replaced)`,
      );
    }
    if (code === "EROFS" || /read-only file system/i.test((e as Error).message)) {
      throw new UserError(`cannot write ${path}: the file system is read-only`);
    }
    throw e;
  }
}

/**
 * Resolves the output path (through symlinks) and refuses the cases {@linkcode writeFileAtomic} documents;
 * separate so {@linkcode writeVolumeFile} can refuse before spending time encoding.
 */
export async function checkOutputPath(path: string, inputs: string[]): Promise<string> {
  const absolute = resolve(path);
  const folder = dirname(absolute);
  const folderInfo = await Deno.stat(folder).catch(() => null);
  if (!folderInfo) {
    throw new UserError(`output folder ${dirname(path) || "."} does not exist; create it first`);
  }
  if (!folderInfo.isDirectory) throw new UserError(`output ${path}: ${dirname(path)} is not a folder`);
  const link = await Deno.lstat(absolute).catch(() => null);
  if (link?.isSymlink) {
    throw new UserError(
      `output ${path} is a symbolic link; give the real path (blendct never writes through links)`,
    );
  }
  const existing = await Deno.stat(absolute).catch(() => null);
  if (existing?.isDirectory) throw new UserError(`output ${path} is a folder; give a file name`);
  if (existing && !existing.isFile) {
    throw new UserError(`output ${path} is a device or special file; give a regular file's path`);
  }
  const target = existing
    ? await Deno.realPath(absolute)
    : join(await Deno.realPath(folder), basename(absolute));
  for (const input of inputs) {
    if (input.startsWith("sample:")) continue;
    const file = /^(.*\.npz):[^/\\]+$/i.exec(input)?.[1] ?? input;
    const info = await Deno.stat(file).catch(() => null);
    if (!info) continue;
    const sameInode = existing && info.ino !== null && info.ino === existing.ino && info.dev === existing.dev;
    if (sameInode || (await Deno.realPath(file)) === target) {
      throw new UserError(`output ${path} is the input; choose another path`);
    }
  }
  return target;
}

/** Options for {@linkcode writeVolumeFile}. */
export interface WriteVolumeFileOptions extends WriteFileOptions {
  /** Voxel type in NIfTI outputs (see {@linkcode writeNifti}). Default `"float32"`. */
  datatype?: "float32" | "int16";
}

/**
 * Writes `value` as indented JSON with a final newline, atomically and never over an input (see
 * {@linkcode writeFileAtomic}): the form of every metrics, manifest, sidecar and results file.
 *
 * @example
 * ```ts
 * import { writeJsonAtomic } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await writeJsonAtomic(`${dir}/a.json`, { ok: true });
 * console.log(await Deno.readTextFile(`${dir}/a.json`)); // {\n  "ok": true\n}\n
 * ```
 */
export function writeJsonAtomic(path: string, value: unknown, options: WriteFileOptions = {}): Promise<void> {
  return writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n"), options);
}

/**
 * Writes a volume as `.nii.gz` (gzipped NIfTI-1), `.nii` or `.npy` (float32, geometry not kept), chosen by
 * extension, atomically and never onto an input (see {@linkcode writeFileAtomic}). Throws a
 * {@linkcode UserError} for any other extension.
 *
 * @example
 * ```ts
 * import { writeVolumeFile } from "./files.ts";
 * import { makeVolume } from "../volume.ts";
 * const dir = await Deno.makeTempDir();
 * await writeVolumeFile(`${dir}/ct.npy`, makeVolume(new Float32Array(8), [2, 2, 2]));
 * console.log((await Deno.stat(`${dir}/ct.npy`)).size); // 160
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeVolumeFile(
  path: string,
  volume: Volume,
  options: WriteVolumeFileOptions = {},
): Promise<void> {
  const lower = path.toLowerCase();
  const kind = lower.endsWith(".nii.gz")
    ? "nii.gz"
    : lower.endsWith(".nii")
    ? "nii"
    : lower.endsWith(".npy")
    ? "npy"
    : null;
  if (!kind) throw new UserError(`output ${path}: unknown file type; blendct writes ${VOLUME_OUTPUTS}`);
  if (kind === "npy" && options.datatype === "int16") {
    throw new UserError(`output ${path}: .npy outputs are float32; int16 is for NIfTI outputs`);
  }
  await checkOutputPath(path, options.inputs ?? []);
  const bytes = kind === "npy" ? writeNpy(volume) : writeNifti(volume, {
    gzip: kind === "nii.gz",
    datatype: options.datatype,
  });
  await writeFileAtomic(path, bytes, options);
}
