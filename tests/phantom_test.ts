import assert from "node:assert/strict";
import { anatomicalPhantom, anatomicalPhantomLabels, sheppLogan3d } from "../lib/ct/phantom.ts";

const at = (v: { data: Float32Array; shape: number[] }, k: number, j: number, i: number) =>
  v.data[(k * v.shape[1] + j) * v.shape[2] + i];

Deno.test("Shepp-Logan values at known points", () => {
  // 41 voxels per axis: voxel 20 sits exactly at 0, voxel 2 at y = 1 - 5/41 = 0.878 (skull, above the brain).
  const v = sheppLogan3d([41, 41, 41]);
  assert.equal(v.shape.join(), "41,41,41");
  assert.ok(Math.abs(at(v, 20, 20, 20) - 0.2) < 1e-6, "centre is brain, 1 - 0.8");
  assert.equal(at(v, 20, 2, 20), 1, "outer shell is skull");
  assert.equal(at(v, 0, 0, 0), 0, "corner is outside");
  assert.ok(Math.abs(at(v, 20, 20, 25)) < 1e-6, "right ventricle (x = 0.244) is 0.2 - 0.2");
  // Ellipsoid 5 around (0, 0.35, -0.15): voxel (17, 13, 20) is (0, 0.341, -0.146).
  assert.ok(Math.abs(at(v, 17, 13, 20) - 0.3) < 1e-6);
  const o = sheppLogan3d([41, 41, 41], { variant: "original" });
  assert.ok(Math.abs(at(o, 20, 20, 20) - 0.02) < 1e-6);
  assert.equal(at(o, 20, 2, 20), 1);
  let lo = Infinity, hi = -Infinity;
  for (const x of v.data) [lo, hi] = [Math.min(lo, x), Math.max(hi, x)];
  assert.equal(lo, 0);
  assert.equal(hi, 1);
  assert.deepEqual(v.spacing, [256 / 41, 256 / 41, 256 / 41]);
});

Deno.test("Shepp-Logan works for small odd shapes and rejects bad ones", () => {
  const v = sheppLogan3d([5, 7, 9]);
  assert.equal(v.data.length, 5 * 7 * 9);
  assert.throws(() => sheppLogan3d([0, 4, 4]), RangeError);
});

function stats(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, min: s[0], max: s[s.length - 1], n: s.length };
}

function byTissue(shape: [number, number, number], anatomy: "head" | "chest" | "abdomen", seed = 0) {
  const { volume, labels, tissues } = anatomicalPhantomLabels(shape, { anatomy, seed });
  const values = new Map<string, number[]>();
  labels.forEach((l, p) => {
    const name = tissues[l].name;
    if (!values.has(name)) values.set(name, []);
    values.get(name)!.push(volume.data[p]);
  });
  return { volume, values };
}

Deno.test("chest phantom: air, lungs -850..-700 on average, bone, plausible HU range", () => {
  const { volume, values } = byTissue([16, 96, 96], "chest");
  assert.equal(volume.unit, "HU");
  assert.deepEqual(volume.spacing, [300 / 16, 360 / 96, 360 / 96]);
  const air = stats(values.get("air")!);
  assert.equal(air.min, -1000);
  assert.equal(air.max, -1000);
  for (const lung of ["lung right", "lung left"]) {
    const s = stats(values.get(lung)!);
    assert.ok(s.n > 500, `${lung} has ${s.n} voxels`);
    assert.ok(s.mean > -860 && s.mean < -740, `${lung} mean ${s.mean}`);
    assert.ok(s.min > -1000 && s.max < -550, `${lung} range ${s.min}..${s.max}`);
  }
  const all = stats(Array.from(volume.data));
  assert.ok(all.max > 700 && all.max < 1800, `max ${all.max}`);
  const cortical = [...values.keys()].filter((k) => k.includes("cortical"));
  assert.ok(cortical.some((k) => k.startsWith("rib")) && cortical.includes("vertebra cortical"));
  const fat = stats(values.get("fat")!);
  assert.ok(Math.abs(fat.mean + 100) < 15, `fat ${fat.mean}`);
  assert.ok(Math.abs(stats(values.get("blood")!).mean - 40) < 10);
  assert.ok(values.has("lung vessel"));
});

Deno.test("abdomen and head phantoms have their organs at their HU", () => {
  const abd = byTissue([12, 80, 80], "abdomen");
  for (const [name, hu] of [["liver", 60], ["kidney", 30], ["fat", -100], ["muscle", 50]] as const) {
    const s = stats(abd.values.get(name)!);
    assert.ok(Math.abs(s.mean - hu) < 15, `${name} mean ${s.mean}`);
  }
  assert.ok(stats(Array.from(abd.volume.data)).min === -1000);
  const head = byTissue([12, 80, 80], "head");
  for (const [name, hu] of [["grey matter", 40], ["white matter", 25], ["CSF", 10]] as const) {
    const s = stats(head.values.get(name)!);
    assert.ok(Math.abs(s.mean - hu) < 8, `${name} mean ${s.mean}`);
  }
  const skull = stats(head.values.get("skull cortical")!);
  assert.ok(skull.mean > 700 && skull.mean < 1500, `skull ${skull.mean}`);
  assert.deepEqual(head.volume.spacing, [200 / 12, 240 / 80, 240 / 80]);
});

Deno.test("anatomical phantoms are deterministic given the seed, and seeds differ", () => {
  const a = anatomicalPhantom([10, 64, 64], { anatomy: "chest", seed: 7 });
  const b = anatomicalPhantom([10, 64, 64], { anatomy: "chest", seed: 7 });
  const c = anatomicalPhantom([10, 64, 64], { anatomy: "chest", seed: 8 });
  // Byte-for-byte, so NaN patterns or -0 would count too.
  assert.deepEqual(new Uint8Array(a.data.buffer), new Uint8Array(b.data.buffer));
  let differ = 0;
  for (let p = 0; p < a.data.length; p++) if (a.data[p] !== c.data[p]) differ++;
  assert.ok(differ > a.data.length / 10, `only ${differ} voxels differ`);
  const flat = anatomicalPhantom([4, 32, 32], { anatomy: "head", seed: 7, texture: 0 });
  const levels = new Set(flat.data);
  assert.ok(levels.size < 60, "no texture: piecewise constant");
  assert.throws(() => anatomicalPhantom([4, 8, 8], { anatomy: "leg" as "head" }), /unknown anatomy/);
});

Deno.test("256x256x64 chest phantom takes under 3 s", () => {
  const t0 = performance.now();
  const v = anatomicalPhantom([64, 256, 256], { anatomy: "chest", seed: 1 });
  const ms = performance.now() - t0;
  assert.equal(v.data.length, 64 * 256 * 256);
  assert.ok(ms < 3000, `took ${ms} ms`);
});
