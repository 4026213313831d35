/**
 * Structural similarity (SSIM), computed exactly as scikit-image's `structural_similarity` does for 2D float
 * images with `data_range=1`, per slice, and averaged per plane.
 *
 * The default matches skimage's defaults: a 7×7 uniform window, K1 = 0.01, K2 = 0.03, sample covariance
 * (variances scaled by N/(N−1), N = 49), and the mean of the SSIM map after cropping (win−1)/2 pixels from
 * every border. Because skimage crops exactly the filter radius, every map value it keeps comes from a
 * window lying wholly inside the image, so its filters' edge mode ('reflect') never matters and this module
 * computes only those interior windows.
 *
 * `gaussian: true` gives Wang et al. (2004)'s variant: an 11-tap Gaussian window (σ = 1.5, truncated at
 * 3.5σ like skimage) and population covariance. Note that skimage's `gaussian_weights=True` on its own keeps
 * sample covariance (factor 121/120); pass `sampleCovariance: true` to reproduce that call exactly.
 *
 * Cost: box sums use running sums, O(1) per pixel and quantity, so a 256×256×133 volume's three planes take
 * well under a few seconds; the Gaussian window costs 2×11 taps per pixel and quantity.
 *
 * @module
 */
import type { Volume } from "../volume.ts";
import {
  checkSameShape,
  extractSlice,
  informativeSlices,
  type PerPlane,
  type Plane,
  planeLayout,
  PLANES,
  type Slice2D,
} from "./planes.ts";

/** Options for {@linkcode ssim2d} and {@linkcode ssimPerPlane}. */
export interface SsimOptions {
  /** Use a Gaussian-weighted window instead of the uniform one. Default `false`. */
  gaussian?: boolean;
  /** Side of the uniform window, odd. Default 7. Ignored when `gaussian` (the window follows `sigma`). */
  winSize?: number;
  /** Standard deviation of the Gaussian window, in pixels. Default 1.5 (an 11-tap window). */
  sigma?: number;
  /** Scale variances by N/(N−1). Default `true` for the uniform window, `false` for the Gaussian one. */
  sampleCovariance?: boolean;
  /** Luminance constant: C1 = (K1·range)². Default 0.01. */
  k1?: number;
  /** Contrast constant: C2 = (K2·range)². Default 0.03. */
  k2?: number;
  /** Peak-to-peak range of the data. Default 1. */
  dataRange?: number;
}

interface Window {
  /** Normalized 1D weights, length 2r+1; `null` for the uniform window (running sums). */
  weights: Float64Array | null;
  radius: number;
  covNorm: number;
}

function makeWindow(options: SsimOptions): Window {
  if (options.gaussian) {
    const sigma = options.sigma ?? 1.5;
    if (!(sigma > 0)) throw new RangeError(`SSIM sigma must be positive, got ${sigma}`);
    // scipy.ndimage's radius rule with skimage's truncate = 3.5.
    const radius = Math.floor(3.5 * sigma + 0.5);
    const w = new Float64Array(2 * radius + 1);
    let s = 0;
    for (let t = -radius; t <= radius; t++) s += w[t + radius] = Math.exp((-0.5 / (sigma * sigma)) * t * t);
    for (let t = 0; t < w.length; t++) w[t] /= s;
    const np = w.length * w.length;
    return { weights: w, radius, covNorm: (options.sampleCovariance ?? false) ? np / (np - 1) : 1 };
  }
  const win = options.winSize ?? 7;
  if (!Number.isInteger(win) || win < 3 || win % 2 !== 1) {
    throw new RangeError(`SSIM winSize must be an odd integer ≥ 3, got ${win}`);
  }
  const np = win * win;
  return {
    weights: null,
    radius: (win - 1) / 2,
    covNorm: (options.sampleCovariance ?? true) ? np / (np - 1) : 1,
  };
}

/** Scratch arrays for the horizontal pass, reused across the slices of a plane. */
class Workspace {
  size = 0;
  hx = new Float64Array(0);
  hy = new Float64Array(0);
  hxx = new Float64Array(0);
  hyy = new Float64Array(0);
  hxy = new Float64Array(0);
  ensure(n: number): void {
    if (n <= this.size) return;
    this.size = n;
    this.hx = new Float64Array(n);
    this.hy = new Float64Array(n);
    this.hxx = new Float64Array(n);
    this.hyy = new Float64Array(n);
    this.hxy = new Float64Array(n);
  }
}

function ssimCore(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  width: number,
  height: number,
  win: Window,
  c1: number,
  c2: number,
  ws: Workspace,
): number {
  const r = win.radius;
  const d = 2 * r + 1;
  if (width < d || height < d) {
    throw new RangeError(
      `SSIM window ${d}x${d} exceeds the ${height}x${width} image; use a smaller winSize or larger slices`,
    );
  }
  const ow = width - 2 * r; // valid columns
  ws.ensure(height * ow);
  const { hx, hy, hxx, hyy, hxy } = ws;
  const w = win.weights;

  // Horizontal pass: window sums (uniform) or weighted sums (Gaussian) along each row, valid columns only.
  for (let i = 0; i < height; i++) {
    const row = i * width;
    const o = i * ow;
    if (w === null) {
      let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (let t = 0; t < d; t++) {
        const a = x[row + t], b = y[row + t];
        sx += a;
        sy += b;
        sxx += a * a;
        syy += b * b;
        sxy += a * b;
      }
      for (let j = 0;; j++) {
        hx[o + j] = sx;
        hy[o + j] = sy;
        hxx[o + j] = sxx;
        hyy[o + j] = syy;
        hxy[o + j] = sxy;
        if (j + 1 >= ow) break;
        const a0 = x[row + j], b0 = y[row + j];
        const a1 = x[row + j + d], b1 = y[row + j + d];
        sx += a1 - a0;
        sy += b1 - b0;
        sxx += a1 * a1 - a0 * a0;
        syy += b1 * b1 - b0 * b0;
        sxy += a1 * b1 - a0 * b0;
      }
    } else {
      for (let j = 0; j < ow; j++) {
        let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
        for (let t = 0; t < d; t++) {
          const a = x[row + j + t], b = y[row + j + t], wt = w[t];
          sx += wt * a;
          sy += wt * b;
          sxx += wt * a * a;
          syy += wt * b * b;
          sxy += wt * a * b;
        }
        hx[o + j] = sx;
        hy[o + j] = sy;
        hxx[o + j] = sxx;
        hyy[o + j] = syy;
        hxy[o + j] = sxy;
      }
    }
  }

  // Vertical pass over valid rows, fused with the SSIM formula and the mean.
  const inv = w === null ? 1 / (d * d) : 1;
  const cn = win.covNorm;
  let total = 0;
  const oh = height - 2 * r;
  if (w === null) {
    for (let j = 0; j < ow; j++) {
      let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (let t = 0; t < d; t++) {
        const p = t * ow + j;
        sx += hx[p];
        sy += hy[p];
        sxx += hxx[p];
        syy += hyy[p];
        sxy += hxy[p];
      }
      for (let i = 0;; i++) {
        total += ssimAt(sx * inv, sy * inv, sxx * inv, syy * inv, sxy * inv, cn, c1, c2);
        if (i + 1 >= oh) break;
        const p0 = i * ow + j, p1 = (i + d) * ow + j;
        sx += hx[p1] - hx[p0];
        sy += hy[p1] - hy[p0];
        sxx += hxx[p1] - hxx[p0];
        syy += hyy[p1] - hyy[p0];
        sxy += hxy[p1] - hxy[p0];
      }
    }
  } else {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
        for (let t = 0; t < d; t++) {
          const p = (i + t) * ow + j, wt = w[t];
          sx += wt * hx[p];
          sy += wt * hy[p];
          sxx += wt * hxx[p];
          syy += wt * hyy[p];
          sxy += wt * hxy[p];
        }
        total += ssimAt(sx, sy, sxx, syy, sxy, cn, c1, c2);
      }
    }
  }
  return total / (ow * oh);
}

function ssimAt(
  ux: number,
  uy: number,
  uxx: number,
  uyy: number,
  uxy: number,
  cn: number,
  c1: number,
  c2: number,
): number {
  const vx = cn * (uxx - ux * ux);
  const vy = cn * (uyy - uy * uy);
  const vxy = cn * (uxy - ux * uy);
  return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
}

/**
 * Mean SSIM of two same-size 2D images (see the module doc for the exact definition). Throws a RangeError
 * when the window does not fit in the image.
 *
 * @example
 * ```ts
 * import { ssim2d } from "./ssim.ts";
 * const a = { data: Float64Array.from({ length: 100 }, (_, i) => (i % 7) / 7), width: 10, height: 10 };
 * console.log(ssim2d(a, a)); // 1
 * const b = { ...a, data: a.data.map((v) => v * 0.5) };
 * console.log(ssim2d(a, b) < 1); // true
 * ```
 */
export function ssim2d(
  a: Slice2D<ArrayLike<number>>,
  b: Slice2D<ArrayLike<number>>,
  options: SsimOptions = {},
): number {
  if (a.width !== b.width || a.height !== b.height) {
    throw new RangeError(`SSIM of ${a.height}x${a.width} vs ${b.height}x${b.width} images`);
  }
  if (a.data.length < a.width * a.height || b.data.length < a.width * a.height) {
    throw new RangeError("SSIM image data is shorter than width x height");
  }
  const range = options.dataRange ?? 1;
  const c1 = ((options.k1 ?? 0.01) * range) ** 2;
  const c2 = ((options.k2 ?? 0.03) * range) ** 2;
  return ssimCore(a.data, b.data, a.width, a.height, makeWindow(options), c1, c2, new Workspace());
}

/** Options for {@linkcode ssimPerPlane}. */
export interface SsimPerPlaneOptions extends SsimOptions {
  /** Planes to compute. Default all three; others come back as `NaN`. */
  planes?: readonly Plane[];
  /** Average over constant reference slices too (see `informativeSlices`). Default false. */
  keepEmptySlices?: boolean;
}

/**
 * Mean per-slice SSIM (data range 1, both volumes clipped to [0, 1]) for each plane. A plane whose slices
 * are smaller than the window (e.g. coronal of a volume with fewer than 7 slices) comes back as `NaN`.
 *
 * @example
 * ```ts
 * import { ssimPerPlane } from "./ssim.ts";
 * import { makeVolume } from "../volume.ts";
 * const data = Float32Array.from({ length: 8 * 9 * 10 }, (_, i) => (i * 37 % 11) / 11);
 * const v = makeVolume(data, [8, 9, 10]);
 * const s = ssimPerPlane(v, v);
 * console.log(s.axial, s.coronal, s.sagittal); // 1 1 1
 * ```
 */
export function ssimPerPlane(
  recon: Volume,
  reference: Volume,
  options: SsimPerPlaneOptions = {},
): PerPlane<number> {
  checkSameShape(recon, reference);
  const win = makeWindow(options);
  const range = options.dataRange ?? 1;
  const c1 = ((options.k1 ?? 0.01) * range) ** 2;
  const c2 = ((options.k2 ?? 0.03) * range) ** 2;
  const ws = new Workspace();
  const result: PerPlane<number> = { axial: NaN, coronal: NaN, sagittal: NaN };
  for (const plane of options.planes ?? PLANES) {
    const l = planeLayout(reference.shape, plane);
    const d = 2 * win.radius + 1;
    if (l.width < d || l.height < d) continue;
    const a = new Float64Array(l.width * l.height);
    const b = new Float64Array(l.width * l.height);
    const kept = informativeSlices(reference, plane, options.keepEmptySlices);
    let sum = 0;
    for (const k of kept) {
      extractSlice(recon, plane, k, { clip: true, out: a });
      extractSlice(reference, plane, k, { clip: true, out: b });
      sum += ssimCore(a, b, l.width, l.height, win, c1, c2, ws);
    }
    result[plane] = sum / kept.length;
  }
  return result;
}
