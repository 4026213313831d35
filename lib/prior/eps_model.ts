/**
 * What the sampler and the triplet and coronal denoisers need from a noise predictor: the one interface
 * between the prior's runtime (ONNX back ends, the PyTorch worker, test oracles) and the samplers, in a
 * module of its own so that neither side imports the other.
 * @module
 */
import type { Adapter } from "./denoiser_torch.ts";

/** What the sampler needs from a denoiser (see `createDenoiser`). */
export interface EpsModel {
  /** ε for a batch `[B, C, H, W]` of host data, C the card's `slices` (3 unless the card says 1). */
  predict(
    x: Float32Array,
    t: Float32Array,
    k: Float32Array,
    shape: [number, number, number, number],
  ): Promise<
    Float32Array
  >;
  /** ε for a batch in a GPU buffer on `device`, written to `out`: no host round trip. */
  predictGpu?(
    x: GPUBuffer,
    t: Float32Array,
    k: Float32Array,
    shape: [number, number, number, number],
    out: GPUBuffer,
  ): Promise<void>;
  /** The device `predictGpu` works on. */
  device?: GPUDevice;
  /** Slices stacked as channels (a model card's): 1 for a 2D prior, which only the `single` partition can use. */
  card?: { slices: 1 | 3 };
  /** A back end with gradients (torch): test-time adaptation ({@linkcode SamplerConfig.adapt}). */
  adapter?: Adapter;
}
