import assert from "node:assert/strict";
import { GpuContext } from "../lib/gpu/context.ts";
import { Projector, slabSlices } from "../lib/ct/projector.ts";
import { adjointRef, backprojectRef, forwardRef } from "../lib/ct/projector_ref.ts";
import { defaultDetectorCount, limitedAngle, type ParallelGeometry, sparseView } from "../lib/ct/geometry.ts";
import { relErr, seededArray } from "./helpers.ts";

const gpu = await GpuContext.create();

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function absDot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] * b[i]);
  return s;
}

const cases: { name: string; g: ParallelGeometry; Z: number; H: number; W: number }[] = [
  { name: "8 views 16x16", g: sparseView(8, { imageSize: 16 }), Z: 3, H: 16, W: 16 },
  { name: "4 views 33x33 odd", g: sparseView(4, { imageSize: 33 }), Z: 2, H: 33, W: 33 },
  { name: "limited 90 deg 24x24", g: limitedAngle(90, 45, { imageSize: 24 }), Z: 2, H: 24, W: 24 },
  {
    name: "random angles, rectangular, 0.7 bins",
    g: { type: "parallel", angles: [0.1, 0.9, 1.7, 2.2, 2.9, 4.0], detectorCount: 40, detectorSpacing: 0.7 },
    Z: 2,
    H: 20,
    W: 14,
  },
  {
    // wider than one adjoint invocation's 64 pixels, coarse bins: the adjoint's sliding window over bins
    // crosses invocations, rows start mid-window, and angles of every sign of cos are visited
    name: "11 random angles, 150x9, 1.3 bins",
    g: {
      type: "parallel",
      angles: [0, 0.31, 0.785, 1.2, 1.5708, 1.9, 2.356, 2.8, 3.1416, 3.9, 5.5],
      detectorCount: 130,
      detectorSpacing: 1.3,
    },
    Z: 2,
    H: 9,
    W: 150,
  },
];

for (const c of cases) {
  Deno.test(`projector ${c.name}: GPU matches the TypeScript reference and passes the dot-product test`, async () => {
    const shape = { Z: c.Z, H: c.H, W: c.W };
    const A = await Projector.create(gpu, c.g, shape);
    const x = seededArray(A.domainSize, 1);
    const y = seededArray(A.rangeSize, 2);
    const Ax = await A.project(x);
    const Aty = await A.backprojectAdjoint(y);
    assert.ok(relErr(Ax, forwardRef(x, c.g, shape)) < 1e-5, "forward vs reference");
    assert.ok(relErr(Aty, adjointRef(y, c.g, shape)) < 1e-5, "adjoint vs reference");
    // relative to Σ|Ax·y|, the scale of float32 rounding in either sum: zero-mean inputs make the dot
    // itself small (cancellation), which a relative test of the dot alone would mistake for a mismatch
    const lhs = dot(Ax, y), rhs = dot(x, Aty), scale = absDot(Ax, y);
    assert.ok(Math.abs(lhs - rhs) / scale < 1e-6, `<Ax,y>=${lhs} <x,Aty>=${rhs} (scale ${scale})`);
    A.dispose();
  });
}

Deno.test("projection of a disc matches its analytic chord lengths", async () => {
  const N = 96, R = 30;
  const g = sparseView(6, { imageSize: N });
  const img = new Float32Array(N * N);
  // supersampled disc so that partial-volume pixels carry their true area
  for (let j = 0; j < N; j++) {
    for (let i = 0; i < N; i++) {
      let inside = 0;
      for (let sy = 0; sy < 8; sy++) {
        for (let sx = 0; sx < 8; sx++) {
          const x = i - (N - 1) / 2 + (sx + 0.5) / 8 - 0.5, y = j - (N - 1) / 2 + (sy + 0.5) / 8 - 0.5;
          if (x * x + y * y <= R * R) inside++;
        }
      }
      img[j * N + i] = inside / 64;
    }
  }
  const A = await Projector.create(gpu, g, { Z: 1, H: N, W: N });
  const sino = await A.project(img);
  const D = g.detectorCount;
  let worst = 0;
  for (let a = 0; a < 6; a++) {
    for (let u = 0; u < D; u++) {
      const s = u - (D - 1) / 2;
      if (Math.abs(s) > R - 2) continue;
      const chord = 2 * Math.sqrt(R * R - s * s);
      worst = Math.max(worst, Math.abs(sino[a * D + u] - chord) / chord);
    }
  }
  assert.ok(worst < 0.02, `worst relative chord error ${worst}`);
  A.dispose();
});

Deno.test("back-projection kernel matches its reference", async () => {
  const shape = { Z: 2, H: 18, W: 18 };
  const g = sparseView(7, { imageSize: 18 });
  const A = await Projector.create(gpu, g, shape);
  const q = seededArray(A.rangeSize, 5);
  const qb = gpu.upload(q), xb = gpu.buffer(A.domainSize * 4);
  await A.backproject(qb, xb, 0.5);
  const got = await gpu.download(xb, A.domainSize);
  assert.ok(relErr(got, backprojectRef(q, g, shape, 0.5)) < 1e-5);
  gpu.release(qb, xb);
  A.dispose();
});

Deno.test("volumes larger than one binding are processed in aligned slabs", async () => {
  const shape = { Z: 10, H: 12, W: 12 };
  const g: ParallelGeometry = {
    type: "parallel",
    angles: [0.2, 1.1, 2.5],
    detectorCount: 16,
    detectorSpacing: 1,
  };
  // a 4 KiB binding limit forces slabs of 4 slices (256-byte aligned offsets)
  const A = await Projector.create(gpu, g, shape, { maxBindingBytes: 4096 });
  assert.equal(A.slab, 4);
  assert.equal(slabSlices(4096, shape, 48), 4);
  const x = seededArray(A.domainSize, 9), y = seededArray(A.rangeSize, 10);
  const xb = gpu.upload(x), yb = gpu.buffer(A.rangeSize * 4), xb2 = gpu.buffer(A.domainSize * 4);
  await A.forward(xb, yb);
  assert.ok(relErr(await gpu.download(yb, A.rangeSize), forwardRef(x, g, shape)) < 1e-5);
  gpu.write(yb, y);
  await A.adjoint(yb, xb2);
  assert.ok(relErr(await gpu.download(xb2, A.domainSize), adjointRef(y, g, shape)) < 1e-5);
  gpu.release(xb, yb, xb2);
  assert.equal(defaultDetectorCount(256), 363);
});

Deno.test("dispose releases the device", () => {
  // runs last in this file: later files create their own context
  gpu.dispose();
});
