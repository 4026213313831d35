/**
 * `deno task train --data`: the inputs (folders of NIfTI files and DICOM series, or a JSON list), read by
 * blendct with their units checked, written as HU arrays with a manifest entry (path, sha256, unit, shape).
 * @module
 */
import { UserError } from "../lib/errors.ts";
import { readVolumeFile, writeFileAtomic } from "../lib/io/files.ts";
import { writeNpy } from "../lib/io/npy.ts";
import { sha256Hex } from "../lib/hash.ts";
import { fromU, toU, type Unit } from "../lib/units.ts";
import { makeVolume, type Volume } from "../lib/volume.ts";

/** The inputs a `--data` / `--val` value names: files of a JSON list, or the volumes found in a folder. */
export async function listInputs(spec: string, flag: string): Promise<string[]> {
  if (spec.toLowerCase().endsWith(".json")) {
    let list: unknown;
    try {
      list = JSON.parse(await Deno.readTextFile(spec));
    } catch (e) {
      throw new UserError(`--${flag} ${spec}: not a readable JSON list of paths (${(e as Error).message})`);
    }
    if (!Array.isArray(list) || !list.every((p) => typeof p === "string")) {
      throw new UserError(`--${flag} ${spec}: must hold a JSON array of volume paths`);
    }
    const base = spec.includes("/") ? spec.slice(0, spec.lastIndexOf("/") + 1) : "";
    return list.map((p) => (p.startsWith("/") ? p : base + p));
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(spec);
  } catch {
    throw new UserError(`--${flag} ${spec} does not exist`);
  }
  if (!info.isDirectory) throw new UserError(`--${flag} ${spec}: give a folder or a .json list`);
  const found: string[] = [];
  const walk = async (dir: string) => {
    let dicom = false;
    const subdirs: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.name.startsWith(".")) continue;
      if (e.isDirectory) subdirs.push(path);
      else if (/\.nii(\.gz)?$/i.test(e.name)) found.push(path);
      else if (!dicom && /\.dcm$|^[^.]+$/i.test(e.name)) dicom = await isDicom(path);
    }
    if (dicom) found.push(dir);
    for (const d of subdirs.sort()) await walk(d);
  };
  await walk(spec.replace(/\/$/, ""));
  if (found.length === 0) {
    throw new UserError(`--${flag} ${spec}: no NIfTI files or DICOM series in it (or its subfolders)`);
  }
  return found.sort();
}

async function isDicom(path: string): Promise<boolean> {
  const f = await Deno.open(path);
  try {
    const head = new Uint8Array(132);
    const n = await f.read(head);
    return n === 132 && new TextDecoder().decode(head.subarray(128)) === "DICM";
  } finally {
    f.close();
  }
}

/** One volume of a training run's manifest. */
export interface Entry {
  source: string;
  path: string;
  sha256: string;
  unit: string;
  shape: number[];
  spacing: number[];
}

async function sourceHash(path: string): Promise<string> {
  const info = await Deno.stat(path);
  if (!info.isDirectory) return await sha256Hex(await Deno.readFile(path));
  // a DICOM series: the hash of its files' hashes, in name order
  const names: string[] = [];
  for await (const e of Deno.readDir(path)) if (e.isFile) names.push(e.name);
  const parts = [];
  for (const n of names.sort()) parts.push(await sha256Hex(await Deno.readFile(`${path}/${n}`)));
  return await sha256Hex(new TextEncoder().encode(parts.join("\n")));
}

/** Reads the volumes, checks units and sizes, writes them as HU `.npy` into `dir`. */
export async function prepare(
  inputs: string[],
  f: { unit?: Unit; crop: number },
  dir: string,
  prefix: string,
): Promise<Entry[]> {
  const volumes: { path: string; v: Volume }[] = [];
  for (const path of inputs) {
    const v = await readVolumeFile(path, { unit: f.unit });
    if (v.unitNotice) console.error(`note: ${v.unitNotice}`);
    volumes.push({ path, v });
  }
  const units = new Set(volumes.map(({ v }) => v.unit));
  if (units.size > 1 && !f.unit) {
    const list = volumes.map(({ path, v }) => `${path}: ${v.unit}`).join(", ");
    throw new UserError(
      `--data: volumes come in different units (${list}); pass --unit, or convert them first`,
    );
  }
  const out: Entry[] = [];
  for (const [i, { path, v }] of volumes.entries()) {
    const [Z, H, W] = v.shape;
    if (H < f.crop || W < f.crop || Z < 7) {
      throw new UserError(
        `${path} is ${Z}x${H}x${W}: smaller than the crop (--crop ${f.crop}) or than 7 slices; use a smaller --crop or leave it out`,
      );
    }
    const units = { unit: v.unit ?? "image", muWater: 0.0193, imageHu: v.imageHu } as const;
    const hu = fromU(toU(v.data, units), { unit: "HU", muWater: 0.0193 });
    const file = `${dir}/${prefix}${String(i).padStart(3, "0")}.npy`;
    await writeFileAtomic(file, writeNpy(makeVolume(hu, v.shape, { spacing: v.spacing, unit: "HU" })));
    out.push({
      source: path,
      path: await Deno.realPath(file),
      sha256: await sourceHash(path),
      unit: v.unit ?? "image",
      shape: v.shape,
      spacing: v.spacing,
    });
  }
  return out;
}
