/**
 * Training on your own data, end to end: a folder of two small HU NIfTI volumes, a few steps of a tiny
 * model, export, and a reconstruction with `--model RUN_DIR/model.json`; then PyTorch DDP with 2 CPU
 * processes against one process with the same total batch; and the bad inputs. Skips with a printed reason
 * where PyTorch is absent.
 */
import assert from "node:assert/strict";
import { runTaskFile } from "./helpers.ts";
import { writeVolumeFile } from "../lib/io/files.ts";
import { makeVolume } from "../lib/volume.ts";
import { anatomicalPhantom } from "../lib/ct/phantom.ts";

const PY = "/usr/bin/python3";
const ENV = { BLENDCT_PYTHON: PY };

async function hasTorch(): Promise<boolean> {
  try {
    return (await new Deno.Command(PY, {
      args: ["-c", "import torch, onnx, nibabel, scipy"],
      stdout: "null",
      stderr: "null",
    })
      .output()).success;
  } catch {
    return false;
  }
}
const torch = await hasTorch();
if (!torch) {
  console.log("skipping train_own_test: PyTorch, onnx, scipy or nibabel not found at /usr/bin/python3");
}

async function dataFolder(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "blendct-own-" });
  await Deno.mkdir(`${dir}/scans/sub`, { recursive: true });
  for (const [i, anatomy] of (["head", "chest", "abdomen"] as const).entries()) {
    const v = anatomicalPhantom([12, 40, 40], { anatomy, seed: i + 1 });
    const path = i === 2 ? `${dir}/scans/sub/c.nii.gz` : `${dir}/scans/${"ab"[i]}.nii.gz`;
    await writeVolumeFile(path, makeVolume(v.data, v.shape, { spacing: [2, 2, 2], unit: "HU" }));
  }
  return dir;
}

/** A tiny run on dataFolder()'s scans, small enough for a test. */
const TINY_RUN = [
  "--data",
  "scans",
  "--out",
  "run",
  "--tiny",
  "--crop",
  "32",
  "--batch",
  "2",
  "--device",
  "cpu",
];

function losses(csv: string): number[] {
  return csv.trim().split("\n").slice(1).map((l) => Number(l.split(",")[2]));
}

Deno.test({
  name: "train on a folder of NIfTI volumes, export model.onnx + model.json, reconstruct with --model",
  ignore: !torch,
  async fn() {
    const dir = await dataFolder();
    try {
      const r = await runTaskFile("train", [...TINY_RUN, "--steps", "4"], dir, ENV);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const vols = JSON.parse(await Deno.readTextFile(`${dir}/run/volumes.json`));
      // three volumes: two train, one validation (split by volume), each with its sha256
      assert.equal(vols.train.length + vols.val.length, 3);
      assert.ok(vols.val.length >= 1);
      assert.ok(vols.train.every((v: { sha256: string }) => /^[0-9a-f]{64}$/.test(v.sha256)));
      const card = JSON.parse(await Deno.readTextFile(`${dir}/run/model.json`));
      assert.equal(card.training.steps, 4);
      assert.equal(card.parameterisation.trained, "v");
      assert.equal(card.training.data.training.length, vols.train.length);
      assert.ok(card.evaluation.x0_rmse_hu["700"] > 0);
      // resuming continues from the checkpoint
      const again = await runTaskFile("train", [...TINY_RUN, "--steps", "6"], dir, ENV);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /resumed at step 4/);
      // another run's settings in the same folder: refused in one line, unless --force
      const clash = await runTaskFile(
        "train",
        [
          "--data",
          "scans",
          "--out",
          "run",
          "--tiny",
          "--crop",
          "24",
          "--steps",
          "1",
        ],
        dir,
        ENV,
      );
      assert.equal(clash.code, 2);
      assert.match(clash.stderr, /holds a run with crop 32, not 24: .*--force/);
      await writeVolumeFile(
        `${dir}/ct.nii.gz`,
        makeVolume(anatomicalPhantom([3, 64, 64], { anatomy: "head", seed: 9 }).data, [3, 64, 64], {
          unit: "HU",
        }),
      );
      const rec = await runTaskFile(
        "reconstruct",
        [
          "--input",
          "ct.nii.gz",
          "--model",
          "run/model.json",
          "--backend",
          "native",
          "--steps",
          "2",
          "--resample",
          "--out-dir",
          "o",
        ],
        dir,
        ENV,
      );
      assert.equal(rec.code, 0, rec.stderr);
      const m = JSON.parse(await Deno.readTextFile(`${dir}/o/recon.metrics.json`));
      assert.ok(Number.isFinite(m["blend++"].psnr.axial));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "--shipped keeps the shipped prior's own sources (colin27 pseudo-CT, phantoms) beside --data",
  ignore: !torch,
  async fn() {
    const dir = await dataFolder();
    try {
      const args = [...TINY_RUN, "--steps", "2"];
      const r = await runTaskFile("train", [...args, "--shipped"], dir, ENV);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const colin = await Deno.stat("/usr/share/mricron/templates/ch2.nii.gz").then(() => true, () => false);
      assert.match(
        r.stdout,
        colin ? /sources: phantom, colin27, 0:train_000, 1:train_001/ : /sources: phantom, 0:/,
      );
      const card = JSON.parse(await Deno.readTextFile(`${dir}/run/model.json`));
      const sources = card.training.data.training.map((e: { source: string }) => e.source);
      assert.ok(sources.includes("train/phantoms.py"), sources.join(", "));
      if (colin) assert.ok(sources.includes("Debian mricron-data"), sources.join(", "));
      assert.equal(
        sources.filter((s: string) => !s.startsWith("train/") && s !== "Debian mricron-data").length,
        2,
      );
      // the setting is part of the run: resuming without it is refused
      const clash = await runTaskFile("train", args, dir, ENV);
      assert.equal(clash.code, 2);
      assert.match(clash.stderr, /shipped/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "--whole trains a whole-slice (coarse) prior on the user's volumes: its card says so, at its crop size",
  ignore: !torch,
  async fn() {
    const dir = await dataFolder();
    try {
      const r = await runTaskFile("train", [...TINY_RUN, "--steps", "2", "--whole"], dir, ENV);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const card = JSON.parse(await Deno.readTextFile(`${dir}/run/model.json`));
      assert.equal(card.wholeSlice, true);
      assert.equal(card.imageSize, 32);
      assert.match(card.evaluation.test_crop, /whole slices shrunk to 32/);
      // the setting is part of the run: resuming without it is refused
      const clash = await runTaskFile("train", [...TINY_RUN, "--steps", "3"], dir, ENV);
      assert.equal(clash.code, 2);
      assert.match(clash.stderr, /whole true, not false/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "DDP: 2 CPU processes with batch B/2 each follow one process with batch B",
  ignore: !torch,
  async fn() {
    const dir = await dataFolder();
    try {
      const common = [
        "--data",
        "scans",
        "--tiny",
        "--crop",
        "32",
        "--batch",
        "4",
        "--device",
        "cpu",
        "--steps",
        "50",
      ];
      const one = await runTaskFile("train", [...common, "--out", "one"], dir, ENV);
      assert.equal(one.code, 0, one.stderr);
      const two = await runTaskFile("train", [...common, "--out", "two", "--nproc", "2"], dir, ENV);
      assert.equal(two.code, 0, two.stderr);
      assert.match(two.stdout, /2 process\(es\), batch 2 per process/);
      const a = losses(await Deno.readTextFile(`${dir}/one/loss.csv`));
      const b = losses(await Deno.readTextFile(`${dir}/two/loss.csv`));
      assert.equal(a.length, 2);
      assert.equal(b.length, 2);
      // the ranks draw other triplets than the single process does, so the curves agree statistically:
      // the mean loss over the last 25 steps within 25%
      const rel = Math.abs(a[1] - b[1]) / a[1];
      console.log(`loss after 50 steps: 1 process ${a[1]}, 2 processes ${b[1]} (${(100 * rel).toFixed(1)}%)`);
      assert.ok(rel < 0.25, `1 process ${a}, 2 processes ${b}`);
      const card = JSON.parse(await Deno.readTextFile(`${dir}/two/model.json`));
      assert.equal(card.training.steps, 50);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("train: bad inputs get one line and exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "blendct-own-bad-" });
  try {
    await Deno.mkdir(`${dir}/empty`);
    await Deno.mkdir(`${dir}/small`);
    await writeVolumeFile(
      `${dir}/small/s.nii.gz`,
      makeVolume(new Float32Array(8 * 20 * 20).fill(-1000).map((v, i) => (i % 3 ? v : 40)), [8, 20, 20], {
        unit: "HU",
      }),
    );
    const cases: [string[], RegExp][] = [
      [["--data", "empty", "--out", "r"], /no NIfTI files or DICOM series/],
      [["--data", "nowhere", "--out", "r"], /--data nowhere does not exist/],
      [["--data", "small", "--out", "r", "--crop", "32"], /smaller than the crop/],
      [["--data", "small", "--out", "r", "--nproc", "64"], /--nproc 64: this machine has \d+ cores/],
      [["--data", "small", "--out", "r", "--device", "tpu"], /--device: must be auto, cpu or cuda/],
    ];
    for (const [args, re] of cases) {
      const r = await runTaskFile("train", args, dir, ENV);
      if (!torch && r.stderr.includes("lacks")) continue;
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
