/**
 * Opens the learned prior for a reconstruction: model card + ONNX weights, and a denoiser on the chosen
 * back end. With the WebGPU back end, `device` is the GPU device onnxruntime uses, so blendct's kernels
 * allocate on it and triplets never leave the GPU.
 * @module
 */
import { ORT_VERSION } from "../deps.ts";
import { GpuContext } from "../gpu/context.ts";
import { loadModel, type ModelCard, SLICE_MODEL } from "./card.ts";
import { UserError } from "../errors.ts";
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
  /** Model card path or URL. Default: the shipped model ({@linkcode priorFor} of `method`). */
  model?: string;
  /** The method the prior is for: `dds2d` and `mbir` default to the 2D prior. */
  method?: string;
  /** Back end. Default "auto". */
  backend?: "auto" | "webgpu" | "wasm" | "native" | "torch";
  /** Torch back end: where its worker runs. @default {"auto"} */
  device?: "auto" | "cpu" | "cuda";
  /** Network precision (see `choosePrecision` in ./denoiser.ts). @default {"auto"} */
  precision?: "auto" | "fp32" | "int8";
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
  const model = await loadModel(options.model ?? priorFor(options.method));
  const denoiser = await createDenoiser(model, {
    backend: options.backend ?? "auto",
    precision: options.precision ?? "auto",
    device: options.device,
  });
  return {
    card: model.card,
    denoiser,
    device: denoiser.backend === "webgpu" ? denoiser.device : undefined,
    ortVersion: ORT_VERSION,
    dispose: async () => await denoiser.dispose(),
  };
}

/**
 * Opens a whole-slice prior for generation's coarse stage (one you trained with `train.py --whole`; blendct
 * ships none since the one it shipped was withdrawn)
 * and checks that its card says it is one: trained on whole slices, 3 slices in (`generateVolume` checks
 * that its slices are smaller than the output's).
 *
 * @example
 * ```ts ignore
 * const coarse = await openCoarsePrior({ backend: "native" });
 * console.log(coarse.card.imageSize); // 64
 * await coarse.dispose();
 * ```
 */
export async function openCoarsePrior(options: OpenPriorOptions = {}): Promise<Prior> {
  if (!options.model) {
    throw new UserError(
      "--coarse needs a whole-slice prior's card (train one with train.py --whole), or none",
    );
  }
  const coarse = await openPrior({ ...options, model: options.model });
  const c = coarse.card;
  const why = !c.wholeSlice
    ? "was not trained on whole slices (its card lacks wholeSlice: true; train one with train.py --whole)"
    : c.slices !== 3
    ? "is not a 3-slice prior"
    : "";
  if (why) {
    await coarse.dispose();
    throw new UserError(
      `--coarse ${options.model ?? "(the shipped card)"} ${why}; pass another card or --coarse none`,
    );
  }
  return coarse;
}

/**
 * The shipped card a method opens by default: the 2D prior for the slice-by-slice methods (`dds2d`, `mbir`,
 * as their papers use a 2D network), the 3-slice prior (`undefined`: the shipped default) otherwise.
 *
 * @example
 * ```ts
 * import { priorFor } from "./prior.ts";
 * console.log(priorFor("mbir")?.pathname.split("/").pop(), priorFor("blend++")); // blendct-prior2d.json undefined
 * ```
 */
export function priorFor(method?: string): URL | undefined {
  return method === "dds2d" || method === "mbir" ? SLICE_MODEL : undefined;
}

/**
 * What a run manifest records about the prior: card name, version, the fp32 ONNX file's sha256, back end,
 * precision, and the int8 copy's sha256 when it ran.
 */
export function priorSummary(
  prior: Prior | null,
): {
  name: string;
  version: string;
  sha256: string;
  backend: string;
  precision: string;
  int8Sha256?: string;
} | null {
  if (!prior) return null;
  const { name, version, sha256 } = prior.card;
  const precision = prior.denoiser.precision;
  const int8 = precision === "fp32" ? {} : { int8Sha256: prior.card.quantized!.sha256 };
  return { name, version, sha256, backend: prior.denoiser.backend, precision, ...int8 };
}

/**
 * The GPU context blendct's kernels should use next to `prior`: onnxruntime's own device when the
 * denoiser runs on WebGPU (so triplets never leave it), else a new one.
 */
export function gpuFor(prior: Prior | null): Promise<GpuContext> {
  return prior?.device ? GpuContext.create({ device: prior.device }) : GpuContext.create();
}
