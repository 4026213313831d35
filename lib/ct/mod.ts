/**
 * `blendct/ct`: geometries (parallel, fan and cone beam, ASTRA dictionaries, TIGRE's geometry), the operator
 * seam and its operators (projectors on the WGSL kernels or the sparse CPU engine, the cone projector, slice
 * subsampling, composition), FBP and FDK, simulation and phantoms.
 * @module
 */
export {
  angularStep,
  defaultDetectorCount,
  fanBeam,
  type FanGeometry,
  type FanOptions,
  type Geometry,
  GeometrySchema,
  limitedAngle,
  type ParallelGeometry,
  ParallelGeometrySchema,
  type PresetOptions,
  type SliceGeometry,
  sparseView,
} from "./geometry.ts";
export {
  type AnyCone,
  type ConeGeometry,
  type ConeVecGeometry,
  coneVectors,
  fromTigre,
  isCone,
  toConeVec,
  type VolumePlacement,
} from "./cone_geometry.ts";
export { type ConeOptions, ConeProjector } from "./cone.ts";
export { checkConeGeometry, type ConePlan, defaultConeGrid } from "./cone_plan.ts";
export { fdk } from "./fdk.ts";
export { adjointMismatch, Compose, type LinearOperator, type SliceShape, ZeroOperator } from "./operator.ts";
export { Projector, slabSlices } from "./projector.ts";
export type { ProjectorEngine } from "./sparse.ts";
export * from "./fan.ts";
export * from "./system.ts";
export * from "./astra.ts";
export { keptSlices, SliceSubsample } from "./subsample.ts";
export {
  fbp,
  FBP_FILTERS,
  type FbpFilter,
  fbpOnGpu,
  type FbpOptions,
  filterSinogram,
  filterTaps,
} from "./fbp.ts";
export * from "./measure.ts";
export * from "./simulate.ts";
export * from "./phantom.ts";
