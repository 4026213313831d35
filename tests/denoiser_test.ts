import assert from "node:assert/strict";
import { UserError } from "../lib/errors.ts";
import { readNpy } from "../lib/io/npy.ts";
import { Rng } from "../lib/random.ts";
import {
  loadModel,
  loadParity,
  loadQuantized,
  parityError,
  parseModelCard,
  resolveModelSource,
  SLICE_MODEL,
} from "../lib/prior/card.ts";
import {
  type BackendChoice,
  chooseBackend,
  choosePrecision,
  createDenoiser,
  type Denoiser,
  probeWebGpu,
  verifyParity,
} from "../lib/prior/denoiser.ts";

const TINY = new URL("../fixtures/tiny-prior/tiny.json", import.meta.url);
const SHIPPED = new URL("../models/blendct-prior.json", import.meta.url);
const BAD = (name: string) => new URL(`../fixtures/bad-models/${name}.json`, import.meta.url);

async function exists(url: URL): Promise<boolean> {
  try {
    await Deno.stat(url);
    return true;
  } catch {
    return false;
  }
}

const shippedPresent = await exists(SHIPPED) &&
  await exists(new URL("../models/blendct-prior.onnx", import.meta.url));
const gpu = await probeWebGpu();

/** Skips (with a printed reason) only while the shipped model has not been exported yet. */
function shippedOrSkip(): boolean {
  if (!shippedPresent) console.log("skipped: models/blendct-prior.{json,onnx} not exported yet");
  return shippedPresent;
}

// onnxruntime keeps worker state and native handles alive between tests by design.
const ort = { sanitizeOps: false, sanitizeResources: false };

async function rejectsUser(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"), "user errors are one line");
    return true;
  });
}

// ---- model card ----

Deno.test("card: the tiny model loads, its sha256 matches and its parity fixture decodes", async () => {
  const m = await loadModel(TINY);
  assert.equal(m.card.slices, 3);
  assert.deepEqual(m.card.gaps, [1, 3]);
  assert.equal(m.card.schedule.T, 1000);
  assert.ok(m.url.pathname.endsWith("/fixtures/tiny-prior/tiny.onnx"));
  const p = await loadParity(m);
  assert.deepEqual(p.shape, [2, 3, 48, 48]);
  assert.equal(p.x.length, 2 * 3 * 48 * 48);
  assert.deepEqual([...p.t], [100, 700]);
  // A path typed by the user and the matching .onnx name resolve to the same card.
  assert.equal(
    resolveModelSource("fixtures/tiny-prior/tiny.onnx").href,
    resolveModelSource("fixtures/tiny-prior/tiny.json").href,
  );
});

Deno.test("card: the default source is the shipped card, found relative to the module", () => {
  assert.equal(resolveModelSource().href, SHIPPED.href);
});

Deno.test("card: a missing card is a clear error", async () => {
  await rejectsUser(
    loadModel(new URL("../fixtures/no-such-model.json", import.meta.url)),
    /model card not found: .*no-such-model\.json/,
  );
});

Deno.test("card: a card whose ONNX file is missing names the field", async () => {
  await rejectsUser(
    loadModel(BAD("missing-onnx")),
    /model card field `file` names missing-onnx\.onnx, which is missing/,
  );
});

Deno.test("card: a sha256 mismatch is refused, naming the field and the file", async () => {
  await rejectsUser(
    loadModel(BAD("wrong-sha")),
    /^model card field `sha256` does not match wrong-names\.onnx: re-export the model or fix the card/,
  );
});

Deno.test("card: a model is read over http like from a file, and a 404 is a missing card", async () => {
  const root = new URL("../", import.meta.url);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    try {
      return new Response(await Deno.readFile(new URL(new URL(req.url).pathname.slice(1), root)));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}/`;
    const m = await loadModel(`${base}fixtures/tiny-prior/tiny.json`);
    assert.equal(m.url.href, `${base}fixtures/tiny-prior/tiny.onnx`);
    assert.deepEqual(m.bytes, (await loadModel(TINY)).bytes);
    assert.equal((await loadParity(m)).shape[0], 2);
    await rejectsUser(
      loadModel(`${base}nothing.json`),
      /model card not found: http:\/\/127\.0\.0\.1:\d+\/nothing\.json/,
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("card: schema errors name the field", () => {
  const card = JSON.parse(Deno.readTextFileSync(TINY));
  assert.throws(() => parseModelCard({ ...card, slices: 2 }, "c.json"), /model card c\.json: field `slices`/);
  assert.throws(
    () => parseModelCard({ ...card, schedule: { ...card.schedule, type: "cosine" } }, "c.json"),
    /field `schedule\.type`/,
  );
  assert.throws(() => parseModelCard({ ...card, sha256: "abc" }, "c.json"), /field `sha256` must be 64/);
  assert.equal(parseModelCard(card).name, "tiny");
});

Deno.test("card: parityError is relative to the peak and catches NaN", () => {
  assert.equal(parityError([1, 2], [1, 2]), 0);
  assert.ok(Math.abs(parityError([1, 2.002], [1, 2]) - 0.001) < 1e-12);
  assert.equal(parityError([NaN, 2], [1, 2]), Infinity);
});

// ---- contract violations ----

Deno.test({
  name: "contract: wrong input names, one channel, one output channel and a missing k are refused",
  ...ort,
  fn: async () => {
    await rejectsUser(
      createDenoiser(BAD("wrong-names"), { backend: "native" }),
      /inputs are \[image, timestep, gap\], the contract needs exactly x, t, k \(missing x, t, k/,
    );
    await rejectsUser(
      createDenoiser(BAD("missing-k"), { backend: "native" }),
      /needs exactly x, t, k \(missing k\)/,
    );
    await rejectsUser(
      createDenoiser(BAD("one-channel"), { backend: "native" }),
      /input `x` has 1 channel\(s\) .*the card says 3/,
    );
    await rejectsUser(
      createDenoiser(BAD("one-channel-out"), { backend: "native" }),
      /output `eps` has shape \[1, 1, 16, 16\] \(1 channel\(s\)\)/,
    );
    // The web runtime goes through the same checks.
    await rejectsUser(
      createDenoiser(BAD("one-channel"), { backend: "wasm" }),
      /input `x` has 1 channel\(s\)/,
    );
  },
});

Deno.test("backends: unknown and invalid options are user errors", async () => {
  await rejectsUser(
    createDenoiser(TINY, { backend: "cuda" as BackendChoice }),
    /unknown denoiser backend "cuda": choose one of auto, webgpu, wasm, native/,
  );
  await rejectsUser(
    createDenoiser(TINY, { backend: "wasm", maxBatch: 0 }),
    /maxBatch must be a whole number/,
  );
});

Deno.test("backends: auto picks webgpu only on a real GPU, else native here", async () => {
  const d = await chooseBackend("auto");
  assert.equal(d.backend, gpu.available && !gpu.software ? "webgpu" : "native", d.reason);
  assert.match(d.reason, /^auto: /);
});

// ---- parity ----

async function parityOn(card: URL, backend: "native" | "wasm" | "webgpu"): Promise<void> {
  // fp32 named: the parity bound is PyTorch's fp32 function; the int8 copy has its own test below
  const d = await createDenoiser(card, { backend, precision: "fp32" });
  try {
    assert.equal(d.backend, backend);
    const r = await verifyParity(d);
    console.log(
      `${d.card.name} on ${backend}: parity error ${r.error.toExponential(2)} (tolerance ${r.tolerance})`,
    );
    assert.ok(r.error <= 1e-4, `relative error ${r.error} > 1e-4`);
    assert.ok(r.ok);
  } finally {
    await d.dispose();
  }
}

Deno.test({ name: "parity: tiny model, native", ...ort, fn: () => parityOn(TINY, "native") });
Deno.test({ name: "parity: tiny model, wasm", ...ort, fn: () => parityOn(TINY, "wasm") });
Deno.test({
  name: "parity: shipped model, native",
  ...ort,
  fn: async () => {
    if (shippedOrSkip()) await parityOn(SHIPPED, "native");
  },
});
Deno.test({
  name: "parity: shipped model, wasm",
  ...ort,
  fn: async () => {
    if (shippedOrSkip()) await parityOn(SHIPPED, "wasm");
  },
});

Deno.test({
  name:
    "parity: shipped 2D prior (one slice in, one out), native; a 2D card is refused by the 3-slice methods",
  ...ort,
  fn: async () => {
    const m = await loadModel(SLICE_MODEL);
    assert.equal(m.card.slices, 1);
    assert.deepEqual(m.card.gaps, [1]);
    assert.deepEqual((await loadParity(m)).shape, [2, 1, 48, 48]);
    await parityOn(SLICE_MODEL, "native");
  },
});

Deno.test({
  name: "parity: tiny model, webgpu",
  ...ort,
  fn: async () => {
    if (!gpu.available) {
      console.log(`skipped: ${gpu.description}`);
      return;
    }
    await parityOn(TINY, "webgpu");
  },
});

Deno.test({
  name: "batching: splitting into batches of maxBatch gives the same eps as one call",
  ...ort,
  fn: async () => {
    const p = await loadParity(await loadModel(TINY));
    const x = new Float32Array([...p.x, ...p.x.subarray(0, 3 * 48 * 48)]);
    const t = new Float32Array([...p.t, 400]), k = new Float32Array([...p.k, 1]);
    const one = await createDenoiser(TINY, { backend: "native", maxBatch: 1 });
    const all = await createDenoiser(TINY, { backend: "native", maxBatch: 8 });
    try {
      assert.equal(one.batchFor(48, 48), 1);
      const [a, b] = await Promise.all([
        one.predict(x, t, k, [3, 3, 48, 48]),
        all.predict(x, t, k, [3, 3, 48, 48]),
      ]);
      assert.ok(parityError(a, b) < 1e-5);
      assert.ok(parityError(a.subarray(0, p.eps.length), p.eps) < 1e-4);
    } finally {
      await one.dispose();
      await all.dispose();
    }
  },
});

Deno.test({
  name: "predict: wrong lengths, channels and untrained gaps are refused",
  ...ort,
  fn: async () => {
    const d = await createDenoiser(TINY, { backend: "native" });
    try {
      const x = new Float32Array(3 * 8 * 8), one = new Float32Array([1]);
      await assert.rejects(
        d.predict(x, one, new Float32Array([2]), [1, 3, 8, 8]),
        /k\[0\] = 2 is not a slice gap tiny was trained on \(1, 3\)/,
      );
      await assert.rejects(
        d.predict(x, new Float32Array([1000]), one, [1, 3, 8, 8]),
        /t\[0\] = 1000 is outside 0\.\.999/,
      );
      await assert.rejects(d.predict(x, one, one, [1, 3, 8, 7]), /x holds 192 values/);
      await assert.rejects(
        d.predict(new Float32Array(8 * 8), one, one, [1, 1, 8, 8]),
        /channel count must be 3/,
      );
      await assert.rejects(
        d.predict(x, new Float32Array(2), one, [1, 3, 8, 8]),
        /one t and one k per triplet/,
      );
    } finally {
      await d.dispose();
    }
    await assert.rejects(
      d.predict(new Float32Array(192), new Float32Array([1]), new Float32Array([1]), [1, 3, 8, 8]),
      /after dispose/,
    );
  },
});

// ---- WebGPU: data stays on the GPU ----

Deno.test({
  name: "webgpu: predictGpu writes the same eps as predict, on the runtime's device",
  ...ort,
  fn: async () => {
    if (!gpu.available) {
      console.log(`skipped: ${gpu.description}`);
      return;
    }
    // maxBatch 2 with B = 3 exercises the chunked path (scratch copy + offset writes).
    const d: Denoiser = await createDenoiser(TINY, { backend: "webgpu", maxBatch: 2 });
    try {
      assert.ok(d.device && d.predictGpu, "webgpu exposes its device and predictGpu");
      const shape = [3, 3, 16, 16] as const;
      const n = 3 * 3 * 16 * 16;
      const x = new Rng(11).fillNormal(new Float32Array(n));
      const t = new Float32Array([50, 500, 950]), k = new Float32Array([1, 3, 1]);
      const host = await d.predict(x, t, k, shape);

      const device = d.device;
      const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
      const xb = device.createBuffer({ size: n * 4, usage });
      device.queue.writeBuffer(xb, 0, x);
      const out = device.createBuffer({ size: n * 4, usage });
      await d.predictGpu(xb, t, k, shape, out);
      const read = device.createBuffer({
        size: n * 4,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      const enc = device.createCommandEncoder();
      enc.copyBufferToBuffer(out, 0, read, 0, n * 4);
      device.queue.submit([enc.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const gpuEps = new Float32Array(read.getMappedRange().slice(0));
      read.unmap();
      for (const b of [xb, out, read]) b.destroy();
      const err = parityError(gpuEps, host);
      console.log(`predictGpu vs predict: ${err.toExponential(2)}`);
      assert.ok(err <= 1e-6, `predictGpu differs from predict by ${err}`);
    } finally {
      await d.dispose();
    }
  },
});

// ---- the prior actually denoises held-out CT ----

/** ᾱ_t of the linear schedule, in float64 like train/model.py's linear_schedule. */
function alphaBar(t: number, T = 1000, b0 = 1e-4, b1 = 0.02): number {
  let a = 1;
  for (let i = 0; i <= t; i++) a *= 1 - (b0 + (b1 - b0) * i / (T - 1));
  return a;
}

/** PSNR in [0, 1] units of model-unit images (clipped), pooled over the whole triplet. */
function psnrModelUnits(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  const clip = (v: number) => Math.min(1, Math.max(0, (v + 1) / 2));
  let s = 0;
  for (let i = 0; i < ref.length; i++) s += (clip(a[i]) - clip(ref[i])) ** 2;
  return -10 * Math.log10(s / ref.length);
}

Deno.test({
  name: "prior: one-step Tweedie denoising of a held-out LIDC triplet at t = 200 gains ≥ 6 dB",
  ...ort,
  fn: async () => {
    if (!shippedOrSkip()) return;
    const npy = readNpy(
      await Deno.readFile(new URL("../fixtures/heldout_triplet_lidc.npy", import.meta.url)),
    );
    assert.deepEqual(npy.shape, [3, 256, 256]);
    const x0 = Float32Array.from(npy.data, (v) => 2 * (v / 255) - 1);
    const t = 200, a = alphaBar(t);
    const sa = Math.sqrt(a), sn = Math.sqrt(1 - a);
    const noise = new Rng(200).fillNormal(new Float32Array(x0.length));
    const xt = x0.map((v, i) => sa * v + sn * noise[i]);
    const d = await createDenoiser(SHIPPED, { backend: "native" });
    try {
      const eps = await d.predict(xt, new Float32Array([t]), new Float32Array([1]), [1, 3, 256, 256]);
      const x0hat = xt.map((v, i) => (v - sn * eps[i]) / sa);
      const noisy = xt.map((v) => v / sa);
      const pNoisy = psnrModelUnits(noisy, x0), pHat = psnrModelUnits(x0hat, x0);
      console.log(
        `${d.card.name} ${d.card.version}: PSNR noisy ${pNoisy.toFixed(2)} dB, Tweedie ${
          pHat.toFixed(2)
        } dB, ` +
          `gain ${(pHat - pNoisy).toFixed(2)} dB`,
      );
      assert.ok(pHat - pNoisy >= 6, `Tweedie gain ${(pHat - pNoisy).toFixed(2)} dB < 6 dB`);
    } finally {
      await d.dispose();
    }
  },
});

// ---- the int8 copy ----

Deno.test("precision: auto takes int8 only natively, only where measured faster and where it keeps quality", () => {
  const keeps = { quantized: { evaluation: { keepsQuality: true, speedup: 1.5 } } };
  const from500 = { quantized: { evaluation: { keepsQuality: false, int8FromT: 500, speedup: 1.5 } } };
  const loses = { quantized: { evaluation: { keepsQuality: false, int8FromT: null, speedup: 1.5 } } };
  const slow = { quantized: { evaluation: { keepsQuality: true, speedup: 1.02 } } };
  const unmeasured = { quantized: { evaluation: { keepsQuality: true } } };
  const p = (
    c: Parameters<typeof choosePrecision>[0],
    b: "native" | "wasm" | "webgpu",
    ch: "auto" | "fp32" | "int8",
  ) => choosePrecision(c, b, ch);
  assert.deepEqual(p(keeps, "native", "auto"), { precision: "int8", int8FromT: 0 });
  assert.deepEqual(p(from500, "native", "auto"), { precision: "mixed", int8FromT: 500 });
  assert.deepEqual(p(keeps, "wasm", "auto"), { precision: "fp32", int8FromT: Infinity });
  assert.equal(p(from500, "webgpu", "auto").precision, "fp32");
  assert.equal(p(loses, "native", "auto").precision, "fp32");
  assert.equal(p(slow, "native", "auto").precision, "fp32");
  assert.equal(p(unmeasured, "native", "auto").precision, "fp32");
  assert.equal(p(slow, "native", "int8").precision, "int8");
  assert.equal(p({ quantized: {} }, "native", "auto").precision, "fp32");
  assert.equal(p({}, "native", "auto").precision, "fp32");
  assert.equal(p(keeps, "native", "fp32").precision, "fp32");
  assert.deepEqual(p(loses, "native", "int8"), { precision: "int8", int8FromT: 0 });
  assert.throws(() => p(keeps, "wasm", "int8"), /int8 runs only on the native back end/);
  assert.throws(() => p({}, "native", "int8"), /has no int8 copy/);
});

Deno.test("loadQuantized: a missing section, another fp32 model and a wrong sha256 are one-line errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const card = JSON.parse(await Deno.readTextFile(TINY));
    const onnx = await Deno.readFile(new URL("../fixtures/tiny-prior/tiny.onnx", import.meta.url));
    await Deno.writeFile(`${dir}/tiny.onnx`, onnx);
    await Deno.writeFile(`${dir}/tiny.int8.onnx`, onnx.subarray(0, 100));
    const write = async (c: unknown) => {
      await Deno.writeTextFile(`${dir}/tiny.json`, JSON.stringify(c));
      return await loadModel(`${dir}/tiny.json`);
    };
    await rejectsUser(loadQuantized(await write(card)), /has no int8 copy .*run python3 train\/quantize\.py/);
    const other = { file: "tiny.int8.onnx", sha256: "0".repeat(64), fromSha256: "1".repeat(64) };
    await rejectsUser(
      loadQuantized(await write({ ...card, quantized: other })),
      /made from another fp32 model/,
    );
    const wrong = { ...other, fromSha256: card.sha256 };
    await rejectsUser(
      loadQuantized(await write({ ...card, quantized: wrong })),
      /field `quantized\.sha256` does not match tiny\.int8\.onnx/,
    );
    await rejectsUser(
      loadQuantized(await write({ ...card, quantized: { ...wrong, file: "gone.onnx" } })),
      /`quantized\.file` names gone\.onnx, which is missing/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "int8: the shipped prior's int8 copy runs natively and stays near PyTorch's fp32 eps on the parity fixture",
  ...ort,
  fn: async () => {
    if (!shippedOrSkip()) return;
    const m = await loadModel(SHIPPED);
    if (!m.card.quantized) {
      console.log("skipped: the shipped card has no int8 copy (python3 train/quantize.py)");
      return;
    }
    const d = await createDenoiser(m, { backend: "native", precision: "int8" });
    try {
      assert.equal(d.precision, "int8");
      assert.match(d.description, /int8 QDQ/);
      const p = await loadParity(m);
      const eps = await d.predict(p.x, p.t, p.k, p.shape);
      let num = 0, den = 0;
      for (let i = 0; i < eps.length; i++) {
        num += (eps[i] - p.eps[i]) ** 2;
        den += p.eps[i] ** 2;
      }
      const rel = Math.sqrt(num / den);
      console.log(`int8 eps against PyTorch fp32: relative RMS error ${rel.toExponential(2)}`);
      // the int8 network is a different function: near fp32's (a few per cent), never equal to it
      assert.ok(rel < 0.1 && rel > 1e-5, `relative RMS error ${rel}`);
    } finally {
      await d.dispose();
    }
  },
});

Deno.test({
  name: "int8: mixed precision runs int8 from the card's int8FromT on and fp32 below, call by call",
  ...ort,
  fn: async () => {
    if (!shippedOrSkip()) return;
    const card = JSON.parse(await Deno.readTextFile(SHIPPED));
    if (!card.quantized) {
      console.log("skipped: the shipped card has no int8 copy (python3 train/quantize.py)");
      return;
    }
    const dir = await Deno.makeTempDir();
    const open: Denoiser[] = [];
    try {
      for (const f of [card.file, card.quantized.file, card.parity.file]) {
        await Deno.copyFile(new URL(`../models/${f}`, import.meta.url), `${dir}/${f}`);
      }
      card.quantized.evaluation = { keepsQuality: false, int8FromT: 500, speedup: 1.5 };
      await Deno.writeTextFile(`${dir}/card.json`, JSON.stringify(card));
      const mixed = await createDenoiser(`${dir}/card.json`, { backend: "native", maxBatch: 2 });
      open.push(mixed);
      assert.equal(mixed.precision, "mixed");
      assert.match(mixed.description, /int8 QDQ for t ≥ 500/);
      const fp32 = await createDenoiser(`${dir}/card.json`, {
        backend: "native",
        precision: "fp32",
        maxBatch: 2,
      });
      const int8 = await createDenoiser(`${dir}/card.json`, {
        backend: "native",
        precision: "int8",
        maxBatch: 2,
      });
      open.push(fp32, int8);
      const p = await loadParity(await loadModel(`${dir}/card.json`));
      for (const [t, ref] of [[499, fp32], [500, int8], [900, int8]] as const) {
        const ts = new Float32Array(2).fill(t);
        const got = await mixed.predict(p.x, ts, p.k, p.shape);
        assert.deepEqual(got, await ref.predict(p.x, ts, p.k, p.shape), `t ${t}`);
      }
      // and the two really differ, or the test above proves nothing
      const ts = new Float32Array(2).fill(100);
      assert.notDeepEqual(
        await fp32.predict(p.x, ts, p.k, p.shape),
        await int8.predict(p.x, ts, p.k, p.shape),
      );
    } finally {
      for (const d of open) await d.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
