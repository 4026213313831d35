import assert from "node:assert/strict";
import { GpuContext } from "../lib/gpu/context.ts";
import { Projector } from "../lib/ct/projector.ts";
import { fbp, FBP_FILTERS, filterRowsRef, filterTaps } from "../lib/ct/fbp.ts";
import { angularStep, defaultDetectorCount, limitedAngle, sparseView } from "../lib/ct/geometry.ts";
import { sheppLogan3d } from "../lib/ct/phantom.ts";
import { psnrPerPlane } from "../lib/metrics/psnr.ts";
import { makeVolume } from "../lib/volume.ts";
import { relErr, seededArray } from "./helpers.ts";

const gpu = await GpuContext.create();

Deno.test("180-view FBP of a 3D Shepp-Logan phantom reaches 30 dB", async () => {
  const N = 128, Z = 8;
  const phantom = sheppLogan3d([Z, N, N]);
  // half-pixel bins: with 1-pixel bins the projections of the pixel-sampled phantom alias and ramp FBP stops
  // at 27 dB (128²) / 29 dB (256²); 0.5-pixel bins give 34 dB
  const g = sparseView(180, {
    imageSize: N,
    detectorSpacing: 0.5,
    detectorCount: 2 * defaultDetectorCount(N),
  });
  const A = await Projector.create(gpu, g, { Z, H: N, W: N });
  const sino = await A.project(phantom.data);
  for (const filter of ["ramp", "shepp-logan"] as const) {
    const rec = await fbp(sino, g, { Z, H: N, W: N }, { filter, gpu });
    const p = psnrPerPlane(makeVolume(rec, [Z, N, N]), phantom);
    assert.ok(p.axial >= 30, `${filter}: axial PSNR ${p.axial.toFixed(2)} dB`);
  }
  A.dispose();
});

Deno.test("FBP row filter: GPU matches the reference; taps have no DC gain", async () => {
  const D = 23, A = 3, Z = 2;
  const g = { type: "parallel" as const, angles: [0, 1, 2], detectorCount: D, detectorSpacing: 1 };
  const P = await Projector.create(gpu, g, { Z, H: 16, W: 16 });
  const sino = seededArray(Z * A * D, 3);
  for (const filter of FBP_FILTERS) {
    const taps = filterTaps(D, 1, filter);
    // the band-limited ramp removes the mean: taps sum to ~0 for long kernels
    assert.ok(
      Math.abs(taps.reduce((a, b) => a + b, 0)) < 0.02,
      `${filter} DC ${taps.reduce((a, b) => a + b, 0)}`,
    );
    const src = gpu.upload(sino), dst = gpu.buffer(sino.length * 4);
    const { filterSinogram } = await import("../lib/ct/fbp.ts");
    await filterSinogram(gpu, P, src, dst, filter);
    assert.ok(relErr(await gpu.download(dst, sino.length), filterRowsRef(sino, D, taps)) < 1e-5);
    gpu.release(src, dst);
  }
  P.dispose();
});

Deno.test("FBP recovers the amplitude of a uniform disc; angular weights follow the geometry", async () => {
  const N = 96;
  const img = new Float32Array(N * N);
  for (let j = 0; j < N; j++) {
    for (let i = 0; i < N; i++) img[j * N + i] = (i - 47.5) ** 2 + (j - 47.5) ** 2 < 900 ? 0.7 : 0;
  }
  const g = sparseView(120, { imageSize: N });
  const A = await Projector.create(gpu, g, { Z: 1, H: N, W: N });
  const rec = await fbp(await A.project(img), g, { Z: 1, H: N, W: N }, { filter: "hann", gpu });
  let mean = 0;
  for (let j = 38; j < 58; j++) for (let i = 38; i < 58; i++) mean += rec[j * N + i] / 400;
  assert.ok(Math.abs(mean - 0.7) < 0.01, `centre mean ${mean}`);
  assert.ok(Math.abs(angularStep(g) - Math.PI / 120) < 1e-12);
  assert.ok(Math.abs(angularStep(limitedAngle(90)) - Math.PI / 180) < 1e-12);
  A.dispose();
});

Deno.test("FBP tests release the device", () => gpu.dispose());
