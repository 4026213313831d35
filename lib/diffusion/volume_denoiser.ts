/**
 * The one interface of the prior applied to a whole volume: ε of every voxel at a timestep, the volume
 * grouped into the network's triplets by a plan that says how (a partition of the slices for the axial
 * triplets, a row offset for TPDM's coronal ones). The sampler calls either through it.
 * @module
 */

/** Milliseconds one call spent in the network and in host transfers (0 on the GPU path). */
export interface DenoiseTimes {
  /** In the network. */
  network: number;
  /** Moving triplets to and from the host. */
  transfer: number;
}

/**
 * ε of a whole volume from the 3-slice prior, the triplets chosen by `groups` (`Partition` for
 * `TripletDenoiser`, a row offset for `CoronalDenoiser`).
 */
export interface VolumeDenoiser<G> {
  /** Writes ε for the volume `x` (on the device) at timestep `t` into `out`, triplets as `groups` say. */
  eps(x: GPUBuffer, t: number, groups: G, out: GPUBuffer): Promise<DenoiseTimes>;
  /** Releases what the denoiser holds on the device. */
  dispose(): void;
}
