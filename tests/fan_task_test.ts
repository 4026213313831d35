/**
 * Fan beam through the tasks as a user runs them: an ASTRA `fanflat` dictionary drives `simulate`, and
 * `reconstruct` runs FBP, TV and blend++ on it (from the sinogram file and from a volume), with the bad
 * geometries of the issue refused in one line.
 */
import assert from "node:assert/strict";
import { writeNpy } from "../lib/io/npy.ts";
import { writeVolumeFile } from "../lib/io/files.ts";
import { makeVolume } from "../lib/volume.ts";
import { sheppLogan3d } from "../lib/ct/phantom.ts";
import { runTaskFile } from "./helpers.ts";

const TINY = new URL("../fixtures/tiny-prior/tiny.json", import.meta.url).pathname;

function astra(views: number, dso = 600, count = 560, type = "fanflat") {
  return {
    vol_geom: {
      GridRowCount: 256,
      GridColCount: 256,
      option: { WindowMinX: -128, WindowMaxX: 128, WindowMinY: -128, WindowMaxY: 128 },
    },
    proj_geom: {
      type,
      DetectorWidth: 1.0,
      DetectorCount: count,
      ProjectionAngles: Array.from({ length: views }, (_, i) => (2 * Math.PI * i) / views),
      DistanceOriginSource: dso,
      DistanceOriginDetector: 400,
    },
  };
}

async function setup(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "blendct-fan-" });
  const v = sheppLogan3d([5, 256, 256]);
  await Deno.writeFile(`${dir}/phantom.npy`, writeNpy(makeVolume(v.data, [5, 256, 256], { unit: "image" })));
  await writeVolumeFile(`${dir}/phantom.nii.gz`, makeVolume(v.data, [5, 256, 256], { unit: "image" }));
  await Deno.writeTextFile(`${dir}/fan.json`, JSON.stringify(astra(180)));
  await Deno.writeTextFile(`${dir}/fan8.json`, JSON.stringify(astra(8)));
  return dir;
}

Deno.test("fan beam end to end: simulate from an ASTRA dictionary, then FBP, TV and blend++", async () => {
  const dir = await setup();
  try {
    const common = ["--unit", "image"];
    const sim = await runTaskFile("simulate", [
      "--input",
      "phantom.npy",
      "--geometry",
      "fan.json",
      "--output",
      "sino.nii.gz",
      ...common,
    ], dir);
    assert.equal(sim.code, 0, sim.stderr);
    const side = JSON.parse(await Deno.readTextFile(`${dir}/sino.geometry.json`));
    assert.equal(side.geometry.type, "fanflat");
    assert.equal(side.geometry.angles.length, 180);
    const fbp = await runTaskFile("reconstruct", [
      "--sinogram",
      "sino.nii.gz",
      "--reference",
      "phantom.npy",
      "--method",
      "fbp",
      "--out-dir",
      "fbp",
      ...common,
    ], dir);
    assert.equal(fbp.code, 0, fbp.stderr);
    const m = JSON.parse(await Deno.readTextFile(`${dir}/fbp/recon.metrics.json`));
    assert.ok(m.fbp.psnr.axial > 28, `fan FBP 180 views: ${m.fbp.psnr.axial} dB`);
    // the same sinogram with ASTRA's dictionaries as its geometry (slice count from the sinogram itself)
    const astraFbp = await runTaskFile("reconstruct", [
      "--sinogram",
      "sino.nii.gz",
      "--geometry",
      "fan.json",
      "--reference",
      "phantom.npy",
      "--method",
      "fbp",
      "--out-dir",
      "fbp-astra",
      ...common,
    ], dir);
    assert.equal(astraFbp.code, 0, astraFbp.stderr);
    const ma = JSON.parse(await Deno.readTextFile(`${dir}/fbp-astra/recon.metrics.json`));
    assert.ok(Math.abs(ma.fbp.psnr.axial - m.fbp.psnr.axial) < 1e-6, "ASTRA geometry = the sidecar's");
    // 8 fan views from the volume directly: TV beats FBP, blend++ (tiny model, 2 steps) runs on the same operator
    const tv = await runTaskFile("reconstruct", [
      "--input",
      "phantom.npy",
      "--geometry",
      "fan8.json",
      "--method",
      "tv",
      "--iterations",
      "60",
      "--out-dir",
      "tv",
      ...common,
    ], dir);
    assert.equal(tv.code, 0, tv.stderr);
    const t = JSON.parse(await Deno.readTextFile(`${dir}/tv/recon.metrics.json`));
    assert.ok(t.tv.psnr.axial > t.fbp.psnr.axial + 3, `TV ${t.tv.psnr.axial} vs FBP ${t.fbp.psnr.axial}`);
    const blend = await runTaskFile("reconstruct", [
      "--input",
      "phantom.npy",
      "--geometry",
      "fan8.json",
      "--method",
      "blend++",
      "--start",
      "noise",
      "--finish",
      "none",
      "--steps",
      "2",
      "--model",
      TINY,
      "--backend",
      "native",
      "--out-dir",
      "blend",
      ...common,
    ], dir);
    assert.equal(blend.code, 0, blend.stderr);
    const b = JSON.parse(await Deno.readTextFile(`${dir}/blend/recon.metrics.json`));
    assert.ok(Number.isFinite(b["blend++"].psnr.axial));
    // evaluate runs every method on the same fan operator
    const ev = await runTaskFile("evaluate", [
      "--cases",
      "phantom.nii.gz",
      "--geometry",
      "fan8.json",
      "--methods",
      "fbp,cgls",
      "--out",
      "eval",
    ], dir);
    assert.equal(ev.code, 0, ev.stderr);
    const rows = JSON.parse(await Deno.readTextFile(`${dir}/eval/results.json`));
    assert.deepEqual(rows.map((r: { setting: string }) => r.setting), [
      "geometry fan8.json",
      "geometry fan8.json",
    ]);
    assert.ok(rows[1].psnr.axial > rows[0].psnr.axial, "CGLS above FBP at 8 fan views");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fan beam bad input: an incomplete cone, parallel3d, a source inside the slice, a narrow detector, --views with --geometry", async () => {
  const dir = await setup();
  try {
    const base = ["--input", "phantom.npy", "--unit", "image", "--method", "fbp"];
    const cases: [unknown, RegExp][] = [
      // ASTRA cone with a fan beam's fields: the first cone field it lacks is named
      [astra(8, 600, 560, "cone"), /proj_geom\.DetectorSpacingX: /],
      [astra(8, 600, 560, "parallel3d"), /proj_geom type "parallel3d" is not supported/],
      [astra(8, 150), /source \(150 mm from the axis\) sits inside the slice's circle/],
      [
        { ...astra(8), proj_geom: { ...astra(8).proj_geom, DistanceOriginDetector: -5 } },
        /DistanceOriginDetector: must be >= 0/,
      ],
      [{ type: "fanflat", angles: [0] }, /geometry file bad\.json: field detectorCount/],
    ];
    for (const [geom, message] of cases) {
      await Deno.writeTextFile(`${dir}/bad.json`, JSON.stringify(geom));
      const r = await runTaskFile(
        "reconstruct",
        [...base, "--geometry", "bad.json", "--out-dir", "bad"],
        dir,
      );
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      await assert.rejects(Deno.stat(`${dir}/bad`));
    }
    const both = await runTaskFile("reconstruct", [...base, "--geometry", "fan8.json", "--views", "8"], dir);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--views.*does not apply with --geometry/);
    await Deno.writeTextFile(`${dir}/narrow.json`, JSON.stringify(astra(8, 600, 200)));
    const narrow = await runTaskFile("reconstruct", [
      ...base,
      "--geometry",
      "narrow.json",
      "--out-dir",
      "narrow",
    ], dir);
    assert.equal(narrow.code, 0, narrow.stderr);
    assert.match(narrow.stderr, /warning: the detector does not cover the slice: \d+\.\d% of its pixels/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a 2D sinogram (views x bins, as ASTRA's 2D tools save it) reads as one slice; a 2D volume asks for a slice axis", async () => {
  const { readSinogram } = await import("../lib/io/sinogram.ts");
  const { readVolumeFile } = await import("../lib/io/files.ts");
  const dir = await Deno.makeTempDir({ prefix: "blendct-sino2d-" });
  try {
    const views = 8, bins = 560;
    const values = Float32Array.from({ length: views * bins }, (_, i) => (i % 97) / 10);
    // a version-1 .npy of shape (views, bins), as numpy.save writes it
    const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${views}, ${bins}), }`;
    const pad = Math.ceil((10 + dict.length + 1) / 64) * 64 - (10 + dict.length + 1);
    const header = new TextEncoder().encode(dict + " ".repeat(pad) + "\n");
    const bytes = new Uint8Array(10 + header.length + values.byteLength);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 255, header.length >> 8]);
    bytes.set(header, 10);
    bytes.set(new Uint8Array(values.buffer), 10 + header.length);
    await Deno.writeFile(`${dir}/sino2d.npy`, bytes);
    await Deno.writeFile(`${dir}/sino3d.npy`, writeNpy(makeVolume(values, [1, views, bins])));
    await Deno.writeTextFile(`${dir}/fan8.json`, JSON.stringify(astra(views)));
    const two = await readSinogram(`${dir}/sino2d.npy`, `${dir}/fan8.json`);
    const three = await readSinogram(`${dir}/sino3d.npy`, `${dir}/fan8.json`);
    assert.equal(two.meta.imageShape[0], 1);
    assert.deepEqual(two.y, three.y);
    await assert.rejects(
      () => readVolumeFile(`${dir}/sino2d.npy`),
      /is 2D data \(8x560\).*leading slice axis \(one slice, 1x8x560; numpy: a\[None\]\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
