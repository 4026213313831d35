/**
 * PNG previews of volumes: a grid of mid-plane slices (axial, coronal, sagittal rows; one column per volume)
 * with labels drawn in a built-in 5×7 bitmap font, and single-slice PNGs. 8-bit greyscale, encoded with
 * fast-png; no canvas or font files needed, so it runs anywhere Deno does.
 *
 * Display conventions: axial images show row y = 0 at the top and x = 0 at the left; coronal and sagittal
 * images show the last z slice at the top (superior up for volumes whose z runs foot to head), and are
 * resampled so one output pixel covers the same millimetres in both directions, so anatomy keeps its
 * proportions however thick the slices are.
 *
 * @module
 */
import { encodePng } from "../deps.ts";
import { extractSlice, type Plane, planeLayout, PLANES } from "../metrics/planes.ts";
import type { Volume } from "../volume.ts";

// ---------------------------------------------------------------------------------------------------------
// 5×7 font: one string per glyph, seven rows of five bits, top row first.
// ---------------------------------------------------------------------------------------------------------

const GLYPHS: Record<string, string> = {
  "A": "01110 10001 10001 11111 10001 10001 10001",
  "B": "11110 10001 10001 11110 10001 10001 11110",
  "C": "01110 10001 10000 10000 10000 10001 01110",
  "D": "11100 10010 10001 10001 10001 10010 11100",
  "E": "11111 10000 10000 11110 10000 10000 11111",
  "F": "11111 10000 10000 11110 10000 10000 10000",
  "G": "01110 10001 10000 10111 10001 10001 01111",
  "H": "10001 10001 10001 11111 10001 10001 10001",
  "I": "01110 00100 00100 00100 00100 00100 01110",
  "J": "00111 00010 00010 00010 00010 10010 01100",
  "K": "10001 10010 10100 11000 10100 10010 10001",
  "L": "10000 10000 10000 10000 10000 10000 11111",
  "M": "10001 11011 10101 10101 10001 10001 10001",
  "N": "10001 10001 11001 10101 10011 10001 10001",
  "O": "01110 10001 10001 10001 10001 10001 01110",
  "P": "11110 10001 10001 11110 10000 10000 10000",
  "Q": "01110 10001 10001 10001 10101 10010 01101",
  "R": "11110 10001 10001 11110 10100 10010 10001",
  "S": "01111 10000 10000 01110 00001 00001 11110",
  "T": "11111 00100 00100 00100 00100 00100 00100",
  "U": "10001 10001 10001 10001 10001 10001 01110",
  "V": "10001 10001 10001 10001 10001 01010 00100",
  "W": "10001 10001 10001 10101 10101 10101 01010",
  "X": "10001 10001 01010 00100 01010 10001 10001",
  "Y": "10001 10001 10001 01010 00100 00100 00100",
  "Z": "11111 00001 00010 00100 01000 10000 11111",
  "a": "00000 00000 01110 00001 01111 10001 01111",
  "b": "10000 10000 10110 11001 10001 10001 11110",
  "c": "00000 00000 01110 10000 10000 10001 01110",
  "d": "00001 00001 01101 10011 10001 10001 01111",
  "e": "00000 00000 01110 10001 11111 10000 01110",
  "f": "00110 01001 01000 11100 01000 01000 01000",
  "g": "00000 01111 10001 10001 01111 00001 01110",
  "h": "10000 10000 10110 11001 10001 10001 10001",
  "i": "00100 00000 01100 00100 00100 00100 01110",
  "j": "00010 00000 00110 00010 00010 10010 01100",
  "k": "10000 10000 10010 10100 11000 10100 10010",
  "l": "01100 00100 00100 00100 00100 00100 01110",
  "m": "00000 00000 11010 10101 10101 10001 10001",
  "n": "00000 00000 10110 11001 10001 10001 10001",
  "o": "00000 00000 01110 10001 10001 10001 01110",
  "p": "00000 11110 10001 10001 11110 10000 10000",
  "q": "00000 01111 10001 10001 01111 00001 00001",
  "r": "00000 00000 10110 11001 10000 10000 10000",
  "s": "00000 00000 01111 10000 01110 00001 11110",
  "t": "01000 01000 11100 01000 01000 01001 00110",
  "u": "00000 00000 10001 10001 10001 10011 01101",
  "v": "00000 00000 10001 10001 10001 01010 00100",
  "w": "00000 00000 10001 10001 10101 10101 01010",
  "x": "00000 00000 10001 01010 00100 01010 10001",
  "y": "00000 10001 10001 10001 01111 00001 01110",
  "z": "00000 00000 11111 00010 00100 01000 11111",
  "0": "01110 10001 10011 10101 11001 10001 01110",
  "1": "00100 01100 00100 00100 00100 00100 01110",
  "2": "01110 10001 00001 00010 00100 01000 11111",
  "3": "11111 00010 00100 00010 00001 10001 01110",
  "4": "00010 00110 01010 10010 11111 00010 00010",
  "5": "11111 10000 11110 00001 00001 10001 01110",
  "6": "00110 01000 10000 11110 10001 10001 01110",
  "7": "11111 00001 00010 00100 01000 01000 01000",
  "8": "01110 10001 10001 01110 10001 10001 01110",
  "9": "01110 10001 10001 01111 00001 00010 01100",
  " ": "00000 00000 00000 00000 00000 00000 00000",
  ".": "00000 00000 00000 00000 00000 01100 01100",
  ",": "00000 00000 00000 00000 01100 00100 01000",
  ":": "00000 01100 01100 00000 01100 01100 00000",
  ";": "00000 01100 01100 00000 01100 00100 01000",
  "-": "00000 00000 00000 11111 00000 00000 00000",
  "_": "00000 00000 00000 00000 00000 00000 11111",
  "+": "00000 00100 00100 11111 00100 00100 00000",
  "=": "00000 00000 11111 00000 11111 00000 00000",
  "/": "00000 00001 00010 00100 01000 10000 00000",
  "\\": "00000 10000 01000 00100 00010 00001 00000",
  "(": "00010 00100 01000 01000 01000 00100 00010",
  ")": "01000 00100 00010 00010 00010 00100 01000",
  "[": "01110 01000 01000 01000 01000 01000 01110",
  "]": "01110 00010 00010 00010 00010 00010 01110",
  "<": "00010 00100 01000 10000 01000 00100 00010",
  ">": "01000 00100 00010 00001 00010 00100 01000",
  "%": "11000 11001 00010 00100 01000 10011 00011",
  "#": "01010 01010 11111 01010 11111 01010 01010",
  "?": "01110 10001 00001 00010 00100 00000 00100",
  "!": "00100 00100 00100 00100 00100 00000 00100",
  "'": "00100 00100 01000 00000 00000 00000 00000",
  '"': "01010 01010 01010 00000 00000 00000 00000",
  "*": "00000 00100 10101 01110 10101 00100 00000",
  "|": "00100 00100 00100 00100 00100 00100 00100",
  "@": "01110 10001 00001 01101 10101 10101 01110",
  "&": "01100 10010 10100 01000 10101 10010 01101",
  "^": "00100 01010 10001 00000 00000 00000 00000",
  "~": "00000 00000 01000 10101 00010 00000 00000",
};

const GLYPH_W = 5, GLYPH_H = 7, ADVANCE = 6;

/** Characters the built-in font can draw; others are drawn as `?`. */
export const FONT_CHARACTERS: string = Object.keys(GLYPHS).join("");

function glyphRows(ch: string): number[] {
  const g = GLYPHS[ch] ?? GLYPHS["?"];
  return g.split(" ").map((r) => parseInt(r, 2));
}

/** An 8-bit greyscale raster being composed. */
interface Canvas {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Width in pixels of `text` in the built-in font at `scale` (no trailing gap).
 *
 * @example
 * ```ts
 * import { textWidth } from "./png.ts";
 * console.log(textWidth("dB", 2)); // 22
 * ```
 */
export function textWidth(text: string, scale: number): number {
  return text.length === 0 ? 0 : (text.length * ADVANCE - 1) * scale;
}

/** Height in pixels of a line of the built-in font at scale 1. */
export const TEXT_HEIGHT = GLYPH_H;

/**
 * Calls `dot(x, y)` for every pixel of `text` in the built-in 5×7 font at integer `scale`, its top left at
 * `(x0, y0)`: how any raster (grey previews, colour plots) draws its labels.
 *
 * @example
 * ```ts
 * import { textPixels } from "./png.ts";
 * let n = 0;
 * textPixels("-", 0, 0, 1, () => n++);
 * console.log(n); // 5
 * ```
 */
export function textPixels(
  text: string,
  x0: number,
  y0: number,
  scale: number,
  dot: (x: number, y: number) => void,
): void {
  let x = x0;
  for (const ch of text) {
    const rows = glyphRows(ch);
    for (let r = 0; r < GLYPH_H; r++) {
      for (let b = 0; b < GLYPH_W; b++) {
        if (!((rows[r] >> (GLYPH_W - 1 - b)) & 1)) continue;
        for (let sy = 0; sy < scale; sy++) {
          for (let sx = 0; sx < scale; sx++) dot(x + b * scale + sx, y0 + r * scale + sy);
        }
      }
    }
    x += ADVANCE * scale;
  }
}

function drawText(c: Canvas, text: string, x0: number, y0: number, scale: number, grey: number): void {
  textPixels(text, x0, y0, scale, (px, py) => {
    if (px >= 0 && py >= 0 && px < c.width && py < c.height) c.data[py * c.width + px] = grey;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Grey mapping and resampling
// ---------------------------------------------------------------------------------------------------------

function toGrey(v: number, lo: number, scale: number): number {
  const u = (v - lo) * scale;
  // NaN fails both comparisons and lands on 0 (black) through the rounding below.
  const g = u > 0 ? (u < 1 ? u : 1) : 0;
  return Math.round(g * 255) | 0;
}

function checkWindow(window: [number, number]): void {
  if (!(window[1] > window[0])) throw new RangeError(`window [${window[0]}, ${window[1]}] must have hi > lo`);
}

/** Samples a row-major image at continuous coordinates (pixel centres at integers), clamped to its edges. */
function sample(
  src: Float32Array,
  w: number,
  h: number,
  x: number,
  y: number,
  linear: boolean,
): number {
  x = x < 0 ? 0 : x > w - 1 ? w - 1 : x;
  y = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
  if (!linear) return src[Math.round(y) * w + Math.round(x)];
  const x0 = Math.floor(x), y0 = Math.floor(y);
  const x1 = Math.min(w - 1, x0 + 1), y1 = Math.min(h - 1, y0 + 1);
  const fx = x - x0, fy = y - y0;
  const top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
  const bot = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
  return top * (1 - fy) + bot * fy;
}

// ---------------------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------------------

/** Options for {@linkcode slicePng}. */
export interface SlicePngOptions {
  /** Values mapped to black and white; outside is clipped. Default `[0, 1]`. */
  window?: [number, number];
}

/**
 * Encodes one row-major 2D slice as an 8-bit greyscale PNG, row 0 at the top. The fourth argument is the
 * options object or, for brevity, just the window.
 *
 * @example
 * ```ts
 * import { slicePng } from "./png.ts";
 * const png = slicePng(Float32Array.from([0, 0.5, 1, 2]), 2, 2, [0, 1]);
 * console.log(png[1] === 0x50 && png[2] === 0x4e && png[3] === 0x47); // true ("PNG")
 * ```
 */
export function slicePng(
  slice: Float32Array,
  width: number,
  height: number,
  options: SlicePngOptions | [number, number] = {},
): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`slice size must be positive integers, got ${width}x${height}`);
  }
  if (slice.length < width * height) {
    throw new RangeError(`slice has ${slice.length} values, ${width}x${height} needs ${width * height}`);
  }
  const window = Array.isArray(options) ? options : options.window ?? [0, 1];
  checkWindow(window);
  const scale = 1 / (window[1] - window[0]);
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = toGrey(slice[i], window[0], scale);
  return encodePng({ width, height, data, depth: 8, channels: 1 });
}

/** One column of a {@linkcode midPlanesPng} grid. */
export interface PngColumn {
  /** Text above the column (the built-in font's characters; others show as `?`). */
  label: string;
  /** The volume whose planes fill the column. */
  volume: Volume;
}

/** Options for {@linkcode midPlanesPng}. */
export interface MidPlanesPngOptions {
  /** Values mapped to black and white; outside is clipped. Default `[0, 1]`. */
  window?: [number, number];
  /** Per-column windows overriding `window`, by column index (e.g. a std map next to images). Default none. */
  columnWindows?: Record<number, [number, number]>;
  /** Rows to show, top to bottom. Default `["axial", "coronal", "sagittal"]`. */
  planes?: readonly Plane[];
  /** Slice per plane. Default the middle one, `floor(count / 2)`. */
  index?: Partial<Record<Plane, number>>;
  /** Resampling when correcting for voxel spacing: `"linear"` (default) or `"nearest"`. */
  resample?: "linear" | "nearest";
  /** Integer magnification of the label font (5×7 pixels at 1). Default 2. */
  fontScale?: number;
  /** Pixels between cells and around the grid. Default 4. */
  gap?: number;
  /** Grey level (0–255) of the background. Default 0. */
  background?: number;
  /** Grey level (0–255) of the labels. Default 255. */
  textGrey?: number;
  /** Plane names at the left of each row. Default true. */
  planeLabels?: boolean;
  /** A scale bar of this many mm under the first column's first cell (its length from the voxel size). */
  scaleBarMm?: number;
  /** A line of text under the grid (the window and level, say). */
  footer?: string;
  /** Columns (by index) that get a grey ramp with their window's ends written beside it (std, error maps). */
  rampColumns?: number[];
  /** Coronal and sagittal cells are stretched along z to at least this many pixels, for display only. Default 48. */
  minCellHeight?: number;
}

interface Cell {
  pixels: Uint8Array;
  width: number;
  height: number;
  /** Millimetres per output pixel along a row. */
  pixelMm: number;
}

/** The plane's slice as grey pixels, resampled to square millimetres, superior up for coronal/sagittal. */
function renderCell(volume: Volume, plane: Plane, options: MidPlanesPngOptions): Cell {
  const l = planeLayout(volume.shape, plane);
  const index = options.index?.[plane] ?? Math.floor(l.count / 2);
  const s = extractSlice(volume, plane, index, { out: new Float32Array(l.width * l.height) });
  const [dz, dy, dx] = volume.spacing;
  const rowMm = plane === "axial" ? dy : dz;
  const colMm = plane === "sagittal" ? dy : dx;
  // Output pixels are as fine as the finer in-plane (x/y) spacing, so the axial view keeps its resolution.
  const pixelMm = Math.min(dx, dy);
  const width = Math.max(1, Math.round((l.width * colMm) / pixelMm));
  // few thick slices would make a strip a few pixels high: stretched for display (never for metrics)
  const height = Math.max(
    Math.round((l.height * rowMm) / pixelMm),
    plane === "axial" ? 1 : Math.min(options.minCellHeight ?? 48, width),
  );
  const window = options.window ?? [0, 1];
  const scale = 1 / (window[1] - window[0]);
  const linear = (options.resample ?? "linear") === "linear";
  const flip = plane !== "axial";
  const pixels = new Uint8Array(width * height);
  for (let r = 0; r < height; r++) {
    let sy = ((r + 0.5) * l.height) / height - 0.5;
    if (flip) sy = l.height - 1 - sy;
    for (let c = 0; c < width; c++) {
      const sx = ((c + 0.5) * l.width) / width - 0.5;
      pixels[r * width + c] = toGrey(sample(s.data, l.width, l.height, sx, sy, linear), window[0], scale);
    }
  }
  return { pixels, width, height, pixelMm };
}

const PLANE_NAMES: Record<Plane, string> = { axial: "AX", coronal: "COR", sagittal: "SAG" };

/**
 * `label` in lines that fit `width` pixels of the built-in font at `scale`, broken at spaces and after a
 * variant's `/` and `,`; a word too wide alone is cut to fit, and a column narrower than eight characters
 * gets one line, cut.
 *
 * @example
 * ```ts
 * import { wrapLabel } from "./png.ts";
 * console.log(wrapLabel("blend++ t0=300 steps=20", 110, 2)); // [ "blend++", "t0=300", "steps=20" ]
 * console.log(wrapLabel("blend++/start=tv/t0=150", 110, 2)); // [ "blend++/", "start=tv/", "t0=150" ]
 * ```
 */
export function wrapLabel(label: string, width: number, scale: number): string[] {
  const cut = (text: string, keep: number) => {
    while (text.length > keep && textWidth(text, scale) > width) text = text.slice(0, -1);
    return text;
  };
  // a column narrower than eight characters (a thumbnail) keeps one line, cut to fit
  if (width < textWidth("12345678", scale)) return [cut(label, 0)];
  const lines: string[] = [];
  // breaks at spaces, and after the "/" and "," of a variant's name (blend++/start=tv/t0=150,...)
  const words = label.split(/\s+/).filter(Boolean).flatMap((w, i) =>
    (w.match(/[^/,]+[/,]?|[/,]/g) ?? [w]).map((part, k) => ({ part, space: i > 0 && k === 0 }))
  );
  for (const { part: word, space } of words) {
    const last = lines.length ? lines[lines.length - 1] : null;
    const joined = last === null ? word : `${last}${space ? " " : ""}${word}`;
    if (last !== null && textWidth(joined, scale) <= width) {
      lines[lines.length - 1] = joined;
    } else {
      lines.push(cut(word, 1));
    }
  }
  return lines.length ? lines : [""];
}

function fmtEnd(v: number): string {
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(1) : v.toPrecision(2);
}

/**
 * A preview grid as a greyscale PNG: one row per plane (axial, coronal, sagittal mid-planes by default),
 * one column per volume, each column headed by its label. Coronal and sagittal cells are resampled by the
 * spacing ratio so anatomy looks right; cells smaller than their row or column are centred.
 *
 * @example
 * ```ts
 * import { midPlanesPng } from "./png.ts";
 * import { makeVolume } from "../volume.ts";
 * const v = makeVolume(new Float32Array(4 * 16 * 16).fill(0.5), [4, 16, 16], { spacing: [4, 1, 1] });
 * const png = midPlanesPng([{ label: "FBP", volume: v }, { label: "TV", volume: v }]);
 * console.log(png.length > 0); // true
 * ```
 */
export function midPlanesPng(columns: PngColumn[], options: MidPlanesPngOptions = {}): Uint8Array {
  if (columns.length === 0) throw new RangeError("midPlanesPng needs at least one column");
  checkWindow(options.window ?? [0, 1]);
  const planes = options.planes ?? PLANES;
  const fontScale = options.fontScale ?? 2;
  const gap = options.gap ?? 4;
  if (!Number.isInteger(fontScale) || fontScale < 1) {
    throw new RangeError(`fontScale must be a positive integer`);
  }
  for (const w of Object.values(options.columnWindows ?? {})) checkWindow(w);
  const cells = planes.map((plane) =>
    columns.map((col, c) =>
      renderCell(col.volume, plane, { ...options, window: options.columnWindows?.[c] ?? options.window })
    )
  );
  const colWidths = columns.map((_, c) => Math.max(...cells.map((row) => row[c].width)));
  const rowHeights = cells.map((row) => Math.max(...row.map((cell) => cell.height)));
  const text = options.textGrey ?? 255;
  const lineH = GLYPH_H * fontScale;
  // labels wrap to fit their column rather than being cut ("blend++ t0=1" and "blend++ t0=3" stay apart):
  // see wrapLabel for where lines break and what is still cut
  const labels = columns.map((col, c) => wrapLabel(col.label, colWidths[c], fontScale));
  const lines = Math.max(1, ...labels.map((l) => l.length));
  const header = lines * lineH + (lines - 1) * fontScale * 2 + 2 * gap;
  const left = options.planeLabels === false
    ? 0
    : Math.max(...planes.map((p) => textWidth(PLANE_NAMES[p], fontScale))) + gap;
  const ramps = new Set(options.rampColumns ?? []);
  const rampW = 8 * fontScale;
  // a ramp column is followed by its grey ramp and the window's ends
  const extra = (c: number) =>
    ramps.has(c)
      ? rampW + gap + Math.max(...(options.columnWindows?.[c] ?? options.window ?? [0, 1]).map((v) =>
        textWidth(fmtEnd(v), fontScale)
      )) + gap
      : 0;
  const footerH = (options.scaleBarMm ? lineH + 3 * gap : 0) + (options.footer ? lineH + gap : 0);
  const width = gap + left + colWidths.reduce((a, w, c) => a + w + gap + extra(c), 0);
  const height = header + rowHeights.reduce((a, h) => a + h + gap, 0) + footerH;
  const canvas: Canvas = {
    width,
    height,
    data: new Uint8Array(width * height).fill(options.background ?? 0),
  };
  if (left) {
    let y = header;
    planes.forEach((p, r) => {
      drawText(canvas, PLANE_NAMES[p], gap, y + Math.floor((rowHeights[r] - lineH) / 2), fontScale, text);
      y += rowHeights[r] + gap;
    });
  }

  let x = gap + left;
  columns.forEach((_col, c) => {
    labels[c].forEach((line, k) => {
      const y0 = gap + k * (lineH + 2 * fontScale);
      drawText(
        canvas,
        line,
        x + Math.floor((colWidths[c] - textWidth(line, fontScale)) / 2),
        y0,
        fontScale,
        text,
      );
    });
    let y = header;
    cells.forEach((row, r) => {
      const cell = row[c];
      const ox = x + Math.floor((colWidths[c] - cell.width) / 2);
      const oy = y + Math.floor((rowHeights[r] - cell.height) / 2);
      for (let j = 0; j < cell.height; j++) {
        canvas.data.set(cell.pixels.subarray(j * cell.width, (j + 1) * cell.width), (oy + j) * width + ox);
      }
      y += rowHeights[r] + gap;
    });
    x += colWidths[c] + gap;
    if (ramps.has(c)) {
      // the grey ramp: white at the top (the window's high end), black at the bottom
      const w = options.columnWindows?.[c] ?? options.window ?? [0, 1];
      const top = header, bottom = header + rowHeights.reduce((a, h) => a + h + gap, 0) - gap;
      for (let yy = top; yy < bottom; yy++) {
        const g = Math.round(255 * (bottom - 1 - yy) / Math.max(1, bottom - 1 - top));
        canvas.data.fill(g, yy * width + x, yy * width + x + rampW);
      }
      drawText(canvas, fmtEnd(w[1]), x + rampW + gap, top, fontScale, text);
      drawText(canvas, fmtEnd(w[0]), x + rampW + gap, bottom - lineH, fontScale, text);
      x += extra(c);
    }
  });
  let y = header + rowHeights.reduce((a, h) => a + h + gap, 0);
  if (options.scaleBarMm) {
    const cell = cells[0][0];
    const px = Math.max(1, Math.round(options.scaleBarMm / cell.pixelMm));
    const x0 = gap + left + Math.floor((colWidths[0] - cell.width) / 2);
    for (let yy = y + gap; yy < y + gap + Math.max(2, fontScale); yy++) {
      canvas.data.fill(text, yy * width + x0, yy * width + x0 + px);
    }
    drawText(canvas, `${options.scaleBarMm} mm`, x0, y + 2 * gap + fontScale, fontScale, text);
    y += lineH + 3 * gap;
  }
  if (options.footer) {
    let f = options.footer;
    while (f.length > 0 && textWidth(f, fontScale) > width - 2 * gap) f = f.slice(0, -1);
    drawText(canvas, f, gap, y, fontScale, text);
  }
  return encodePng({ width, height, data: canvas.data, depth: 8, channels: 1 });
}
