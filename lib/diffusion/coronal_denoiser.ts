/**
 * The 3-slice prior applied to coronal triplets of a volume (TPDM's auxiliary direction): rows y−1, y, y+1
 * stacked as channels, each an image of Z × W. A prior trained on triplets along all three axes of
 * isotropic volumes has seen such stacks (its card's `training.axes` is `all`). The slice axis is padded
 * at its end by repeating the last slice up to the network's size multiple; the padding's ε is dropped.
 * Works on the host (the triplets are a transpose of the volume), like the CPU back ends do anyway.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import type { SliceShape } from "../ct/operator.ts";
import { adjacentPartition } from "./partition.ts";
import type { EpsModel } from "../prior/eps_model.ts";
import type { DenoiseTimes, VolumeDenoiser } from "./volume_denoiser.ts";

/** Host-side coronal ε of a `[Z][H][W]` volume. */
export class CoronalDenoiser implements VolumeDenoiser<number> {
  /** The padded slice count the network sees. */
  readonly paddedZ: number;

  /** `multiple`: the size the network's down-sampling needs (2^(levels − 1)). */
  constructor(
    private readonly gpu: GpuContext,
    private readonly model: EpsModel,
    readonly shape: SliceShape,
    multiple = 8,
  ) {
    if (shape.H < 3) throw new RangeError(`coronal triplets need at least 3 rows (got ${shape.H})`);
    this.paddedZ = Math.ceil(shape.Z / multiple) * multiple;
  }

  /** Writes ε of every voxel of `x` at timestep `t` into `out`, rows grouped in triplets from `offset`. */
  async eps(x: GPUBuffer, t: number, offset: number, out: GPUBuffer): Promise<DenoiseTimes> {
    const t0 = performance.now();
    const host = await this.gpu.download(x, this.shape.Z * this.shape.H * this.shape.W);
    const { eps, network } = await coronalEps(
      host,
      this.shape,
      this.paddedZ,
      offset,
      (batch, shape, gaps) => this.model.predict(batch, new Float32Array(shape[0]).fill(t), gaps, shape),
    );
    this.gpu.write(out, eps);
    await this.gpu.sync();
    return { network, transfer: performance.now() - t0 - network };
  }

  /** Nothing to release: the coronal triplets live on the host for the length of a call. */
  dispose(): void {}
}

/**
 * The host computation of {@linkcode CoronalDenoiser.eps}, separate so tests can use it as a reference:
 * gathers the coronal triplets of `x`, calls `predict` once, scatters each row's ε from the triplet that
 * owns it (the adjacent partition of the rows at `offset`).
 */
export async function coronalEps(
  x: Float32Array,
  shape: SliceShape,
  paddedZ: number,
  offset: number,
  predict: (
    batch: Float32Array,
    shape: [number, number, number, number],
    gaps: Float32Array,
  ) => Promise<Float32Array>,
): Promise<{ eps: Float32Array; network: number }> {
  const { Z, H, W } = shape, hw = H * W, Zp = paddedZ;
  const part = adjacentPartition(H, offset), G = part.gaps.length;
  const batch = new Float32Array(G * 3 * Zp * W);
  for (let j = 0; j < G * 3; j++) {
    const row = part.slices[j];
    for (let zp = 0; zp < Zp; zp++) {
      const z = Math.min(zp, Z - 1);
      batch.set(x.subarray(z * hw + row * W, z * hw + row * W + W), (j * Zp + zp) * W);
    }
  }
  const t = performance.now();
  const e = await predict(batch, [G, 3, Zp, W], part.gaps);
  const network = performance.now() - t;
  const eps = new Float32Array(Z * hw);
  for (let row = 0; row < H; row++) {
    const j = part.owner[row];
    for (let z = 0; z < Z; z++) eps.set(e.subarray((j * Zp + z) * W, (j * Zp + z) * W + W), z * hw + row * W);
  }
  return { eps, network };
}
