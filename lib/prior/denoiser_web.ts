/**
 * The onnxruntime-web back ends: `webgpu` (the model on the GPU, sharing its device with blendct's own
 * kernels so a sampling step never leaves the GPU) and `wasm` (portable CPU fallback, one thread because
 * onnxruntime-web's wasm threads do not start in Deno).
 *
 * @example
 * ```ts
 * import { loadModel } from "./card.ts";
 * import { createWebEngine } from "./denoiser_web.ts";
 * const engine = await createWebEngine(
 *   await loadModel(new URL("../../fixtures/tiny-prior/tiny.json", import.meta.url)),
 *   "wasm",
 * );
 * console.log(engine.backend, engine.device); // wasm undefined
 * await engine.release();
 * ```
 * @module
 */
import { importOrtWeb } from "../deps.ts";
import { UserError } from "../errors.ts";
import { type LoadedModel, validateContract } from "./card.ts";
import { type DenoiserEngine, largestTensorBytes, type TripletShape } from "./engine.ts";

type OrtWeb = Awaited<ReturnType<typeof importOrtWeb>>;

let ortWeb: Promise<OrtWeb> | undefined;

/** The module, configured once: settings must be in place before the first session starts the runtime. */
function loadOrtWeb(): Promise<OrtWeb> {
  ortWeb ??= importOrtWeb().then((ort) => {
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = "error";
    return ort;
  });
  return ortWeb;
}

/**
 * Triplets per call for wasm when not overridden, at 256² (scaled by area otherwise, at most 64): batches
 * amortize per-call overhead a little, while wasm32's 4 GiB heap must hold every activation.
 *
 * @example
 * ```ts
 * import { WASM_DEFAULT_BATCH } from "./denoiser_web.ts";
 * console.log(WASM_DEFAULT_BATCH >= 1); // true
 * ```
 */
export const WASM_DEFAULT_BATCH = 4;

/**
 * The most triplets per WebGPU call whatever the limits say: beyond this the GPU is busy anyway and the
 * runtime's buffer cache only grows.
 *
 * @example
 * ```ts
 * import { WEBGPU_BATCH_CAP } from "./denoiser_web.ts";
 * console.log(WEBGPU_BATCH_CAP); // 16
 * ```
 */
export const WEBGPU_BATCH_CAP = 16;

/** Options for {@linkcode createWebEngine}. */
export interface WebEngineOptions {
  /** Triplets per call, overriding the sizing from device limits (webgpu) or {@linkcode WASM_DEFAULT_BATCH}. */
  maxBatch?: number;
}

/**
 * Starts an onnxruntime-web session on `webgpu` or `wasm` and checks the model contract. For webgpu the
 * engine exposes the runtime's `GPUDevice` and a GPU-to-GPU `runGpu`.
 *
 * @example
 * ```ts
 * import { loadModel } from "./card.ts";
 * import { createWebEngine } from "./denoiser_web.ts";
 * async function gpuDevice() {
 *   const engine = await createWebEngine(await loadModel(), "webgpu");
 *   return engine.device; // allocate blendct's buffers here
 * }
 * console.log(typeof gpuDevice); // function
 * ```
 */
export async function createWebEngine(
  model: LoadedModel,
  backend: "webgpu" | "wasm",
  options: WebEngineOptions = {},
): Promise<DenoiserEngine> {
  const ort = await loadOrtWeb();
  const gpu = backend === "webgpu";
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    session = await ort.InferenceSession.create(model.bytes, {
      executionProviders: [backend],
      graphOptimizationLevel: "all",
      logSeverityLevel: 3,
      // On the GPU the output stays there: predictGpu copies it on-device, predict downloads it.
      preferredOutputLocation: gpu ? "gpu-buffer" : "cpu",
    });
  } catch (e) {
    throw new UserError(
      `onnxruntime-web (${backend}) could not load ${model.card.name}: ` +
        String((e as Error)?.message ?? e).split("\n")[0] + (gpu ? "; try --backend native or wasm" : ""),
    );
  }
  try {
    await validateContract(session, ort, `model ${model.card.name}`, model.card.slices);
  } catch (e) {
    await session.release();
    throw e;
  }
  // Read only after a session exists: before that the runtime has not made its device (and one set by
  // the caller would be ignored), and blendct's kernels must share this one to exchange buffers.
  const device = gpu ? (await ort.env.webgpu.device) as GPUDevice : undefined;
  const version = ort.env.versions.web ?? "?";

  const batchFor = (height: number, width: number): number => {
    if (options.maxBatch) return options.maxBatch;
    if (!device) {
      return Math.max(1, Math.min(64, Math.floor(WASM_DEFAULT_BATCH * (256 * 256) / (height * width))));
    }
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    const fit = Math.floor(limit / largestTensorBytes(model.card, height, width));
    return Math.max(1, Math.min(WEBGPU_BATCH_CAP, fit));
  };

  const feeds = (x: InstanceType<typeof ort.Tensor>, t: Float32Array, k: Float32Array, n: number) => ({
    x,
    t: new ort.Tensor("float32", t, [n]),
    k: new ort.Tensor("float32", k, [n]),
  });

  // Scratch input for chunks of a larger GPU batch: the runtime takes a whole buffer, not an offset.
  let scratch: GPUBuffer | undefined;
  const retired: GPUBuffer[] = [];

  const engine: DenoiserEngine = {
    backend,
    device,
    description: gpu
      ? `onnxruntime-web ${version} webgpu on ${
        (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo?.description || "unknown adapter"
      }`
      : `onnxruntime-web ${version} wasm, 1 thread`,
    batchFor,
    async run(x: Float32Array, t: Float32Array, k: Float32Array, shape: TripletShape): Promise<Float32Array> {
      const out = await session.run(feeds(new ort.Tensor("float32", x, shape), t, k, shape[0]));
      const eps = out.eps;
      try {
        // getData copies from the GPU or the wasm heap, so the result outlives the runtime's buffer.
        return (await eps.getData()) as Float32Array;
      } finally {
        eps.dispose();
      }
    },
    async release(): Promise<void> {
      await session.release();
      for (const b of retired) b.destroy();
      scratch?.destroy();
    },
  };

  if (device) {
    engine.runGpu = async (x, t, k, shape, out) => {
      const [b, c, h, w] = shape;
      const per = c * h * w * 4;
      const step = batchFor(h, w);
      for (let s = 0; s < b; s += step) {
        const n = Math.min(step, b - s);
        let input = x;
        if (n !== b) {
          if (!scratch || scratch.size < step * per) {
            // Kept until release: the runtime may still hold a registration of the old buffer.
            if (scratch) retired.push(scratch);
            scratch = device.createBuffer({
              label: "blendct denoiser chunk",
              size: step * per,
              usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
            });
          }
          const enc = device.createCommandEncoder();
          enc.copyBufferToBuffer(x, s * per, scratch, 0, n * per);
          device.queue.submit([enc.finish()]);
          input = scratch;
        }
        const xt = ort.Tensor.fromGpuBuffer(input, { dataType: "float32", dims: [n, c, h, w] });
        const res = await session.run(feeds(xt, t.slice(s, s + n), k.slice(s, s + n), n));
        const eps = res.eps;
        try {
          // The runtime has submitted its work when run() resolves, so this copy is queued after it.
          const enc = device.createCommandEncoder();
          enc.copyBufferToBuffer(eps.gpuBuffer as GPUBuffer, 0, out, s * per, n * per);
          device.queue.submit([enc.finish()]);
        } finally {
          eps.dispose();
        }
      }
    };
  }
  return engine;
}
