/**
 * What a denoiser back end is to the rest of the prior: the engine interface each back-end module
 * implements and the sizes they share. Its own module so that the back ends and the factory that picks
 * among them (denoiser.ts) import it, not each other.
 * @module
 */

/** A concrete back end (`torch`: the card's PyTorch checkpoint in a worker process, with gradients). */
export type Backend = "webgpu" | "wasm" | "native" | "torch";

/** `[B, 3, H, W]`: B triplets of three H×W slices, C order. */
export type TripletShape = readonly [number, number, number, number];

/**
 * What a back-end module provides: one session, run on chunks that already fit the batch size. The
 * shared checks, chunking and queueing live in `createDenoiser` (denoiser.ts).
 */
export interface DenoiserEngine {
  readonly backend: Backend;
  readonly description: string;
  readonly device?: GPUDevice;
  batchFor(height: number, width: number): number;
  /** eps for a chunk of at most `batchFor(H, W)` triplets. */
  run(x: Float32Array, t: Float32Array, k: Float32Array, shape: TripletShape): Promise<Float32Array>;
  /** eps of all B triplets, GPU to GPU; the engine chunks itself because only it can make scratch buffers. */
  runGpu?(x: GPUBuffer, t: Float32Array, k: Float32Array, shape: TripletShape, out: GPUBuffer): Promise<void>;
  release(): Promise<void>;
}

/**
 * Estimates the largest single tensor one triplet needs at H×W, in bytes, from the card's architecture
 * (model.py's UNet: skip concatenations on the way up, 4-head attention at the lowest level). GPU back ends
 * are bound by their largest buffer binding, not by total memory, so this is what sizes their batches.
 *
 * @example
 * ```ts
 * import { largestTensorBytes } from "./engine.ts";
 * const card = { architecture: { base: 32, mults: [1, 2, 3, 4] } };
 * console.log(largestTensorBytes(card, 256, 256) / 2 ** 20); // 24
 * ```
 */
export function largestTensorBytes(
  card: { architecture?: { base?: number; mults?: number[] } },
  height: number,
  width: number,
): number {
  // Without an architecture, assume a wide network so the estimate errs towards smaller batches.
  const base = card.architecture?.base ?? 64;
  const mults = card.architecture?.mults ?? [1, 2, 4, 4];
  const chs = mults.map((m) => base * m);
  let largest = 0, cin = chs[chs.length - 1];
  for (let i = chs.length - 1; i >= 0; i--) {
    const px = Math.ceil(height / 2 ** i) * Math.ceil(width / 2 ** i);
    largest = Math.max(largest, (cin + chs[i]) * px * 4);
    cin = chs[i];
  }
  const low = 2 ** (chs.length - 1);
  const tokens = Math.ceil(height / low) * Math.ceil(width / low);
  return Math.max(largest, 4 * tokens * tokens * 4);
}
