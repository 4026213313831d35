import assert from "node:assert/strict";
import { GpuContext } from "../lib/gpu/context.ts";
import { Projector } from "../lib/ct/projector.ts";
import { adjointRef, forwardRef } from "../lib/ct/projector_ref.ts";
import { sparseView } from "../lib/ct/geometry.ts";
import { NormalCg } from "../lib/solve/cg.ts";
import { cgls } from "../lib/solve/cgls.ts";
import { tvObjective, tvPdhg, tvPdhgRef, TvSolver } from "../lib/solve/tv.ts";
import { addDzt, addLapZ, applyDz, dzRef, dztRef } from "../lib/solve/zdiff.ts";
import { DataTerm } from "../lib/solve/data_term.ts";
import { relErr, seededArray } from "./helpers.ts";

const gpu = await GpuContext.create();

function normalRef(v: Float32Array, A: Projector, rho: number): Float64Array {
  const { H, W } = A.shape;
  const out = Float64Array.from(adjointRef(forwardRef(v, A.geometry, A.shape), A.geometry, A.shape));
  const lap = dztRef(dzRef(v, H * W), H * W);
  for (let i = 0; i < out.length; i++) out[i] += rho * lap[i];
  return out;
}

Deno.test("z differences: GPU kernels match references and Dzᵀ is the adjoint of Dz", async () => {
  const hw = 12, n = 5 * hw;
  const x = seededArray(n, 1), w = seededArray(n, 2);
  const xb = gpu.upload(x),
    wb = gpu.upload(w),
    out = gpu.buffer(n * 4),
    out2 = gpu.upload(new Float32Array(n));
  await applyDz(gpu, xb, out, n, hw);
  const dz = await gpu.download(out, n);
  assert.ok(relErr(dz, dzRef(x, hw)) < 1e-6);
  await addDzt(gpu, wb, out2, n, hw, 0, 1);
  const dzt = await gpu.download(out2, n);
  assert.ok(relErr(dzt, dztRef(w, hw)) < 1e-6);
  let a = 0, b = 0;
  for (let i = 0; i < n; i++) {
    a += dz[i] * w[i];
    b += x[i] * dzt[i];
  }
  assert.ok(Math.abs(a - b) < 1e-5 * Math.abs(a));
  gpu.write(out2, new Float32Array(n));
  await addLapZ(gpu, xb, out2, n, hw, 1);
  assert.ok(relErr(await gpu.download(out2, n), dztRef(dzRef(x, hw), hw)) < 1e-6);
  gpu.release(xb, wb, out, out2);
});

Deno.test("CG solves (AᵀA + ρDzᵀDz)v = b to the residual it reports", async () => {
  const shape = { Z: 4, H: 12, W: 12 };
  const A = await Projector.create(gpu, sparseView(30, { imageSize: 12 }), shape);
  const truth = seededArray(A.domainSize, 3);
  const rho = 0.5;
  const b = Float32Array.from(normalRef(truth, A, rho));
  const cg = new NormalCg(gpu, A);
  const xb = gpu.buffer(A.domainSize * 4), bb = gpu.upload(b);
  const r0 = await cg.solve(xb, bb, { iterations: 0, rho });
  const reported = await cg.solve(xb, bb, { iterations: 60, rho });
  const x = await gpu.download(xb, A.domainSize);
  const mx = normalRef(x, A, rho);
  const trueRes = Math.sqrt(mx.reduce((s, v, i) => s + (b[i] - v) ** 2, 0));
  assert.ok(reported < 1e-3 * r0, `reported ${reported} vs initial ${r0}`);
  assert.ok(Math.abs(trueRes - reported) < 1e-3 * r0, `true ${trueRes} reported ${reported}`);
  assert.ok(relErr(x, truth) < 0.1, `solution error ${relErr(x, truth)}`);
  cg.dispose();
  gpu.release(xb, bb);
  A.dispose();
});

Deno.test("CGLS lowers the data residual and matches CG on the normal equations", async () => {
  const shape = { Z: 2, H: 16, W: 16 };
  const A = await Projector.create(gpu, sparseView(8, { imageSize: 16 }), shape);
  const truth = seededArray(A.domainSize, 4);
  const y = forwardRef(truth, A.geometry, shape);
  const yb = gpu.upload(y), x1 = gpu.buffer(A.domainSize * 4), x2 = gpu.buffer(A.domainSize * 4);
  const res = await cgls(gpu, A, x1, yb, { iterations: 8 });
  const yNorm = Math.sqrt(y.reduce((s, v) => s + v * v, 0));
  assert.ok(res < 0.1 * yNorm, `residual ${res} vs ‖y‖ ${yNorm}`);
  const ax = forwardRef(await gpu.download(x1, A.domainSize), A.geometry, shape);
  const trueRes = Math.sqrt(ax.reduce((s, v, i) => s + (v - y[i]) ** 2, 0));
  assert.ok(Math.abs(trueRes - res) < 1e-3 * yNorm);
  // same Krylov space: CGLS and CG on AᵀA agree in exact arithmetic
  const cg = new NormalCg(gpu, A);
  const atb = gpu.upload(adjointRef(y, A.geometry, shape));
  await cg.solve(x2, atb, { iterations: 8 });
  assert.ok(relErr(await gpu.download(x2, A.domainSize), await gpu.download(x1, A.domainSize)) < 1e-2);
  cg.dispose();
  gpu.release(yb, x1, x2, atb);
  A.dispose();
});

Deno.test("TV PDHG matches its TypeScript reference and decreases its objective", async () => {
  const shape = { Z: 3, H: 16, W: 16 };
  const g = sparseView(6, { imageSize: 16 });
  const A = await Projector.create(gpu, g, shape);
  // piecewise-constant phantom in [0, 1]: a box and a disc
  const truth = new Float32Array(A.domainSize);
  for (let z = 0; z < 3; z++) {
    for (let j = 0; j < 16; j++) {
      for (let i = 0; i < 16; i++) {
        const disc = (i - 9) ** 2 + (j - 8) ** 2 < 16 ? 0.5 : 0;
        truth[(z * 16 + j) * 16 + i] = (i > 2 && i < 13 && j > 3 && j < 13 ? 0.4 : 0) + disc;
      }
    }
  }
  const y = forwardRef(truth, g, shape);
  const lambda = 0.05;
  const yb = gpu.upload(y), xb = gpu.buffer(A.domainSize * 4), axb = gpu.buffer(A.rangeSize * 4);
  const objectives: number[] = [];
  await tvPdhg(gpu, A, xb, yb, {
    lambda,
    iterations: 60,
    onIteration: async (k) => {
      if (k % 10 !== 9) return;
      await A.forward(xb, axb);
      const x = await gpu.download(xb, A.domainSize);
      objectives.push(tvObjective(x, await gpu.download(axb, A.rangeSize), y, shape, lambda));
    },
  });
  const got = await gpu.download(xb, A.domainSize);
  const ref = tvPdhgRef(new Float32Array(A.domainSize), y, g, shape, lambda, 60);
  assert.ok(relErr(got, ref) < 1e-4, `GPU vs reference ${relErr(got, ref)}`);
  for (let i = 1; i < objectives.length; i++) {
    assert.ok(objectives[i] <= objectives[i - 1] * (1 + 1e-6), `objective rose: ${objectives}`);
  }
  const start = tvObjective(new Float32Array(A.domainSize), new Float32Array(A.rangeSize), y, shape, lambda);
  assert.ok(objectives.at(-1)! < 0.05 * start);
  assert.ok(got.every((v) => v >= 0), "non-negativity");
  // with a proximity term to an anchor: the same kernels against the reference, and γ → ∞ gives the anchor
  const anchor = truth.map((v, i) => v + 0.05 * Math.sin(i));
  const ab = gpu.upload(anchor);
  const solver = await TvSolver.create(gpu, A);
  for (const gamma of [0.5, 1e6]) {
    gpu.write(xb, anchor);
    await solver.solve(xb, yb, { lambda, iterations: 30, gamma, anchor: ab });
    const g2 = await gpu.download(xb, A.domainSize);
    const r2 = tvPdhgRef(anchor, y, g, shape, lambda, 30, { gamma, anchor });
    assert.ok(relErr(g2, r2) < 1e-4, `prox γ=${gamma}: GPU vs reference ${relErr(g2, r2)}`);
    if (gamma > 1e5) {
      assert.ok(relErr(g2, anchor.map((v) => Math.max(0, v))) < 1e-3, "γ → ∞ returns the anchor");
    }
  }
  solver.dispose();
  gpu.release(yb, xb, axb, ab);
  A.dispose();
});

Deno.test("data term: residual and gradient 2Aᵀ(Au − y) against the float64 projector reference, buffers reused", async () => {
  const A = await Projector.create(gpu, sparseView(6, { imageSize: 12 }), { Z: 2, H: 12, W: 12 });
  const y = seededArray(A.rangeSize, 7);
  const term = new DataTerm(gpu, A, y);
  try {
    for (const seed of [8, 9]) { // a second call on the same buffers must not see the first
      const u = seededArray(A.domainSize, seed);
      const r = forwardRef(u, A.geometry, A.shape).map((v, i) => v - y[i]);
      const want = adjointRef(Float32Array.from(r), A.geometry, A.shape).map((v) => 2 * v);
      let rr = 0, yy = 0;
      for (let i = 0; i < r.length; i++) rr += r[i] * r[i], yy += y[i] * y[i];
      const { grad, residual } = await term.gradient(u);
      assert.ok(relErr(grad, want) < 1e-4, `gradient, seed ${seed}`);
      assert.ok(Math.abs(residual - Math.sqrt(rr / yy)) < 1e-5 * residual, `residual, seed ${seed}`);
      assert.equal(await term.residual(u), residual);
    }
  } finally {
    term.dispose();
    A.dispose();
  }
  assert.throws(() => new DataTerm(gpu, A, new Float32Array(3)), /range needs/);
});

Deno.test("solver tests release the device", () => gpu.dispose());
