/**
 * The three orthogonal planes of a volume and how to cut 2D slices out of it. Metrics are reported per plane
 * because the paper reports coronal numbers: a 2D prior that ignores z looks fine axially and shows its
 * flaws in the coronal and sagittal planes.
 *
 * - axial: slices at fixed z, images of `Y` rows × `X` columns;
 * - coronal: slices at fixed y, images of `Z` rows × `X` columns;
 * - sagittal: slices at fixed x, images of `Z` rows × `Y` columns.
 *
 * @module
 */
import type { Volume } from "../volume.ts";

/** One of the three orthogonal slicing directions. */
export type Plane = "axial" | "coronal" | "sagittal";

/** The planes in reporting order. */
export const PLANES: readonly Plane[] = ["axial", "coronal", "sagittal"];

/** One number (or anything) per plane. */
export type PerPlane<T> = Record<Plane, T>;

/** A 2D image, row-major: `data[row * width + col]`. */
export interface Slice2D<T extends ArrayLike<number> = Float64Array> {
  data: T;
  width: number;
  height: number;
}

/** How a plane's slices sit in a `[Z, Y, X]` C-order array: strides in elements. */
export interface PlaneLayout {
  /** Number of slices in this plane. */
  count: number;
  /** Image rows per slice. */
  height: number;
  /** Image columns per slice. */
  width: number;
  /** Element stride between consecutive slices, rows, and columns. */
  sliceStride: number;
  rowStride: number;
  colStride: number;
}

/**
 * The layout of `plane` in a volume of `shape` `[Z, Y, X]`.
 *
 * @example
 * ```ts
 * import { planeLayout } from "./planes.ts";
 * const l = planeLayout([10, 20, 30], "sagittal");
 * console.log(l.count, l.height, l.width); // 30 10 20
 * ```
 */
export function planeLayout(shape: readonly [number, number, number], plane: Plane): PlaneLayout {
  const [Z, Y, X] = shape;
  switch (plane) {
    case "axial":
      return { count: Z, height: Y, width: X, sliceStride: Y * X, rowStride: X, colStride: 1 };
    case "coronal":
      return { count: Y, height: Z, width: X, sliceStride: X, rowStride: Y * X, colStride: 1 };
    case "sagittal":
      return { count: X, height: Z, width: Y, sliceStride: 1, rowStride: Y * X, colStride: X };
    default:
      throw new RangeError(`unknown plane ${plane}; use axial, coronal or sagittal`);
  }
}

/** Options for {@linkcode extractSlice}. */
export interface ExtractSliceOptions<T extends Float32Array | Float64Array> {
  /** Clip values to [0, 1] while copying, as the metrics do. Default `false`. */
  clip?: boolean;
  /** Array to write into (reused to avoid allocation in loops); must hold `width * height` values. */
  out?: T;
}

/**
 * Copies slice `index` of `plane` out of `volume` as a row-major 2D image (float64 unless `out` says
 * otherwise).
 *
 * @example
 * ```ts
 * import { extractSlice } from "./planes.ts";
 * import { makeVolume } from "../volume.ts";
 * const v = makeVolume(Float32Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
 * const s = extractSlice(v, "coronal", 1);
 * console.log(s.height, s.width, Array.from(s.data)); // 2 4 [4, 5, 6, 7, 16, 17, 18, 19]
 * ```
 */
export function extractSlice<T extends Float32Array | Float64Array = Float64Array>(
  volume: Volume,
  plane: Plane,
  index: number,
  options: ExtractSliceOptions<T> = {},
): Slice2D<T> {
  const l = planeLayout(volume.shape, plane);
  if (!Number.isInteger(index) || index < 0 || index >= l.count) {
    throw new RangeError(`${plane} slice ${index} is outside 0..${l.count - 1}`);
  }
  const n = l.width * l.height;
  const out = options.out ?? (new Float64Array(n) as T);
  if (out.length < n) throw new RangeError(`out holds ${out.length} values, slice needs ${n}`);
  const src = volume.data;
  const clip = options.clip ?? false;
  let o = 0;
  for (let r = 0; r < l.height; r++) {
    let p = index * l.sliceStride + r * l.rowStride;
    for (let c = 0; c < l.width; c++, p += l.colStride) {
      const v = src[p];
      out[o++] = clip ? (v < 0 ? 0 : v > 1 ? 1 : v) : v;
    }
  }
  return { data: out, width: l.width, height: l.height };
}

/**
 * Throws a RangeError naming both shapes when two volumes cannot be compared voxel by voxel.
 *
 * @example
 * ```ts
 * import { checkSameShape } from "./planes.ts";
 * import { makeVolume } from "../volume.ts";
 * const a = makeVolume(new Float32Array(8), [2, 2, 2]);
 * checkSameShape(a, makeVolume(new Float32Array(8), [2, 2, 2])); // fine
 * try {
 *   checkSameShape(a, makeVolume(new Float32Array(8), [1, 2, 4]));
 * } catch (e) {
 *   console.log((e as Error).message); // volume shapes differ: 2x2x2 vs 1x2x4
 * }
 * ```
 */
export function checkSameShape(a: Volume, b: Volume): void {
  if (a.shape.length !== 3 || b.shape.length !== 3 || a.shape.some((n, i) => n !== b.shape[i])) {
    throw new RangeError(`volume shapes differ: ${a.shape.join("x")} vs ${b.shape.join("x")}`);
  }
}

/**
 * Indices of the slices of `plane` whose reference (clipped to [0, 1]) is not constant; all indices when
 * `keepAll` or when every slice is constant. Per-plane means skip constant slices: they carry no structure
 * and a perfect one would count as an infinite (capped) PSNR or an SSIM of 1.
 */
export function informativeSlices(reference: Volume, plane: Plane, keepAll = false): number[] {
  const l = planeLayout(reference.shape, plane);
  const all = Array.from({ length: l.count }, (_, k) => k);
  if (keepAll) return all;
  const s = new Float64Array(l.width * l.height);
  const kept = all.filter((k) => {
    extractSlice(reference, plane, k, { clip: true, out: s });
    for (let i = 1; i < s.length; i++) if (s[i] !== s[0]) return true;
    return false;
  });
  return kept.length ? kept : all;
}
