/**
 * The CT system operator of a geometry: one constructor for every beam type, so tasks and solvers never
 * branch on the geometry themselves.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import { FanProjector } from "./fan.ts";
import { ConeProjector } from "./cone.ts";
import { isCone } from "./cone_geometry.ts";
import { checkConeGeometry } from "./cone_plan.ts";
import type { Geometry } from "./geometry.ts";
import type { SliceShape } from "./operator.ts";
import { UserError } from "../errors.ts";
import { Projector } from "./projector.ts";
import { fanPixelSize, fanRays } from "./fan_ref.ts";
import { parallelRays } from "./projector_ref.ts";
import { pixelMajorMatrix, type ProjectorEngine, SparseEngine, wantsSparse } from "./sparse.ts";

/**
 * A projector of any geometry: a {@linkcode LinearOperator} with host conveniences (and, slice by slice,
 * FBP's back-projection).
 */
export type CtProjector = Projector | FanProjector | ConeProjector;

/**
 * The projector of `geometry` for `[Z][H][W]` slices; `pixelSize` (mm) is what a fan geometry without its
 * own `pixelSize` is applied with (default 1). `engine` (default `auto`) chooses where forward and adjoint
 * run: on a software WebGPU adapter `auto` takes the sparse CPU engine (`sparse.ts`), which is many times
 * faster there, whenever it fits in memory.
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { fanBeam, sparseView } from "./geometry.ts";
 * import { createProjector } from "./system.ts";
 * const gpu = await GpuContext.create();
 * const P = await createProjector(gpu, sparseView(4, { imageSize: 8 }), { Z: 1, H: 8, W: 8 });
 * const F = await createProjector(gpu, fanBeam(4, { imageSize: 8 }), { Z: 1, H: 8, W: 8 });
 * console.log(P.rangeShape, F.rangeShape); // [ 1, 4, 12 ] [ 1, 4, 12 ]
 * gpu.dispose();
 * ```
 */
export async function createProjector(
  gpu: GpuContext,
  geometry: Geometry,
  shape: SliceShape,
  options: {
    pixelSize?: number;
    /** Voxel size `[dz, dy, dx]` in mm, what a cone geometry without its own `voxelSize` uses. @default [1, 1, 1] */
    spacing?: [number, number, number];
    /** Where forward and adjoint run (slice geometries; cone beam runs on the CPU). @default "auto" */
    engine?: ProjectorEngine;
  } = {},
): Promise<CtProjector> {
  if (isCone(geometry)) {
    const px = options.pixelSize ?? 1;
    return await ConeProjector.create(gpu, geometry, shape, options.spacing ?? [px, px, px], {
      engine: options.engine,
    });
  }
  const A = geometry.angles.length, D = geometry.detectorCount, { H, W } = shape;
  const rays = geometry.type === "fanflat"
    ? fanRays(geometry, H, W, fanPixelSize(geometry, options.pixelSize))
    : parallelRays(geometry, H, W);
  const sparse = wantsSparse(options.engine ?? "auto", gpu.adapter, A, D, shape)
    ? await SparseEngine.create(pixelMajorMatrix(rays, A, D, H * W), shape.Z)
    : undefined;
  if (geometry.type === "fanflat") {
    return FanProjector.create(gpu, geometry, shape, options.pixelSize, { sparse });
  }
  return await Projector.create(gpu, geometry, shape, { sparse });
}

/** The most views and detector bins blendct accepts, whatever the memory (no scanner comes near them). */
export const MAX_VIEWS = 100_000;
/** See {@linkcode MAX_VIEWS}. */
export const MAX_BINS = 100_000;

/**
 * Refuses, before anything is allocated, a problem that cannot fit: more than {@linkcode MAX_VIEWS} views or
 * {@linkcode MAX_BINS} bins, or a sinogram stack larger than `budget` bytes (a quarter of it, since a run
 * holds several range-sized arrays); and a geometry whose views all share one angle (they see one
 * projection: the volume would come back blank). Each refusal names the fix.
 *
 * @example
 * ```ts
 * import { checkProblemSize } from "./system.ts";
 * try { checkProblemSize(1e9, 363, { Z: 36, H: 256, W: 256 }); } catch (e) { console.log((e as Error).message.slice(0, 21)); } // --views 1000000000: a
 * ```
 */
export function checkProblemSize(views: number, bins: number, shape: SliceShape, budget = 4 * 2 ** 30): void {
  if (!(views >= 1) || views > MAX_VIEWS) {
    throw new UserError(
      `--views ${views}: at most ${MAX_VIEWS} views are accepted (few-view CT uses 4 to 180)`,
    );
  }
  if (!(bins >= 1) || bins > MAX_BINS) {
    throw new UserError(
      `the geometry has ${bins} detector bins: at most ${MAX_BINS} are accepted; check detectorCount`,
    );
  }
  const bytes = shape.Z * views * bins * 4;
  if (4 * bytes > budget) {
    throw new UserError(
      `${shape.Z} slices x ${views} views x ${bins} bins need ${
        (bytes / 2 ** 30).toFixed(1)
      } GiB per sinogram, too much for this machine's memory (${
        (budget / 2 ** 30).toFixed(1)
      } GiB budget): use fewer views, bins or slices (--slices A:B)`,
    );
  }
}

/** Refuses a geometry whose views all share one angle (modulo a full turn). */
export function checkAngles(angles: readonly number[]): void {
  if (angles.length < 2) return;
  const norm = (a: number) => ((a % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
  const first = norm(angles[0]);
  if (
    angles.every((a) =>
      Math.abs(norm(a) - first) < 1e-9 || Math.abs(Math.abs(norm(a) - first) - 2 * Math.PI) < 1e-9
    )
  ) {
    throw new UserError(
      `the geometry's ${angles.length} views all have the same angle (${
        (angles[0] * 180 / Math.PI).toFixed(3)
      }°): a CT scan needs views at different angles; check its angles`,
    );
  }
}

/**
 * Checks a geometry against the slices it will see: a fan whose source sits inside the slice's circle is
 * refused (one line, {@linkcode UserError}); a detector that misses part of the slice gives a warning that
 * names the fraction of pixels outside every ray; `null` when all is well.
 *
 * @example
 * ```ts
 * import { sparseView } from "./geometry.ts";
 * import { checkGeometry } from "./system.ts";
 * console.log(checkGeometry(sparseView(8, { imageSize: 64 }), { Z: 1, H: 64, W: 64 })); // null
 * console.log(checkGeometry(sparseView(8, { imageSize: 64, detectorCount: 40 }), { Z: 1, H: 64, W: 64 }));
 * // warning: the detector does not cover the slice: 69.1% of its pixels lie outside every view (…)
 * ```
 */
export function checkGeometry(
  geometry: Geometry,
  shape: SliceShape,
  pixelSize = 1,
  spacing: [number, number, number] = [pixelSize, pixelSize, pixelSize],
): string | null {
  if (isCone(geometry)) {
    checkProblemSize(geometry.angles.length, geometry.detectorCount, { ...shape, Z: geometry.detectorRows });
    return checkConeGeometry(geometry, shape, spacing);
  }
  checkProblemSize(geometry.angles.length, geometry.detectorCount, shape);
  checkAngles(geometry.angles);
  const { H, W } = shape;
  const radius = Math.hypot(H, W) / 2; // pixels
  let covered: number;
  if (geometry.type === "fanflat") {
    const px = geometry.pixelSize ?? pixelSize;
    const dso = geometry.sourceOrigin / px, dod = geometry.originDetector / px;
    if (dso <= radius) {
      throw new UserError(
        `fan geometry: the source (${geometry.sourceOrigin} mm from the axis) sits inside the slice's circle of radius ${
          (radius * px).toFixed(1)
        } mm: sourceOrigin (DSO) must exceed it`,
      );
    }
    const dw = geometry.detectorSpacing / px, off = geometry.detectorOffset / px;
    const half = (geometry.detectorCount * dw) / 2;
    // the narrower side of the fan sets the circle every view sees: r = DSO sin(atan(s / (DSO + DOD)))
    const side = Math.min(half - off, half + off);
    covered = side <= 0 ? 0 : dso * Math.sin(Math.atan(side / (dso + dod)));
  } else {
    covered = (geometry.detectorCount * geometry.detectorSpacing) / 2;
  }
  if (covered >= radius) return null;
  let outside = 0;
  for (let j = 0; j < H; j++) {
    for (let i = 0; i < W; i++) {
      if (Math.hypot(i - (W - 1) / 2, j - (H - 1) / 2) > covered) outside++;
    }
  }
  if (outside === 0) return null;
  return `warning: the detector does not cover the slice: ${
    (100 * outside / (H * W)).toFixed(1)
  }% of its pixels lie outside every view (widen the detector or add bins)`;
}
