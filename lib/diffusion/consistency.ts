/**
 * Data consistency of one sampler step: warm-started at Tweedie's estimate `v` (in attenuation units),
 * a few CG iterations on `AᵀA v = Aᵀy` (with DDS's z-TV ADMM term `ρ D_zᵀD_z` whose split and dual
 * variables persist across steps), or a few PDHG iterations of 3D TV with a proximity term to `v`. Owns
 * `Aᵀy`, the ADMM state and the solvers' scratch.
 * @module
 */
import { METHOD_DEFAULTS } from "../defaults.ts";
import type { GpuContext } from "../gpu/context.ts";
import type { LinearOperator } from "../ct/operator.ts";
import { NormalCg } from "../solve/cg.ts";
import { TvSolver } from "../solve/tv.ts";
import { shrink, ZDiff } from "../solve/zdiff.ts";

/** The settings data consistency reads (the sampler's configuration extends them). */
export interface ConsistencyConfig {
  /** CG iterations of data consistency per step (with `dc: tv`, the default PDHG iterations); 0 skips it. */
  cgIters: number;
  /** z-TV ADMM penalty ρ (0: plain CG data consistency). */
  rho: number;
  /** z-TV weight λ (threshold λ/ρ). */
  lambda: number;
  /** z-TV ADMM with slices wrapping around (DDS's reference operator). Default false. */
  circularDz?: boolean;
  /** Run the z-TV ADMM only at steps whose t ≤ this (`--ztv-from`); plain CG before. Default: all steps. */
  ztvFrom?: number;
  /**
   * Data consistency per step: `cg` (CG on AᵀA + ρDzᵀDz, the paper's) or `tv` (a few PDHG iterations of
   * 3D anisotropic TV with non-negativity and a proximity term to Tweedie's estimate). Default `cg`.
   */
  dc?: "cg" | "tv";
  /** `dc: tv`: TV weight λ (x in u). Default `METHOD_DEFAULTS.dcTv.lambda` (0.005). */
  dcLambda?: number;
  /** `dc: tv`: weight γ of the proximity term (γ/2)‖x − x̂₀‖². Default `METHOD_DEFAULTS.dcTv.gamma` (0.1). */
  dcGamma?: number;
  /** `dc: tv`: PDHG iterations per step. Default `cgIters`. */
  dcIters?: number;
}

/**
 * One object per sampler run.
 *
 * @example
 * ```ts ignore
 * const dc = await DataConsistency.create(gpu, A, y, config);
 * await dc.apply(v, t);   // v: Tweedie's estimate, made consistent in place
 * dc.dispose();
 * ```
 */
export class DataConsistency {
  #aty: GPUBuffer;
  #b: GPUBuffer;
  #z?: GPUBuffer;
  #u?: GPUBuffer;
  #tmp?: GPUBuffer;
  #anchor?: GPUBuffer;
  #cg: NormalCg;
  #tv: TvSolver | null;
  #dz: ZDiff;

  private constructor(
    private readonly gpu: GpuContext,
    private readonly A: LinearOperator,
    private readonly y: GPUBuffer,
    private readonly config: ConsistencyConfig,
    tv: TvSolver | null,
  ) {
    const n = A.domainSize * 4;
    this.#aty = gpu.buffer(n, "Aᵀy");
    this.#b = gpu.buffer(n, "cg rhs");
    if (config.rho > 0) {
      this.#z = gpu.buffer(n, "admm z");
      this.#u = gpu.buffer(n, "admm u");
      this.#tmp = gpu.buffer(n, "admm tmp");
    }
    this.#cg = new NormalCg(gpu, A);
    this.#tv = tv;
    if (tv) this.#anchor = gpu.buffer(n, "tv anchor");
    this.#dz = new ZDiff(gpu, A.shape, config.circularDz ?? false);
  }

  /** Allocates the state for `A` and measurements `y` (GPU, `A.rangeSize` floats) and computes `Aᵀy`. */
  static async create(
    gpu: GpuContext,
    A: LinearOperator,
    y: GPUBuffer,
    config: ConsistencyConfig,
  ): Promise<DataConsistency> {
    const tv = config.dc === "tv" ? await TvSolver.create(gpu, A) : null;
    const dc = new DataConsistency(gpu, A, y, config, tv);
    await A.adjoint(y, dc.#aty);
    return dc;
  }

  /** Whether the z-TV ADMM has state (ρ > 0). */
  get hasAdmm(): boolean {
    return this.#z !== undefined;
  }

  /** Makes `v` consistent with the data at timestep `t` (in place). */
  async apply(v: GPUBuffer, t: number): Promise<void> {
    const c = this.config, gpu = this.gpu, n = this.A.domainSize;
    const admm = this.hasAdmm && (c.ztvFrom === undefined || t <= c.ztvFrom);
    if (admm) {
      // b = Aᵀy + ρ D_zᵀ(z − u)
      gpu.copy(this.#z!, this.#tmp!, n * 4);
      await this.#cg.ops.axpby(this.#u!, this.#tmp!, n, { a: -1 });
      gpu.copy(this.#aty, this.#b, n * 4);
      await this.#dz.addAdjoint(this.#tmp!, this.#b, 1, c.rho);
    }
    if (this.#tv) {
      gpu.copy(v, this.#anchor!, n * 4);
      await this.#tv.solve(v, this.y, {
        lambda: c.dcLambda ?? METHOD_DEFAULTS.dcTv.lambda,
        gamma: c.dcGamma ?? METHOD_DEFAULTS.dcTv.gamma,
        anchor: this.#anchor,
        iterations: c.dcIters ?? c.cgIters,
      });
    } else if (c.cgIters > 0) {
      await this.#cg.solve(v, admm ? this.#b : this.#aty, {
        iterations: c.cgIters,
        rho: admm ? c.rho : 0,
        readResidual: false,
        circular: c.circularDz ?? false,
      });
    }
    if (admm) {
      await this.#dz.forward(v, this.#tmp!);
      await shrink(gpu, this.#tmp!, this.#z!, this.#u!, n, c.lambda / c.rho);
    }
  }

  /** The ADMM variables for a checkpoint (absent without ADMM). */
  async state(): Promise<{ z?: Float32Array; u?: Float32Array }> {
    if (!this.hasAdmm) return {};
    const n = this.A.domainSize;
    return { z: await this.gpu.download(this.#z!, n), u: await this.gpu.download(this.#u!, n) };
  }

  /** Restores the ADMM variables of a checkpoint (zeros where it has none). */
  restore(s: { z?: Float32Array; u?: Float32Array }): void {
    if (!this.hasAdmm) return;
    const n = this.A.domainSize;
    this.gpu.write(this.#z!, s.z ?? new Float32Array(n));
    this.gpu.write(this.#u!, s.u ?? new Float32Array(n));
  }

  /** Releases everything it owns. */
  dispose(): void {
    this.#cg.dispose();
    this.#tv?.dispose();
    this.gpu.release(this.#aty, this.#b, this.#z, this.#u, this.#tmp, this.#anchor);
  }
}
