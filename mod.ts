/**
 * blendct: sparse-view and limited-angle 3D CT reconstruction with a learned 3-slice diffusion prior
 * (DiffusionBlend++), on WebGPU, in Deno.
 *
 * The API follows the seams of deepinv and diffusers: physics operators (`Projector`, geometries, FBP),
 * solvers (`NormalCg`, `cgls`, `tvPdhg`), the denoiser (`createDenoiser`, model cards), the sampler
 * (`runSampler`, partitions, schedules), and the task-level `reconstruct` that runs any method on the same
 * data. Everything is importable by URL: no import map is needed.
 *
 * @example
 * ```ts
 * import { GpuContext, makeVolume, measure, reconstruct, sheppLogan3d, computeMetrics } from "./mod.ts";
 * const gpu = await GpuContext.create();
 * const truth = sheppLogan3d([4, 32, 32]);
 * const shape = { Z: 4, H: 32, W: 32 };
 * const { y, geometry } = await measure(gpu, truth.data, shape, { views: 16 });
 * const x = await reconstruct(y, geometry, shape, { method: "cgls", iterations: 10 }, { gpu });
 * const m = computeMetrics(makeVolume(x, [4, 32, 32]), truth);
 * console.log(m.psnr.axial > 15); // true
 * gpu.dispose();
 * ```
 * @module
 */

export { makeVolume, type MakeVolumeOptions, type Volume } from "./lib/volume.ts";
export { UserError } from "./lib/errors.ts";
export type { SafeParseResult, Schema, SchemaIssue } from "./lib/schema.ts";
export { VERSION } from "./lib/version.ts";

// GPU
export { type AdapterSummary, type Binding, GpuContext, type GpuContextOptions } from "./lib/gpu/context.ts";

// physics (more in blendct/ct: references, fan-beam weights, slab helpers)
export {
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
} from "./lib/ct/geometry.ts";
export {
  adjointMismatch,
  Compose,
  type LinearOperator,
  type SliceShape,
  ZeroOperator,
} from "./lib/ct/operator.ts";
export { Projector } from "./lib/ct/projector.ts";
export { type FanFbpWeights, FanProjector } from "./lib/ct/fan.ts";
export { checkGeometry, createProjector, type CtProjector } from "./lib/ct/system.ts";
export { type ProjectorEngine } from "./lib/ct/sparse.ts";
export { type AstraGeometry, fromAstra } from "./lib/ct/astra.ts";
export { SliceSubsample } from "./lib/ct/subsample.ts";
export { fbp, FBP_FILTERS, type FbpFilter, type FbpOptions } from "./lib/ct/fbp.ts";
export { acquisitionGeometry, type AcquisitionOptions, measure } from "./lib/ct/measure.ts";
export { addPoissonNoise, type NoiseOptions } from "./lib/ct/simulate.ts";
export {
  anatomicalPhantom,
  type AnatomicalPhantomOptions,
  type Anatomy,
  sheppLogan3d,
  type SheppLoganOptions,
} from "./lib/ct/phantom.ts";

// solvers (more in blendct/solve)
export { defaultsTable, METHOD_DEFAULTS } from "./lib/defaults.ts";
export { cgls, type CglsOptions } from "./lib/solve/cgls.ts";
export { type TvOptions, tvPdhg } from "./lib/solve/tv.ts";

// the prior and the sampler (more in blendct/diffusion)
export { DEFAULT_SCHEDULE, type LinearSchedule } from "./lib/diffusion/schedule.ts";
export type { BlendMode, Partition } from "./lib/diffusion/partition.ts";
export {
  type EpsModel,
  type ProgressEvent,
  type RunOptions,
  runSampler,
  type SamplerConfig,
  type SamplerInputs,
  type SamplerState,
  type StepTimings,
} from "./lib/diffusion/sampler.ts";
export {
  type LoadedModel,
  loadModel,
  type LoadModelOptions,
  type ModelCard,
  ModelCardSchema,
  type QuantizedModelInfo,
} from "./lib/diffusion/card.ts";
export {
  type Backend,
  type BackendChoice,
  createDenoiser,
  type Denoiser,
  type DenoiserOptions,
  type Precision,
  type PrecisionChoice,
  type TripletShape,
} from "./lib/diffusion/denoiser.ts";
export { openPrior, type OpenPriorOptions, type Prior } from "./lib/diffusion/prior.ts";

// tasks as functions
export {
  isDiffusion,
  type Method,
  type MethodConfig,
  METHODS,
  reconstruct,
  type ReconstructOptions,
  reconstructWith,
  type StartFrom,
  STARTS,
} from "./lib/reconstruct.ts";
export { applyFbpunet, availableFbpunet, FBPUNET_SETTINGS, type FbpunetCard } from "./lib/fbpunet.ts";
export { interpolateSlices, superResolve, type SuperResolveOptions, thinGrid } from "./lib/zsr.ts";
export {
  type CoarseStage,
  extendAlongZ,
  type ExtendOptions,
  type GenerateOptions,
  generateVolume,
  upsampleSlices,
} from "./lib/generate.ts";
export {
  DEFAULT_MU_WATER,
  defaultMetricRange,
  DISPLAY_PRESETS,
  displayWindow,
  fromU,
  inferUnit,
  toU,
  type Unit,
  type UnitGuess,
  type UnitMap,
} from "./lib/units.ts";
export { cropSlices, DEFAULT_CASE, resampleSlices } from "./lib/cases.ts";
export { type Case, type CaseSpec, loadCase } from "./lib/case.ts";

// data (more in blendct/io)
export { type DicomFile, type ReadDicomOptions, readDicomSeries } from "./lib/io/dicom.ts";
export {
  loadSample,
  type LoadSampleOptions,
  type SampleInfo,
  type SampleName,
  SAMPLES,
} from "./lib/io/samples.ts";
export {
  readVolumeFile,
  type ReadVolumeFileOptions,
  writeFileAtomic,
  type WriteFileOptions,
  writeJsonAtomic,
  writeVolumeFile,
  type WriteVolumeFileOptions,
} from "./lib/io/files.ts";
export { readSinogram, type SinogramMeta, writeSinogram } from "./lib/io/sinogram.ts";

// metrics and pictures (more in blendct/metrics)
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
} from "./lib/metrics/index.ts";
export { midPlanesPng, type MidPlanesPngOptions, type PngColumn } from "./lib/report/png.ts";
export { displayOriented } from "./lib/report/orient.ts";
