/**
 * `--preset paper` is METHOD.md's loop exactly: this test writes that loop step by step in TypeScript
 * (noise from the kernels' own hash, the partitions, ε from a deterministic stand-in for the network,
 * Tweedie, 5 CG iterations on AᵀA (tests/dc_ref.ts), DDIM with η) and checks that the GPU sampler, configured as the preset
 * configures it, returns the same volume on a tiny case.
 */
import assert from "node:assert/strict";
import { GpuContext } from "../lib/gpu/context.ts";
import { Projector } from "../lib/ct/projector.ts";
import { forwardRef } from "../lib/ct/projector_ref.ts";
import { sparseView } from "../lib/ct/geometry.ts";
import { type EpsModel, normalAt, runSampler } from "../lib/diffusion/sampler.ts";
import { INIT_STREAM } from "../lib/diffusion/steps.ts";
import { alphasCumprod, ddimTimes } from "../lib/diffusion/schedule.ts";
import { partitionForStep } from "../lib/diffusion/partition.ts";
import { METHOD_DEFAULTS } from "../lib/defaults.ts";
import { Rng } from "../lib/random.ts";
import { samplerConfig } from "../lib/jobs/reconstruct.ts";
import { relErr, seededArray, standIn } from "./helpers.ts";
import { ddsStepRef } from "./dc_ref.ts";

Deno.test("--preset paper equals a step-by-step TypeScript reference of METHOD.md's loop", async () => {
  const gpu = await GpuContext.create();
  const shape = { Z: 7, H: 8, W: 8 }, hw = 64, n = 7 * hw;
  const g = sparseView(6, { imageSize: 8 });
  const A = await Projector.create(gpu, g, shape);
  const truth = seededArray(n, 11).map((v) => 1 + 0.4 * v);
  const y = forwardRef(truth, g, shape);
  const map: [number, number] = [1, -1];
  const steps = 6; // the preset's loop with fewer steps, so the float64 reference stays quick
  const cfg = samplerConfig({
    method: "blend++",
    ...METHOD_DEFAULTS.paper,
    steps,
    rho: 0,
    lambda: 0,
    seed: 3,
    modelMap: map,
  }, 6)!;
  assert.equal(cfg.cgIters, 5);
  assert.equal(cfg.eta, 0.85);
  const model: EpsModel = { predict: (x, t, k, s) => Promise.resolve(standIn(x, t, k, s)) };
  const got = await runSampler({ gpu, A, model, y: gpu.upload(y) }, cfg);

  // the reference
  const abar = alphasCumprod(), times = ddimTimes(steps, 1000), [s, o] = map;
  let x = Float32Array.from({ length: n }, (_, i) => normalAt(3, INIT_STREAM, i));
  let v: Float64Array<ArrayBufferLike> = new Float64Array(n);
  const noAdmm = { z: new Float64Array(n), u: new Float64Array(n) };
  for (let i = 0; i < times.length; i++) {
    const t = times[i];
    const part = partitionForStep("blend++", i, shape.Z, new Rng(`3:partition:${i}`), cfg.jumpEvery);
    const G = part.gaps.length, batch = new Float32Array(G * 3 * hw);
    part.slices.forEach((z, j) => batch.set(x.subarray(z * hw, (z + 1) * hw), j * hw));
    const epsB = standIn(batch, new Float32Array(G).fill(t), part.gaps, [G, 3, 8, 8]);
    const eps = new Float64Array(n);
    for (let z = 0; z < shape.Z; z++) {
      eps.set(epsB.subarray(part.owner[z] * hw, (part.owner[z] + 1) * hw), z * hw);
    }
    const a = abar[t];
    v = Float64Array.from(
      x,
      (xi, j) => Math.max(((xi - Math.sqrt(1 - a) * eps[j]) / Math.sqrt(a) - o) / s, 0),
    );
    // 5 CG iterations on AᵀA v = Aᵀy from Tweedie's estimate
    v = ddsStepRef(Float32Array.from(v), noAdmm, A, y, {
      rho: 0,
      lambda: 0,
      cg: cfg.cgIters,
      circular: false,
      admm: false,
    });
    if (i < times.length - 1) {
      const an = abar[times[i + 1]], eta = cfg.eta;
      x = Float32Array.from(v, (vi, j) =>
        Math.sqrt(an) * (s * vi + o) +
        Math.sqrt(1 - an) * (eta * normalAt(3, i, j) + Math.sqrt(1 - eta * eta) * eps[j]));
    }
  }
  const e = relErr(got, v);
  assert.ok(e < 2e-3, `GPU sampler vs reference loop: relative error ${e}`);
  A.dispose();
  gpu.dispose();
});
