import assert from "node:assert/strict";
import { GpuContext, params } from "../lib/gpu/context.ts";
import { grid } from "../lib/gpu/vector.ts";
import { Projector } from "../lib/ct/projector.ts";
import { forwardRef } from "../lib/ct/projector_ref.ts";
import { sparseView } from "../lib/ct/geometry.ts";
import {
  type EpsModel,
  normalAt,
  runSampler,
  type SamplerConfig,
  type SamplerState,
} from "../lib/diffusion/sampler.ts";
import { alphasCumprod } from "../lib/diffusion/schedule.ts";
import { ddimRef, ddimUpdate, tweedie, tweedieRef } from "../lib/diffusion/steps.ts";
import { chainSeed, reconstruct } from "../lib/jobs/reconstruct.ts";
import { partitionForStep } from "../lib/diffusion/partition.ts";
import { Rng } from "../lib/random.ts";
import { decodeState, encodeState } from "../lib/diffusion/state.ts";
import { relErr } from "./helpers.ts";

const gpu = await GpuContext.create();
const abar = alphasCumprod();

/** A denoiser that knows the clean volume: its Tweedie estimate is exact, so the sampler must return it. */
function oracle(truth: Float32Array, Z: number, hw: number): EpsModel & { slicesSeen: number[][] } {
  const seen: number[][] = [];
  return {
    slicesSeen: seen,
    predict(x, t, _k, shape) {
      const [B] = shape;
      const out = new Float32Array(x.length);
      for (let b = 0; b < B; b++) {
        const a = abar[t[b]];
        // find which slices this triplet holds by matching against the truth is not possible; the test
        // instead records the batch and computes eps against the truth slice that produced each channel
        for (let c = 0; c < 3; c++) {
          const off = (b * 3 + c) * hw;
          // the channel's slice index: pick the z whose noisy version it is (least squares fit)
          let best = 0, bestErr = Infinity;
          for (let z = 0; z < Z; z++) {
            let e = 0;
            for (let i = 0; i < hw; i += 7) {
              e += (x[off + i] - Math.sqrt(a) * (2 * truth[z * hw + i] - 1)) ** 2;
            }
            if (e < bestErr) [best, bestErr] = [z, e];
          }
          for (let i = 0; i < hw; i++) {
            out[off + i] = (x[off + i] - Math.sqrt(a) * (2 * truth[best * hw + i] - 1)) / Math.sqrt(1 - a);
          }
        }
      }
      return Promise.resolve(out);
    },
  };
}

function phantom(Z: number, N: number): Float32Array {
  const v = new Float32Array(Z * N * N);
  for (let z = 0; z < Z; z++) {
    for (let j = 0; j < N; j++) {
      for (let i = 0; i < N; i++) {
        const r2 = (i - N / 2 + 0.5) ** 2 + (j - N / 2 + 0.5) ** 2;
        v[(z * N + j) * N + i] = r2 < (N / 3) ** 2 ? 0.3 + 0.05 * z : 0;
      }
    }
  }
  return v;
}

const base: SamplerConfig = {
  mode: "blend++",
  steps: 6,
  eta: 0.85,
  cgIters: 2,
  jumpEvery: 2,
  rho: 0,
  lambda: 0,
  seed: 7,
};

Deno.test("GPU Gaussian noise matches its TypeScript reference", async () => {
  const n = 1000;
  const buf = gpu.buffer(n * 4);
  await gpu.run("sampler", "noise", params(1, n, 42, 3, { f: 1 }), [buf], grid(n));
  const got = await gpu.download(buf, n);
  const ref = Float32Array.from({ length: n }, (_, i) => normalAt(42, 3, i));
  assert.ok(relErr(got, ref) < 1e-5, `${relErr(got, ref)}`);
  const mean = ref.reduce((a, b) => a + b, 0) / n;
  const variance = ref.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  assert.ok(Math.abs(mean) < 0.1 && Math.abs(variance - 1) < 0.15, `mean ${mean} var ${variance}`);
  gpu.release(buf);
});

Deno.test("Tweedie and DDIM step kernels match their TypeScript references", async () => {
  const n = 777, layout = { n, hw: 7 };
  const xs = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 1.3);
  const es = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.11));
  const x = gpu.upload(xs), e = gpu.upload(es), v = gpu.buffer(n * 4), out = gpu.buffer(n * 4);
  for (const nonNegative of [true, false]) {
    const o = { abar: abar[640], map: [1, -1] as [number, number], nonNegative };
    await tweedie(gpu, x, e, v, layout, o);
    const got = await gpu.download(v, n), ref = tweedieRef(xs, es, o);
    assert.ok(relErr(got, ref) < 1e-5, `tweedie ${relErr(got, ref)}`);
    assert.equal(got.some((w) => w < 0), !nonNegative);
  }
  const vs = await gpu.download(v, n);
  const o = { abarNext: abar[300], map: [1, -1] as [number, number], eta: 0.85 };
  await ddimUpdate(gpu, v, e, out, layout, { ...o, seed: 9, step: 4 });
  const got = await gpu.download(out, n), ref = ddimRef(vs, es, (i) => normalAt(9, 4, i), o);
  assert.ok(relErr(got, ref) < 1e-5, `ddim ${relErr(got, ref)}`);
  gpu.release(x, e, v, out);
});

Deno.test("with an oracle denoiser the sampler returns the true volume", async () => {
  const Z = 10, N = 16;
  const truth = phantom(Z, N);
  const A = await Projector.create(gpu, sparseView(4, { imageSize: N }), { Z, H: N, W: N });
  const y = gpu.upload(forwardRef(truth, A.geometry, A.shape));
  const kinds: string[] = [];
  const out = await runSampler({ gpu, A, model: oracle(truth, Z, N * N), y }, base, {
    onStep: (e) => {
      kinds.push(e.partition);
    },
  });
  assert.ok(relErr(out, truth) < 1e-3, `error ${relErr(out, truth)}`);
  assert.deepEqual(kinds, ["adjacent", "jump", "adjacent", "jump", "adjacent", "jump"]);
  gpu.release(y);
  A.dispose();
});

Deno.test("the same seed gives the same bytes; a resumed run equals the uninterrupted one", async () => {
  const Z = 9, N = 12;
  const truth = phantom(Z, N);
  const A = await Projector.create(gpu, sparseView(4, { imageSize: N }), { Z, H: N, W: N });
  const y = gpu.upload(forwardRef(truth, A.geometry, A.shape));
  // a deterministic non-oracle model: eps = 0.3 x
  const model: EpsModel = { predict: (x) => Promise.resolve(x.map((v) => 0.3 * v)) };
  const cfg = { ...base, rho: 0.5, lambda: 0.01 };
  const a = await runSampler({ gpu, A, model, y }, cfg);
  const b = await runSampler({ gpu, A, model, y }, cfg);
  assert.deepEqual(new Uint8Array(a.buffer), new Uint8Array(b.buffer));
  const c = await runSampler({ gpu, A, model, y }, { ...cfg, seed: 8 });
  assert.notDeepEqual(new Uint8Array(a.buffer), new Uint8Array(c.buffer));
  let saved: SamplerState | null = null;
  const controller = new AbortController();
  await assert.rejects(
    runSampler({ gpu, A, model, y }, cfg, {
      signal: controller.signal,
      onStep: async (e, state) => {
        if (e.step === 3) {
          saved = await state();
          controller.abort();
        }
      },
    }),
    /interrupted after step 3/,
  );
  const resumed = await runSampler({ gpu, A, model, y }, cfg, { resume: saved! });
  assert.deepEqual(new Uint8Array(resumed.buffer), new Uint8Array(a.buffer));
  gpu.release(y);
  A.dispose();
});

Deno.test("on WebGPU the sampler keeps triplets on the device and matches the native back end", async () => {
  const { createDenoiser } = await import("../lib/prior/denoiser.ts");
  const { loadModel } = await import("../lib/prior/card.ts");
  const tiny = await loadModel(new URL("../fixtures/tiny-prior/tiny.json", import.meta.url));
  let web;
  try {
    web = await createDenoiser(tiny, { backend: "webgpu" });
  } catch (e) {
    console.log(`skipping WebGPU sampler test: ${(e as Error).message}`);
    return;
  }
  const native = await createDenoiser(tiny, { backend: "native" });
  const Z = 9, N = 32;
  const truth = phantom(Z, N);
  const cfg = { ...base, steps: 2, cgIters: 1 };
  const run = async (model: EpsModel, ctx: GpuContext) => {
    const A = await Projector.create(ctx, sparseView(4, { imageSize: N }), { Z, H: N, W: N });
    const y = ctx.upload(forwardRef(truth, A.geometry, A.shape));
    const out = await runSampler({ gpu: ctx, A, model, y }, cfg);
    ctx.release(y);
    A.dispose();
    return out;
  };
  // the web denoiser's device is the one blendct's kernels must use for predictGpu to apply
  const shared = await GpuContext.create({ device: web.device });
  let gpuCalls = 0;
  const counting: EpsModel = {
    device: web.device,
    predict: (x, t, k, s) => web.predict(x, t, k, s),
    predictGpu: (x, t, k, s, o) => {
      gpuCalls++;
      return web.predictGpu!(x, t, k, s, o);
    },
  };
  const a = await run(counting, shared);
  const b = await run(native, gpu);
  assert.equal(gpuCalls, 2, "one on-device call per step");
  assert.ok(relErr(a, b) < 1e-3, `webgpu vs native ${relErr(a, b)}`);
  shared.dispose();
  await web.dispose();
  await native.dispose();
});

/**
 * An oracle that knows which slices each triplet holds: it recomputes the sampler's partition from (seed,
 * step) as the sampler does, so its Tweedie estimate is exact at every noise level (the least-squares
 * oracle above must guess the slices, and guesses wrong at high noise).
 */
function partitionOracle(truth: Float32Array, Z: number, hw: number, seed: number): EpsModel {
  let chain = -1, step = 0, lastT = Infinity;
  return {
    predict(x, t, _k, shape) {
      if (t[0] > lastT) step = 0;
      if (step === 0) chain++;
      lastT = t[0];
      const part = partitionForStep(
        "blend++",
        step,
        Z,
        new Rng(`${chainSeed(seed, chain)}:partition:${step}`),
        2,
      );
      step++;
      const a = abar[t[0]];
      const out = new Float32Array(x.length);
      for (let g = 0; g < shape[0]; g++) {
        for (let c = 0; c < 3; c++) {
          const off = (g * 3 + c) * hw, z = part.slices[3 * g + c];
          for (let i = 0; i < hw; i++) {
            out[off + i] = (x[off + i] - Math.sqrt(a) * (2 * truth[z * hw + i] - 1)) / Math.sqrt(1 - a);
          }
        }
      }
      return Promise.resolve(out);
    },
  };
}

Deno.test("with an oracle denoiser every --dc, --start and --samples combination returns the truth; std is 0", async () => {
  const Z = 9, N = 16;
  const truth = phantom(Z, N);
  const g = sparseView(4, { imageSize: N });
  const y = forwardRef(truth, g, { Z, H: N, W: N });
  for (const dc of ["cg", "tv"] as const) {
    for (const start of ["noise", "fbp", "tv"] as const) {
      for (const samples of [1, 2]) {
        const stds: Float32Array[] = [];
        const out = await reconstruct(y, g, { Z, H: N, W: N }, {
          method: "blend++",
          steps: 4,
          cgIters: 2,
          seed: 3,
          dc,
          dcLambda: 1e-7,
          dcGamma: 0.1,
          start,
          finish: "none",
          t0: start === "noise" ? undefined : 400,
          samples,
          tvLambda: 0.001,
        }, { gpu, model: partitionOracle(truth, Z, N * N, 3), onStd: (s) => void stds.push(s) });
        const label = `dc ${dc}, start ${start}, K ${samples}`;
        assert.ok(relErr(out, truth) < 2e-3, `${label}: error ${relErr(out, truth)}`);
        if (samples > 1) {
          assert.equal(stds.length, 1, label);
          const top = stds[0].reduce((m, v) => Math.max(m, v), 0);
          assert.ok(top < 1e-3, `${label}: std ${top}`);
        }
      }
    }
  }
});

Deno.test("K chains are reproducible by seed; chain seeds differ; --start at t0 runs steps from t0", async () => {
  const Z = 9, N = 12;
  const truth = phantom(Z, N);
  const g = sparseView(4, { imageSize: N });
  const y = forwardRef(truth, g, { Z, H: N, W: N });
  const model: EpsModel = { predict: (x) => Promise.resolve(x.map((v) => 0.3 * v)) };
  const cfg = {
    method: "blend++" as const,
    start: "noise" as const,
    finish: "none" as const,
    steps: 3,
    cgIters: 1,
    seed: 5,
    samples: 3,
  };
  const a = await reconstruct(y, g, { Z, H: N, W: N }, cfg, { gpu, model });
  const b = await reconstruct(y, g, { Z, H: N, W: N }, cfg, { gpu, model });
  assert.deepEqual(new Uint8Array(a.buffer), new Uint8Array(b.buffer));
  assert.equal(new Set([0, 1, 2].map((k) => chainSeed(5, k))).size, 3);
  assert.equal(chainSeed(5, 0), 5, "chain 0 keeps the run's seed: K = 1 is unchanged");
  const ts: number[] = [];
  await reconstruct(y, g, { Z, H: N, W: N }, { ...cfg, samples: 1, start: "fbp", t0: 300, steps: 4 }, {
    gpu,
    model,
    onProgress: (_d, _t, e) => void (e && ts.push(e.t)),
  });
  assert.deepEqual(ts, [300, 200, 100, 0]);
});

Deno.test("K = 3 chains interrupted in the second chain resume to the same mean and std bytes", async () => {
  const Z = 9, N = 12;
  const truth = phantom(Z, N);
  const g = sparseView(4, { imageSize: N });
  const y = forwardRef(truth, g, { Z, H: N, W: N });
  const model: EpsModel = { predict: (x) => Promise.resolve(x.map((v) => 0.3 * v)) };
  const cfg = {
    method: "blend++" as const,
    start: "noise" as const,
    finish: "none" as const,
    steps: 4,
    cgIters: 1,
    seed: 6,
    samples: 3,
  };
  const stds: Float32Array[] = [];
  const onStd = (s: Float32Array) => void stds.push(s);
  const full = await reconstruct(y, g, { Z, H: N, W: N }, cfg, { gpu, model, onStd });
  const controller = new AbortController();
  let saved: SamplerState | null = null;
  await assert.rejects(
    reconstruct(y, g, { Z, H: N, W: N }, cfg, {
      gpu,
      model,
      signal: controller.signal,
      stateEvery: 1,
      onStd,
      // steps are counted over all chains: 6 of 12 is step 2 of the second chain
      onProgress: (done) => void (done === 6 && controller.abort()),
      onState: (s) => Promise.resolve(void (saved = s)),
    }),
    /interrupted/,
  );
  const state = decodeState(encodeState(saved!, { k: 1 }), { k: 1 });
  assert.equal(state.chain, 1);
  assert.equal(state.step, 2);
  assert.ok(state.mean && state.m2, "the first chain's accumulators are saved");
  const resumed = await reconstruct(y, g, { Z, H: N, W: N }, cfg, { gpu, model, resume: state, onStd });
  assert.deepEqual(new Uint8Array(resumed.buffer), new Uint8Array(full.buffer));
  assert.equal(stds.length, 2);
  assert.deepEqual(new Uint8Array(stds[1].buffer), new Uint8Array(stds[0].buffer));
});

Deno.test("sampler tests release the device", () => gpu.dispose());
