/**
 * `blendct/solve`: solvers that take any `LinearOperator` — CG on the normal equations (with the z-TV term),
 * CGLS, 3D TV by PDHG with non-negativity — and the z-difference operator.
 * @module
 */
export { NormalCg } from "./cg.ts";
export { addLapZHost, normalCgHost, normalCgPixelMajor } from "./cg_host.ts";
export {
  type HostTvOptions,
  type PixelMajorSteps,
  pixelMajorSteps,
  tvPdhgHost,
  tvPdhgPixelMajor,
  tvStepsHost,
} from "./tv_host.ts";
export { grid, VectorOps } from "../gpu/vector.ts";
export { cgls, type CglsOptions } from "./cgls.ts";
export * from "./tv.ts";
export { dzRef, dztRef, ZDiff } from "./zdiff.ts";
