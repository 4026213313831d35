/**
 * One run's test-time adaptation as the sampler sees it: the adapters reset at the start and cleared at
 * the end, the data term's gradient from the run's own operator, the volume estimate that fills the
 * slices outside the adapted triplets, and what a resumable state carries. The Adam steps themselves are
 * `adapt.ts`'s.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import type { LinearOperator } from "../ct/operator.ts";
import type { EpsModel } from "../prior/eps_model.ts";
import type { Adapter, AdapterState } from "../prior/denoiser_torch.ts";
import { UserError } from "../errors.ts";
import { DataTerm } from "../solve/data_term.ts";
import { type AdaptConfig, adaptStep } from "./adapt.ts";
import type { Partition } from "./partition.ts";

/** What a state of an adapted run carries beyond the sampler's own variables. */
export interface AdaptationState {
  /** The estimate of the volume (u) that fills the slices outside the adapted triplets. */
  estimate: Float32Array;
  /** The adapters and their optimiser, as the back end saved them. */
  adapter: AdapterState;
}

/** The per-step settings the adaptation needs from the sampler. */
export interface AdaptationContext {
  /** The model's map from u to its input. */
  map: [number, number];
  /** Seed of the run. */
  seed: number;
  /** Clamp Tweedie's estimate at 0. */
  nonNegative: boolean;
}

/**
 * The adaptation of one sampler run. Open it once per run; {@linkcode Adaptation.dispose} leaves the
 * model as it came.
 *
 * @example
 * ```ts ignore
 * const adaptation = await Adaptation.open(gpu, A, y, model, config.adapt, { map, seed, nonNegative }, init);
 * const report = await adaptation.step(x, part, t, abar[t], i);
 * ```
 */
export class Adaptation {
  #gpu: GpuContext;
  #A: LinearOperator;
  #adapter: Adapter;
  #config: AdaptConfig;
  #context: AdaptationContext;
  #data: DataTerm;
  #estimate: Float32Array;
  /** The adapters' parameter count. */
  readonly parameters: number;

  private constructor(
    gpu: GpuContext,
    A: LinearOperator,
    adapter: Adapter,
    config: AdaptConfig,
    context: AdaptationContext,
    y: Float32Array,
    estimate: Float32Array,
    parameters: number,
  ) {
    this.#gpu = gpu;
    this.#A = A;
    this.#adapter = adapter;
    this.#config = config;
    this.#context = context;
    this.#data = new DataTerm(gpu, A, y);
    this.#estimate = estimate;
    this.parameters = parameters;
  }

  /**
   * Fresh adapters on `model` for a run on `A` with data `y`; `init` (u) is the first estimate when the run
   * starts from one, else zeros.
   */
  static async open(
    gpu: GpuContext,
    A: LinearOperator,
    y: GPUBuffer,
    model: EpsModel,
    config: AdaptConfig,
    context: AdaptationContext,
    init?: Float32Array,
  ): Promise<Adaptation> {
    if (!model.adapter) throw new UserError("--adapt needs a back end with gradients: --backend torch");
    const yHost = await gpu.download(y, A.rangeSize);
    const parameters = await model.adapter.reset({
      kind: config.layers,
      rank: config.rank,
      lr: config.lr,
      seed: context.seed,
    });
    const estimate = init ?? new Float32Array(A.domainSize);
    return new Adaptation(gpu, A, model.adapter, config, context, yHost, estimate, parameters);
  }

  /** Continues from a saved state; a state saved without adaptation is refused. */
  async restore(state: Partial<AdaptationState>): Promise<void> {
    if (!state.adapter || !state.estimate) {
      throw new UserError("--resume: the state was saved without --adapt; rerun with the same flags");
    }
    await this.#adapter.load(state.adapter);
    this.#estimate = state.estimate;
  }

  /** The Adam steps of sampler step `step` on the triplets of `part`, at x_t (`x`, on the device). */
  async step(
    x: GPUBuffer,
    part: Partition,
    t: number,
    abar: number,
    step: number,
  ): Promise<{ residuals: number[]; parameters: number }> {
    const { map, seed, nonNegative } = this.#context;
    const xt = await this.#gpu.download(x, this.#A.domainSize);
    const report = await adaptStep(
      this.#adapter,
      (u) => this.#data.gradient(u),
      this.#A.shape,
      xt,
      this.#estimate,
      part,
      t,
      abar,
      map,
      this.#config,
      seed,
      step,
      nonNegative,
    );
    return { residuals: report.residuals, parameters: this.parameters };
  }

  /** Keeps the step's estimate after data consistency (`v`, on the device) for the next step. */
  async remember(v: GPUBuffer): Promise<void> {
    this.#estimate = await this.#gpu.download(v, this.#A.domainSize);
  }

  /** What a resumable state needs. */
  async state(): Promise<AdaptationState> {
    return { estimate: this.#estimate, adapter: await this.#adapter.save() };
  }

  /** Clears the adapters (a worker that died has nothing to clear) and releases the buffers. */
  async dispose(): Promise<void> {
    await this.#adapter.clear().catch(() => {});
    this.#data.dispose();
  }
}
