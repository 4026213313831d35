/**
 * Opens the learned prior for a reconstruction: model card + ONNX weights, and a denoiser on the chosen
 * back end. With the WebGPU back end, `device` is the GPU device onnxruntime uses, so blendct's kernels
 * allocate on it and triplets never leave the GPU.
 * @module
 */
import { ORT_VERSION } from "../deps.ts";
import { GpuContext } from "../gpu/context.ts";
import { loadModel, type ModelCard } from "./card.ts";
import { createDenoiser, type Denoiser } from "./denoiser.ts";

/** An opened prior. */
export interface Prior {
  /** The validated model card. */
  card: ModelCard;
  /** The denoiser running the model. */
  denoiser: Denoiser;
  /** Set when the denoiser runs on WebGPU. */
  device?: GPUDevice;
  /** The onnxruntime version blendct pins, for run manifests. */
  ortVersion: string;
  /** Releases the denoiser's runtime session. */
  dispose(): Promise<void>;
}

/** Options for {@linkcode openPrior}. */
export interface OpenPriorOptions {
  /** Model card path or URL. Default: the shipped model. */
  model?: string;
  /** Back end. Default "auto". */
  backend?: "auto" | "webgpu" | "wasm" | "native";
}

/**
 * Loads the model and creates its denoiser.
 *
 * @example
 * ```ts ignore
 * const prior = await openPrior({ backend: "native" });
 * await prior.dispose();
 * ```
 */
export async function openPrior(options: OpenPriorOptions = {}): Promise<Prior> {
  const model = await loadModel(options.model);
  const denoiser = await createDenoiser(model, { backend: options.backend ?? "auto" });
  return {
    card: model.card,
    denoiser,
    device: denoiser.backend === "webgpu" ? denoiser.device : undefined,
    ortVersion: ORT_VERSION,
    dispose: async () => await denoiser.dispose(),
  };
}

/** What a run manifest records about the prior: card name, version, ONNX sha256 and back end. */
export function priorSummary(
  prior: Prior | null,
): { name: string; version: string; sha256: string; backend: string } | null {
  if (!prior) return null;
  const { name, version, sha256 } = prior.card;
  return { name, version, sha256, backend: prior.denoiser.backend };
}

/**
 * The GPU context blendct's kernels should use next to `prior`: onnxruntime's own device when the
 * denoiser runs on WebGPU (so triplets never leave it), else a new one.
 */
export function gpuFor(prior: Prior | null): Promise<GpuContext> {
  return prior?.device ? GpuContext.create({ device: prior.device }) : GpuContext.create();
}
