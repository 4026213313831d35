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
export * from "./operator.ts";
export { Projector, slabSlices } from "./projector.ts";
export { adjointRef, backprojectRef, forwardRef, parallelRays, trigTable } from "./projector_ref.ts";
export {
  entriesBound,
  isSoftwareAdapter,
  type PixelMajorKernels,
  type PixelMajorMatrix,
  pixelMajorMatrix,
  type ProjectorEngine,
  type RayVisitor,
  SPARSE_AUTO_BYTES,
  SPARSE_MAX_BYTES,
  sparseBytes,
  SparseEngine,
  wantsSparse,
} from "./sparse.ts";
export * from "./fan.ts";
export * from "./fan_ref.ts";
export * from "./system.ts";
export * from "./astra.ts";
export * from "./subsample.ts";
export * from "./fbp.ts";
export * from "./measure.ts";
export * from "./simulate.ts";
export * from "./phantom.ts";
