/**
 * The CT system operator of a geometry: one constructor for every beam type, so tasks and solvers never
 * branch on the geometry themselves.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import { FanProjector } from "./fan.ts";
import type { Geometry } from "./geometry.ts";
import type { SliceShape } from "./operator.ts";
import { UserError } from "../errors.ts";
import { Projector } from "./projector.ts";
import { fanPixelSize, fanRays } from "./fan_ref.ts";
import { parallelRays } from "./projector_ref.ts";
import { pixelMajorMatrix, type ProjectorEngine, SparseEngine, wantsSparse } from "./sparse.ts";

/** A projector of any geometry: a {@linkcode LinearOperator} with host conveniences and FBP's back-projection. */
export type CtProjector = Projector | FanProjector;

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
    /** Where forward and adjoint run. @default "auto" */
    engine?: ProjectorEngine;
  } = {},
): Promise<CtProjector> {
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
export function checkGeometry(geometry: Geometry, shape: SliceShape, pixelSize = 1): string | null {
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
