/**
 * From a volume to a measurement: geometry from flags, `y = A x` on the GPU, optional transmission noise.
 * Shared by `simulate`, `reconstruct` and `evaluate` so they all see the same data for the same flags.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import { type Geometry, limitedAngle, sparseView } from "./geometry.ts";
import type { SliceShape } from "./operator.ts";
import { checkAngles, checkProblemSize, createProjector, type CtProjector } from "./system.ts";
import { memoryBudget } from "../memory.ts";
import { addPoissonNoise } from "./simulate.ts";
import { isCone } from "./cone_geometry.ts";

/** How to acquire. */
export interface AcquisitionOptions {
  /** Number of views. */
  views: number;
  /** Limited angle: views spread over [0, angleRange) degrees instead of [0, 180). */
  angleRange?: number;
  /** Incident photons per ray for Poisson noise; none when absent. */
  photons?: number;
  /** Noise seed. Default 0. */
  seed?: number;
  /**
   * μ_water (1/mm) × pixel size (mm): the physical line integral −ln(I/I₀) per unit of `y = A u`, which sets
   * how many photons a ray keeps. Default 0.0193 (1 mm pixels, water at 70 keV).
   */
  attenuationPerPixel?: number;
  /** A geometry to use instead of `views` / `angleRange` (a `--geometry` file, fan beam included). */
  geometry?: Geometry;
  /** Pixel size in mm (what a fan geometry without its own is applied with). Default 1. */
  pixelSize?: number;
  /**
   * Builds the operator to measure with and keeps it: the caller owns what it returns and reconstructs
   * with the same operator (`openProblem`). Default: a projector built here and released after measuring.
   */
  openOperator?: (geometry: Geometry, shape: SliceShape) => Promise<CtProjector>;
}

/** The geometry that `views` / `angleRange` describe, for slices `size` pixels wide. */
export function acquisitionGeometry(o: AcquisitionOptions, size: number): Geometry {
  return o.angleRange !== undefined && o.angleRange !== 180
    ? limitedAngle(o.angleRange, o.views, { imageSize: size })
    : sparseView(o.views, { imageSize: size });
}

/**
 * Simulates the measurement of a volume in attenuation units u (`y = A u`, line integrals in pixel lengths).
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { measure } from "./measure.ts";
 * const gpu = await GpuContext.create();
 * const { y, geometry } = await measure(gpu, new Float32Array(2 * 8 * 8), { Z: 2, H: 8, W: 8 }, { views: 4 });
 * console.log(y.length === 2 * 4 * geometry.detectorCount); // true
 * gpu.dispose();
 * ```
 */
export async function measure(
  gpu: GpuContext,
  unit: Float32Array,
  shape: SliceShape,
  o: AcquisitionOptions,
): Promise<{ y: Float32Array; geometry: Geometry }> {
  const size = Math.max(shape.H, shape.W);
  // refused before a geometry of a billion angles is built
  if (!o.geometry) checkProblemSize(o.views, Math.ceil(size * Math.SQRT2), shape, memoryBudget());
  const geometry = o.geometry ?? acquisitionGeometry(o, size);
  const rows = isCone(geometry) ? geometry.detectorRows : shape.Z;
  checkProblemSize(geometry.angles.length, geometry.detectorCount, { ...shape, Z: rows }, memoryBudget());
  if (!isCone(geometry)) checkAngles(geometry.angles);
  const A = o.openOperator
    ? await o.openOperator(geometry, shape)
    : await createProjector(gpu, geometry, shape, { pixelSize: o.pixelSize });
  try {
    let y = await A.project(unit);
    if (o.photons) {
      y = addPoissonNoise(y, { photons: o.photons, seed: o.seed ?? 0, attenuation: o.attenuationPerPixel });
    }
    return { y, geometry };
  } finally {
    if (!o.openOperator) A.dispose();
  }
}
