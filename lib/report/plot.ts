/**
 * Line plots as RGB PNGs (PSNR against views per method, PSNR against sampler step): axes with round ticks,
 * one colour and marker per series, a legend, labels in the previews' built-in font. No canvas, no fonts,
 * no plotting library: it runs wherever Deno does, like the previews.
 *
 * @module
 */
import { encodePng } from "../deps.ts";
import { TEXT_HEIGHT, textPixels, textWidth } from "./png.ts";
import { num } from "./format.ts";

/** One line of a plot. */
export interface PlotSeries {
  /** Legend text (the built-in font's characters; others show as `?`). */
  label: string;
  /** Points `[x, y]`, drawn in the order given; non-finite y values are skipped (a gap in the line). */
  points: [number, number][];
}

/** Options for {@linkcode linePlotPng}. */
export interface LinePlotOptions {
  /** Text over the plot. Default none. */
  title?: string;
  /** Label under the x axis. */
  xLabel: string;
  /** Label over the y axis. */
  yLabel: string;
  /** Image width in pixels. Default 720. */
  width?: number;
  /** Image height in pixels. Default 420. */
  height?: number;
  /** Tick positions on x; default: round numbers over the data's range (the data's own x values when few). */
  xTicks?: number[];
  /** Integer magnification of the font. Default 2. */
  fontScale?: number;
}

/** Where data coordinates land on the image, and back: what the tests check the drawing against. */
export interface PlotFrame {
  /** Image x of data x. */
  px(x: number): number;
  /** Image y of data y. */
  py(y: number): number;
  /** The plot area `[left, top, right, bottom]` in pixels. */
  area: [number, number, number, number];
}

/** Colours of the series, in order (Okabe and Ito's colour-blind-safe palette, black last). */
export const SERIES_COLOURS: readonly [number, number, number][] = [
  [0, 114, 178],
  [213, 94, 0],
  [0, 158, 115],
  [204, 121, 167],
  [230, 159, 0],
  [86, 180, 233],
  [240, 228, 66],
  [0, 0, 0],
];

/**
 * Round tick values covering `[lo, hi]` at a step of 1, 2 or 5 times a power of ten, about `count` of them.
 *
 * @example
 * ```ts
 * import { niceTicks } from "./plot.ts";
 * console.log(niceTicks(21.3, 33.8, 6)); // [22, 24, 26, 28, 30, 32]
 * ```
 */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  // the round step nearest to the raw one (in ratio), so the count stays near `count`
  const step = [1, 2, 5, 10].map((m) => m * p).reduce((a, b) =>
    Math.abs(Math.log(b / raw)) < Math.abs(Math.log(a / raw)) ? b : a
  );
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step) {
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

/** The y range shown: the data's, padded by 5% and widened to at least 1 unit (a flat line stays visible). */
function yRange(series: PlotSeries[]): [number, number] {
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  if (ys.length === 0) return [0, 1];
  let lo = Math.min(...ys), hi = Math.max(...ys);
  if (hi - lo < 1) [lo, hi] = [(lo + hi) / 2 - 0.5, (lo + hi) / 2 + 0.5];
  const pad = 0.05 * (hi - lo);
  return [lo - pad, hi + pad];
}

function xRange(series: PlotSeries[], ticks?: number[]): [number, number] {
  const xs = [...series.flatMap((s) => s.points.map((p) => p[0])), ...(ticks ?? [])].filter(Number.isFinite);
  if (xs.length === 0) return [0, 1];
  const lo = Math.min(...xs), hi = Math.max(...xs);
  if (hi === lo) return [lo - 1, hi + 1];
  const pad = 0.04 * (hi - lo);
  return [lo - pad, hi + pad];
}

/**
 * The frame {@linkcode linePlotPng} draws in, for `series` and `options`: pure, so a test can say where a
 * point must land.
 *
 * @example
 * ```ts
 * import { plotFrame } from "./plot.ts";
 * const f = plotFrame([{ label: "a", points: [[0, 0], [1, 1]] }], { xLabel: "x", yLabel: "y" });
 * console.log(f.px(0) < f.px(1), f.py(0) > f.py(1)); // true true
 * ```
 */
export function plotFrame(series: PlotSeries[], options: LinePlotOptions): PlotFrame {
  const width = options.width ?? 720, height = options.height ?? 420, s = options.fontScale ?? 2;
  const lineH = TEXT_HEIGHT * s;
  const [ylo, yhi] = yRange(series);
  const [xlo, xhi] = xRange(series, options.xTicks);
  const yTicks = niceTicks(ylo, yhi);
  const legendW = Math.max(...series.map((x) => textWidth(x.label, s))) + 40;
  const left = 12 + Math.max(...yTicks.map((t) => textWidth(num(t), s))) + 8;
  const top = (options.title ? lineH + 12 : 0) + lineH + 16;
  const right = width - legendW - 16, bottom = height - 2 * lineH - 24;
  return {
    px: (x) => Math.round(left + ((x - xlo) / (xhi - xlo)) * (right - left)),
    py: (y) => Math.round(bottom - ((y - ylo) / (yhi - ylo)) * (bottom - top)),
    area: [left, top, right, bottom],
  };
}

/**
 * Draws `series` as lines with markers on white, with axes, round ticks, a light grid and a legend; returns
 * the PNG's bytes (8-bit RGB).
 *
 * @example
 * ```ts
 * import { linePlotPng } from "./plot.ts";
 * const png = linePlotPng([
 *   { label: "tv", points: [[4, 27.1], [6, 29.0], [8, 30.2]] },
 *   { label: "blend++", points: [[4, 27.9], [6, 29.8], [8, 31.0]] },
 * ], { xLabel: "views", yLabel: "PSNR (dB)" });
 * console.log(png[1] === 0x50); // true ("PNG")
 * ```
 */
export function linePlotPng(series: PlotSeries[], options: LinePlotOptions): Uint8Array {
  if (series.length === 0) throw new RangeError("linePlotPng needs at least one series");
  const width = options.width ?? 720, height = options.height ?? 420, s = options.fontScale ?? 2;
  const lineH = TEXT_HEIGHT * s;
  const data = new Uint8Array(width * height * 3).fill(255);
  const put = (x: number, y: number, c: readonly number[]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    data.set(c, (y * width + x) * 3);
  };
  const text = (t: string, x: number, y: number, c: readonly number[] = [0, 0, 0]) =>
    textPixels(t, x, y, s, (px, py) => put(px, py, c));
  const f = plotFrame(series, options);
  const [left, top, right, bottom] = f.area;
  const [ylo, yhi] = yRange(series);
  const grid = [225, 225, 225], axis = [0, 0, 0];
  for (const t of niceTicks(ylo, yhi)) {
    const y = f.py(t);
    for (let x = left; x <= right; x++) put(x, y, grid);
    text(num(t), left - 8 - textWidth(num(t), s), y - (lineH >> 1));
  }
  const [xlo, xhi] = xRange(series, options.xTicks);
  const xs = [...new Set(series.flatMap((x) => x.points.map((p) => p[0])))].sort((a, b) => a - b);
  const xTicks = options.xTicks ?? (xs.length <= 8 ? xs : niceTicks(xlo, xhi, 8));
  for (const t of xTicks) {
    const x = f.px(t);
    for (let y = top; y <= bottom; y++) put(x, y, grid);
    for (let y = bottom; y < bottom + 5; y++) put(x, y, axis);
    text(num(t), x - (textWidth(num(t), s) >> 1), bottom + 8);
  }
  for (let x = left; x <= right; x++) (put(x, bottom, axis), put(x, top, axis));
  for (let y = top; y <= bottom; y++) (put(left, y, axis), put(right, y, axis));
  if (options.title) text(options.title, left, 6);
  text(options.yLabel, 8, top - lineH - 8);
  text(options.xLabel, ((left + right) >> 1) - (textWidth(options.xLabel, s) >> 1), bottom + lineH + 16);
  series.forEach((ser, k) => {
    const c = SERIES_COLOURS[k % SERIES_COLOURS.length];
    let prev: [number, number] | null = null;
    for (const [x, y] of ser.points) {
      if (!Number.isFinite(y)) {
        prev = null;
        continue;
      }
      const p: [number, number] = [f.px(x), f.py(y)];
      if (prev) line(prev, p, (a, b) => (put(a, b, c), put(a, b + 1, c)));
      marker(p, k, (a, b) => put(a, b, c));
      prev = p;
    }
    // legend: a marker on a short line, then the label
    const ly = top + 4 + k * (lineH + 8), lx = right + 16;
    line([lx, ly + (lineH >> 1)], [lx + 24, ly + (lineH >> 1)], (a, b) => put(a, b, c));
    marker([lx + 12, ly + (lineH >> 1)], k, (a, b) => put(a, b, c));
    text(ser.label, lx + 32, ly, c);
  });
  return encodePng({ width, height, data, depth: 8, channels: 3 });
}

/** Bresenham's line from `a` to `b`. */
function line(a: [number, number], b: [number, number], dot: (x: number, y: number) => void): void {
  let [x, y] = a;
  const dx = Math.abs(b[0] - x), dy = -Math.abs(b[1] - y), sx = x < b[0] ? 1 : -1, sy = y < b[1] ? 1 : -1;
  let err = dx + dy;
  for (;;) {
    dot(x, y);
    if (x === b[0] && y === b[1]) return;
    const e2 = 2 * err;
    if (e2 >= dy) (err += dy, x += sx);
    if (e2 <= dx) (err += dx, y += sy);
  }
}

/** A 7-pixel marker whose shape tells series apart in grey print too: square, diamond, cross, plus. */
function marker([cx, cy]: [number, number], k: number, dot: (x: number, y: number) => void): void {
  for (let j = -3; j <= 3; j++) {
    for (let i = -3; i <= 3; i++) {
      const shape = k % 4;
      const on = shape === 0
        ? true
        : shape === 1
        ? Math.abs(i) + Math.abs(j) <= 3
        : shape === 2
        ? Math.abs(i) === Math.abs(j)
        : i === 0 || j === 0;
      if (on) dot(cx + i, cy + j);
    }
  }
}
