/**
 * Conjugate gradient on the normal equations `(AᵀA + ρ D_zᵀD_z) v = b`, entirely on the GPU: dot products
 * reduce in a fixed order into scalar slots that the update kernels read, so an iteration has no host
 * round trip and the same inputs give the same bits.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import { VectorOps } from "../gpu/vector.ts";
import { hostApply, hostProducts, type LinearOperator } from "../ct/operator.ts";
import { normalCgHost, normalCgPixelMajor } from "./cg_host.ts";
import { ZDiff } from "./zdiff.ts";

// scalar slots
const RR = 0, ALPHA = 2, BETA = 4;

/**
 * Solver state for one operator size: scratch buffers are allocated once and reused across calls (the
 * sampler runs CG at every step).
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { Projector } from "../ct/projector.ts";
 * import { sparseView } from "../ct/geometry.ts";
 * import { NormalCg } from "./cg.ts";
 * const gpu = await GpuContext.create();
 * const A = await Projector.create(gpu, sparseView(8, { imageSize: 8 }), { Z: 2, H: 8, W: 8 });
 * const cg = new NormalCg(gpu, A);
 * const x = gpu.buffer(A.domainSize * 4), b = gpu.upload(new Float32Array(A.domainSize).fill(1));
 * const residual = await cg.solve(x, b, { iterations: 5 });
 * console.log(residual >= 0); // true
 * gpu.dispose();
 * ```
 */
export class NormalCg {
  /** The context the buffers and kernels belong to. */
  readonly gpu: GpuContext;
  /** The operator of the normal equations. */
  readonly A: LinearOperator;
  /**
   * The vector kernels and scalar slots the iterations use (the data consistency shares them).
   * @ignore
   */
  readonly ops: VectorOps;
  #r: GPUBuffer;
  #p: GPUBuffer;
  #q: GPUBuffer;
  #t: GPUBuffer;
  #dz: ZDiff;
  #dzCircular: ZDiff;

  /** Allocates the scratch buffers for `A`'s domain and range sizes. */
  constructor(gpu: GpuContext, A: LinearOperator) {
    this.gpu = gpu;
    this.A = A;
    this.#dz = new ZDiff(gpu, A.shape);
    this.#dzCircular = new ZDiff(gpu, A.shape, true);
    this.ops = new VectorOps(gpu, 8);
    const n = A.domainSize * 4;
    this.#r = gpu.buffer(n, "cg r");
    this.#p = gpu.buffer(n, "cg p");
    this.#q = gpu.buffer(n, "cg q");
    this.#t = gpu.buffer(A.rangeSize * 4, "cg Ap");
  }

  /** Queues `out = (AᵀA + ρ D_zᵀD_z) v` (`circular`: D_z wraps around the slices). */
  async normal(v: GPUBuffer, out: GPUBuffer, rho = 0, circular = false): Promise<void> {
    await this.A.forward(v, this.#t);
    await this.A.adjoint(this.#t, out);
    if (rho !== 0) await (circular ? this.#dzCircular : this.#dz).addGram(v, out, rho);
  }

  /**
   * Runs `iterations` CG steps from the warm start in `x` (updated in place) and returns the residual
   * norm ‖b − Mx‖ that CG's recursion reports (one read-back at the end). `iterations: 0` returns the
   * initial residual.
   */
  async solve(
    x: GPUBuffer,
    b: GPUBuffer,
    options: { iterations: number; rho?: number; readResidual?: boolean; circular?: boolean },
  ): Promise<number> {
    const n = this.A.domainSize, ops = this.ops, rho = options.rho ?? 0;
    // an operator that runs on the CPU anyway: iterate there, with one read-back of x and b and one write of
    // x — in the sparse engine's pixel-major layout, or (cone beam) with the plain host loops
    const host = hostApply(this.A), products = host ? null : hostProducts(this.A);
    if (host || products) {
      const xs = await this.gpu.download(x, n), bs = await this.gpu.download(b, n);
      const solve = { iterations: options.iterations, rho, circular: options.circular };
      const res = host
        ? normalCgPixelMajor(host.engine, this.A.shape, xs, bs, solve)
        : await normalCgHost(products!, this.A.shape, xs, bs, solve);
      this.gpu.flush();
      this.gpu.write(x, xs);
      return options.readResidual === false ? NaN : res;
    }
    const r = this.#r, p = this.#p, q = this.#q;
    await this.normal(x, q, rho, options.circular);
    this.gpu.copy(b, r, n * 4);
    await ops.axpby(q, r, n, { a: -1 });
    this.gpu.copy(r, p, n * 4);
    await ops.dot(r, r, n, RR);
    // five vector dispatches per iteration besides the operator: α = rr/(p·q) where the dot ends, x, r and
    // the new r·r in one pass, β and rr where that sum ends, then p = r + βp
    for (let k = 0; k < options.iterations; k++) {
      await this.normal(p, q, rho, options.circular);
      await ops.dot(p, q, n, ALPHA, { over: RR });
      await ops.cgUpdate({ p, q, x, r }, n, { alpha: ALPHA, beta: BETA, rr: RR });
      await ops.xpby(r, p, n, { b: 1, slot: BETA });
    }
    if (options.readResidual === false) return NaN;
    const s = await ops.read();
    return Math.sqrt(Math.max(0, s[RR]));
  }

  /** Releases the scratch buffers and scalar slots; `A` stays usable. */
  dispose(): void {
    this.ops.dispose();
    this.gpu.release(this.#r, this.#p, this.#q, this.#t);
  }
}
