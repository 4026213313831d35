/**
 * The learned prior behind one interface, whatever runs it: {@linkcode createDenoiser} loads a model card
 * and ONNX file, picks a back end (onnxruntime-web on WebGPU or wasm, or onnxruntime-node on the CPU),
 * checks the model contract, and returns a {@linkcode Denoiser} that predicts the noise `eps(x, t, k)` of
 * any number of triplets, in batches sized to the back end.
 *
 * Back ends live in `denoiser_native.ts` and `denoiser_web.ts` and are imported only when chosen, so a
 * script that never asks for the native one needs no `--allow-ffi`.
 *
 * @example
 * ```ts
 * import { createDenoiser } from "./denoiser.ts";
 * const tiny = new URL("../../fixtures/tiny-prior/tiny.json", import.meta.url);
 * const d = await createDenoiser(tiny, { backend: "wasm" });
 * const eps = await d.predict(new Float32Array(3 * 8 * 8), new Float32Array([200]), new Float32Array([1]), [1, 3, 8, 8]);
 * console.log(d.backend, eps.length); // wasm 192
 * await d.dispose();
 * ```
 * @module
 */
import { importOrtNode } from "../deps.ts";
import { UserError } from "../errors.ts";
import { type LoadedModel, loadModel, loadParity, type ModelCard, parityError } from "./card.ts";
import type { Adapter, TorchDevice } from "./denoiser_torch.ts";
import { quietMesa } from "../gpu/context.ts";
import type { Backend, DenoiserEngine, TripletShape } from "./engine.ts";

export type { Backend, TripletShape };

/** What a user may ask for: a back end, or `auto` to let {@linkcode chooseBackend} decide. */
export type BackendChoice = Backend | "auto";

/**
 * Every accepted `backend` value, in the order error messages list them.
 *
 * @example
 * ```ts
 * import { BACKEND_CHOICES } from "./denoiser.ts";
 * console.log(BACKEND_CHOICES.join("|")); // auto|webgpu|wasm|native|torch
 * ```
 */
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "webgpu", "wasm", "native", "torch"];

/**
 * The noise predictor `eps(x, t, k)` of the model contract, on one back end.
 *
 * All inputs are in model units (images in [−1, 1]); `t` is the DDPM timestep (0..T−1, may be fractional)
 * and `k` the slice gap, one per triplet. Calls are queued, so concurrent callers never interleave inside
 * the runtime.
 */
export interface Denoiser {
  /** The back end actually running the model. */
  readonly backend: Backend;
  /** The network's arithmetic ({@linkcode choosePrecision}). */
  readonly precision: Precision;
  /** Runtime, version and hardware in words, plus why `auto` chose it: for run manifests. */
  readonly description: string;
  /** The validated model card. */
  readonly card: ModelCard;
  /** Where the card came from (the parity fixture is resolved against it). */
  readonly cardUrl: URL;
  /** Triplets per runtime call at the card's image size (`batchFor(imageSize, imageSize)`). */
  readonly maxBatch: number;
  /** WebGPU only: the device onnxruntime uses; allocate buffers for {@linkcode Denoiser.predictGpu} on it. */
  readonly device?: GPUDevice;
  /** Triplets per runtime call at H×W: the `maxBatch` option, or what fits the back end's memory limits. */
  batchFor(height: number, width: number): number;
  /** Predicts eps for `shape[0]` triplets held in host memory; returns a new array of `x`'s length. */
  predict(x: Float32Array, t: Float32Array, k: Float32Array, shape: TripletShape): Promise<Float32Array>;
  /**
   * WebGPU only: predicts eps without leaving the GPU. `x` (usage STORAGE | COPY_SRC) and `out` (usage
   * COPY_DST) must be buffers of {@linkcode Denoiser.device} holding at least B·3·H·W float32; `out` is
   * written by commands submitted to the device's queue before the promise resolves, so later submissions
   * see the result.
   */
  predictGpu?(
    x: GPUBuffer,
    t: Float32Array,
    k: Float32Array,
    shape: TripletShape,
    out: GPUBuffer,
  ): Promise<void>;
  /** The torch back end only: test-time adaptation of the network (see `denoiser_torch.ts`). */
  readonly adapter?: Adapter;
  /** Releases the runtime session; the denoiser cannot be used afterwards. */
  dispose(): Promise<void>;
}

/** Options for {@linkcode createDenoiser}. */
export interface DenoiserOptions {
  /** Back end; default `"auto"` (see {@linkcode chooseBackend}). */
  backend?: BackendChoice;
  /** Triplets per runtime call, overriding the memory-based default. */
  maxBatch?: number;
  /** Native only: CPU threads for one operator (onnxruntime's intra-op threads). Default: all cores. */
  threads?: number;
  /** Native only: onnxruntime's graph optimisation level. @default {"all"} */
  graphOptimization?: "disabled" | "basic" | "extended" | "all";
  /** Native only: onnxruntime's CPU memory arena. @default {true} */
  memArena?: boolean;
  /** Network precision (see {@linkcode choosePrecision}). @default {"auto"} */
  precision?: PrecisionChoice;
  /** Torch only: where the worker runs. @default {"auto"} */
  device?: TorchDevice;
}

/**
 * The network's arithmetic: the exported fp32 model, its int8 (QDQ) copy, or both by timestep (`mixed`:
 * int8 for the calls at noise levels where it was measured to keep the prior's quality, fp32 below).
 */
export type Precision = "fp32" | "int8" | "mixed";

/** What a user may ask for: fp32, int8 everywhere, or `auto` to let {@linkcode choosePrecision} decide. */
export type PrecisionChoice = "fp32" | "int8" | "auto";

/**
 * The least measured speed-up (int8 triplets/s over fp32's) for which `auto` takes the int8 copy: below
 * it the few per cent are not worth a different function.
 *
 * @example
 * ```ts
 * import { INT8_MIN_SPEEDUP } from "./denoiser.ts";
 * console.log(INT8_MIN_SPEEDUP); // 1.1
 * ```
 */
export const INT8_MIN_SPEEDUP = 1.1;

/** What {@linkcode choosePrecision} settled on. */
export interface PrecisionDecision {
  /** The arithmetic of the run. */
  precision: Precision;
  /** int8 runs a call whose every `t` is at least this (0: always; `Infinity`: never). */
  int8FromT: number;
}

/**
 * Resolves a {@linkcode PrecisionChoice} for a back end. `auto` uses the card's int8 copy only on the
 * native CPU back end (where onnxruntime fuses its QDQ pattern into QLinearConv; the web back ends gain
 * nothing from it), only where `deno task bench quantized` recorded that it is faster (`speedup` at least
 * {@linkcode INT8_MIN_SPEEDUP}) and only where it keeps the prior's quality: everywhere (`keepsQuality`),
 * or from a timestep on (`int8FromT`: the calls at t ≥ it run int8, the others fp32); anything else runs
 * fp32. `int8` on another back end, or with no int8 copy, is refused.
 *
 * @example
 * ```ts
 * import { choosePrecision } from "./denoiser.ts";
 * const card = { quantized: { evaluation: { keepsQuality: false, int8FromT: 500, speedup: 1.4 } } };
 * console.log(choosePrecision(card, "native", "auto")); // { precision: "mixed", int8FromT: 500 }
 * console.log(choosePrecision(card, "wasm", "auto").precision); // fp32
 * ```
 */
export function choosePrecision(
  card: {
    quantized?: { evaluation?: { keepsQuality: boolean; int8FromT?: number | null; speedup?: number } };
  },
  backend: Backend,
  choice: PrecisionChoice = "auto",
): PrecisionDecision {
  const fp32 = { precision: "fp32", int8FromT: Infinity } as const;
  if (choice === "fp32") return fp32;
  if (choice === "int8") {
    if (backend !== "native") {
      throw new UserError(`--precision int8 runs only on the native back end (this run uses ${backend})`);
    }
    if (!card.quantized) {
      throw new UserError("--precision int8: the model has no int8 copy (run python3 train/quantize.py)");
    }
    return { precision: "int8", int8FromT: 0 };
  }
  if (choice !== "auto") {
    throw new UserError(`unknown precision "${choice}": choose one of auto, fp32, int8`);
  }
  const ev = card.quantized?.evaluation;
  if (backend !== "native" || !ev || !((ev.speedup ?? 0) >= INT8_MIN_SPEEDUP)) return fp32;
  if (ev.keepsQuality) return { precision: "int8", int8FromT: 0 };
  const from = ev.int8FromT;
  return typeof from === "number" && Number.isFinite(from) && from >= 0
    ? { precision: "mixed", int8FromT: from }
    : fp32;
}

/**
 * One engine of two by noise level: `high` runs a call whose every `t` is at least `from`, `low` the others
 * (the sampler's calls share one t, so a call is never split).
 */
function byTimestep(low: DenoiserEngine, high: DenoiserEngine, from: number): DenoiserEngine {
  return {
    backend: low.backend,
    description: `${low.description}; int8 QDQ for t ≥ ${from}`,
    batchFor: (h, w) => Math.min(low.batchFor(h, w), high.batchFor(h, w)),
    run: (x, t, k, shape) => (t.every((v) => v >= from) ? high : low).run(x, t, k, shape),
    release: async () => {
      await low.release();
      await high.release();
    },
  };
}

/** What {@linkcode probeWebGpu} found. */
export interface WebGpuReport {
  /** An adapter was returned. */
  available: boolean;
  /** The adapter is a fallback or a CPU rasterizer (llvmpipe, lavapipe, SwiftShader, WARP). */
  software: boolean;
  /** The adapter in words, or why there is none. */
  description: string;
  /** The adapter's limits that size batches, when there is one. */
  limits?: { maxBufferSize: number; maxStorageBufferBindingSize: number };
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|microsoft basic render|\bwarp\b|software/i;

/**
 * Asks the runtime for a WebGPU adapter and says whether it is real hardware.
 *
 * @example
 * ```ts
 * import { probeWebGpu } from "./denoiser.ts";
 * const gpu = await probeWebGpu();
 * console.log(typeof gpu.available, typeof gpu.description); // boolean string
 * ```
 */
export async function probeWebGpu(): Promise<WebGpuReport> {
  quietMesa();
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) {
    return { available: false, software: false, description: "this runtime has no WebGPU (navigator.gpu)" };
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return {
      available: false,
      software: false,
      description: `requestAdapter failed: ${(e as Error).message}`,
    };
  }
  if (!adapter) return { available: false, software: false, description: "no WebGPU adapter found" };
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const fallback = info.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
    false;
  const text = [info.description, info.vendor, info.architecture, info.device].filter(Boolean).join(" ");
  return {
    available: true,
    software: fallback || SOFTWARE_ADAPTER.test(text),
    description: info.description || text || "unnamed adapter",
    limits: {
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    },
  };
}

/** Loads onnxruntime-node, or says why it cannot (no --allow-ffi, not Deno/Node, missing binary). */
async function nativeStatus(): Promise<{ ok: true } | { ok: false; why: string }> {
  try {
    await importOrtNode();
    return { ok: true };
  } catch (e) {
    return { ok: false, why: String((e as Error)?.message ?? e).split("\n")[0] };
  }
}

/** The back end {@linkcode chooseBackend} settled on and why. */
export interface BackendDecision {
  /** The back end. */
  backend: Backend;
  /** Why, in one line. */
  reason: string;
}

/**
 * Resolves a {@linkcode BackendChoice}. `auto`: WebGPU on a real GPU; otherwise onnxruntime-node when it
 * loads (on a software adapter ORT's WebGPU path is many times slower than native CPU code); otherwise
 * wasm. An explicit choice that cannot run throws a {@linkcode UserError} saying why and what to pick.
 *
 * @example
 * ```ts
 * import { chooseBackend } from "./denoiser.ts";
 * const { backend, reason } = await chooseBackend("wasm");
 * console.log(backend, reason.length > 0); // wasm true
 * ```
 */
export async function chooseBackend(choice: BackendChoice = "auto"): Promise<BackendDecision> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new UserError(`unknown denoiser backend "${choice}": choose one of ${BACKEND_CHOICES.join(", ")}`);
  }
  if (choice === "wasm") return { backend: "wasm", reason: "requested" };
  if (choice === "torch") return { backend: "torch", reason: "requested" };
  if (choice === "native") {
    const native = await nativeStatus();
    if (!native.ok) {
      throw new UserError(
        `denoiser backend native is unavailable: onnxruntime-node did not load (${native.why}); ` +
          "run Deno with --allow-ffi (or -A), or pick --backend wasm",
      );
    }
    return { backend: "native", reason: "requested" };
  }
  const gpu = await probeWebGpu();
  if (choice === "webgpu") {
    if (!gpu.available) {
      throw new UserError(
        `denoiser backend webgpu is unavailable: ${gpu.description}; pick --backend native (or wasm)`,
      );
    }
    return { backend: "webgpu", reason: `requested, adapter ${gpu.description}` };
  }
  if (gpu.available && !gpu.software) {
    return { backend: "webgpu", reason: `auto: GPU adapter ${gpu.description}` };
  }
  const why = gpu.available ? `WebGPU adapter ${gpu.description} is software` : gpu.description;
  const native = await nativeStatus();
  if (native.ok) return { backend: "native", reason: `auto: ${why}` };
  return { backend: "wasm", reason: `auto: ${why}; onnxruntime-node unavailable (${native.why})` };
}

function isLoaded(model: unknown): model is LoadedModel {
  return typeof model === "object" && model !== null && "bytes" in model && "card" in model;
}

function positiveInt(v: number | undefined, name: string): number | undefined {
  if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
    throw new UserError(`denoiser option ${name} must be a whole number ≥ 1 (got ${v})`);
  }
  return v;
}

/** Validates one call's arguments against the card; returns the element count of one triplet. */
function checkCall(
  card: ModelCard,
  xLength: number,
  t: Float32Array,
  k: Float32Array,
  shape: TripletShape,
): number {
  if (shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new RangeError(
      `denoiser shape must be [B, 3, H, W] of positive integers, got [${shape.join(", ")}]`,
    );
  }
  const [b, c, h, w] = shape;
  if (c !== card.slices) {
    throw new RangeError(`denoiser shape [${shape.join(", ")}]: channel count must be ${card.slices}`);
  }
  if (xLength !== b * c * h * w) {
    throw new RangeError(
      `denoiser x holds ${xLength} values, shape [${shape.join(", ")}] needs ${b * c * h * w}`,
    );
  }
  if (t.length !== b || k.length !== b) {
    throw new RangeError(
      `denoiser needs one t and one k per triplet (${b}), got ${t.length} and ${k.length}`,
    );
  }
  const last = card.schedule.T - 1;
  for (let i = 0; i < b; i++) {
    if (!(t[i] >= 0 && t[i] <= last)) {
      throw new RangeError(`denoiser t[${i}] = ${t[i]} is outside 0..${last}`);
    }
    if (!card.gaps.includes(k[i])) {
      throw new RangeError(
        `denoiser k[${i}] = ${k[i]} is not a slice gap ${card.name} was trained on (${card.gaps.join(", ")})`,
      );
    }
  }
  return c * h * w;
}

class OrtDenoiser implements Denoiser {
  readonly backend: Backend;
  readonly precision: Precision;
  readonly description: string;
  readonly card: ModelCard;
  readonly cardUrl: URL;
  readonly maxBatch: number;
  readonly device?: GPUDevice;
  readonly predictGpu?: Denoiser["predictGpu"];
  readonly adapter?: Adapter;
  #engine: DenoiserEngine;
  #queue: Promise<unknown> = Promise.resolve();
  #disposed = false;

  constructor(model: LoadedModel, engine: DenoiserEngine, reason: string, precision: Precision) {
    this.#engine = engine;
    this.backend = engine.backend;
    this.precision = precision;
    this.description = `${engine.description} (${reason})`;
    this.card = model.card;
    this.cardUrl = model.cardUrl;
    this.device = engine.device;
    this.maxBatch = engine.batchFor(model.card.imageSize, model.card.imageSize);
    const adapter = (engine as DenoiserEngine & { adapter?: Adapter }).adapter;
    if (adapter) {
      // in the same queue as predict, so adaptation and prediction never interleave
      this.adapter = {
        reset: (o) => this.#enqueue(() => adapter.reset(o)),
        clear: () => this.#enqueue(() => adapter.clear()),
        forward: (x, t, k, shape) => {
          checkCall(this.card, x.length, t, k, shape);
          return this.#enqueue(() => adapter.forward(x, t, k, shape));
        },
        backward: (g) => this.#enqueue(() => adapter.backward(g)),
        save: () => this.#enqueue(() => adapter.save()),
        load: (st) => this.#enqueue(() => adapter.load(st)),
      };
    }
    if (engine.runGpu) {
      const runGpu = engine.runGpu.bind(engine);
      this.predictGpu = (x, t, k, shape, out) => {
        const per = checkCall(this.card, Math.floor(x.size / 4), t, k, shape) * 4;
        const bytes = shape[0] * per;
        // x may be larger than needed (a pooled buffer), so its size is checked as a bound, not for equality.
        if (x.size < bytes || out.size < bytes) {
          throw new RangeError(`predictGpu: x (${x.size} B) and out (${out.size} B) need ${bytes} B each`);
        }
        if (!(out.usage & GPUBufferUsage.COPY_DST)) {
          throw new RangeError("predictGpu: out needs usage COPY_DST");
        }
        if (!(x.usage & GPUBufferUsage.STORAGE)) throw new RangeError("predictGpu: x needs usage STORAGE");
        return this.#enqueue(() => runGpu(x, t, k, shape, out));
      };
    }
  }

  batchFor(height: number, width: number): number {
    return this.#engine.batchFor(height, width);
  }

  // One runtime call at a time: onnxruntime-web sessions are not re-entrant, and a fixed order keeps
  // results reproducible.
  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    if (this.#disposed) return Promise.reject(new Error("denoiser used after dispose()"));
    const next = this.#queue.then(work);
    this.#queue = next.catch(() => {});
    return next;
  }

  predict(x: Float32Array, t: Float32Array, k: Float32Array, shape: TripletShape): Promise<Float32Array> {
    let per: number;
    try {
      per = checkCall(this.card, x.length, t, k, shape);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#enqueue(async () => {
      const [b, c, h, w] = shape;
      const step = this.batchFor(h, w);
      if (b <= step) return await this.#engine.run(x, t, k, shape);
      const out = new Float32Array(x.length);
      for (let s = 0; s < b; s += step) {
        const n = Math.min(step, b - s);
        const eps = await this.#engine.run(
          x.slice(s * per, (s + n) * per),
          t.slice(s, s + n),
          k.slice(s, s + n),
          [n, c, h, w],
        );
        out.set(eps, s * per);
      }
      return out;
    });
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#queue;
    await this.#engine.release();
  }
}

/**
 * Loads a model (a {@linkcode LoadedModel}, a card path or URL, or by default the shipped prior), starts
 * the chosen back end, checks the model contract with a probe run, and returns its {@linkcode Denoiser}.
 * Unknown back ends, unavailable back ends and contract violations are {@linkcode UserError}s.
 *
 * @example
 * ```ts
 * import { createDenoiser } from "./denoiser.ts";
 * async function denoiseWithShippedPrior(x: Float32Array, shape: [number, number, number, number]) {
 *   const d = await createDenoiser(undefined, { backend: "auto" });
 *   try {
 *     return await d.predict(x, new Float32Array(shape[0]).fill(200), new Float32Array(shape[0]).fill(1), shape);
 *   } finally {
 *     await d.dispose();
 *   }
 * }
 * console.log(typeof denoiseWithShippedPrior); // function
 * ```
 */
export async function createDenoiser(
  model?: LoadedModel | string | URL,
  options: DenoiserOptions = {},
): Promise<Denoiser> {
  const choice = options.backend ?? "auto";
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new UserError(`unknown denoiser backend "${choice}": choose one of ${BACKEND_CHOICES.join(", ")}`);
  }
  const maxBatch = positiveInt(options.maxBatch, "maxBatch");
  const threads = positiveInt(options.threads, "threads");
  const loaded = isLoaded(model) ? model : await loadModel(model);
  const decision = await chooseBackend(choice);
  const { precision, int8FromT } = choosePrecision(
    loaded.card,
    decision.backend,
    options.precision ?? "auto",
  );
  let engine: DenoiserEngine;
  if (decision.backend === "torch") {
    const { createTorchEngine } = await import("./denoiser_torch.ts");
    engine = await createTorchEngine(loaded, {
      device: options.device,
      maxBatch,
      threads,
      amp: options.precision === "fp32" ? "off" : "auto",
    });
  } else if (decision.backend === "native") {
    const { createNativeEngine } = await import("./denoiser_native.ts");
    const native = (p: "fp32" | "int8") =>
      createNativeEngine(loaded, {
        maxBatch,
        threads,
        graphOptimization: options.graphOptimization,
        memArena: options.memArena,
        precision: p,
      });
    engine = precision === "mixed"
      ? byTimestep(await native("fp32"), await native("int8"), int8FromT)
      : await native(precision);
  } else {
    engine = await (await import("./denoiser_web.ts")).createWebEngine(loaded, decision.backend, {
      maxBatch,
    });
  }
  return new OrtDenoiser(loaded, engine, decision.reason, precision);
}

/** The outcome of {@linkcode verifyParity}. */
export interface ParityResult {
  /** `max|eps − expected| / max|expected|` over the fixture. */
  error: number;
  /** The card's largest allowed error. */
  tolerance: number;
  /** `error <= tolerance`. */
  ok: boolean;
}

/**
 * Runs the card's parity fixture through a denoiser and compares with the eps PyTorch computed: proof that
 * this back end runs the same function that was trained.
 *
 * @example
 * ```ts
 * import { createDenoiser, verifyParity } from "./denoiser.ts";
 * const d = await createDenoiser(new URL("../../fixtures/tiny-prior/tiny.json", import.meta.url), { backend: "wasm" });
 * console.log((await verifyParity(d)).ok); // true
 * await d.dispose();
 * ```
 */
export async function verifyParity(denoiser: Denoiser): Promise<ParityResult> {
  const p = await loadParity(denoiser);
  const eps = await denoiser.predict(p.x, p.t, p.k, p.shape);
  const error = parityError(eps, p.eps);
  return { error, tolerance: p.tolerance, ok: error <= p.tolerance };
}
