/**
 * `blendct/diffusion`: the prior (model cards, denoisers, `openPrior`), the schedule and partitions, and the
 * sampler's parts — triplet and coronal denoisers, data consistency, step kernels, the loop, checkpoints —
 * and DiffusionMBIR's predictor–corrector loop.
 * @module
 */
export * from "./schedule.ts";
export * from "./partition.ts";
export * from "./sampler.ts";
export { ddimUpdate, INIT_STREAM, initialNoise, noiseEstimate, tweedie, type VoxelLayout } from "./steps.ts";
export * from "./triplet_denoiser.ts";
export * from "./consistency.ts";
export { CoronalDenoiser } from "./coronal_denoiser.ts";
export type { VolumeDenoiser } from "./volume_denoiser.ts";
export { type MbirConfig, type MbirPredictor, mbirTimes, predictorStd, runMbir, veSigma } from "./mbir.ts";
export { decodeState, encodeState, saveState } from "./state.ts";
export {
  type LoadedModel,
  loadModel,
  type LoadModelOptions,
  loadParity,
  loadQuantized,
  type ModelCard,
  ModelCardSchema,
  modelMap,
  parityError,
  type ParityFixture,
  parseModelCard,
  type QuantizedModelInfo,
  resolveModelSource,
  seenCoronal,
  SHIPPED_MODEL,
  SLICE_MODEL,
} from "../prior/card.ts";
export {
  type Backend,
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendDecision,
  chooseBackend,
  choosePrecision,
  createDenoiser,
  type Denoiser,
  type DenoiserOptions,
  type ParityResult,
  type Precision,
  type PrecisionChoice,
  type PrecisionDecision,
  probeWebGpu,
  type TripletShape,
  verifyParity,
  type WebGpuReport,
} from "../prior/denoiser.ts";
export { openCoarsePrior, openPrior, type OpenPriorOptions, type Prior, priorFor } from "../prior/prior.ts";
export { type FillNormalOptions, Rng } from "../random.ts";
export {
  type Adapter,
  ADAPTER_KINDS,
  type AdapterKind,
  type AdapterState,
  TORCH_DEVICES,
  type TorchDevice,
} from "../prior/denoiser_torch.ts";
export { type AdaptConfig, adaptGroups, type AdaptReport, adaptStep, type DataGradient } from "./adapt.ts";
export { type Preset, type StartFrom, STARTS } from "../jobs/reconstruct.ts";
export type { SuperResolveOptions } from "../jobs/zsr.ts";
export type { CoarseStage, GenerateOptions } from "../jobs/generate.ts";
