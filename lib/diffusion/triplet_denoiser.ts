/**
 * The 3-slice prior applied to a whole volume through a partition: gathers the partition's triplets, runs
 * the network on the GPU (no host round trip) or on the host, and scatters each slice's ε back from the
 * triplet that owns it. Owns the triplet buffers, sized for the partition at hand.
 * @module
 */
import { type GpuContext, params } from "../gpu/context.ts";
import { grid } from "../gpu/vector.ts";
import type { SliceShape } from "../ct/operator.ts";
import type { Partition } from "./partition.ts";
import type { EpsModel } from "../prior/eps_model.ts";
import type { DenoiseTimes, VolumeDenoiser } from "./volume_denoiser.ts";

export type { DenoiseTimes } from "./volume_denoiser.ts";

/**
 * A `single` partition ({z, z, z} per group) as a 2D prior reads it: one slice per group, owned by it.
 * Any other partition stacks distinct slices, which a 1-channel network cannot see.
 */
function singleChannel(part: Partition): { slices: Uint32Array; owner: Uint32Array } {
  if (part.kind !== "single") {
    throw new RangeError(`a 1-slice (2D) prior runs slice by slice only, not on ${part.kind} triplets`);
  }
  return {
    slices: part.slices.filter((_, i) => i % 3 === 1),
    owner: part.owner.map((o) => (o - 1) / 3),
  };
}

/**
 * ε of every slice of a volume from the 3-slice model.
 *
 * @example
 * ```ts ignore
 * const den = new TripletDenoiser(gpu, model, { Z, H, W });
 * const times = await den.eps(x, t, partition, epsBuffer);
 * den.dispose();
 * ```
 */
export class TripletDenoiser implements VolumeDenoiser<Partition> {
  /** Whether the network reads the triplets straight from this context's device. */
  readonly onGpu: boolean;
  #groups = 0;
  #batch?: GPUBuffer;
  #out?: GPUBuffer;
  #slices?: GPUBuffer;
  #owner?: GPUBuffer;

  /** A denoiser of `[Z][H][W]` volumes on `gpu`. */
  constructor(
    private readonly gpu: GpuContext,
    private readonly model: EpsModel,
    readonly shape: SliceShape,
  ) {
    this.onGpu = Boolean(model.predictGpu && model.device === gpu.device);
  }

  /** Writes ε for the volume `x` at timestep `t` into `out`, the triplets chosen by `part`. */
  async eps(x: GPUBuffer, t: number, part: Partition, out: GPUBuffer): Promise<DenoiseTimes> {
    const { Z, H, W } = this.shape, hw = H * W, n = Z * hw, gpu = this.gpu;
    const G = part.gaps.length, C = this.model.card?.slices ?? 3;
    const { slices, owner } = C === 3 ? part : singleChannel(part);
    if (G !== this.#groups) {
      // exact sizes: the WebGPU denoiser binds whole buffers as tensors
      gpu.release(this.#batch, this.#out, this.#slices, this.#owner);
      this.#batch = gpu.buffer(G * C * hw * 4, "triplets");
      this.#out = gpu.buffer(G * C * hw * 4, "eps triplets");
      this.#slices = gpu.buffer(G * C * 4, "slices");
      this.#owner = gpu.buffer(Z * 4, "owner");
      this.#groups = G;
    }
    gpu.write(this.#slices!, slices);
    gpu.write(this.#owner!, owner);
    await gpu.run(
      "sampler",
      "gather",
      params(hw, G * C * hw),
      [x, this.#slices!, this.#batch!],
      grid(G * C * hw),
    );
    await gpu.sync();
    const t1 = performance.now();
    const ts = new Float32Array(G).fill(t);
    const shape: [number, number, number, number] = [G, C, H, W];
    let network = 0, transfer = 0;
    if (this.onGpu) {
      await this.model.predictGpu!(this.#batch!, ts, part.gaps, shape, this.#out!);
      network = performance.now() - t1;
    } else {
      const host = await gpu.download(this.#batch!, G * C * hw);
      const tA = performance.now();
      const eps = await this.model.predict(host, ts, part.gaps, shape);
      const tB = performance.now();
      gpu.write(this.#out!, eps);
      await gpu.sync();
      network = tB - tA;
      transfer = tA - t1 + (performance.now() - tB);
    }
    await gpu.run("sampler", "scatter", params(hw, n), [this.#out!, this.#owner!, out], grid(n));
    return { network, transfer };
  }

  /** Releases the triplet buffers. */
  dispose(): void {
    this.gpu.release(this.#batch, this.#out, this.#slices, this.#owner);
    this.#groups = 0;
  }
}
