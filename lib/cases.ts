/**
 * The bundled default case and small volume edits (slice crop, in-plane resampling) used to build cases.
 * @module
 */
import { UserError } from "./errors.ts";
import { makeVolume, type Volume } from "./volume.ts";

/**
 * The case `deno task reconstruct` runs with no flags: 36 central slices (4 blocks of 9, so jump partitions tile
 * exactly) of the LIDC-IDRI chest CT shipped in npm vtk.js@6.2.5 — an evaluation volume the shipped model
 * never saw in training.
 */
export const DEFAULT_CASE = { input: "sample:lidc", slices: "48:84" } as const;

/**
 * Keeps slices `a` to `b − 1` (`"a:b"`), shifting the affine so world positions are unchanged.
 *
 * @example
 * ```ts
 * import { cropSlices } from "./cases.ts";
 * import { makeVolume } from "./volume.ts";
 * const v = cropSlices(makeVolume(new Float32Array(5 * 4), [5, 2, 2]), "1:3");
 * console.log(v.shape); // [ 2, 2, 2 ]
 * ```
 */
export function cropSlices(volume: Volume, range: string): Volume {
  const [a, b] = range.split(":").map(Number);
  const [Z, H, W] = volume.shape;
  if (!(a >= 0 && b > a && b <= Z)) {
    throw new UserError(`slice range ${range}: need 0 <= A < B <= ${Z} (the volume has ${Z} slices)`);
  }
  const affine = volume.affine.map((r) => r.slice());
  for (let i = 0; i < 3; i++) affine[i][3] += affine[i][2] * a;
  return { ...volume, data: volume.data.slice(a * H * W, b * H * W), shape: [b - a, H, W], affine };
}

/** Bilinear resampling of every slice to `size`×`size` (pixel centres aligned), adjusting spacing and affine. */
export function resampleSlices(volume: Volume, size: number): Volume {
  const [Z, H, W] = volume.shape;
  const out = new Float32Array(Z * size * size);
  const sy = H / size, sx = W / size;
  for (let z = 0; z < Z; z++) {
    for (let j = 0; j < size; j++) {
      const fy = Math.min(H - 1, Math.max(0, (j + 0.5) * sy - 0.5));
      const j0 = Math.floor(fy), j1 = Math.min(H - 1, j0 + 1), wy = fy - j0;
      for (let i = 0; i < size; i++) {
        const fx = Math.min(W - 1, Math.max(0, (i + 0.5) * sx - 0.5));
        const i0 = Math.floor(fx), i1 = Math.min(W - 1, i0 + 1), wx = fx - i0;
        const b = z * H * W;
        const v = (1 - wy) * ((1 - wx) * volume.data[b + j0 * W + i0] + wx * volume.data[b + j0 * W + i1]) +
          wy * ((1 - wx) * volume.data[b + j1 * W + i0] + wx * volume.data[b + j1 * W + i1]);
        out[(z * size + j) * size + i] = v;
      }
    }
  }
  const affine = volume.affine.map((r) => r.slice());
  for (let i = 0; i < 3; i++) {
    affine[i][0] *= sx;
    affine[i][1] *= sy;
  }
  return makeVolume(out, [Z, size, size], {
    spacing: [volume.spacing[0], volume.spacing[1] * sy, volume.spacing[2] * sx],
    affine,
    unit: volume.unit,
  });
}
