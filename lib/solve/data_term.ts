/**
 * The data term ‖A u − y‖² of one problem for volumes held on the host: its relative residual and its
 * gradient. The step plot scores every sampler step by the residual and the test-time adaptation takes the
 * gradient at every Adam step, so the two device buffers live as long as the term, not one call.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import type { LinearOperator } from "../ct/operator.ts";

/**
 * ‖A u − y‖ / ‖y‖ and 2Aᵀ(A u − y) on one operator. Release it with {@linkcode DataTerm.dispose}.
 *
 * @example
 * ```ts ignore
 * const term = new DataTerm(gpu, A, y);
 * const { grad, residual } = await term.gradient(u);
 * term.dispose();
 * ```
 */
export class DataTerm {
  #gpu: GpuContext;
  #A: LinearOperator;
  #y: Float32Array;
  #yNorm2: number;
  #u: GPUBuffer;
  #r: GPUBuffer;

  /** `y` (the measurement, host) is read, never written. */
  constructor(gpu: GpuContext, A: LinearOperator, y: Float32Array) {
    if (y.length !== A.rangeSize) {
      throw new RangeError(
        `measurement has ${y.length} values but the operator's range needs ${A.rangeSize}`,
      );
    }
    this.#gpu = gpu;
    this.#A = A;
    this.#y = y;
    let s = 0;
    for (const v of y) s += v * v;
    this.#yNorm2 = s;
    this.#u = gpu.buffer(A.domainSize * 4, "data term u");
    this.#r = gpu.buffer(A.rangeSize * 4, "data term r");
  }

  /** ‖A u − y‖ / ‖y‖ (‖A u‖ when y is zero). */
  async residual(u: Float32Array): Promise<number> {
    return (await this.#project(u)).residual;
  }

  /** 2Aᵀ(A u − y), with the relative residual of `u`. */
  async gradient(u: Float32Array): Promise<{ grad: Float32Array; residual: number }> {
    const { r, residual } = await this.#project(u);
    const gpu = this.#gpu, A = this.#A;
    gpu.write(this.#r, r);
    await A.adjoint(this.#r, this.#u);
    const grad = await gpu.download(this.#u, A.domainSize);
    for (let i = 0; i < grad.length; i++) grad[i] *= 2;
    return { grad, residual };
  }

  /** Releases the device buffers. */
  dispose(): void {
    this.#gpu.release(this.#u, this.#r);
  }

  /** A u − y on the host, and its relative norm. */
  async #project(u: Float32Array): Promise<{ r: Float32Array; residual: number }> {
    const gpu = this.#gpu, A = this.#A;
    gpu.write(this.#u, u);
    await A.forward(this.#u, this.#r);
    const r = await gpu.download(this.#r, A.rangeSize);
    let rr = 0;
    for (let i = 0; i < r.length; i++) {
      r[i] -= this.#y[i];
      rr += r[i] * r[i];
    }
    return { r, residual: Math.sqrt(rr / (this.#yNorm2 || 1)) };
  }
}
