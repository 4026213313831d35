/**
 * CT acquisition geometries: parallel beam (blendct's own convention, in pixel units) and fan beam with a
 * flat detector (ASTRA's `fanflat` convention, in mm), applied slice by slice along z; cone beam over the
 * whole volume lives in `cone_geometry.ts` and joins them in {@linkcode Geometry}.
 * @module
 */
import { z } from "../deps.ts";
import { UserError } from "../errors.ts";
import type { Schema } from "../schema.ts";
import {
  type ConeGeometry,
  coneGeometryZod,
  type ConeVecGeometry,
  coneVecObjectZod,
  withAngles,
} from "./cone_geometry.ts";

/** Parallel-beam geometry: rays perpendicular to `(cos θ, sin θ)`, detector coordinate `s = x cos θ + y sin θ`. */
export interface ParallelGeometry {
  /** The beam type; parallel is the only one blendct implements. */
  type: "parallel";
  /** Projection angles in radians. */
  angles: number[];
  /** Number of detector bins. */
  detectorCount: number;
  /** Bin width in pixel units (1 when a geometry file leaves it out). */
  detectorSpacing: number;
}

/**
 * The zod object behind {@linkcode ParallelGeometrySchema}, for embedding in other schemas (the sinogram
 * sidecar's). Not re-exported by `mod.ts`, which keeps zod's types out of the public API.
 */
export const parallelGeometryZod = z.object({
  type: z.literal("parallel"),
  angles: z.array(z.number().finite()).min(1, "a geometry needs at least one angle"),
  detectorCount: z.number().int().min(1),
  detectorSpacing: z.number().positive().default(1),
});

/** Schema of a parallel-beam geometry (what `--geometry file.json` holds); fills in `detectorSpacing` 1. */
export const ParallelGeometrySchema: Schema<ParallelGeometry> = parallelGeometryZod;

/**
 * Fan beam with a flat detector, in ASTRA's `fanflat` convention: for angle θ the source sits at
 * `(DSO sin θ, −DSO cos θ)` and the detector's centre at `(−DOD sin θ, DOD cos θ)`, its bins running along
 * `(cos θ, sin θ)`; x to the right, y up, image row 0 at the top. Lengths in mm; the image grid's pixel size
 * comes from `pixelSize` or, when that is absent, from the volume.
 */
export interface FanGeometry {
  /** The beam type. */
  type: "fanflat";
  /** Projection angles in radians. */
  angles: number[];
  /** Number of detector bins. */
  detectorCount: number;
  /** Bin width in mm at the detector. */
  detectorSpacing: number;
  /** Distance from the source to the rotation axis (mm). */
  sourceOrigin: number;
  /** Distance from the rotation axis to the detector (mm), ≥ 0. */
  originDetector: number;
  /** Shift of the detector along its bins (mm): the ray through the axis meets bin `(D−1)/2 − offset/width`. Default 0. */
  detectorOffset: number;
  /** Pixel size of the image grid in mm. Default: the volume's in-plane spacing. */
  pixelSize?: number;
}

/** The zod object of a fan-beam geometry (lengths in mm). */
export const fanGeometryZod = z.object({
  type: z.literal("fanflat"),
  angles: z.array(z.number().finite()).min(1, "a geometry needs at least one angle"),
  detectorCount: z.number().int().min(1),
  detectorSpacing: z.number().positive(),
  sourceOrigin: z.number().positive(),
  originDetector: z.number().min(0, "must be >= 0 mm (the detector cannot sit between source and axis)"),
  detectorOffset: z.number().finite().default(0),
  pixelSize: z.number().positive().optional(),
});

/**
 * The zod object of any geometry (`type` picks the schema); a `cone_vec` comes out with its derived angles
 * (and a degenerate row refused).
 */
export const geometryZod = z.discriminatedUnion("type", [
  parallelGeometryZod,
  fanGeometryZod,
  coneGeometryZod,
  coneVecObjectZod,
]).transform((g, ctx) => {
  if (g.type !== "cone_vec") return g;
  try {
    return withAngles(g.vectors, g.detectorRows, g.detectorCount, g);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message, path: ["vectors"] });
    return z.NEVER;
  }
});

/** Schema of any geometry blendct projects. */
export const GeometrySchema: Schema<Geometry> = geometryZod as unknown as Schema<Geometry>;

/** Any geometry blendct can project: parallel and fan beam slice by slice, cone beam over the volume. */
export type Geometry = ParallelGeometry | FanGeometry | ConeGeometry | ConeVecGeometry;

/** The geometries applied slice by slice. */
export type SliceGeometry = ParallelGeometry | FanGeometry;

/** Options of {@linkcode fanBeam}. */
export interface FanOptions {
  /** Distance source–axis in mm. Default 500. */
  sourceOrigin?: number;
  /** Distance axis–detector in mm. Default 500. */
  originDetector?: number;
  /** Bins. Default: enough to see a slice of `imageSize` pixels of `pixelSize` mm at any angle. */
  detectorCount?: number;
  /** Bin width in mm. Default: the pixel size times the magnification. */
  detectorSpacing?: number;
  /** Image width in pixels. Default 256. */
  imageSize?: number;
  /** Pixel size in mm. Default 1. */
  pixelSize?: number;
  /** Angular range in degrees. Default 360 (a full scan). */
  degrees?: number;
}

/**
 * `n` fan-beam views evenly over `degrees` (default a full turn).
 *
 * @example
 * ```ts
 * import { fanBeam } from "./geometry.ts";
 * const g = fanBeam(360, { imageSize: 64 });
 * console.log(g.type, g.angles.length, g.detectorCount); // fanflat 360 91
 * ```
 */
export function fanBeam(n: number, o: FanOptions = {}): FanGeometry {
  if (!Number.isInteger(n) || n < 1) throw new UserError(`views must be a whole number >= 1 (got ${n})`);
  const size = o.imageSize ?? 256, px = o.pixelSize ?? 1;
  const dso = o.sourceOrigin ?? 500, dod = o.originDetector ?? 500;
  const mag = (dso + dod) / dso;
  const dw = o.detectorSpacing ?? px * mag;
  // the fan must hold the slice's circumscribed circle: its half-width on the detector is R·(DSO+DOD)/√(DSO²−R²)
  const R = (size * px * Math.SQRT2) / 2;
  const half = (R * (dso + dod)) / Math.sqrt(Math.max(1e-9, dso * dso - R * R));
  const step = ((o.degrees ?? 360) * Math.PI) / 180 / n;
  return {
    type: "fanflat",
    angles: Array.from({ length: n }, (_, i) => i * step),
    detectorCount: o.detectorCount ?? Math.ceil((2 * half) / dw + 1e-9),
    detectorSpacing: dw,
    sourceOrigin: dso,
    originDetector: dod,
    detectorOffset: 0,
    pixelSize: px,
  };
}

/** Options shared by the presets. */
export interface PresetOptions {
  /** Width (and height) of the slices in pixels; sets the default detector count. Default 256. */
  imageSize?: number;
  /** Detector bins. Default `ceil(imageSize * sqrt(2))`, enough to see the whole slice at any angle. */
  detectorCount?: number;
  /** Bin width in pixels. Default 1. */
  detectorSpacing?: number;
}

/** The detector count that covers the diagonal of an `n`-pixel slice. */
export function defaultDetectorCount(n: number): number {
  return Math.ceil(n * Math.SQRT2 - 1e-9);
}

function finish(angles: number[], o: PresetOptions): ParallelGeometry {
  const size = o.imageSize ?? 256;
  return {
    type: "parallel",
    angles,
    detectorCount: o.detectorCount ?? defaultDetectorCount(size),
    detectorSpacing: o.detectorSpacing ?? 1,
  };
}

/**
 * `n` views evenly over [0, π) — METHOD.md's sparse-view setting.
 *
 * @example
 * ```ts
 * import { sparseView } from "./geometry.ts";
 * const g = sparseView(8, { imageSize: 256 });
 * console.log(g.angles.length, g.detectorCount); // 8 363
 * ```
 */
export function sparseView(n: number, options: PresetOptions = {}): ParallelGeometry {
  if (!Number.isInteger(n) || n < 1) throw new UserError(`views must be a whole number >= 1 (got ${n})`);
  return finish(Array.from({ length: n }, (_, i) => (Math.PI * i) / n), options);
}

/**
 * `n` views in equal steps over [0, degrees): the default `n = degrees` gives METHOD.md's 1° steps
 * (90 views over 0..89° for a 90° range).
 *
 * @example
 * ```ts
 * import { limitedAngle } from "./geometry.ts";
 * const g = limitedAngle(90);
 * console.log(g.angles.length); // 90
 * ```
 */
export function limitedAngle(degrees: number, n?: number, options: PresetOptions = {}): ParallelGeometry {
  if (!(degrees > 0 && degrees <= 360)) {
    throw new UserError(`angle range must be in (0, 360] degrees (got ${degrees})`);
  }
  const count = n ?? Math.max(1, Math.round(degrees));
  if (!Number.isInteger(count) || count < 1) {
    throw new UserError(`views must be a whole number >= 1 (got ${n})`);
  }
  const step = (degrees * Math.PI) / 180 / count;
  return finish(Array.from({ length: count }, (_, i) => i * step), options);
}

/**
 * Angular weight of each view for filtered back-projection: the typical gap between neighbouring angles
 * (π/n for n views over [0, π), 1° for 1° steps).
 */
export function angularStep(g: Geometry): number {
  const a = [...g.angles].sort((x, y) => x - y);
  if (a.length === 1) return Math.PI;
  const gaps = a.slice(1).map((v, i) => v - a[i]).sort((x, y) => x - y);
  const median = gaps[Math.floor(gaps.length / 2)];
  // evenly spread over a half turn: each view stands for π/n, including the wrap-around gap
  const span = a[a.length - 1] - a[0] + median;
  return Math.abs(span - Math.PI) < 1e-6 ? Math.PI / a.length : median;
}
