/**
 * The 3D Shepp-Logan phantom (unitless, [0, 1]): Kak & Slaney's ten ellipsoids extended to 3D.
 * @module
 */
import { makeVolume, type Volume } from "../volume.ts";

// ---------------------------------------------------------------------------------------------------------
// Shepp-Logan
// ---------------------------------------------------------------------------------------------------------

/**
 * The ten ellipsoids of the 3D Shepp-Logan phantom as popularised by Kak & Slaney's 2D table extended to 3D
 * (the table used by the common `phantom3d` implementations): semi-axes a, b, c, centre x0, y0, z0 in the
 * unit cube [−1, 1]³, and z-x-z Euler angles φ, θ, ψ in degrees.
 */
export const SHEPP_LOGAN_GEOMETRY: readonly (readonly number[])[] = [
  [0.69, 0.92, 0.81, 0, 0, 0, 0, 0, 0],
  [0.6624, 0.874, 0.78, 0, -0.0184, 0, 0, 0, 0],
  [0.11, 0.31, 0.22, 0.22, 0, 0, -18, 0, 10],
  [0.16, 0.41, 0.28, -0.22, 0, 0, 18, 0, 10],
  [0.21, 0.25, 0.41, 0, 0.35, -0.15, 0, 0, 0],
  [0.046, 0.046, 0.05, 0, 0.1, 0.25, 0, 0, 0],
  [0.046, 0.046, 0.05, 0, -0.1, 0.25, 0, 0, 0],
  [0.046, 0.023, 0.05, -0.08, -0.605, 0, 0, 0, 0],
  [0.023, 0.023, 0.02, 0, -0.606, 0, 0, 0, 0],
  [0.023, 0.046, 0.02, 0.06, -0.605, 0, 0, 0, 0],
];

/** Added intensities: Shepp & Logan's originals (brain 0.02 on a skull of 1) and Toft's "modified" ones. */
export const SHEPP_LOGAN_INTENSITY = {
  original: [1, -0.98, -0.02, -0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01],
  modified: [1, -0.8, -0.2, -0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
} as const;

/** Options for {@linkcode sheppLogan3d}. */
export interface SheppLoganOptions {
  /**
   * `"modified"` (default): Toft's higher-contrast intensities (skull 1, brain 0.2, ventricles 0, small
   * features 0.3), the usual choice for reconstruction tests. `"original"`: Shepp & Logan's (brain 0.02).
   */
  variant?: "modified" | "original";
  /** Edge of the cubic field of view in mm, which sets the spacing `fov / shape`. Default 256. */
  fovMm?: number;
}

/**
 * The 3D Shepp-Logan phantom sampled at voxel centres, values clipped to [0, 1] (both intensity tables
 * already lie there except where ellipsoids overlap at their rims).
 *
 * The phantom fills the unit cube [−1, 1]³ whatever the shape: x = (2i+1)/X − 1 runs left to right,
 * y = 1 − (2j+1)/Y runs from the top row down (so the small ellipsoids near y = −0.6 appear at the bottom
 * of an axial image, as in the familiar 2D picture), z = (2k+1)/Z − 1. Ellipsoid centres are in those
 * volume coordinates and each ellipsoid is rotated about its own centre by R = Rz(φ)·Rx(θ)·Rz(ψ); with
 * θ = 0 the two tilted ellipsoids end up rotated in-plane by φ + ψ.
 *
 * @example
 * ```ts
 * import { sheppLogan3d } from "./shepp_logan.ts";
 * const v = sheppLogan3d([9, 9, 9]);
 * console.log(v.data[4 * 81 + 4 * 9 + 4].toFixed(2)); // 0.20  (the centre: brain)
 * ```
 */
export function sheppLogan3d(shape: [number, number, number], options: SheppLoganOptions = {}): Volume {
  checkShape(shape);
  const [Z, Y, X] = shape;
  const intensity = SHEPP_LOGAN_INTENSITY[options.variant ?? "modified"];
  if (!intensity) throw new RangeError(`unknown Shepp-Logan variant ${options.variant}`);
  const fov = options.fovMm ?? 256;
  const acc = new Float64Array(Z * Y * X);
  const deg = Math.PI / 180;
  SHEPP_LOGAN_GEOMETRY.forEach((g, e) => {
    const [a, b, c, x0, y0, z0, phi, theta, psi] = g;
    const R = eulerZXZ(phi * deg, theta * deg, psi * deg);
    // Half extent of the rotated ellipsoid along each world axis bounds the voxels worth testing.
    const half = [0, 1, 2].map((w) => Math.hypot(R[w][0] * a, R[w][1] * b, R[w][2] * c));
    const k0 = Math.max(0, Math.floor(((z0 - half[2] + 1) * Z) / 2 - 0.5));
    const k1 = Math.min(Z - 1, Math.ceil(((z0 + half[2] + 1) * Z) / 2 - 0.5));
    const j0 = Math.max(0, Math.floor(((1 - y0 - half[1]) * Y) / 2 - 0.5));
    const j1 = Math.min(Y - 1, Math.ceil(((1 - y0 + half[1]) * Y) / 2 - 0.5));
    const i0 = Math.max(0, Math.floor(((x0 - half[0] + 1) * X) / 2 - 0.5));
    const i1 = Math.min(X - 1, Math.ceil(((x0 + half[0] + 1) * X) / 2 - 0.5));
    const value = intensity[e];
    for (let k = k0; k <= k1; k++) {
      const pz = (2 * k + 1) / Z - 1 - z0;
      for (let j = j0; j <= j1; j++) {
        const py = 1 - (2 * j + 1) / Y - y0;
        for (let i = i0; i <= i1; i++) {
          const px = (2 * i + 1) / X - 1 - x0;
          // Local coordinates q = Rᵀ p.
          const qx = R[0][0] * px + R[1][0] * py + R[2][0] * pz;
          const qy = R[0][1] * px + R[1][1] * py + R[2][1] * pz;
          const qz = R[0][2] * px + R[1][2] * py + R[2][2] * pz;
          if ((qx / a) ** 2 + (qy / b) ** 2 + (qz / c) ** 2 <= 1) acc[(k * Y + j) * X + i] += value;
        }
      }
    }
  });
  const data = new Float32Array(acc.length);
  for (let p = 0; p < acc.length; p++) data[p] = Math.min(1, Math.max(0, acc[p]));
  return makeVolume(data, [Z, Y, X], { spacing: [fov / Z, fov / Y, fov / X], unit: "image" });
}

export function eulerZXZ(phi: number, theta: number, psi: number): number[][] {
  const rz = (t: number) => [[Math.cos(t), -Math.sin(t), 0], [Math.sin(t), Math.cos(t), 0], [0, 0, 1]];
  const rx = (t: number) => [[1, 0, 0], [0, Math.cos(t), -Math.sin(t)], [0, Math.sin(t), Math.cos(t)]];
  return matMul(matMul(rz(phi), rx(theta)), rz(psi));
}

export function matMul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => [0, 1, 2].map((c) => row[0] * b[0][c] + row[1] * b[1][c] + row[2] * b[2][c]));
}

export function checkShape(shape: readonly number[]): void {
  if (shape.length !== 3 || !shape.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new RangeError(`shape must be three positive integers [Z, Y, X], got [${shape.join(", ")}]`);
  }
}
