/**
 * The sampler's data consistency against a float64 TypeScript reference of DDS's loop: CG on
 * (AᵀA + ρDzᵀDz) v = Aᵀy + ρDzᵀ(z − u) warm-started at the estimate, then z = soft(Dz v + u, λ/ρ),
 * u += Dz v − z, with z and u persisting across steps; with the circular Dz of the reference code and
 * without, and with the ADMM switched on only from a timestep (`ztvFrom`).
 */
import assert from "node:assert/strict";
import { GpuContext } from "../lib/gpu/context.ts";
import { Projector } from "../lib/ct/projector.ts";
import { forwardRef } from "../lib/ct/projector_ref.ts";
import { sparseView } from "../lib/ct/geometry.ts";
import { DataConsistency } from "../lib/diffusion/consistency.ts";
import { ddsStepRef } from "./dc_ref.ts";
import { relErr, seededArray } from "./helpers.ts";

const gpu = await GpuContext.create();

for (const circular of [false, true]) {
  Deno.test(`data consistency matches the DDS reference over 3 steps (circular Dz: ${circular}, ADMM from t <= 500)`, async () => {
    const shape = { Z: 5, H: 10, W: 10 };
    const A = await Projector.create(gpu, sparseView(6, { imageSize: 10 }), shape);
    const truth = seededArray(A.domainSize, 7).map((v) => 1 + 0.3 * v);
    const y = forwardRef(truth, A.geometry, shape);
    const cfg = { cgIters: 4, rho: 3, lambda: 0.2, circularDz: circular, ztvFrom: 500 };
    const dc = await DataConsistency.create(gpu, A, gpu.upload(y), cfg);
    const state = { z: new Float64Array(A.domainSize), u: new Float64Array(A.domainSize) };
    const vb = gpu.buffer(A.domainSize * 4);
    try {
      for (const [step, t] of [[0, 700], [1, 400], [2, 100]]) {
        const v0 = seededArray(A.domainSize, 20 + step).map((v) => 1 + 0.5 * v);
        gpu.write(vb, v0);
        await dc.apply(vb, t);
        const got = await gpu.download(vb, A.domainSize);
        const ref = ddsStepRef(v0, state, A, y, { rho: 3, lambda: 0.2, cg: 4, circular, admm: t <= 500 });
        assert.ok(relErr(got, ref) < 2e-4, `step ${step}: ${relErr(got, ref)}`);
        const s = await dc.state();
        assert.ok(relErr(s.z!, state.z) < 1e-3 && relErr(s.u!, state.u) < 1e-3, `ADMM state at step ${step}`);
      }
    } finally {
      dc.dispose();
      gpu.release(vb);
      A.dispose();
    }
  });
}

Deno.test("consistency tests release the device", () => gpu.dispose());
