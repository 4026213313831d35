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
import { UserError } from "../lib/errors.ts";
import { writeJsonAtomic } from "../lib/io/files.ts";
import { parseFlags, runTask } from "./_cli.ts";
import {
  checkRunDir,
  EXPORT_FLAGS,
  ExportSchema,
  FLAGS,
  type Flags,
  Schema,
  settingsOf,
} from "./_train_flags.ts";
import { findPython, initCheckpoint, run } from "./_train_python.ts";
import { listInputs, prepare } from "./_train_data.ts";

export { findPython } from "./_train_python.ts";
export { listInputs } from "./_train_data.ts";

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
  const initCkpt = f.init ? await initCheckpoint(f.init) : undefined;
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
  await writeJsonAtomic(list, { train, val });
  await writeJsonAtomic(`${out}/run.json`, settingsOf(f));
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
    ...(f.shipped ? ["--shipped"] : []),
    ...(f.whole ? ["--whole"] : []),
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
      parseFlags(
        rest,
        "Usage: deno task export [--ckpt FILE] [--out DIR] [--name NAME] [flags]",
        EXPORT_FLAGS,
        ExportSchema,
      );
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
