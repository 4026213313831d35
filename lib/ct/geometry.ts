/**
 * CT acquisition geometry. Parallel beam, applied slice by slice along z, is what blendct implements; the
 * `type` tag is there so fan beam can be added without changing the operator interface.
 * @module
 */
import { z } from "../deps.ts";
import { UserError } from "../errors.ts";
import type { Schema } from "../schema.ts";

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

/** Any geometry blendct can project. */
export type Geometry = ParallelGeometry;

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
