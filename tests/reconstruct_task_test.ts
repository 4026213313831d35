/**
 * End-to-end runs of `tasks/reconstruct.ts` as a user runs it: a small phantom case with the tiny test
 * model (fast), reproducibility, interruption and resume, and the bad inputs of the issue.
 */
import assert from "node:assert/strict";
import { writeNpy } from "../lib/io/npy.ts";
import { makeVolume } from "../lib/volume.ts";
import { sheppLogan3d } from "../lib/ct/phantom.ts";
import { readVolumeFile, writeVolumeFile } from "../lib/io/files.ts";
import { runTaskFile } from "./helpers.ts";

const TASK = new URL("../tasks/reconstruct.ts", import.meta.url).pathname;
const SIM = new URL("../tasks/simulate.ts", import.meta.url).pathname;
const TINY = new URL("../fixtures/tiny-prior/tiny.json", import.meta.url).pathname;

/** A 9-slice 256² Shepp-Logan volume as .npy in a fresh folder. */
async function setup(slices = 9): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "blendct-e2e-" });
  const v = sheppLogan3d([slices, 256, 256]);
  await Deno.writeFile(`${dir}/phantom.npy`, writeNpy(makeVolume(v.data, [slices, 256, 256])));
  return dir;
}

// the published loop from noise (the command line's default starts from TV, which costs a TV solve)
const FAST = [
  "--start",
  "noise",
  "--finish",
  "none",
  "--input",
  "phantom.npy",
  "--views",
  "8",
  "--model",
  TINY,
  "--backend",
  "native",
  "--steps",
  "3",
];

Deno.test("reconstruct writes volume, preview, metrics and manifest; same seed gives the same bytes", async () => {
  const dir = await setup();
  try {
    const a = await runTaskFile("reconstruct", [...FAST, "--out-dir", "a"], dir);
    assert.equal(a.code, 0, a.stderr);
    const again = await runTaskFile("reconstruct", [...FAST, "--out-dir", "a"], dir);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /a\/recon\.nii\.gz exists from an earlier run: pass --force/);
    for (
      const f of [
        "recon.nii.gz",
        "recon.preview.png",
        "recon.metrics.json",
        "recon.manifest.json",
        "recon.steps.png",
      ]
    ) {
      assert.ok((await Deno.stat(`${dir}/a/${f}`)).size > 0, f);
    }
    const metrics = JSON.parse(await Deno.readTextFile(`${dir}/a/recon.metrics.json`));
    assert.ok(metrics.fbp.psnr.axial > 10 && metrics["blend++"].psnr.coronal > 0);
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/a/recon.manifest.json`));
    assert.equal(manifest.seed, 0);
    assert.equal(manifest.model.name, "tiny");
    assert.match(manifest.adapter.description, /./);
    assert.ok(manifest.timingsSeconds["blend++_network"] >= 0);
    assert.equal(manifest.config.resolved.steps, 3);
    // PSNR against step: one point per step; with --finish none the last step's estimate is the result, so
    // its point is the result's whole-volume PSNR, computed here from the files on the metrics' range
    assert.ok((await Deno.stat(`${dir}/a/recon.steps.png`)).size > 0);
    assert.equal(manifest.steps.metric, "psnr");
    assert.deepEqual(manifest.steps.points.map((p: { step: number }) => p.step), [1, 2, 3]);
    const { lo, hi } = metrics.range;
    const clip = (d: Float32Array) => d.map((v) => Math.min(1, Math.max(0, (v - lo) / (hi - lo))));
    const rec = clip((await readVolumeFile(`${dir}/a/recon.nii.gz`)).data);
    const ref = clip((await readVolumeFile(`${dir}/phantom.npy`, { unit: "image" })).data);
    let se = 0;
    for (let i = 0; i < rec.length; i++) se += (rec[i] - ref[i]) ** 2;
    const last = manifest.steps.points[2].value;
    assert.ok(Math.abs(last - 10 * Math.log10(rec.length / se)) < 0.01, `${last} dB`);
    const b = await runTaskFile("reconstruct", [...FAST, "--out-dir", "b"], dir);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(
      await Deno.readFile(`${dir}/a/recon.nii.gz`),
      await Deno.readFile(`${dir}/b/recon.nii.gz`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Starts the task in `dir` and resolves once its progress on stderr matches `progress` (the rest is drained by the caller). */
async function startUntil(args: string[], dir: string, progress: RegExp) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TASK, ...args],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!progress.test(seen)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  return { child, reader };
}

Deno.test("an interrupted run saves its state and --resume finishes it identically", async () => {
  const dir = await setup();
  try {
    const args = [...FAST.slice(0, -1), "12"];
    const full = await runTaskFile("reconstruct", [...args, "--out-dir", "full"], dir);
    assert.equal(full.code, 0, full.stderr);
    // wait until the sampler has started stepping, then press Ctrl-C
    const { child, reader } = await startUntil([...args, "--out-dir", "cut"], dir, / [1-9]\/12 steps/);
    child.kill("SIGINT");
    while (!(await reader.read()).done) { /* drain */ }
    const status = await child.status;
    await child.stdout.cancel();
    assert.equal(status.code, 2);
    assert.ok((await Deno.stat(`${dir}/cut/recon.state.bin`)).isFile, "state saved");
    await assert.rejects(Deno.stat(`${dir}/cut/recon.nii.gz`), "no partial output");
    const wrong = await runTaskFile("reconstruct", [
      ...args.slice(0, -1),
      "13",
      "--out-dir",
      "cut",
      "--resume",
    ], dir);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /different configuration \(steps: 12 then, 13 now\)/);
    const resumed = await runTaskFile("reconstruct", [...args, "--out-dir", "cut", "--resume"], dir);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(
      await Deno.readFile(`${dir}/cut/recon.nii.gz`),
      await Deno.readFile(`${dir}/full/recon.nii.gz`),
    );
    await assert.rejects(Deno.stat(`${dir}/cut/recon.state.bin`), "state removed after success");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kill -9 mid-run (out of memory, a pre-empted job): --resume ends with the same bytes", async () => {
  const dir = await setup();
  try {
    const args = [...FAST.slice(0, -1), "24"];
    const full = await runTaskFile("reconstruct", [...args, "--out-dir", "full"], dir);
    assert.equal(full.code, 0, full.stderr);
    // state is saved every 10 steps: kill without warning once step 12 is under way
    const { child, reader } = await startUntil([...args, "--out-dir", "cut"], dir, / 1[2-9]\/24 steps/);
    child.kill("SIGKILL");
    await reader.cancel();
    await child.stdout.cancel();
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL");
    assert.ok((await Deno.stat(`${dir}/cut/recon.state.bin`)).isFile, "state of step 10 on disk");
    await assert.rejects(Deno.stat(`${dir}/cut/recon.nii.gz`), "no partial output");
    // a truncated state file is refused in one line, and the good one resumes exactly
    const state = await Deno.readFile(`${dir}/cut/recon.state.bin`);
    await Deno.mkdir(`${dir}/bad`);
    await Deno.writeFile(`${dir}/bad/recon.state.bin`, state.subarray(0, state.length >> 1));
    const bad = await runTaskFile("reconstruct", [...args, "--out-dir", "bad", "--resume"], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /state\.bin is corrupt \(it is truncated\); delete it and rerun/);
    const resumed = await runTaskFile("reconstruct", [...args, "--out-dir", "cut", "--resume"], dir);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(
      await Deno.readFile(`${dir}/cut/recon.nii.gz`),
      await Deno.readFile(`${dir}/full/recon.nii.gz`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad inputs get one-line errors and exit code 2, and nothing is overwritten", async () => {
  const dir = await setup(2);
  try {
    const before = await Deno.readFile(`${dir}/phantom.npy`);
    const cases: [string[], RegExp][] = [
      [["--input", "phantom.npy", "--model", TINY, "--steps", "2"], /at least 3 slices/],
      [["--input", "missing.nii.gz", "--method", "fbp"], /does not exist/],
      [["--input", "phantom.npy", "--views", "0"], /--views: must be at least 1/],
      [["--input", "phantom.npy", "--angle-range", "400"], /--angle-range: must be in \(0, 360\]/],
      [["--input", "phantom.npy", "--method", "magic"], /--method: must be one of/],
      [["--input", "phantom.npy", "--method", "fbp", "--output", "phantom.npy"], /is the input/],
      [["--input", "phantom.npy", "--method", "fbp", "--output", "nowhere/x.nii.gz"], /does not exist/],
      [["--input", "phantom.npy", "--method", "fbp", "--resume"], /no saved state/],
      [["--input", "phantom.npy", "--views", "8", "--views", "6"], /--views is given more than once/],
      [
        ["--sinogram", "s.nii.gz", "--views", "99", "--method", "fbp"],
        /--views: does not apply with --sinogram/,
      ],
      [["--input", "phantom.npy", "--method", "fbp", "--t0", "300"], /--t0: applies to diffusion methods/],
      [["--input", "phantom.npy", "--start", "fbp", "--model", TINY], /--t0: is required with --start fbp/],
      [["--input", "phantom.npy", "--t0", "1000", "--model", TINY], /--t0: must be in 1\.\.999/],
      [["--input", "phantom.npy", "--samples", "0"], /--samples: must be at least 1/],
      [["--input", "phantom.npy", "--finish", "cg", "--model", TINY], /--finish: must be tv or none/],
      [["--input", "phantom.npy", "--preset", "paper", "--steps", "5"], /--steps: cannot be combined/],
      [["--input", "phantom.npy", "--method", "tv", "--dc", "tv"], /--dc: applies to diffusion/],
      [
        ["--input", "phantom.npy", "--method", "dds", "--preset", "paper"],
        /--preset: paper applies to blend/,
      ],
      // 8 slices of 256²: the reference's 2000 levels are about 24 min here, refused without --steps
      [
        ["--input", "tall.npy", "--method", "mbir", "--preset", "paper", "--model", TINY],
        /--method mbir: 2000 noise levels are 4000 network calls per slice, about 24 min .* --steps instead of --preset paper \(838 fit/,
      ],
    ];
    await Deno.writeFile(
      `${dir}/tall.npy`,
      writeNpy(makeVolume(sheppLogan3d([8, 256, 256]).data, [8, 256, 256])),
    );
    for (const [args, re] of cases) {
      const r = await runTaskFile("reconstruct", args, dir);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(" "));
      assert.equal(r.stderr.trim().split("\n").filter((l) => l.startsWith("error:")).length, 1, r.stderr);
    }
    // a model whose image size differs from the slices: refused, or resampled with --resample
    const small = makeVolume(sheppLogan3d([3, 64, 64]).data, [3, 64, 64]);
    await Deno.writeFile(`${dir}/small.npy`, writeNpy(small));
    const refused = await runTaskFile("reconstruct", [
      "--input",
      "small.npy",
      "--model",
      TINY,
      "--steps",
      "1",
    ], dir);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /256x256 slices but small.npy has 64x64: pass --resample/);
    const resampled = await runTaskFile("reconstruct", [
      "--input",
      "small.npy",
      "--model",
      TINY,
      "--steps",
      "1",
      "--resample",
      "--out-dir",
      "r",
    ], dir);
    assert.equal(resampled.code, 0, resampled.stderr);
    assert.match(resampled.stderr, /resampled 64x64 slices to 256x256/);
    assert.deepEqual(await Deno.readFile(`${dir}/phantom.npy`), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a simulated sinogram reconstructs with its geometry; mismatched geometry is refused", async () => {
  const dir = await setup(3);
  try {
    const sim = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", SIM, "--input", "phantom.npy", "--views", "6", "--output", "s.nii.gz"],
      cwd: dir,
      stderr: "piped",
    }).output();
    assert.equal(sim.code, 0, new TextDecoder().decode(sim.stderr));
    const ok = await runTaskFile("reconstruct", [
      "--sinogram",
      "s.nii.gz",
      "--method",
      "cgls",
      "--reference",
      "phantom.npy",
      "--out-dir",
      "o",
    ], dir);
    assert.equal(ok.code, 0, ok.stderr);
    const m = JSON.parse(await Deno.readTextFile(`${dir}/o/recon.metrics.json`));
    assert.ok(m.cgls.psnr.axial > m.fbp.psnr.axial - 3);
    const g = JSON.parse(await Deno.readTextFile(`${dir}/s.geometry.json`));
    g.geometry.angles = g.geometry.angles.slice(0, 4);
    await Deno.writeTextFile(`${dir}/g4.json`, JSON.stringify(g));
    const bad = await runTaskFile("reconstruct", [
      "--sinogram",
      "s.nii.gz",
      "--geometry",
      "g4.json",
      "--method",
      "fbp",
    ], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /has 6 views but the geometry lists 4 angles/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a sinogram keeps its volume's affine: reconstruct --sinogram writes the input's rotation", async () => {
  const dir = await Deno.makeTempDir({ prefix: "blendct-affine-" });
  try {
    const c = Math.cos(Math.PI / 6), s = Math.sin(Math.PI / 6);
    const affine = [[0.8 * c, -0.8 * s, 0, -50], [0.8 * s, 0.8 * c, 0, 20], [0, 0, 2, 10], [0, 0, 0, 1]];
    const v = sheppLogan3d([3, 64, 64]);
    await writeVolumeFile(`${dir}/rot.nii.gz`, makeVolume(v.data, [3, 64, 64], { affine, unit: "image" }));
    const sim = await runTaskFile("simulate", [
      "--input",
      "rot.nii.gz",
      "--views",
      "16",
      "--output",
      "s.nii.gz",
    ], dir);
    assert.equal(sim.code, 0, sim.stderr);
    const r = await runTaskFile("reconstruct", [
      "--sinogram",
      "s.nii.gz",
      "--method",
      "fbp",
      "--output",
      "r.nii.gz",
    ], dir);
    assert.equal(r.code, 0, r.stderr);
    const out = await readVolumeFile(`${dir}/r.nii.gz`);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 4; j++) {
        assert.ok(Math.abs(out.affine[i][j] - affine[i][j]) < 1e-4, `affine[${i}][${j}]`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
