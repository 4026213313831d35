// Raw cone-beam projections: flat/dark correction round trip, the bad inputs (flat ≤ dark, mixed sizes or
// bit depths, a mismatched geometry), and a walnut-layout folder made here from analytic ellipsoid
// projections, reconstructed with one command as the data set's own scripts orient it.
import assert from "node:assert/strict";
import { lineIntegrals, readProjectionSet, walnutOrient } from "../lib/io/projections.ts";
import { type ConeGeometry, coneVectors } from "../lib/ct/cone_geometry.ts";
import { fdk } from "../lib/ct/fdk.ts";
import { writeVolumeFile } from "../lib/io/files.ts";
import { makeVolume } from "../lib/volume.ts";
import { UserError } from "../lib/errors.ts";
import { encodeTiff } from "./tiff_fixture.ts";
import { phantom, projectEllipsoids, voxelize } from "./cone_fixture.ts";
import { runTaskFile } from "./helpers.ts";

const MU = 0.0193;
const frame = (w: number, h: number, v: (i: number) => number) => ({
  width: w,
  height: h,
  bits: 16,
  data: Float32Array.from({ length: w * h }, (_, i) => v(i)),
});

Deno.test("flat/dark correction inverts I = (F − D)·exp(−p) + D to the quantisation, counts what it clamps", () => {
  const p = Float32Array.from({ length: 24 }, (_, i) => (i % 12) * 0.3);
  const F = 50000, D = 100;
  const views = [0, 1].map((a) => frame(4, 3, (i) => Math.round((F - D) * Math.exp(-p[a * 12 + i]) + D)));
  views[1].data[5] = 90; // below the dark field: clamped and counted
  views[1].data[6] = 50500; // above the flat field: kept, counted
  const { y, correction } = lineIntegrals(views, frame(4, 3, () => F), frame(4, 3, () => D));
  // ASTRA's layout: [rows][views][cols]
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) {
      const i = r * 4 + c;
      assert.ok(Math.abs(y[(r * 2 + 0) * 4 + c] - p[i]) < 2e-3, `view 0 pixel ${i}`);
    }
  }
  assert.equal(correction.clampedLow, 1);
  assert.equal(correction.aboveFlat, 1);
  assert.ok(Math.abs(y[(1 * 2 + 1) * 4 + 1] - -Math.log(1e-6)) < 1e-3);
  assert.throws(
    () => lineIntegrals(views, frame(4, 3, () => D), frame(4, 3, () => F)),
    (e: unknown) => e instanceof UserError && /not brighter than the dark field at 12 of 12/.test(e.message),
  );
});

/** A walnut-layout orbit folder of `g` (cone) in `dir`: raw files stored as the scanner writes them. */
async function writeWalnut(dir: string, g: ConeGeometry, y: Float32Array) {
  const A = g.angles.length, U = g.detectorCount, V = g.detectorRows, F = 60000, D = 200;
  // the raw image is what walnutOrient turns into [V][U]: raw[H−1−c][r] = t[r][c], H = U rows, V columns
  const raw = (t: (r: number, c: number) => number) => {
    const out = new Float32Array(U * V);
    for (let r = 0; r < V; r++) for (let c = 0; c < U; c++) out[(U - 1 - c) * V + r] = t(r, c);
    return out;
  };
  const write = (name: string, data: Float32Array) =>
    Deno.writeFile(`${dir}/${name}`, encodeTiff(V, U, data));
  await write("di000000.tif", raw(() => D));
  await write("io000000.tif", raw(() => F - 40));
  await write("io000001.tif", raw(() => F + 40));
  // view i is file scan_{A − i}; scan_000000 repeats view 0's angle (the last row of the .geom)
  for (let a = 0; a <= A; a++) {
    const v = a % A;
    const data = raw((r, c) => (F - D) * Math.exp(-MU * y[(r * A + v) * U + c]) + D);
    await write(`scan_${String((A - a) % (A + 1)).padStart(6, "0")}.tif`, data);
  }
  const rows = [...coneVectors(g), coneVectors(g)[0]];
  await Deno.writeTextFile(`${dir}/scan_geom_corrected.geom`, rows.map((r) => r.join(" ")).join("\n") + "\n");
}

Deno.test("a walnut-layout folder reconstructs with one command, oriented as the data set's scripts read it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const shape = { Z: 24, H: 48, W: 48 };
    const g: ConeGeometry = {
      type: "cone",
      angles: Array.from({ length: 60 }, (_, i) => (i * 2 * Math.PI) / 60),
      detectorCount: 80,
      detectorRows: 48,
      detectorSpacing: 1.6,
      detectorSpacingV: 1.6,
      sourceOrigin: 150,
      originDetector: 100,
      detectorOffset: 0,
      detectorOffsetV: 0,
    };
    const es = phantom(24, 12), y = projectEllipsoids(es, coneVectors(g), 80, 48, 1);
    await Deno.mkdir(`${dir}/tubeV1`);
    await writeWalnut(`${dir}/tubeV1`, g, y);
    // the reader gives back the line integrals (in 1/mm · mm) in ASTRA's layout, views in the .geom's order
    const set = await readProjectionSet({ path: `${dir}/tubeV1` });
    assert.equal(set.correction.views, 60);
    assert.equal(set.vectors!.length, 60);
    let err = 0;
    for (let i = 0; i < y.length; i++) err = Math.max(err, Math.abs(set.y[i] / MU - y[i]));
    assert.ok(err < 0.5, `largest line-integral error ${err} (pixel units)`);
    // one command: FDK on the folder against the phantom (HU), as good as FDK on the analytic data
    const truthU = voxelize(es, shape, [1, 1, 1]);
    const hu = truthU.map((u) => (u - 1) * 1000);
    await writeVolumeFile(
      `${dir}/truth.nii.gz`,
      makeVolume(hu, [24, 48, 48], { spacing: [1, 1, 1], unit: "HU" }),
    );
    const run = await runTaskFile("reconstruct", [
      "--projections",
      `${dir}/tubeV1`,
      "--method",
      "fbp",
      "--grid",
      "24,48,48",
      "--voxel-size",
      "1",
      "--reference",
      `${dir}/truth.nii.gz`,
      "--out-dir",
      `${dir}/out`,
    ], dir);
    assert.equal(run.code, 0, run.stderr);
    const m = JSON.parse(await Deno.readTextFile(`${dir}/out/recon.metrics.json`));
    const direct = fdk(y, g, shape, [1, 1, 1]);
    let mse = 0;
    for (let i = 0; i < direct.length; i++) mse += ((direct[i] - truthU[i]) * 1000) ** 2;
    const range = m.range.hi - m.range.lo;
    const want = 10 * Math.log10(range ** 2 / (mse / direct.length));
    // metrics average the slices' PSNRs, `want` is over the whole volume: within a dB; a misread folder
    // (rows, columns or views in the wrong order) loses several (tests/cone_test.ts)
    assert.ok(Math.abs(m.fbp.psnr.axial - want) < 1, `folder ${m.fbp.psnr.axial} dB, direct ${want} dB`);
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/out/recon.manifest.json`));
    assert.equal(manifest.measurement.flatFrames, 2);
    assert.equal(manifest.measurement.views, 60);
    // --every 2 keeps 30 views with their geometry rows
    const half = await readProjectionSet({ path: `${dir}/tubeV1`, every: 2 });
    assert.equal(half.correction.views, 30);
    assert.deepEqual(half.vectors![1], coneVectors(g)[2]);
    // walnutOrient is the scripts' transpose(flipud(raw))
    const t = walnutOrient({ width: 3, height: 2, bits: 16, data: Float32Array.from([1, 2, 3, 4, 5, 6]) });
    assert.deepEqual([t.width, t.height, ...t.data], [2, 3, 4, 1, 5, 2, 6, 3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("raw projections: mixed sizes or bit depths and a mismatched geometry are one line, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = (name: string, width: number, bits: 8 | 16 = 16) =>
      Deno.writeFile(`${dir}/${name}`, encodeTiff(width, 4, new Array(width * 4).fill(100), bits));
    await w("flat.tif", 6);
    await w("dark.tif", 6);
    await Deno.mkdir(`${dir}/p`);
    await w("p/a.tif", 6);
    await w("p/b.tif", 5);
    await assert.rejects(
      () => readProjectionSet({ path: `${dir}/p`, flat: [`${dir}/flat.tif`], dark: [`${dir}/dark.tif`] }),
      (e: unknown) => e instanceof UserError && /b\.tif is 5x4 but .* is 6x4/.test(e.message),
    );
    await w("p/b.tif", 6, 8);
    await assert.rejects(
      () => readProjectionSet({ path: `${dir}/p`, flat: [`${dir}/flat.tif`], dark: [`${dir}/dark.tif`] }),
      (e: unknown) => e instanceof UserError && /8-bit samples/.test(e.message),
    );
    await assert.rejects(
      () => readProjectionSet({ path: `${dir}/p` }),
      (e: unknown) => e instanceof UserError && /need --flat and --dark/.test(e.message),
    );
    await w("p/b.tif", 6);
    await w("dark.tif", 6);
    await Deno.writeFile(`${dir}/flat.tif`, encodeTiff(6, 4, new Array(24).fill(1000)));
    const g = {
      type: "cone",
      angles: [0, 1, 2],
      detectorCount: 6,
      detectorRows: 4,
      detectorSpacing: 1,
      detectorSpacingV: 1,
      sourceOrigin: 100,
      originDetector: 50,
    };
    await Deno.writeTextFile(`${dir}/g.json`, JSON.stringify(g));
    const run = await runTaskFile("reconstruct", [
      "--projections",
      `${dir}/p`,
      "--flat",
      `${dir}/flat.tif`,
      "--dark",
      `${dir}/dark.tif`,
      "--geometry",
      `${dir}/g.json`,
      "--method",
      "fbp",
      "--out-dir",
      `${dir}/out`,
    ], dir);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr.trim(), /holds 2 views of 4x6 .* describes 3 views of 4x6/);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    await assert.rejects(() => Deno.stat(`${dir}/out`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
