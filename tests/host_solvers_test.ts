// The solvers' host paths (CG and TV's PDHG when the projector runs on the sparse CPU engine) against the GPU
// kernels on the WGSL projector and the float64 references, and the host z Laplacian against its kernel.
import assert from "node:assert/strict";
import { GpuContext } from "../lib/gpu/context.ts";
import { type ParallelGeometry, sparseView } from "../lib/ct/geometry.ts";
import { adjointRef, forwardRef } from "../lib/ct/projector_ref.ts";
import type { SliceShape } from "../lib/ct/operator.ts";
import { createProjector } from "../lib/ct/system.ts";
import { hostApply } from "../lib/ct/operator.ts";
import { NormalCg } from "../lib/solve/cg.ts";
import { addLapZHost, normalCgHost, normalCgPixelMajor } from "../lib/solve/cg_host.ts";
import { pixelMajorSteps, tvPdhgHost, tvPdhgPixelMajor, tvStepsHost } from "../lib/solve/tv_host.ts";
import { addLapZ } from "../lib/solve/zdiff.ts";
import { tvPdhg, tvPdhgRef, TvSolver } from "../lib/solve/tv.ts";
import { relErr, seededArray } from "./helpers.ts";

const gpu = await GpuContext.create();

/** (AᵀA + ρ D_zᵀD_z) v in float64 from the reference projector. */
function normal64(
  v: Float64Array,
  g: ParallelGeometry,
  shape: SliceShape,
  rho: number,
  circular: boolean,
): Float64Array {
  const out = Float64Array.from(adjointRef(forwardRef(Float32Array.from(v), g, shape), g, shape));
  const hw = shape.H * shape.W, n = v.length;
  for (let i = 0; i < n; i++) {
    let s = 0;
    if (circular) s = 2 * v[i] - v[(i + n - hw) % n] - v[(i + hw) % n];
    else {
      if (i >= hw) s += v[i] - v[i - hw];
      if (i + hw < n) s -= v[i + hw] - v[i];
    }
    out[i] += rho * s;
  }
  return out;
}

/** Textbook CG in float64. */
function cgRef(x0: Float32Array, b: Float32Array, M: (v: Float64Array) => Float64Array, iterations: number) {
  const x = Float64Array.from(x0), mx = M(x), r = Float64Array.from(b, (v, i) => v - mx[i]), p = r.slice();
  let rr = r.reduce((s, v) => s + v * v, 0);
  for (let k = 0; k < iterations; k++) {
    const q = M(p), a = rr / p.reduce((s, v, i) => s + v * q[i], 0);
    for (let i = 0; i < x.length; i++) {
      x[i] += a * p[i];
      r[i] -= a * q[i];
    }
    const next = r.reduce((s, v) => s + v * v, 0);
    for (let i = 0; i < x.length; i++) p[i] = r[i] + (next / rr) * p[i];
    rr = next;
  }
  return x;
}

for (const circular of [false, true]) {
  Deno.test(`host z Laplacian matches the GPU kernel (circular: ${circular})`, async () => {
    const shape = { Z: 5, H: 3, W: 4 }, n = 60;
    const v = seededArray(n, 1), base = seededArray(n, 2);
    const vb = gpu.upload(v), ob = gpu.upload(base);
    await addLapZ(gpu, vb, ob, n, 12, 0.7, circular);
    const out = base.slice();
    addLapZHost(v, out, shape, 0.7, circular);
    assert.ok(relErr(out, await gpu.download(ob, n)) < 1e-6);
    gpu.release(vb, ob);
  });
}

for (const [rho, circular] of [[0, false], [3, false], [3, true]] as const) {
  Deno.test(`CG on the sparse engine iterates on the host and matches the GPU recursion (ρ ${rho}, circular ${circular})`, async () => {
    const g = sparseView(6, { imageSize: 20 }), shape = { Z: 6, H: 20, W: 20 };
    const S = await createProjector(gpu, g, shape, { engine: "sparse" });
    const K = await createProjector(gpu, g, shape, { engine: "wgsl" });
    assert.ok(hostApply(S) !== null, "sparse engine has a host side");
    assert.equal(hostApply(K), null);
    const truth = seededArray(S.domainSize, 3).map((v) => Math.abs(v));
    const b = await S.backprojectAdjoint(await S.project(truth));
    const start = seededArray(S.domainSize, 4);
    const run = async (A: typeof S) => {
      const cg = new NormalCg(gpu, A);
      const x = gpu.upload(start), bb = gpu.upload(b);
      const res = await cg.solve(x, bb, { iterations: 8, rho, circular });
      const out = await gpu.download(x, A.domainSize);
      cg.dispose();
      gpu.release(x, bb);
      return { res, out };
    };
    const host = await run(S), dev = await run(K);
    const ref = cgRef(start, b, (v) => normal64(v, g, shape, rho, circular), 8);
    // float32 CG drifts from exact arithmetic on this ill-conditioned system (6 views of 20²): the host
    // path (float64 dot products) stays at least as close to a float64 CG as the GPU's float32 sums
    const eh = relErr(host.out, ref), ed = relErr(dev.out, ref);
    assert.ok(eh < 2e-2 && eh <= ed * 1.05 + 1e-4, `host ${eh}, GPU ${ed} from float64 CG`);
    assert.ok(relErr(host.out, dev.out) < 2e-2, `x: ${relErr(host.out, dev.out)}`);
    // the iterations made progress from the start (so agreement is not two untouched copies)
    assert.ok(relErr(host.out, start) > 1e-2);
    assert.deepEqual((await run(S)).out, host.out, "same bits on a second run");
    S.dispose();
    K.dispose();
  });
}

for (const gamma of [0, 0.5]) {
  Deno.test(`TV's PDHG on the sparse engine runs on the host and matches the GPU kernels and the reference (γ ${gamma})`, async () => {
    const g = sparseView(5, { imageSize: 16 }), shape = { Z: 4, H: 16, W: 16 };
    const S = await createProjector(gpu, g, shape, { engine: "sparse" });
    const K = await createProjector(gpu, g, shape, { engine: "wgsl" });
    const truth = seededArray(S.domainSize, 7).map((v) => Math.abs(v));
    const y = await S.project(truth), anchor = truth.map((v) => v * 0.9);
    const run = async (A: typeof S) => {
      const x = gpu.buffer(A.domainSize * 4), yb = gpu.upload(y), ab = gpu.upload(anchor);
      await tvPdhg(gpu, A, x, yb, { lambda: 0.02, iterations: 30, gamma, anchor: ab });
      const out = await gpu.download(x, A.domainSize);
      gpu.release(x, yb, ab);
      return out;
    };
    const host = await run(S), dev = await run(K);
    const ref = tvPdhgRef(
      new Float32Array(S.domainSize),
      y,
      g,
      shape,
      0.02,
      30,
      gamma ? { gamma, anchor } : undefined,
    );
    assert.ok(relErr(host, ref) < 1e-4, `host vs reference ${relErr(host, ref)}`);
    assert.ok(relErr(host, dev) < 1e-4, `host vs GPU ${relErr(host, dev)}`);
    assert.ok(relErr(host, new Float32Array(S.domainSize)) > 0.1, "the iterations moved x");
    S.dispose();
    K.dispose();
  });
}

for (const Z of [1, 2, 5, 33]) {
  Deno.test(`the pixel-major kernels (CG, TV's PDHG) match the plain host loops on the same operator: ${Z} slices`, async () => {
    const g = sparseView(7, { imageSize: 18 }), shape = { Z, H: 18, W: 18 };
    const S = await createProjector(gpu, g, shape, { engine: "sparse" });
    const h = hostApply(S)!;
    assert.ok(h.engine, "the sparse projector exposes its engine");
    const plain = { forwardHost: h.forwardHost, adjointHost: h.adjointHost };
    const truth = seededArray(S.domainSize, 9).map((v) => Math.abs(v));
    const y = h.forwardHost(truth), b = h.adjointHost(y), start = seededArray(S.domainSize, 10);
    for (const [rho, circular] of [[0, false], [2, false], [2, true]] as const) {
      const a = start.slice(), c = start.slice();
      const ra = normalCgPixelMajor(h.engine!, shape, a, b, { iterations: 6, rho, circular });
      const rc = await normalCgHost(plain, shape, c, b, { iterations: 6, rho, circular });
      assert.ok(relErr(a, c) < 1e-5, `CG ρ ${rho} circular ${circular}: ${relErr(a, c)}`);
      assert.ok(Math.abs(ra - rc) <= 1e-4 * rc + 1e-7);
    }
    const steps = await tvStepsHost(plain, S.domainSize, S.rangeSize),
      pm = pixelMajorSteps(h.engine!, Z, steps);
    const anchor = truth.map((v) => 0.8 * v);
    const a = new Float32Array(S.domainSize), c = new Float32Array(S.domainSize);
    const o = { lambda: 0.03, iterations: 25, gamma: 0.4, anchor };
    await tvPdhgPixelMajor(h.engine!, shape, a, y, pm, o);
    await tvPdhgHost(plain, shape, c, y, steps, o);
    pm.free();
    pm.free(); // a second release is a no-op, not a free of whatever sits there next
    assert.ok(relErr(a, c) < 1e-5, `TV: ${relErr(a, c)}`);
    assert.equal(h.engine!.inUse, 0, "every solver allocation released");
    S.dispose();
  });
}

Deno.test("host solvers leave no engine memory behind, and a NaN in the data stays visible", async () => {
  const g = sparseView(5, { imageSize: 12 }), shape = { Z: 3, H: 12, W: 12 };
  const S = await createProjector(gpu, g, shape, { engine: "sparse" });
  const E = hostApply(S)!.engine!;
  for (let k = 0; k < 2; k++) {
    const tv = await TvSolver.create(gpu, S);
    const cg = new NormalCg(gpu, S);
    const x = gpu.buffer(S.domainSize * 4), y = gpu.upload(new Float32Array(S.rangeSize).fill(1));
    await tv.solve(x, y, { lambda: 0.01, iterations: 3 });
    await cg.solve(x, gpu.upload(new Float32Array(S.domainSize).fill(1)), { iterations: 2, rho: 1 });
    cg.dispose();
    tv.dispose();
    tv.dispose();
    gpu.release(x, y);
  }
  assert.equal(E.inUse, 0);
  // the pixel-major PDHG clamps with NaN-propagating min/max, as the plain loops do
  const y = new Float32Array(S.rangeSize).fill(1);
  y[7] = NaN;
  const h = hostApply(S)!,
    steps = await tvStepsHost(h, S.domainSize, S.rangeSize),
    pm = pixelMajorSteps(E, 3, steps);
  const x = new Float32Array(S.domainSize);
  await tvPdhgPixelMajor(E, shape, x, y, pm, { lambda: 0.01, iterations: 3 });
  pm.free();
  assert.ok(x.some((v) => Number.isNaN(v)), "NaN in y must not come back as a plausible volume");
  assert.throws(() => E.free(12345), RangeError);
  S.dispose();
});
