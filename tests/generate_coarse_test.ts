/** Coarse-to-fine generation: bilinear upsampling against an analytic plane, and the cascade's plumbing with oracle denoisers. */
import assert from "node:assert/strict";
import { GpuContext } from "../lib/gpu/context.ts";
import type { EpsModel } from "../lib/diffusion/sampler.ts";
import { alphasCumprod } from "../lib/diffusion/schedule.ts";
import { extendAlongZ, generateVolume, refineSteps, upsampleSlices } from "../lib/jobs/generate.ts";

const abar = alphasCumprod();

Deno.test("upsampleSlices reproduces a plane exactly away from the clamped edges, and keeps a constant", () => {
  const c = 8, s = 20, Z = 2;
  // a plane in pixel-centre coordinates: f(x, y) = 0.3 + 0.05 x − 0.02 y (+ 0.1 z), x, y in the input's pixels
  const f = (x: number, y: number, z: number) => 0.3 + 0.05 * x - 0.02 * y + 0.1 * z;
  const v = new Float32Array(Z * c * c);
  for (let z = 0; z < Z; z++) {
    for (let y = 0; y < c; y++) for (let x = 0; x < c; x++) v[(z * c + y) * c + x] = f(x, y, z);
  }
  const up = upsampleSlices(v, Z, c, s);
  let checked = 0;
  for (let z = 0; z < Z; z++) {
    for (let j = 0; j < s; j++) {
      for (let i = 0; i < s; i++) {
        const x = (i + 0.5) * c / s - 0.5, y = (j + 0.5) * c / s - 0.5;
        if (x < 0 || y < 0 || x > c - 1 || y > c - 1) continue;
        assert.ok(Math.abs(up[(z * s + j) * s + i] - f(x, y, z)) < 1e-6, `z ${z} (${i}, ${j})`);
        checked++;
      }
    }
  }
  assert.ok(checked > Z * (s - 4) ** 2 * 0.8);
  assert.ok(
    upsampleSlices(new Float32Array(c * c).fill(0.7), 1, c, s).every((u) => Math.abs(u - 0.7) < 1e-7),
  );
  assert.throws(() => upsampleSlices(v, 3, c, s), RangeError);
});

/** An oracle for `truth` ([Z][n][n], u): ε that makes the Tweedie estimate exact; it records the timesteps and inputs it saw. */
function oracle(truth: Float32Array, Z: number, n: number) {
  const hw = n * n;
  const calls: { t: number[]; x: Float32Array }[] = [];
  const model: EpsModel = {
    predict(x, t, _k, shape) {
      calls.push({ t: Array.from(t), x: x.slice() });
      const out = new Float32Array(x.length);
      for (let b = 0; b < shape[0]; b++) {
        const a = abar[t[b]];
        for (let ch = 0; ch < 3; ch++) {
          const off = (b * 3 + ch) * hw;
          let best = 0, bestErr = Infinity;
          for (let z = 0; z < Z; z++) {
            let e = 0;
            for (let i = 0; i < hw; i++) e += (x[off + i] - Math.sqrt(a) * (2 * truth[z * hw + i] - 1)) ** 2;
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
  return { model, calls };
}

function volume(Z: number, n: number): Float32Array {
  const v = new Float32Array(Z * n * n);
  for (let z = 0; z < Z; z++) {
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const r2 = ((x + 0.5) / n - 0.5) ** 2 + ((y + 0.5) / n - 0.5) ** 2;
        v[(z * n + y) * n + x] = (0.5 + 0.9 * z) * Math.exp(-r2 / 0.06) + 0.2 * (x / n);
      }
    }
  }
  return v;
}

Deno.test("coarse to fine: the coarse stage's volume, upsampled and noised to refineT0, starts the fine stage", async () => {
  const gpu = await GpuContext.create();
  try {
    const Z = 4, c = 8, n = 16, steps = 10, t0 = 400;
    // the coarse truth is the fine one averaged over 2×2 blocks, so each stage's oracle can tell its slices apart
    const fineTruth = volume(Z, n), coarseTruth = new Float32Array(Z * c * c);
    for (let z = 0; z < Z; z++) {
      for (let y = 0; y < c; y++) {
        for (let x = 0; x < c; x++) {
          let m = 0;
          for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
            m += fineTruth[(z * n + 2 * y + dy) * n + 2 * x + dx];
          }
          coarseTruth[(z * c + y) * c + x] = m / 4;
        }
      }
    }
    const coarse = oracle(coarseTruth, Z, c), fine = oracle(fineTruth, Z, n);
    const u = await generateVolume(gpu, fine.model, {
      slices: Z,
      size: n,
      steps,
      seed: 3,
      coarse: { model: coarse.model, size: c },
      refineT0: t0,
    });
    // with no data an oracle's sample is some truth slice at each z, not necessarily slice z: the coarse
    // stage (slice by slice along z) picks which (the same run alone shows it), and the fine stage must
    // keep that layout
    const alone = await extendAlongZ(oracle(coarseTruth, Z, c).model, Z, c, { steps, seed: 3 });
    const which = (v: Float32Array, truth: Float32Array, m: number, z: number) => {
      for (let j = 0; j < Z; j++) {
        let e = 0;
        for (let i = 0; i < m * m; i++) e = Math.max(e, Math.abs(v[z * m * m + i] - truth[j * m * m + i]));
        if (e < 1e-3) return j;
      }
      return -1;
    };
    const layout = Array.from({ length: Z }, (_, z) => which(alone, coarseTruth, c, z));
    assert.ok(layout.every((j) => j >= 0), `every coarse slice is a truth slice: ${layout}`);
    assert.deepEqual(Array.from({ length: Z }, (_, z) => which(u, fineTruth, n, z)), layout);
    assert.ok(coarse.calls.length > 0 && coarse.calls[0].t[0] >= 900, "the coarse stage starts from noise");
    assert.equal(coarse.calls.length, (Z - 2) * steps, "one triplet per call, steps calls per drawn slice");
    const fineTimes = [...new Set(fine.calls.map((cl) => cl.t[0]))];
    assert.equal(fineTimes.length, Math.ceil(steps * t0 / 1000), "⌈steps·t0/T⌉ fine steps");
    assert.equal(refineSteps(steps, t0), fineTimes.length, "the count the progress line states");
    assert.equal(fine.calls[0].t[0], t0, "the fine stage starts at refineT0");
    // the first fine input is √ᾱ·m(up) + √(1−ᾱ)·ξ with m(u) = 2u − 1: its residual must look like unit noise
    const first = fine.calls[0], t = first.t[0], a = abar[t];
    const up = upsampleSlices(coarseTruth, Z, c, n);
    let sum = 0, sq = 0, count = 0;
    for (let b = 0; b < first.t.length; b++) {
      for (let ch = 0; ch < 3; ch++) {
        const off = (b * 3 + ch) * n * n;
        // which slice: the closest in the same sense as the oracle
        let best = Infinity, res: number[] = [];
        for (let z = 0; z < Z; z++) {
          const r = Array.from(
            { length: n * n },
            (_, i) => (first.x[off + i] - Math.sqrt(a) * (2 * up[z * n * n + i] - 1)) / Math.sqrt(1 - a),
          );
          const e = r.reduce((s, v) => s + v * v, 0);
          if (e < best) [best, res] = [e, r];
        }
        for (const v of res) [sum, sq, count] = [sum + v, sq + v * v, count + 1];
      }
    }
    const mean = sum / count, std = Math.sqrt(sq / count - mean ** 2);
    assert.ok(Math.abs(mean) < 0.1, `residual mean ${mean}`);
    assert.ok(Math.abs(std - 1) < 0.1, `residual std ${std}`);
    // (a start from anything but the upsampled coarse volume would leave a residual that is not unit noise)
    await assert.rejects(
      generateVolume(gpu, fine.model, { slices: Z, size: n, coarse: { model: coarse.model, size: n } }),
      /must be smaller/,
    );
  } finally {
    gpu.dispose();
  }
});

Deno.test("extendAlongZ draws each slice as the third of a triplet whose first two are the slices before it, held fixed", async () => {
  const Z = 5, n = 8, steps = 8;
  const truth = volume(Z, n);
  const o = oracle(truth, Z, n);
  const u = await extendAlongZ(o.model, Z, n, { steps, seed: 11 });
  // every slice is one the oracle knows (its Tweedie estimate is exact), and the volume is reproducible
  for (let z = 0; z < Z; z++) {
    let best = Infinity;
    for (let j = 0; j < Z; j++) {
      let e = 0;
      for (let i = 0; i < n * n; i++) e = Math.max(e, Math.abs(u[z * n * n + i] - truth[j * n * n + i]));
      best = Math.min(best, e);
    }
    assert.ok(best < 1e-3, `slice ${z} is a truth slice (max error ${best})`);
  }
  assert.deepEqual(await extendAlongZ(o.model, Z, n, { steps, seed: 11 }), u);
  // the last step of slice 3 sees slices 1 and 2 as drawn: at t = 0 the input is their clean value
  const last = o.calls[2 * steps - 1];
  assert.equal(last.t[0], 0);
  for (let i = 0; i < 2 * n * n; i++) {
    assert.ok(Math.abs(last.x[i] - (2 * u[n * n + i] - 1)) < 0.05, `held slice value ${i}`);
  }
  await assert.rejects(extendAlongZ(o.model, 2, n, { steps, seed: 1 }), /--slices must be/);
});
