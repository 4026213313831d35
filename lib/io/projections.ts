/**
 * Raw cone-beam projections: TIFF images of detected intensity (one file per view, or one multi-page file),
 * flat fields (no object) and dark fields (no beam), several frames of each averaged, turned into line
 * integrals `−ln((I − D) / (F − D))` in ASTRA's layout `[rows][views][columns]`. Image row 0 is detector
 * row 0 and image column 0 detector column 0 (flip the geometry's `v` or `u` where a scanner writes them
 * the other way). Pixels whose `I − D` is zero or negative are clamped to a transmission of
 * {@linkcode MIN_TRANSMISSION} and counted; transmissions above 1 (negative line integrals: noise in air)
 * are counted and kept, since clamping them would bias the air.
 * @module
 */
import { decodeTiff } from "../deps.ts";
import { UserError } from "../errors.ts";

/** The smallest transmission a clamped pixel gets (a line integral of about 13.8). */
export const MIN_TRANSMISSION = 1e-6;

/** One TIFF page as floats. */
export interface Frame {
  /** Columns. */
  width: number;
  /** Rows. */
  height: number;
  /** Bits per sample of the file (8, 16, 32). */
  bits: number;
  /** `[height][width]` intensities. */
  data: Float32Array;
}

/** Every page of a TIFF file as floats; a colour image or an unreadable file is one line naming it. */
export async function readTiffFrames(path: string): Promise<Frame[]> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    throw new UserError(`projection file ${path} not found`);
  }
  let pages;
  try {
    pages = decodeTiff(bytes);
  } catch (e) {
    throw new UserError(`${path} is not a readable TIFF (${(e as Error).message.split("\n")[0]})`);
  }
  return pages.map((p) => {
    if (p.samplesPerPixel !== 1) {
      throw new UserError(
        `${path} has ${p.samplesPerPixel} samples per pixel: projections must be greyscale`,
      );
    }
    return {
      width: p.width,
      height: p.height,
      bits: p.bitsPerSample,
      data: Float32Array.from(p.data as ArrayLike<number>),
    };
  });
}

/** Refuses frames of different sizes or bit depths, naming the first that differs. */
export function checkFrames(frames: { frame: Frame; name: string }[]): void {
  const first = frames[0];
  for (const { frame, name } of frames) {
    if (frame.width !== first.frame.width || frame.height !== first.frame.height) {
      throw new UserError(
        `${name} is ${frame.width}x${frame.height} but ${first.name} is ${first.frame.width}x${first.frame.height}: every projection, flat and dark frame must have one size`,
      );
    }
    if (frame.bits !== first.frame.bits) {
      throw new UserError(
        `${name} has ${frame.bits}-bit samples but ${first.name} has ${first.frame.bits}-bit: use one bit depth for projections, flats and darks`,
      );
    }
  }
}

/** The mean of every page of `paths` (flat or dark fields): one frame. */
export async function averageFrames(paths: string[]): Promise<{ frame: Frame; count: number; name: string }> {
  const all: { frame: Frame; name: string }[] = [];
  for (const p of paths) for (const f of await readTiffFrames(p)) all.push({ frame: f, name: p });
  if (!all.length) throw new UserError(`${paths.join(", ")}: no images`);
  checkFrames(all);
  const n = all[0].frame.data.length, acc = new Float64Array(n);
  for (const { frame } of all) for (let i = 0; i < n; i++) acc[i] += frame.data[i];
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = acc[i] / all.length;
  return { frame: { ...all[0].frame, data }, count: all.length, name: paths[0] };
}

/** What flat- and dark-field correction did. */
export interface Correction {
  /** Views. */
  views: number;
  /** Detector rows. */
  rows: number;
  /** Detector columns. */
  cols: number;
  /** Flat frames averaged. */
  flatFrames: number;
  /** Dark frames averaged. */
  darkFrames: number;
  /** Pixels with `I − D ≤ 0`, clamped to {@linkcode MIN_TRANSMISSION}. */
  clampedLow: number;
  /** Pixels with a transmission above 1 (negative line integrals), kept as they are. */
  aboveFlat: number;
}

/**
 * Line integrals `−ln((I − D)/(F − D))` of `views` frames, in ASTRA's `[rows][views][columns]`. Refuses
 * (one line) flat fields that are not brighter than the dark field anywhere on the detector.
 *
 * @example
 * ```ts
 * import { lineIntegrals } from "./projections.ts";
 * const f = (v: number) => ({ width: 2, height: 1, bits: 16, data: new Float32Array([v, v]) });
 * const { y } = lineIntegrals([f(510)], f(1010), f(10));
 * console.log(y[0].toFixed(4)); // 0.6931
 * ```
 */
export function lineIntegrals(
  views: Frame[],
  flat: Frame,
  dark: Frame,
  counts: { flatFrames?: number; darkFrames?: number } = {},
): { y: Float32Array; correction: Correction } {
  const { width: U, height: V } = flat, A = views.length, n = U * V;
  let bad = 0;
  for (let i = 0; i < n; i++) if (!(flat.data[i] > dark.data[i])) bad++;
  if (bad > 0) {
    throw new UserError(
      `the flat field is not brighter than the dark field at ${bad} of ${n} detector pixels: check that --flat and --dark are not swapped (or exclude dead pixels)`,
    );
  }
  const y = new Float32Array(V * A * U);
  let low = 0, high = 0;
  views.forEach((fr, a) => {
    for (let r = 0; r < V; r++) {
      for (let c = 0; c < U; c++) {
        const i = r * U + c, d = dark.data[i];
        let t = (fr.data[i] - d) / (flat.data[i] - d);
        if (!(t > 0)) {
          t = MIN_TRANSMISSION;
          low++;
        } else if (t > 1) {
          high++;
        }
        y[(r * A + a) * U + c] = -Math.log(t);
      }
    }
  });
  return {
    y,
    correction: {
      views: A,
      rows: V,
      cols: U,
      flatFrames: counts.flatFrames ?? 1,
      darkFrames: counts.darkFrames ?? 1,
      clampedLow: low,
      aboveFlat: high,
    },
  };
}

/** The TIFF files of a folder, sorted by name (`*.tif`, `*.tiff`), leaving out `exclude`. */
export async function tiffFiles(
  dir: string,
  exclude: (name: string) => boolean = () => false,
): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && /\.tiff?$/i.test(e.name) && !exclude(e.name)) names.push(e.name);
    }
  } catch {
    throw new UserError(`projection folder ${dir} not found`);
  }
  if (!names.length) throw new UserError(`projection folder ${dir} holds no .tif files`);
  return names.sort().map((n) => `${dir}/${n}`);
}

/** The walnut data set's per-orbit folder (Der Sarkissian et al. 2019): what {@linkcode readProjectionSet} looks for. */
export const WALNUT = {
  geometry: "scan_geom_corrected.geom",
  dark: ["di000000.tif"],
  flat: ["io000000.tif", "io000001.tif"],
  scan: /^scan_(\d{6})\.tiff?$/i,
} as const;

/**
 * The walnut scripts' image transform (`transpose(flipud(raw))`): detector row `r` is raw column `r`,
 * detector column `c` is raw row `H − 1 − c`.
 */
export function walnutOrient(f: Frame): Frame {
  const { width: W, height: H } = f, out = new Float32Array(W * H);
  for (let r = 0; r < W; r++) for (let c = 0; c < H; c++) out[r * H + c] = f.data[(H - 1 - c) * W + r];
  return { ...f, width: H, height: W, data: out };
}

/** `B × B` binning by the mean (the detector cropped to a multiple of `B` at its far edges). */
export function binFrame(f: Frame, B: number): Frame {
  if (B === 1) return f;
  const w = Math.floor(f.width / B), h = Math.floor(f.height / B), out = new Float32Array(w * h);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      let s = 0;
      for (let i = 0; i < B; i++) for (let j = 0; j < B; j++) s += f.data[(r * B + i) * f.width + c * B + j];
      out[r * w + c] = s / (B * B);
    }
  }
  return { ...f, width: w, height: h, data: out };
}

/**
 * `cone_vec` rows for `B × B` binned detector pixels (`U × V` before binning): u and v scaled by `B`, the
 * detector centre moved to the centre of the pixels kept.
 */
export function binVectors(rows: number[][], U: number, V: number, B: number): number[][] {
  if (B === 1) return rows;
  const du = (Math.floor(U / B) * B - U) / 2, dv = (Math.floor(V / B) * B - V) / 2;
  return rows.map((r) => [
    ...r.slice(0, 3),
    ...[0, 1, 2].map((i) => r[3 + i] + du * r[6 + i] + dv * r[9 + i]),
    ...r.slice(6, 9).map((x) => x * B),
    ...r.slice(9, 12).map((x) => x * B),
  ]);
}

/** Parses a `.geom` file: one `cone_vec` row of 12 numbers per line. */
export function parseGeomRows(text: string, path: string): number[][] {
  const rows = text.trim().split(/\r?\n/).filter((l) => l.trim() && !l.trim().startsWith("#")).map((l, i) => {
    const v = l.trim().split(/[\s,]+/).map(Number);
    if (v.length !== 12 || v.some((x) => !Number.isFinite(x))) {
      throw new UserError(
        `${path} line ${i + 1}: a cone_vec row needs 12 numbers (source, detector centre, u, v)`,
      );
    }
    return v;
  });
  if (!rows.length) throw new UserError(`${path} holds no cone_vec rows`);
  return rows;
}

/** What {@linkcode readProjectionSet} reads. */
export interface ProjectionSetSpec {
  /** A folder of TIFFs (the walnut layout is recognised by its `.geom` file) or one multi-page TIFF. */
  path: string;
  /** Flat-field files (averaged); the walnut layout's `io000000.tif`, `io000001.tif` when absent. */
  flat?: string[];
  /** Dark-field files (averaged); the walnut layout's `di000000.tif` when absent. */
  dark?: string[];
  /** Keep every `every`-th view. @default 1 */
  every?: number;
  /** Bin detector pixels `bin × bin`. @default 1 */
  bin?: number;
}

/** Raw projections turned into line integrals, with the walnut folder's geometry rows when it had one. */
export interface ProjectionSet {
  /** `[rows][views][columns]` physical line integrals. */
  y: Float32Array;
  /** What the correction did. */
  correction: Correction;
  /** `cone_vec` rows of the views kept (binned), from the folder's `.geom` file; absent for other folders. */
  vectors?: number[][];
  /** The files read. */
  files: string[];
}

/**
 * Reads raw projections with their flat and dark fields. A walnut orbit folder (`scan_%06d.tif`,
 * `di000000.tif`, `io00000{0,1}.tif`, `scan_geom_corrected.geom`) is read as the data set's own scripts
 * read it: view `i` is `scan_{N−1−i}` with geometry row `i` (the last file repeats the first angle), every
 * image transposed and flipped (`walnutOrient`).
 */
export async function readProjectionSet(spec: ProjectionSetSpec): Promise<ProjectionSet> {
  const every = spec.every ?? 1, bin = spec.bin ?? 1;
  let isDir = false;
  try {
    isDir = (await Deno.stat(spec.path)).isDirectory;
  } catch {
    throw new UserError(`--projections ${spec.path} not found`);
  }
  let walnut = false;
  if (isDir) {
    try {
      walnut = (await Deno.stat(`${spec.path}/${WALNUT.geometry}`)).isFile;
    } catch { /* not the walnut layout */ }
  }
  const orient = walnut ? walnutOrient : (f: Frame) => f;
  const prep = (f: Frame) => binFrame(orient(f), bin);
  const flatPaths = spec.flat ?? (walnut ? WALNUT.flat.map((n) => `${spec.path}/${n}`) : undefined);
  const darkPaths = spec.dark ?? (walnut ? WALNUT.dark.map((n) => `${spec.path}/${n}`) : undefined);
  if (!flatPaths || !darkPaths) {
    throw new UserError(
      "raw projections need --flat and --dark (TIFF files, several averaged); line integrals go in with --sinogram instead",
    );
  }
  const flat = await averageFrames(flatPaths), dark = await averageFrames(darkPaths);
  checkFrames([flat, dark]);
  let vectors: number[][] | undefined;
  let views: { frame: Frame; name: string }[] = [];
  if (walnut) {
    const names = await tiffFiles(spec.path, (n) => !WALNUT.scan.test(n));
    const rows = parseGeomRows(await Deno.readTextFile(`${spec.path}/${WALNUT.geometry}`), WALNUT.geometry);
    const n = names.length - 1; // the last file repeats the first angle
    if (n < 1 || rows.length < n) {
      throw new UserError(
        `${spec.path}: ${names.length} scan files but ${rows.length} geometry rows: the walnut layout has one row per scan file`,
      );
    }
    const keep = Array.from({ length: Math.ceil(n / every) }, (_, k) => k * every);
    for (const i of keep) {
      const name = names[n - i];
      for (const frame of await readTiffFrames(name)) views.push({ frame, name });
    }
    vectors = keep.map((i) => rows[i]);
  } else {
    const files = isDir
      ? await tiffFiles(
        spec.path,
        (n) => [...flatPaths, ...darkPaths].some((p) => p.endsWith(`/${n}`) || p === n),
      )
      : [spec.path];
    for (const name of files) for (const frame of await readTiffFrames(name)) views.push({ frame, name });
    views = views.filter((_, i) => i % every === 0);
  }
  checkFrames([flat, ...views]);
  const flatFrame = orient(flat.frame);
  if (vectors) vectors = binVectors(vectors, flatFrame.width, flatFrame.height, bin);
  const { y, correction } = lineIntegrals(
    views.map((v) => prep(v.frame)),
    binFrame(flatFrame, bin),
    prep(dark.frame),
    { flatFrames: flat.count, darkFrames: dark.count },
  );
  return { y, correction, vectors, files: [...new Set(views.map((v) => v.name))] };
}
