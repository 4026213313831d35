/**
 * CGLS for `min ‖A x − y‖²`: conjugate gradient on the normal equations in its numerically stable form,
 * on GPU buffers with GPU-resident scalars.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import { VectorOps } from "../gpu/vector.ts";
import { METHOD_DEFAULTS } from "../defaults.ts";
import type { LinearOperator } from "../ct/operator.ts";

const GAMMA = 0, ALPHA = 2, BETA = 4, RES = 6;

/** Options for {@linkcode cgls}. */
export interface CglsOptions {
  /** Iterations. @default {30} (`METHOD_DEFAULTS.cgls`) */
  iterations?: number;
  /** Called after each iteration with its index (progress). */
  onIteration?: (k: number) => void | Promise<void>;
}

/**
 * Runs CGLS from the warm start in `x` (updated in place) against measurements `y`; returns the final
 * data residual ‖A x − y‖.
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { Projector } from "../ct/projector.ts";
 * import { sparseView } from "../ct/geometry.ts";
 * import { cgls } from "./cgls.ts";
 * const gpu = await GpuContext.create();
 * const A = await Projector.create(gpu, sparseView(8, { imageSize: 8 }), { Z: 1, H: 8, W: 8 });
 * const y = gpu.upload(new Float32Array(A.rangeSize).fill(1)), x = gpu.buffer(A.domainSize * 4);
 * console.log((await cgls(gpu, A, x, y, { iterations: 3 })) >= 0); // true
 * gpu.dispose();
 * ```
 */
export async function cgls(
  gpu: GpuContext,
  A: LinearOperator,
  x: GPUBuffer,
  y: GPUBuffer,
  options: CglsOptions = {},
): Promise<number> {
  const n = A.domainSize, m = A.rangeSize;
  const ops = new VectorOps(gpu, 8);
  const r = gpu.buffer(m * 4), q = gpu.buffer(m * 4), s = gpu.buffer(n * 4), p = gpu.buffer(n * 4);
  try {
    await A.forward(x, r);
    await ops.axpby(y, r, m, { a: 1, c: -1 }); // r = y - A x
    await A.adjoint(r, s);
    gpu.copy(s, p, n * 4);
    await ops.dot(s, s, n, GAMMA);
    for (let k = 0; k < (options.iterations ?? METHOD_DEFAULTS.cgls.iterations); k++) {
      await A.forward(p, q);
      await ops.dot(q, q, m, ALPHA, { over: GAMMA }); // α = γ / q·q
      await ops.axpby(p, x, n, { b: 1, slot: ALPHA });
      await ops.axpby(q, r, m, { b: -1, slot: ALPHA });
      await A.adjoint(r, s);
      await ops.dot(s, s, n, BETA, { beta: GAMMA }); // β = γ' / γ, then γ = γ'
      await ops.xpby(s, p, n, { b: 1, slot: BETA });
      await options.onIteration?.(k);
    }
    await ops.dot(r, r, m, RES);
    return Math.sqrt(Math.max(0, (await ops.read())[RES]));
  } finally {
    ops.dispose();
    gpu.release(r, q, s, p);
  }
}
