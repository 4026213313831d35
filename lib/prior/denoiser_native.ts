/**
 * The native CPU back end: onnxruntime-node's own build (MLAS kernels, all cores), the fastest choice
 * without a real GPU. Deno loads its Node-API addon from the npm package, which needs `--allow-ffi`.
 *
 * @example
 * ```ts
 * import { loadModel } from "./card.ts";
 * import { createNativeEngine } from "./denoiser_native.ts";
 * const engine = await createNativeEngine(
 *   await loadModel(new URL("../../fixtures/tiny-prior/tiny.json", import.meta.url)),
 *   { maxBatch: 2 },
 * );
 * console.log(engine.backend, engine.batchFor(256, 256)); // native 2
 * await engine.release();
 * ```
 * @module
 */
import { importOrtNode } from "../deps.ts";
import { UserError } from "../errors.ts";
import { type LoadedModel, loadQuantized, validateContract } from "./card.ts";
import type { DenoiserEngine, TripletShape } from "./engine.ts";

/**
 * Triplets per call on the CPU when not overridden. Past a few triplets the CPU is saturated and larger
 * batches only add memory (about 100 MB per 256² triplet for the shipped UNet), so this stays small.
 *
 * @example
 * ```ts
 * import { NATIVE_DEFAULT_BATCH } from "./denoiser_native.ts";
 * console.log(NATIVE_DEFAULT_BATCH >= 1); // true
 * ```
 */
export const NATIVE_DEFAULT_BATCH = 4;

/** Options for {@linkcode createNativeEngine}. */
export interface NativeEngineOptions {
  /** Triplets per call; default {@linkcode NATIVE_DEFAULT_BATCH} at 256², scaled by area (at most 64). */
  maxBatch?: number;
  /** Intra-op threads; default: onnxruntime's choice (all physical cores). */
  threads?: number;
  /** Graph optimisation level. @default {"all"} */
  graphOptimization?: "disabled" | "basic" | "extended" | "all";
  /** onnxruntime's CPU memory arena. @default {true} */
  memArena?: boolean;
  /** The exported fp32 network or the card's int8 (QDQ) copy ({@linkcode loadQuantized}). @default {"fp32"} */
  precision?: "fp32" | "int8";
}

/**
 * Starts an onnxruntime-node CPU session for the model and checks the model contract.
 *
 * @example
 * ```ts
 * import { loadModel } from "./card.ts";
 * import { createNativeEngine } from "./denoiser_native.ts";
 * async function cpuEps(x: Float32Array, t: number) {
 *   const engine = await createNativeEngine(await loadModel(), { threads: 2 });
 *   const eps = await engine.run(x, new Float32Array([t]), new Float32Array([1]), [1, 3, 256, 256]);
 *   await engine.release();
 *   return eps;
 * }
 * console.log(typeof cpuEps); // function
 * ```
 */
export async function createNativeEngine(
  model: LoadedModel,
  options: NativeEngineOptions = {},
): Promise<DenoiserEngine> {
  const ort = await importOrtNode();
  const int8 = options.precision === "int8";
  const bytes = int8 ? await loadQuantized(model) : model.bytes;
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ["cpu"],
      graphOptimizationLevel: options.graphOptimization ?? "all",
      // One graph node at a time keeps the operator order, and with it the float results, fixed.
      executionMode: "sequential",
      enableCpuMemArena: options.memArena ?? true,
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      logSeverityLevel: 3,
    });
  } catch (e) {
    throw new UserError(
      `onnxruntime-node could not load ${model.card.name} (${
        int8 ? model.card.quantized!.file : model.url.pathname.split("/").pop()
      }): ` +
        String((e as Error)?.message ?? e).split("\n")[0],
    );
  }
  try {
    await validateContract(session, ort, `model ${model.card.name}`, model.card.slices);
  } catch (e) {
    await session.release();
    throw e;
  }
  const threads = options.threads ? `${options.threads} threads` : "default threads";
  return {
    backend: "native",
    description: `onnxruntime-node ${ort.env.versions.node ?? "?"} cpu, ${threads}${
      int8 ? ", int8 QDQ" : ""
    }`,
    batchFor(height: number, width: number): number {
      if (options.maxBatch) return options.maxBatch;
      return Math.max(1, Math.min(64, Math.floor(NATIVE_DEFAULT_BATCH * (256 * 256) / (height * width))));
    },
    async run(x: Float32Array, t: Float32Array, k: Float32Array, shape: TripletShape): Promise<Float32Array> {
      const out = await session.run({
        x: new ort.Tensor("float32", x, shape),
        t: new ort.Tensor("float32", t, [shape[0]]),
        k: new ort.Tensor("float32", k, [shape[0]]),
      });
      // Copied out because the tensor's memory belongs to the runtime.
      return (out.eps.data as Float32Array).slice();
    },
    async release(): Promise<void> {
      await session.release();
    },
  };
}
