import assert from "node:assert/strict";
import { makeVolume, type Volume } from "../lib/volume.ts";
import {
  computeMetrics,
  extractSlice,
  PLANES,
  psnr2d,
  psnrPerPlane,
  ssim2d,
  ssimPerPlane,
  totalVariation,
  toUnitRange,
  zConsistency,
} from "../lib/metrics/index.ts";

interface PlaneRef {
  psnr: number;
  ssim: number;
  ssimGaussian: number;
  ssimGaussianSampleCov: number;
  perSlice: { psnr: number[]; ssim: number[] };
}
interface Fixture {
  shape: [number, number, number];
  sha256: { reference: string; recon: string };
  planes: Record<"axial" | "coronal" | "sagittal", PlaneRef>;
}

const fixture: Fixture = await (await fetch(new URL("../fixtures/ssim_reference.json", import.meta.url)))
  .json();

/** Mirrors hash32 in fixtures/make_ssim_fixture.py. */
function hash32(i: number, j: number, k: number, s: number): number {
  let h = (Math.imul(i, 0x9E3779B1) + Math.imul(j, 0x85EBCA77) + Math.imul(k, 0xC2B2AE3D) +
    Math.imul(s, 0x27D4EB2F)) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = Math.imul(h, 0x2C1B3C6D) >>> 0;
  h = (h ^ (h >>> 12)) >>> 0;
  h = Math.imul(h, 0x297A2D39) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

/** Mirrors volumes() in the fixture script, operation for operation, so the float32 values are identical. */
function fixtureVolumes([Z, Y, X]: [number, number, number]): { ref: Volume; rec: Volume } {
  const ref = new Float32Array(Z * Y * X), rec = new Float32Array(Z * Y * X);
  let p = 0;
  for (let k = 0; k < Z; k++) {
    for (let j = 0; j < Y; j++) {
      for (let i = 0; i < X; i++, p++) {
        const w = (2.0 * k + 1.0 - Z) / Z, v = (2.0 * j + 1.0 - Y) / Y, u = (2.0 * i + 1.0 - X) / X;
        const na = (hash32(i, j, k, 1) % 65536) / 65536.0 - 0.5;
        const nb = (hash32(i, j, k, 2) % 65536) / 65536.0 - 0.5;
        const outer = (u * u / 0.64 + v * v / 0.81 + w * w / 0.9) <= 1.0;
        const blob = ((u - 0.2) * (u - 0.2) + (v + 0.1) * (v + 0.1) + w * w) <= 0.09;
        const hole = ((u + 0.3) * (u + 0.3) + (v - 0.2) * (v - 0.2) + (w - 0.1) * (w - 0.1)) <= 0.04;
        let r = 0.05 + (outer ? 0.6 : 0.0);
        r = r + (blob ? 0.3 : 0.0);
        r = r - (hole ? 0.25 : 0.0);
        r = r + 0.15 * u * v;
        r = r + 0.1 * w;
        r = r + 0.03 * na;
        let t = r + 0.12 * nb;
        t = t + 0.05 * v * w;
        ref[p] = r;
        rec[p] = t;
      }
    }
  }
  return { ref: makeVolume(ref, [Z, Y, X]), rec: makeVolume(rec, [Z, Y, X]) };
}

async function sha256(data: Float32Array): Promise<string> {
  // Float32Array bytes are little-endian on every platform Deno runs on (x86-64, aarch64). Copying into a
  // fresh buffer also satisfies crypto.subtle's ArrayBuffer (not SharedArrayBuffer) typing.
  const bytes = new Uint8Array(data.byteLength);
  bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const { ref, rec } = fixtureVolumes(fixture.shape);

Deno.test("fixture volumes regenerate bit for bit", async () => {
  assert.equal(await sha256(ref.data), fixture.sha256.reference);
  assert.equal(await sha256(rec.data), fixture.sha256.recon);
});

Deno.test("per-plane PSNR matches scikit-image to 1e-4 dB", () => {
  const p = psnrPerPlane(rec, ref);
  for (const plane of PLANES) assert.ok(Math.abs(p[plane] - fixture.planes[plane].psnr) < 1e-4, plane);
  // And slice by slice, which pins the averaging convention.
  fixture.planes.coronal.perSlice.psnr.forEach((want, y) => {
    const a = extractSlice(rec, "coronal", y, { clip: true });
    const b = extractSlice(ref, "coronal", y, { clip: true });
    assert.ok(Math.abs(psnr2d(a.data, b.data) - want) < 1e-4, `coronal slice ${y}`);
  });
});

Deno.test("per-plane SSIM (uniform 7x7, sample covariance) matches scikit-image to 1e-5", () => {
  const s = ssimPerPlane(rec, ref);
  for (const plane of PLANES) {
    assert.ok(Math.abs(s[plane] - fixture.planes[plane].ssim) < 1e-5, `${plane}: ${s[plane]}`);
  }
  fixture.planes.sagittal.perSlice.ssim.forEach((want, x) => {
    const a = extractSlice(rec, "sagittal", x, { clip: true });
    const b = extractSlice(ref, "sagittal", x, { clip: true });
    assert.ok(Math.abs(ssim2d(a, b) - want) < 1e-5, `sagittal slice ${x}`);
  });
});

Deno.test("Gaussian SSIM matches scikit-image, population and sample covariance", () => {
  const g = ssimPerPlane(rec, ref, { gaussian: true });
  const gs = ssimPerPlane(rec, ref, { gaussian: true, sampleCovariance: true });
  for (const plane of PLANES) {
    assert.ok(Math.abs(g[plane] - fixture.planes[plane].ssimGaussian) < 1e-5, `${plane}: ${g[plane]}`);
    assert.ok(Math.abs(gs[plane] - fixture.planes[plane].ssimGaussianSampleCov) < 1e-5, plane);
  }
});

Deno.test("computeMetrics bundles the same numbers", () => {
  const m = computeMetrics(rec, ref);
  for (const plane of PLANES) {
    assert.ok(Math.abs(m.psnr[plane] - fixture.planes[plane].psnr) < 1e-4);
    assert.ok(Math.abs(m.ssim[plane] - fixture.planes[plane].ssim) < 1e-5);
  }
  const mg = computeMetrics(rec, ref, { gaussian: true });
  assert.ok(Math.abs(mg.ssim.axial - fixture.planes.axial.ssimGaussian) < 1e-5);
  assert.ok(m.tv.total > m.tvReference.total, "added noise raises TV");
  assert.ok(m.zConsistencyRatio > 1);
  assert.equal(m.zConsistency, m.tv.z);
  assert.throws(() => computeMetrics(rec, makeVolume(new Float32Array(8), [2, 2, 2])), /shapes differ/);
});

function constant(shape: [number, number, number], value: number): Volume {
  return makeVolume(new Float32Array(shape[0] * shape[1] * shape[2]).fill(value), shape);
}

Deno.test("PSNR of a constant offset is -20 log10(offset); identical slices cap at 100 dB", () => {
  const shape: [number, number, number] = [4, 5, 6];
  const p = psnrPerPlane(constant(shape, 0.3), constant(shape, 0.25));
  const want = -20 * Math.log10(Math.fround(0.3) - Math.fround(0.25));
  for (const plane of PLANES) assert.ok(Math.abs(p[plane] - want) < 1e-9);
  assert.equal(psnrPerPlane(constant(shape, 0.4), constant(shape, 0.4)).axial, 100);
  assert.equal(psnr2d([1, 2], [1, 2], { maxDb: 80 }), 80);
  // Clipping: 1.5 vs 1.0 are both 1 after the clip.
  assert.equal(psnrPerPlane(constant(shape, 1.5), constant(shape, 1)).sagittal, 100);
});

Deno.test("SSIM(x, x) = 1 for both windows; SSIM drops with noise", () => {
  for (const gaussian of [false, true]) {
    const s = ssimPerPlane(ref, ref, { gaussian });
    for (const plane of PLANES) assert.equal(s[plane], 1);
  }
  const s = ssimPerPlane(rec, ref);
  for (const plane of PLANES) assert.ok(s[plane] < 0.95);
});

Deno.test("SSIM rejects windows larger than the slice; planes too thin come back NaN", () => {
  const img = { data: new Float64Array(36), width: 6, height: 6 };
  assert.throws(() => ssim2d(img, img), /exceeds/);
  const thin = constant([3, 10, 10], 0.5);
  const s = ssimPerPlane(thin, thin);
  assert.equal(s.axial, 1);
  assert.ok(Number.isNaN(s.coronal) && Number.isNaN(s.sagittal));
  assert.throws(() => ssim2d(img, img, { winSize: 4 }), /odd/);
});

Deno.test("TV of a step edge along each axis", () => {
  // A unit step halfway along x in an 4x5x6 volume: one of five x-pairs per row jumps by 1.
  const [Z, Y, X] = [4, 5, 6];
  const data = new Float32Array(Z * Y * X);
  for (let p = 0; p < data.length; p++) data[p] = p % X >= 3 ? 1 : 0;
  const tv = totalVariation(makeVolume(data, [Z, Y, X]));
  assert.ok(Math.abs(tv.x - 1 / 5) < 1e-12);
  assert.equal(tv.y, 0);
  assert.equal(tv.z, 0);
  assert.ok(Math.abs(tv.total - 0.2) < 1e-12);
  // Step along z of height 0.5: one of three z-pairs.
  const dz = new Float32Array(Z * Y * X);
  for (let p = 0; p < dz.length; p++) dz[p] = Math.floor(p / (Y * X)) >= 2 ? 0.5 : 0;
  const tz = totalVariation(makeVolume(dz, [Z, Y, X]));
  assert.ok(Math.abs(tz.z - 0.5 / 3) < 1e-12);
  assert.equal(tz.x + tz.y, 0);
  // Clipping changes a step from -1 to 2 into 0 to 1.
  const big = makeVolume(data.map((v) => v * 3 - 1), [Z, Y, X]);
  assert.ok(Math.abs(totalVariation(big, { clip: true }).x - 0.2) < 1e-12);
});

Deno.test("zConsistency and its ratio to the reference", () => {
  const [Z, Y, X] = [5, 3, 3];
  const smooth = new Float32Array(Z * Y * X), flicker = new Float32Array(Z * Y * X);
  for (let p = 0; p < smooth.length; p++) {
    const k = Math.floor(p / (Y * X));
    smooth[p] = 0.1 * k;
    flicker[p] = 0.1 * k + (k % 2 ? 0.05 : 0);
  }
  const z = zConsistency(makeVolume(flicker, [Z, Y, X]), makeVolume(smooth, [Z, Y, X]));
  assert.ok(Math.abs(z.reference! - 0.1) < 1e-6);
  assert.ok(
    Math.abs(z.value - 0.1) < 1e-6,
    "alternating ±0.05 around a ramp of 0.1: |0.15|,|0.05| average 0.1",
  );
  assert.ok(Math.abs(z.ratio! - 1) < 1e-5);
  const alone = zConsistency(makeVolume(flicker, [Z, Y, X]));
  assert.equal(alone.reference, undefined);
});

Deno.test("the data range maps values onto [0, 1] and clips there", () => {
  const hu = makeVolume(Float32Array.from([-1500, -1000, 0, 500, 2000, 0, 0, 0]), [2, 2, 2], { unit: "HU" });
  assert.deepEqual(Array.from(toUnitRange(hu, { range: [-1000, 1000] }).data), [
    0,
    0,
    0.5,
    0.75,
    1,
    0.5,
    0.5,
    0.5,
  ]);
  assert.throws(() => toUnitRange(hu, { range: [1, 1] }), /hi > lo/);
});

Deno.test("PSNR over a HU data range equals scikit-image's formula with data_range = hi - lo", () => {
  // 10 log10(range² / MSE) with range 4095 HU and a uniform 40.95 HU error: 40 dB exactly
  const shape: [number, number, number] = [3, 8, 8];
  const ref = Float32Array.from({ length: 192 }, (_, i) => -1000 + ((i * 37) % 3000));
  const rec = ref.map((v) => v + 40.95);
  const m = computeMetrics(makeVolume(rec, shape, { unit: "HU" }), makeVolume(ref, shape, { unit: "HU" }), {
    range: [-1024, 3071],
  });
  assert.ok(Math.abs(m.psnr.axial - 40) < 1e-4, `${m.psnr.axial}`);
  assert.ok(Math.abs(m.psnr.sagittal - 40) < 1e-4);
});

Deno.test("per-plane means leave out slices whose reference is constant (empty air)", () => {
  const shape: [number, number, number] = [4, 8, 8];
  const ref = new Float32Array(4 * 64);
  const rec = new Float32Array(4 * 64);
  // slices 0..2 hold structure, slice 3 is empty in both: only the first three count in the axial mean
  for (let i = 0; i < 3 * 64; i++) {
    ref[i] = (i % 8) / 8;
    rec[i] = ref[i] + 0.01;
  }
  const p = psnrPerPlane(makeVolume(rec, shape), makeVolume(ref, shape));
  assert.ok(Math.abs(p.axial - 40) < 1e-3, `axial ${p.axial}`);
  const all = psnrPerPlane(makeVolume(rec, shape), makeVolume(ref, shape), { keepEmptySlices: true });
  assert.ok(Math.abs(all.axial - (3 * 40 + 100) / 4) < 1e-3);
  const s = ssimPerPlane(makeVolume(rec, shape), makeVolume(ref, shape));
  const sAll = ssimPerPlane(makeVolume(rec, shape), makeVolume(ref, shape), { keepEmptySlices: true });
  assert.ok(s.axial < 1);
  assert.ok(Math.abs(sAll.axial - (3 * s.axial + 1) / 4) < 1e-9);
});
