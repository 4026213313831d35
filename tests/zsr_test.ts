/**
 * z-super-resolution: the interpolation baselines against analytic profiles, the thin grid's geometry,
 * data consistency keeping the given slices, and the task as a user runs it (with its bad inputs).
 */
import assert from "node:assert/strict";
import { GpuContext } from "../lib/gpu/context.ts";
import { interpolateSlices, superResolve, thinGrid, zsrOffset } from "../lib/jobs/zsr.ts";
import { makeVolume } from "../lib/volume.ts";
import { readVolumeFile, writeVolumeFile } from "../lib/io/files.ts";
import { sheppLogan3d } from "../lib/ct/phantom.ts";
import { runTaskFile } from "./helpers.ts";

const TINY = new URL("../fixtures/tiny-prior/tiny.json", import.meta.url).pathname;

Deno.test("interpolation: linear reproduces a line, cubic (Keys) a parabola, between the given slices", () => {
  const f = 4, Zt = 6, off = zsrOffset(f);
  const pos = (z: number) => (z - off) / f; // thin slice -> thick-slice coordinate
  const line = Float32Array.from({ length: Zt }, (_, k) => 2 + 3 * k);
  const parab = Float32Array.from({ length: Zt }, (_, k) => 1 + k - 0.5 * k * k);
  const lin = interpolateSlices(line, [Zt, 1, 1], f, "linear");
  const cub = interpolateSlices(parab, [Zt, 1, 1], f, "cubic");
  for (let z = 0; z < Zt * f; z++) {
    const p = pos(z);
    if (p < 0 || p > Zt - 1) continue;
    assert.ok(Math.abs(lin[z] - (2 + 3 * p)) < 1e-5, `linear at ${z}`);
    if (p >= 1 && p <= Zt - 2) assert.ok(Math.abs(cub[z] - (1 + p - 0.5 * p * p)) < 1e-4, `cubic at ${z}`);
  }
});

Deno.test("thin grid: thick slice k lands on thin slice k·factor + offset in world coordinates", () => {
  const thick = makeVolume(new Float32Array(3 * 4), [3, 2, 2], {
    spacing: [5, 0.8, 0.8],
    affine: [[0.8, 0, 0, -10], [0, 0.8, 0, 4], [0, 0.2, 5, 30], [0, 0, 0, 1]],
  });
  for (const f of [2, 3, 4]) {
    const thin = thinGrid(thick, f);
    assert.deepEqual(thin.shape, [3 * f, 2, 2]);
    assert.ok(Math.abs(thin.spacing[0] - 5 / f) < 1e-12);
    for (let k = 0; k < 3; k++) {
      const z = k * f + zsrOffset(f);
      for (let r = 0; r < 3; r++) {
        const a = thick.affine[r][2] * k + thick.affine[r][3], b = thin.affine[r][2] * z + thin.affine[r][3];
        assert.ok(Math.abs(a - b) < 1e-9, `factor ${f} slice ${k} row ${r}: ${a} vs ${b}`);
      }
    }
  }
});

Deno.test("superResolve keeps the given slices (data consistency on the subsampling operator)", async () => {
  const gpu = await GpuContext.create();
  try {
    const thick = Float32Array.from({ length: 4 * 9 }, (_, i) => Math.sin(i));
    const thin = await superResolve(gpu, thick, [4, 3, 3], 3, { method: "cgls", iterations: 3 }, { gpu });
    for (let k = 0; k < 4; k++) {
      for (let i = 0; i < 9; i++) {
        assert.ok(Math.abs(thin[(k * 3 + zsrOffset(3)) * 9 + i] - thick[k * 9 + i]) < 1e-5);
      }
    }
  } finally {
    gpu.dispose();
  }
});

Deno.test("zsr task: thin volume with factor x the slices, metrics against linear and cubic, bad input refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "blendct-zsr-" });
  try {
    const truth = sheppLogan3d([12, 256, 256]);
    const thickData = new Float32Array(3 * 256 * 256);
    for (let k = 0; k < 3; k++) {
      thickData.set(truth.data.subarray((4 * k + 2) * 65536, (4 * k + 3) * 65536), k * 65536);
    }
    await writeVolumeFile(
      `${dir}/thick.nii.gz`,
      makeVolume(thickData, [3, 256, 256], { spacing: [4, 1, 1] }),
    );
    await writeVolumeFile(
      `${dir}/truth.nii.gz`,
      makeVolume(truth.data, [12, 256, 256], { spacing: [1, 1, 1] }),
    );
    const args = ["--task", "zsr", "--factor", "4", "--input", "thick.nii.gz", "--unit", "image"];
    const r = await runTaskFile("reconstruct", [
      ...args,
      "--reference",
      "truth.nii.gz",
      "--model",
      TINY,
      "--backend",
      "native",
      "--steps",
      "2",
      "--output",
      "thin.nii.gz",
    ], dir);
    assert.equal(r.code, 0, r.stderr);
    const thin = await readVolumeFile(`${dir}/thin.nii.gz`);
    assert.deepEqual(thin.shape, [12, 256, 256]);
    assert.ok(Math.abs(thin.spacing[0] - 1) < 1e-6);
    const m = JSON.parse(await Deno.readTextFile(`${dir}/thin.metrics.json`));
    for (const k of ["blend++", "linear", "cubic"]) assert.ok(Number.isFinite(m[k].psnr.axial), k);
    assert.match(m.axialScoredOn, /9 slices not given/);
    for (
      const [bad, message] of [
        [["--factor", "1"], /--factor: must be a whole number >= 2/],
        [["--factor", "4000"], /exceed .* voxels: use --slices A:B or a smaller factor/],
      ] as const
    ) {
      const b = await runTaskFile("reconstruct", [
        ...args.slice(0, 2),
        ...bad,
        ...args.slice(4),
        "--out-dir",
        "bad",
      ], dir);
      assert.equal(b.code, 2, b.stderr);
      assert.match(b.stderr, message);
      assert.equal(b.stderr.trim().split("\n").length, 1, b.stderr);
    }
    const ct = await runTaskFile("reconstruct", ["--factor", "4", "--method", "fbp"], dir);
    assert.equal(ct.code, 2);
    assert.match(ct.stderr, /--factor: applies to --task zsr/);
    await assert.rejects(Deno.stat(`${dir}/bad`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
