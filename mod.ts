/**
 * blendct: sparse-view and limited-angle 3D CT reconstruction with a learned 3-slice diffusion prior
 * (DiffusionBlend++), on WebGPU, in Deno.
 *
 * The API follows the seams of deepinv and diffusers: physics operators (`Projector`, geometries, FBP),
 * solvers (`NormalCg`, `cgls`, `tvPdhg`), the denoiser (`createDenoiser`, model cards), the sampler
 * (`runSampler`, partitions, schedules), and the task-level `reconstruct` that runs any method on the same
 * data. Everything is importable by URL: no import map is needed. This module holds what a script needs
 * (about sixty names); the subpath modules (`blendct/ct`, `/solve`, `/diffusion`, `/io`, `/metrics`) hold
 * the rest of the toolkit.
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

export { makeVolume, type Volume } from "./lib/volume.ts";
export { UserError } from "./lib/errors.ts";
export { VERSION } from "./lib/version.ts";

// the device every operator and solver runs on
export { GpuContext } from "./lib/gpu/context.ts";

// physics: geometries, operators, simulated data, FBP
export { fanBeam, type Geometry, limitedAngle, sparseView } from "./lib/ct/geometry.ts";
export { fromAstra } from "./lib/ct/astra.ts";
export { adjointMismatch, type LinearOperator, type SliceShape } from "./lib/ct/operator.ts";
export { Projector } from "./lib/ct/projector.ts";
export { createProjector } from "./lib/ct/system.ts";
export { SliceSubsample } from "./lib/ct/subsample.ts";
export { fbp } from "./lib/ct/fbp.ts";
export { measure } from "./lib/ct/measure.ts";
export { addPoissonNoise } from "./lib/ct/simulate.ts";
export { anatomicalPhantom, sheppLogan3d } from "./lib/ct/phantom.ts";

// solvers
export { cgls } from "./lib/solve/cgls.ts";
export { tvPdhg } from "./lib/solve/tv.ts";

// the prior and the sampler
export type { EpsModel } from "./lib/prior/eps_model.ts";
export { type ProgressEvent, runSampler, type SamplerConfig } from "./lib/diffusion/sampler.ts";
export { loadModel, type ModelCard } from "./lib/prior/card.ts";
export { createDenoiser, type Denoiser } from "./lib/prior/denoiser.ts";
export { openPrior, type Prior } from "./lib/prior/prior.ts";
export type { AdaptConfig } from "./lib/diffusion/adapt.ts";

// every method of the paper's table, one resolver for their names
export { METHOD_DEFAULTS } from "./lib/defaults.ts";
export {
  type Method,
  type MethodConfig,
  METHODS,
  PRESETS,
  reconstruct,
  type ReconstructOptions,
  reconstructWith,
  resolveMethod,
} from "./lib/jobs/reconstruct.ts";
export { superResolve } from "./lib/jobs/zsr.ts";
export { generateVolume } from "./lib/jobs/generate.ts";

// units, files, data
export { fromU, toU, type UnitMap } from "./lib/units.ts";
export { openProblem, type Problem } from "./lib/jobs/problem.ts";
export { readDicomSeries } from "./lib/io/dicom.ts";
export { loadSample } from "./lib/io/samples.ts";
export { readVolumeFile, writeVolumeFile } from "./lib/io/files.ts";
export { readSinogram, writeSinogram } from "./lib/io/sinogram.ts";

// metrics and pictures
export { computeMetrics, type Metrics } from "./lib/metrics/index.ts";
export { midPlanesPng } from "./lib/report/png.ts";
