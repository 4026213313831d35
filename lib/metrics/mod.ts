/**
 * `blendct/metrics`: PSNR and SSIM per plane, total variation and z-consistency, over a stated data range.
 * @module
 */
export {
  computeMetrics,
  type ComputeMetricsOptions,
  type MethodMetrics,
  methodMetrics,
  type Metrics,
  type PerPlane,
  type Plane,
  type SsimOptions,
  type TotalVariation,
  toUnitRange,
} from "./index.ts";
export { psnrPerPlane, type PsnrPerPlaneOptions } from "./psnr.ts";
export { ssimPerPlane, type SsimPerPlaneOptions } from "./ssim.ts";
export {
  axisVariation,
  type AxisVariationOptions,
  axisVariationSum,
  totalVariation,
  type TotalVariationOptions,
} from "./tv.ts";
export type { MidPlanesPngOptions, PngColumn } from "../report/png.ts";
