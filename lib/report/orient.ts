/**
 * Radiological display orientation from a volume's affine: axial panels with anterior at the top and the
 * patient's right on the image's left, coronal and sagittal panels with superior at the top. Previews use
 * it; the physics never does (it is a permutation and flips of the voxel grid, nothing else).
 * @module
 */
import type { Volume } from "../volume.ts";

/** For each voxel axis (x, y, z = columns, rows, slices): the world axis it runs along and its sign. */
export interface AxisMap {
  /** World axis (0 = R→L is +x in RAS, 1 = +y anterior, 2 = +z superior) of voxel axes i, j, k. */
  world: [number, number, number];
  /** +1 when the voxel index grows with that world coordinate. */
  sign: [number, number, number];
}

/** The world axis each voxel axis is closest to, from the affine's columns (ties go to the first free axis). */
export function axisMap(affine: number[][]): AxisMap {
  const world: number[] = [], sign: number[] = [];
  const used = new Set<number>();
  for (let c = 0; c < 3; c++) {
    let best = -1, bestAbs = -1;
    for (let r = 0; r < 3; r++) {
      const v = Math.abs(affine[r][c]);
      if (!used.has(r) && v > bestAbs) [best, bestAbs] = [r, v];
    }
    used.add(best);
    world.push(best);
    sign.push(affine[best][c] < 0 ? -1 : 1);
  }
  return { world: world as [number, number, number], sign: sign as [number, number, number] };
}

/**
 * The volume re-gridded for display: columns run to the patient's left (world +x in RAS), rows run
 * posterior (world −y), slices run superior (world +z). A volume whose affine is already so comes back
 * as is.
 *
 * @example
 * ```ts
 * import { displayOriented } from "./orient.ts";
 * import { makeVolume } from "../volume.ts";
 * // default affine: row index grows anteriorly, so rows are flipped for display
 * const v = makeVolume(Float32Array.from([1, 2, 3, 4]), [1, 2, 2]);
 * console.log(Array.from(displayOriented(v).data)); // [ 3, 4, 1, 2 ]
 * ```
 */
export function displayOriented(volume: Volume): Volume {
  const m = axisMap(volume.affine);
  // wanted sign per world axis: +x (to the left), −y (posterior down the rows), +z (superior)
  const want = [1, -1, 1];
  const [Z, H, W] = volume.shape;
  const size = [W, H, Z]; // along voxel axes i, j, k
  // output axis a (0 = columns, 1 = rows, 2 = slices) is world axis a; find the voxel axis for each
  const src = [0, 1, 2].map((a) => m.world.indexOf(a));
  const flip = src.map((v, a) => m.sign[v] !== want[a]);
  if (src.every((v, a) => v === a) && !flip.some(Boolean)) return volume;
  const out = [size[src[0]], size[src[1]], size[src[2]]];
  const strides = [1, W, W * H];
  const data = new Float32Array(volume.data.length);
  let o = 0;
  for (let k = 0; k < out[2]; k++) {
    for (let j = 0; j < out[1]; j++) {
      for (let i = 0; i < out[0]; i++) {
        const idx = [i, j, k].map((v, a) => (flip[a] ? out[a] - 1 - v : v));
        let p = 0;
        for (let a = 0; a < 3; a++) p += idx[a] * strides[src[a]];
        data[o++] = volume.data[p];
      }
    }
  }
  const sp = [volume.spacing[2], volume.spacing[1], volume.spacing[0]]; // along i, j, k
  const [dx, dy, dz] = [sp[src[0]], sp[src[1]], sp[src[2]]];
  return {
    ...volume,
    data,
    shape: [out[2], out[1], out[0]],
    spacing: [dz, dy, dx],
    affine: [[dx, 0, 0, 0], [0, -dy, 0, 0], [0, 0, dz, 0], [0, 0, 0, 1]],
  };
}
