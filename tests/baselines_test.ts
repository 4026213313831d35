/**
 * The paper's baselines against TypeScript references of their loops on a tiny case (a deterministic
 * stand-in for the network, or an oracle denoiser that knows the truth):
 * - `dds2d`: DDIM slice by slice (each slice given to the prior as {z, z, z}), CG 5 on AᵀA, no z coupling;
 * - `tpdm`: axial triplets with CG, coronal triplets (no data step) every K-th step;
 * - `mbir`: reverse-diffusion predictor + Langevin corrector on the VE-converted score, each followed by
 *   CG with the z-TV ADMM (persistent z, u), and a final CG;
 * - `fbpunet`: FBP, then the network slice by slice, and its refusal of an untrained setting.
 */
import assert from "node:assert/strict";
import { GpuContext } from "../lib/gpu/context.ts";
import { Projector } from "../lib/ct/projector.ts";
import { forwardRef } from "../lib/ct/projector_ref.ts";
import { sparseView } from "../lib/ct/geometry.ts";
import { type EpsModel, isAuxiliaryStep, normalAt, runSampler } from "../lib/diffusion/sampler.ts";
import { INIT_STREAM } from "../lib/diffusion/steps.ts";
import { alphasCumprod, ddimTimes } from "../lib/diffusion/schedule.ts";
import { adjacentPartition } from "../lib/diffusion/partition.ts";
import { mbirTimes, runMbir, veSigma } from "../lib/diffusion/mbir.ts";
import { Rng } from "../lib/random.ts";
import { reconstructWith, samplerConfig } from "../lib/jobs/reconstruct.ts";
import { ddsStepRef } from "./dc_ref.ts";
import { relErr, seededArray, standIn } from "./helpers.ts";

const gpu = await GpuContext.create();
const shape = { Z: 6, H: 8, W: 8 }, hw = 64, n = 6 * hw;
const g = sparseView(6, { imageSize: 8 });
const truth = seededArray(n, 11).map((v) => 1 + 0.4 * v);
const y = forwardRef(truth, g, shape);
const map: [number, number] = [1, -1];

const model: EpsModel = { predict: (x, t, k, s) => Promise.resolve(standIn(x, t, k, s)) };

/** ε of every slice as the reference sees it: slice alone ({z,z,z}, middle channel), or coronal triplets. */
function epsRef(x: Float32Array, t: number, how: "single" | { coronal: number }): Float32Array {
  const eps = new Float32Array(n);
  if (how === "single") {
    for (let z = 0; z < shape.Z; z++) {
      const s = x.subarray(z * hw, (z + 1) * hw), batch = new Float32Array(3 * hw);
      for (let c = 0; c < 3; c++) batch.set(s, c * hw);
      eps.set(
        standIn(batch, new Float32Array([t]), new Float32Array([1]), [1, 3, 8, 8]).subarray(hw, 2 * hw),
        z * hw,
      );
    }
    return eps;
  }
  // coronal: rows (y) in adjacent triplets, each an image of Zp = 8 rows (slices, the last repeated) × W
  const Zp = 8, part = adjacentPartition(shape.H, how.coronal);
  for (let row = 0; row < shape.H; row++) {
    const j = part.owner[row], grp = Math.floor(j / 3), ch = j % 3;
    const batch = new Float32Array(3 * Zp * 8);
    for (let c = 0; c < 3; c++) {
      const r = part.slices[3 * grp + c];
      for (let zp = 0; zp < Zp; zp++) {
        for (let w = 0; w < 8; w++) {
          batch[(c * Zp + zp) * 8 + w] = x[Math.min(zp, shape.Z - 1) * hw + r * 8 + w];
        }
      }
    }
    const e = standIn(batch, new Float32Array([t]), new Float32Array([1]), [1, 3, Zp, 8]);
    for (let z = 0; z < shape.Z; z++) {
      for (let w = 0; w < 8; w++) eps[z * hw + row * 8 + w] = e[(ch * Zp + z) * 8 + w];
    }
  }
  return eps;
}

/** The DDIM loop of dds2d / tpdm in float64 (Tweedie with the clip at 0, CG 5, DDIM with η). */
function ddimLoopRef(steps: number, seed: number, eta: number, auxEvery?: number): Float64Array {
  const A = { geometry: g, shape } as Projector, abar = alphasCumprod(), times = ddimTimes(steps, 1000);
  const [s, o] = map;
  let x = Float32Array.from({ length: n }, (_, i) => normalAt(seed, INIT_STREAM, i));
  let v: Float64Array<ArrayBufferLike> = new Float64Array(n);
  const noAdmm = { z: new Float64Array(n), u: new Float64Array(n) };
  for (let i = 0; i < times.length; i++) {
    const t = times[i], a = abar[t];
    const aux = i < times.length - 1 && isAuxiliaryStep(auxEvery, i, seed);
    const rng = new Rng(`${seed}:partition:${i}`);
    const eps = aux ? epsRef(x, t, { coronal: rng.int(3) }) : epsRef(x, t, "single");
    v = Float64Array.from(
      x,
      (xi, j) => Math.max(((xi - Math.sqrt(1 - a) * eps[j]) / Math.sqrt(a) - o) / s, 0),
    );
    if (!aux) {
      v = ddsStepRef(Float32Array.from(v), noAdmm, A, y, {
        rho: 0,
        lambda: 0,
        cg: 5,
        circular: false,
        admm: false,
      });
    }
    if (i < times.length - 1) {
      const an = abar[times[i + 1]];
      x = Float32Array.from(
        v,
        (vi, j) =>
          Math.sqrt(an) * (s * vi + o) +
          Math.sqrt(1 - an) * (eta * normalAt(seed, i, j) + Math.sqrt(1 - eta * eta) * eps[j]),
      );
    }
  }
  return v;
}

Deno.test("dds2d equals a TypeScript reference of its loop: slice by slice, CG 5, no z coupling", async () => {
  const A = await Projector.create(gpu, g, shape);
  const cfg = samplerConfig({ method: "dds2d", steps: 5, seed: 3, modelMap: map }, 6)!;
  assert.equal(cfg.mode, "single");
  assert.equal(cfg.rho, 0);
  const got = await runSampler({ gpu, A, model, y: gpu.upload(y) }, cfg);
  const e = relErr(got, ddimLoopRef(5, 3, cfg.eta));
  assert.ok(e < 2e-3, `dds2d vs reference: ${e}`);
  A.dispose();
});

/** A 2D (1-slice) stand-in: the 3-slice stand-in's middle channel of {z, z, z}, so both must agree. */
const model2d: EpsModel = {
  card: { slices: 1 },
  predict: (x, t, k, s) => {
    const [B, C, H, W] = s, m = H * W;
    assert.equal(C, 1, "a 2D prior gets one channel");
    assert.equal(x.length, B * m);
    const out = new Float32Array(B * m);
    for (let b = 0; b < B; b++) {
      const one = x.subarray(b * m, (b + 1) * m), batch = new Float32Array(3 * m);
      for (let c = 0; c < 3; c++) batch.set(one, c * m);
      out.set(
        standIn(batch, t.subarray(b, b + 1), k.subarray(b, b + 1), [1, 3, H, W]).subarray(m, 2 * m),
        b * m,
      );
    }
    return Promise.resolve(out);
  },
};

Deno.test("dds2d on a 1-slice (2D) prior equals the same reference; a 2D prior refuses triplets", async () => {
  const A = await Projector.create(gpu, g, shape);
  const cfg = samplerConfig({ method: "dds2d", steps: 5, seed: 3, modelMap: map }, 6)!;
  const got = await runSampler({ gpu, A, model: model2d, y: gpu.upload(y) }, cfg);
  const e = relErr(got, ddimLoopRef(5, 3, cfg.eta));
  assert.ok(e < 2e-3, `dds2d (2D prior) vs reference: ${e}`);
  const blend = samplerConfig({ method: "blend++", steps: 2, seed: 3, modelMap: map }, 6)!;
  await assert.rejects(
    () => runSampler({ gpu, A, model: model2d, y: gpu.upload(y) }, blend),
    /a 1-slice \(2D\) prior runs slice by slice only, not on adjacent triplets/,
  );
  A.dispose();
});

Deno.test("tpdm equals a TypeScript reference: coronal steps (no data step) every 2nd step between axial ones", async () => {
  const A = await Projector.create(gpu, g, shape);
  const cfg = samplerConfig({ method: "tpdm", steps: 5, seed: 4, modelMap: map }, 6)!;
  assert.equal(cfg.auxEvery, 2);
  // the reference with axial triplets: tpdm's primary is the triplet prior, checked here in its "single"
  // form to keep one reference; so run the sampler with mode single and auxiliary every 2nd step
  const got = await runSampler({ gpu, A, model, y: gpu.upload(y) }, { ...cfg, mode: "single" });
  const e = relErr(got, ddimLoopRef(5, 4, cfg.eta, 2));
  assert.ok(e < 2e-3, `tpdm vs reference: ${e}`);
  assert.deepEqual([0, 1, 2, 3, 4].map((i) => isAuxiliaryStep(2, i, 4)), [false, true, false, true, false]);
  const frac = Array.from({ length: 2000 }, (_, i) => isAuxiliaryStep(2.7, i, 4)).filter(Boolean).length;
  assert.ok(
    Math.abs(frac / 2000 - 1 / 2.7) < 0.03,
    `K = 2.7 draws the auxiliary at 1/K of the steps (${frac / 2000})`,
  );
  A.dispose();
});

/** DiffusionMBIR's loop in float64 on the stand-in (levels 4, ρ 2, λ 0.1, CG 1, final CG 3, seed 5). */
function mbirRef(A: Projector, predictor: "reverse" | "ancestral"): Float64Array {
  const abar = alphasCumprod(), times = mbirTimes(4), [s, o] = map, rng = new Rng("5:mbir");
  const state = { z: new Float64Array(n), u: new Float64Array(n) };
  let x: Float64Array<ArrayBufferLike> = Float64Array.from(
    rng.fork("init").fillNormal(new Float32Array(n), { std: veSigma(abar[times[0]]) }),
  );
  const score = (t: number) => {
    const a = Math.sqrt(abar[t]), e = epsRef(Float32Array.from(x, (v) => v * a), t, "single");
    return Float64Array.from(e, (v) => -v / veSigma(abar[t]));
  };
  const data = (from: Float64Array, admm: boolean, cg: number) => {
    const u = ddsStepRef(Float32Array.from(from, (v) => (v - o) / s), state, A, y, {
      rho: admm ? 2 : 0,
      lambda: 0.1,
      cg,
      circular: false,
      admm,
    });
    x = u.map((v) => s * v + o);
  };
  for (let i = 0; i < times.length; i++) {
    const sig = veSigma(abar[times[i]]), next = i + 1 < times.length ? veSigma(abar[times[i + 1]]) : 0;
    const d2 = sig * sig - next * next, gr = score(times[i]);
    const xi = rng.fork(`predictor:${i}`).fillNormal(new Float32Array(n));
    // the reverse-diffusion predictor; the ancestral one would scale ξ by next / sig
    const std = predictor === "ancestral" ? Math.sqrt(d2) * next / sig : Math.sqrt(d2);
    x = x.map((v, j) => v + d2 * gr[j] + std * xi[j]);
    const g2 = score(times[i]), z = rng.fork(`corrector:${i}`).fillNormal(new Float32Array(n));
    for (let k = 0; k < shape.Z; k++) {
      let gn = 0, zn = 0;
      for (let j = k * hw; j < (k + 1) * hw; j++) (gn += g2[j] ** 2), (zn += z[j] ** 2);
      const step = 2 * (0.16 * Math.sqrt(zn) / Math.sqrt(gn)) ** 2;
      for (let j = k * hw; j < (k + 1) * hw; j++) x[j] += step * g2[j] + Math.sqrt(2 * step) * z[j];
    }
    data(x, true, 1); // one data step per level, after predictor and corrector
  }
  data(x, false, 3);
  return x.map((v) => (v - o) / s);
}

for (const predictor of ["reverse", "ancestral"] as const) {
  Deno.test(`mbir (${predictor} predictor) equals a TypeScript reference of DiffusionMBIR's PC sampler with z-TV ADMM`, async () => {
    const A = await Projector.create(gpu, g, shape);
    const cfg = {
      levels: 4,
      snr: 0.16,
      cgIters: 1,
      rho: 2,
      lambda: 0.1,
      finalCg: 3,
      seed: 5,
      modelMap: map,
      predictor,
    };
    const got = await runMbir({ gpu, A, model, y: gpu.upload(y) }, cfg);
    const e = relErr(got, mbirRef(A, predictor));
    assert.ok(e < 2e-3, `mbir vs reference: ${e}`);
    A.dispose();
  });
}

/** ε that a denoiser knowing the truth (in model units) returns: it makes every Tweedie estimate exact. */
function oracle(x0: Float32Array, sliceOf: (b: number, c: number) => number): EpsModel {
  const abar = alphasCumprod();
  return {
    predict: (x, t, _k, s) => {
      const [B, C, H, W] = s, m = H * W, out = new Float32Array(x.length);
      for (let b = 0; b < B; b++) {
        const a = abar[Math.round(t[b])];
        for (let c = 0; c < C; c++) {
          const z = sliceOf(b, c);
          for (let i = 0; i < m; i++) {
            const j = (b * C + c) * m + i;
            out[j] = (x[j] - Math.sqrt(a) * x0[z * m + i]) / Math.sqrt(1 - a);
          }
        }
      }
      return Promise.resolve(out);
    },
  };
}

// mbir without its z-TV here: this truth is random from slice to slice, so any z-TV weight biases it
Deno.test("with an oracle denoiser dds2d and mbir (ρ = 0) return the truth", async () => {
  const A = await Projector.create(gpu, g, shape);
  const x0 = Float32Array.from(truth, (u) => u - 1); // model = u − 1
  // every triplet of these methods is one slice three times, batched in slice order
  const model = oracle(x0, (b) => b);
  const yb = gpu.upload(y);
  const opts = { gpu, model };
  const d2 = await reconstructWith(A, y, { method: "dds2d", steps: 10, modelMap: [1, -1] }, {
    ...opts,
    stateEvery: 100,
  });
  assert.ok(relErr(d2, truth) < 1e-3, `dds2d: ${relErr(d2, truth)}`);
  const mb = await reconstructWith(
    A,
    y,
    // the reference's predictor: this 8×8 operator is nearly full rank, so the data step removes almost all
    // of the noise the ancestral predictor leaves, the exact score becomes tiny and the Langevin corrector's
    // signal-to-noise step (∝ 1/‖score‖²) explodes; the reverse predictor's surplus noise keeps it finite
    { method: "mbir", levels: 12, rho: 0, lambda: 0, modelMap: [1, -1], predictor: "reverse" },
    opts,
  );
  assert.ok(relErr(mb, truth) < 0.02, `mbir: ${relErr(mb, truth)}`);
  gpu.release(yb);
  A.dispose();
});

Deno.test("fbpunet refuses an acquisition it has no network for, naming the ones it has", async () => {
  const A = await Projector.create(gpu, sparseView(5, { imageSize: 8 }), shape);
  await assert.rejects(
    () => reconstructWith(A, new Float32Array(A.rangeSize), { method: "fbpunet" }, { gpu }),
    /fbpunet has networks for 4, 6, 8, la90.*this acquisition is 5/,
  );
  A.dispose();
});

Deno.test("baseline tests release the device", () => gpu.dispose());
