/**
 * `blendct/ct`: geometries (parallel, fan beam, ASTRA dictionaries), the operator seam and its operators
 * (projectors on the WGSL kernels or the sparse CPU engine, slice subsampling, composition), FBP,
 * simulation, phantoms, and the TypeScript references the kernels are tested against.
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
  sparseView,
} from "./geometry.ts";
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
