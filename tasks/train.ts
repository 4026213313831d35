/**
 * `deno task train --data DIR|LIST.json --out RUN_DIR [...]`: trains a prior on your own scans and exports
 * `RUN_DIR/model.onnx` with its card `RUN_DIR/model.json`, which `deno task reconstruct --model` takes.
 *
 * blendct reads the volumes itself (NIfTI files and DICOM series, any mix, units checked as everywhere),
 * splits train and validation by volume, writes them as HU arrays into `RUN_DIR/volumes/`, then runs
 * `train/train.py` (or `torchrun` with `--nproc`) and `train/export.py` with a Python that has torch,
 * onnx, scipy and nibabel (`$BLENDCT_PYTHON`, else `python3`, else `/usr/bin/python3`); when none does, one
 * line names what is missing and how to install it.
 *
 * Without `--data` the arguments go to `train/train.py` unchanged (the shipped prior's own training).
 * @module
 */
import { z } from "../lib/deps.ts";
import { UserError } from "../lib/errors.ts";
import { readVolumeFile, writeFileAtomic } from "../lib/io/files.ts";
import { writeNpy } from "../lib/io/npy.ts";
import { sha256Hex } from "../lib/hash.ts";
import { fromU, toU } from "../lib/units.ts";
import { makeVolume, type Volume } from "../lib/volume.ts";
import { intFlag, numberFlag, parseFlags, runTask, unitFlag } from "./cli.ts";

const MODULES = ["torch", "onnx", "scipy", "nibabel"];
const APT: Record<string, string> = {
  torch: "python3-torch",
  onnx: "python3-onnx",
  scipy: "python3-scipy",
  nibabel: "python3-nibabel",
};

/** The modules of {@linkcode MODULES} that `python` cannot import, or null when `python` does not run. */
async function missing(python: string): Promise<string[] | null> {
  const probe = `import importlib.util as u; print(",".join(m for m in ${
    JSON.stringify(MODULES)
  } if u.find_spec(m) is None))`;
  try {
    const out = await new Deno.Command(python, { args: ["-c", probe], stdout: "piped", stderr: "null" })
      .output();
    if (!out.success) return null;
    return new TextDecoder().decode(out.stdout).trim().split(",").filter(Boolean);
  } catch {
    return null;
  }
}

/** The first candidate Python with every module, or a UserError naming what is missing and how to install it. */
export async function findPython(): Promise<string> {
  const env = Deno.env.get("BLENDCT_PYTHON");
  const candidates = env ? [env] : ["python3", "/usr/bin/python3"];
  let report = "";
  for (const py of candidates) {
    const gone = await missing(py);
    if (gone === null) {
      report ||= `${py} does not run`;
      continue;
    }
    if (gone.length === 0) return py;
    if (!report || report.endsWith("does not run")) {
      report = `${py} lacks ${gone.join(", ")}: apt-get install ${gone.map((m) => APT[m]).join(" ")} ` +
        `(or pip install ${gone.join(" ")}), or point BLENDCT_PYTHON at a Python that has them`;
    }
  }
  throw new UserError(report || "no python3 found: apt-get install python3 python3-torch python3-onnx");
}

const FLAGS = {
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
  force: { type: "boolean", help: "Start over in a RUN_DIR that holds another run" },
  tiny: { type: "boolean", help: "A tiny network (for tests)" },
} as const;

const pos = (name: string) => intFlag(name).pipe(z.number().int().min(1, "must be at least 1"));
const Schema = z.object({
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
  force: z.boolean().default(false),
  tiny: z.boolean().default(false),
});
type Flags = z.infer<typeof Schema>;

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

interface Entry {
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
async function prepare(inputs: string[], f: Flags, dir: string, prefix: string): Promise<Entry[]> {
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

/** The settings a resumed run must share with the checkpoint in its folder. */
function settingsOf(f: Flags) {
  return { axes: f.axes, crop: f.crop, tiny: f.tiny, init: f.init ?? null, data: f.data ?? null };
}

async function checkRunDir(out: string, f: Flags): Promise<boolean> {
  let old: Record<string, unknown>;
  try {
    old = JSON.parse(await Deno.readTextFile(`${out}/run.json`));
  } catch {
    return false;
  }
  const now = settingsOf(f) as Record<string, unknown>;
  for (const [k, v] of Object.entries(now)) {
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

async function run(cmd: string, args: string[]): Promise<void> {
  const status = await new Deno.Command(cmd, { args, stdout: "inherit", stderr: "inherit" }).spawn().status;
  if (!status.success) throw new UserError(`${cmd} ${args[0] ?? ""} failed (exit ${status.code}); see above`);
}

async function trainOwn(f: Flags, python: string): Promise<void> {
  if (!f.data || !f.out) throw new UserError("--data and --out are both needed (see --help)");
  const out = f.out.replace(/\/$/, "");
  const root = new URL("../", import.meta.url).pathname;
  if (f.nproc > 1) {
    const cores = navigator.hardwareConcurrency;
    if (f.device !== "cuda" && f.nproc > cores) {
      throw new UserError(`--nproc ${f.nproc}: this machine has ${cores} cores; use at most ${cores}`);
    }
    if (f.batch % f.nproc) throw new UserError(`--batch ${f.batch} must be divisible by --nproc ${f.nproc}`);
  }
  let initCkpt: string | undefined;
  if (f.init) {
    let card: { parameterisation?: { trained?: string }; slices?: number };
    try {
      card = JSON.parse(await Deno.readTextFile(f.init));
    } catch {
      throw new UserError(`--init ${f.init}: not a readable model card`);
    }
    if (card.slices !== undefined && card.slices !== 3) {
      throw new UserError(`--init ${f.init}: a ${card.slices}-slice model; blendct trains 3-slice priors`);
    }
    if ((card.parameterisation?.trained ?? "eps") !== "v") {
      throw new UserError(
        `--init ${f.init}: trained to predict ${card.parameterisation?.trained ?? "eps"}, not v`,
      );
    }
    initCkpt = f.init.replace(/\.json$/, ".ckpt.pt");
    try {
      await Deno.stat(initCkpt);
    } catch {
      throw new UserError(`--init ${f.init}: its checkpoint ${initCkpt} is missing`);
    }
  }
  const resuming = await checkRunDir(out, f);
  await Deno.mkdir(`${out}/volumes`, { recursive: true });
  if (!resuming) {
    await Deno.remove(`${out}/ckpt.pt`).catch(() => {});
    await Deno.remove(`${out}/loss.csv`).catch(() => {});
  }
  const inputs = await listInputs(f.data, "data");
  let valInputs = f.val ? await listInputs(f.val, "val") : [];
  let trainInputs = inputs.filter((p) => !valInputs.includes(p));
  if (!f.val && inputs.length >= 2) {
    // split by volume, never by slice: every 5th volume (at least one) is held out
    valInputs = inputs.filter((_, i) => i % 5 === 4 || (inputs.length < 5 && i === inputs.length - 1));
    trainInputs = inputs.filter((p) => !valInputs.includes(p));
  }
  const train = await prepare(trainInputs, f, `${out}/volumes`, "train_");
  const val = await prepare(valInputs, f, `${out}/volumes`, "val_");
  const list = `${out}/volumes.json`;
  await writeFileAtomic(list, new TextEncoder().encode(JSON.stringify({ train, val }, null, 2) + "\n"));
  await writeFileAtomic(
    `${out}/run.json`,
    new TextEncoder().encode(JSON.stringify(settingsOf(f), null, 2) + "\n"),
  );
  console.error(`${train.length} training and ${val.length} validation volumes in ${out}/volumes.json`);
  const trainArgs = [
    `${root}train/train.py`,
    "--volumes",
    list,
    "--out",
    out,
    "--axes",
    f.axes,
    "--crop",
    String(f.crop),
    "--batch",
    String(f.batch),
    "--device",
    f.device,
    ...(f.steps
      ? ["--steps", String(f.steps), "--minutes", String(f.minutes ?? 1e6)]
      : ["--minutes", String(f.minutes ?? 60)]),
    ...(f.tiny ? ["--tiny"] : []),
    ...(initCkpt && !resuming ? ["--init", initCkpt] : []),
  ];
  if (f.nproc > 1) {
    // torchrun (torch.distributed.run). Python 3.11 leaves Std.NONE out of IntFlag iteration, so torch
    // 1.13 parses its own default "--redirects 0" / "--tee 0" as None and crashes; a mapping that only
    // touches rank 1 (which prints nothing) gives every other rank the default, so rank 0 prints as usual.
    const quiet = f.nproc > 1 ? ["--redirects", "1:1", "--tee", "1:1"] : [];
    await run(python, [
      "-m",
      "torch.distributed.run",
      "--standalone",
      ...quiet,
      "--nproc_per_node",
      String(f.nproc),
      ...trainArgs,
    ]);
  } else {
    await run(python, trainArgs);
  }
  await run(python, [
    `${root}train/export.py`,
    "--ckpt",
    `${out}/ckpt.pt`,
    "--out",
    out,
    "--name",
    "model",
    "--force",
    "--volumes",
    list,
    ...(f.tiny ? ["--eval-count", "2", "--eval-size", "32"] : []),
  ]);
  console.log(
    `wrote ${out}/model.onnx and ${out}/model.json: deno task reconstruct --model ${out}/model.json`,
  );
}

if (import.meta.main) {
  runTask(async () => {
    const [first, ...rest] = Deno.args;
    if (first === "export") {
      const python = await findPython();
      const root = new URL("../", import.meta.url).pathname;
      Deno.exit(
        (await new Deno.Command(python, { args: [`${root}train/export.py`, ...rest] }).spawn().status).code,
      );
    }
    const args = first === "train" ? rest : Deno.args;
    if (!args.includes("--data") && !args.some((a) => a.startsWith("--data="))) {
      if (args.includes("--help") || args.includes("-h")) {
        parseFlags(
          ["--help"],
          "Usage: deno task train --data DIR|LIST.json --out RUN_DIR [flags]",
          FLAGS,
          Schema,
        );
      }
      // the shipped prior's own training: arguments go to train/train.py unchanged
      const python = await findPython();
      const root = new URL("../", import.meta.url).pathname;
      Deno.exit(
        (await new Deno.Command(python, { args: [`${root}train/train.py`, ...args] }).spawn().status).code,
      );
    }
    const f = parseFlags(
      args,
      "Usage: deno task train --data DIR|LIST.json --out RUN_DIR [flags]",
      FLAGS,
      Schema,
    );
    await trainOwn(f, await findPython());
  });
}
