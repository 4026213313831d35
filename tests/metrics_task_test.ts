import assert from "node:assert/strict";
import { writeVolumeFile } from "../lib/io/files.ts";
import { computeMetrics } from "../lib/metrics/index.ts";
import { makeVolume } from "../lib/volume.ts";

const TASK = new URL("../tasks/metrics.ts", import.meta.url).pathname;

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", TASK, ...args] }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const shape: [number, number, number] = [12, 13, 14];
const n = shape[0] * shape[1] * shape[2];
const ref = makeVolume(Float32Array.from({ length: n }, (_, i) => 0.5 + 0.3 * Math.sin(i / 7)), shape);
const rec = makeVolume(ref.data.map((v, i) => v + 0.02 * Math.cos(i * 1.3)), shape);
const refHu = makeVolume(ref.data.map((v) => v * 2000 - 1000), shape, { unit: "HU" });
const recHu = makeVolume(rec.data.map((v) => v * 2000 - 1000), shape, { unit: "HU" });

const dir = await Deno.makeTempDir({ prefix: "blendct-metrics-task-" });
await writeVolumeFile(`${dir}/ref.npy`, ref);
await writeVolumeFile(`${dir}/rec.npy`, rec);
await writeVolumeFile(`${dir}/ref_hu.nii.gz`, refHu);
await writeVolumeFile(`${dir}/rec_hu.nii.gz`, recHu);
await writeVolumeFile(`${dir}/small.npy`, makeVolume(new Float32Array(8).fill(0.5), [2, 2, 2]));

Deno.test("metrics task: --json matches computeMetrics", async () => {
  const r = await run(["--reference", `${dir}/ref.npy`, "--input", `${dir}/rec.npy`, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  const want = computeMetrics(rec, ref);
  assert.deepEqual(got.shape, shape);
  assert.equal(got.unit, "image");
  assert.deepEqual(got.range, [0, 1]);
  for (const p of ["axial", "coronal", "sagittal"] as const) {
    assert.ok(Math.abs(got.psnr[p] - want.psnr[p]) < 1e-9);
    assert.ok(Math.abs(got.ssim[p] - want.ssim[p]) < 1e-12);
  }
  assert.ok(Math.abs(got.zConsistencyRatio - want.zConsistencyRatio) < 1e-12);
});

Deno.test("metrics task: --metric-range maps HU (negative LO without '='), --gaussian, table output", async () => {
  const r = await run([
    "-r",
    `${dir}/ref_hu.nii.gz`,
    "-i",
    `${dir}/rec_hu.nii.gz`,
    "--metric-range",
    "-1000,1000",
    "--gaussian",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const want = computeMetrics(rec, ref, { gaussian: true });
  assert.match(r.stdout, /Gaussian 11x11/);
  assert.match(
    r.stdout,
    new RegExp(`coronal\\s+${want.psnr.coronal.toFixed(2)}\\s+${want.ssim.coronal.toFixed(4)}`),
  );
  assert.match(r.stdout, /z-consistency/);
  // HU volumes default to the 12-bit CT range [-1024, 3071]
  const d = await run(["-r", `${dir}/ref_hu.nii.gz`, "-i", `${dir}/rec_hu.nii.gz`, "--json"]);
  assert.equal(d.code, 0, d.stderr);
  const got = JSON.parse(d.stdout);
  assert.deepEqual(got.range, [-1024, 3071]);
  const wantHu = computeMetrics(recHu, refHu, { range: [-1024, 3071] });
  assert.ok(Math.abs(got.psnr.axial - wantHu.psnr.axial) < 1e-9);
});

Deno.test("metrics task: user errors name the flag and exit 2", async () => {
  const mismatch = await run(["-r", `${dir}/ref.npy`, "-i", `${dir}/small.npy`]);
  assert.equal(mismatch.code, 2);
  assert.match(mismatch.stderr, /--input: shape 2x2x2 differs from --reference's 12x13x14/);
  const units = await run(["-r", `${dir}/ref_hu.nii.gz`, "-i", `${dir}/rec.npy`]);
  assert.equal(units.code, 2);
  assert.match(units.stderr, /--input is in image but --reference is in HU/);
  const badRange = await run(["-r", `${dir}/ref.npy`, "-i", `${dir}/rec.npy`, "--metric-range", "5,1"]);
  assert.equal(badRange.code, 2);
  assert.match(badRange.stderr, /--metric-range: HI must exceed LO/);
  const twice = await run(["-r", `${dir}/ref.npy`, "-i", `${dir}/rec.npy`, "-r", `${dir}/ref.npy`]);
  assert.equal(twice.code, 2);
  const missing = await run(["-i", `${dir}/rec.npy`]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--reference: is required/);
});

Deno.test({
  name: "metrics task: clean up",
  fn: async () => await Deno.remove(dir, { recursive: true }),
});
