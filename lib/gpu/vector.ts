/**
 * Vector kernels over GPU buffers for the solvers: deterministic dot products into a scalar buffer, and
 * updates whose coefficients may be read from that buffer, so an iteration never waits on the host.
 * @module
 */
import { type GpuContext, params } from "./context.ts";

const RW = 256, PER = 256;

/** A 2D workgroup grid covering `n` invocations of a 64-wide kernel (1D grids stop at 65535 groups). */
export function grid(n: number, width = 64): [number, number] {
  const total = Math.max(1, Math.ceil(n / width));
  const gx = Math.min(total, 65535);
  return [gx, Math.ceil(total / gx)];
}

/**
 * Scalar slots plus the kernels that fill and use them.
 *
 * @example
 * ```ts
 * import { GpuContext } from "./context.ts";
 * import { VectorOps } from "./vector.ts";
 * const gpu = await GpuContext.create();
 * const ops = new VectorOps(gpu, 4);
 * const a = gpu.upload(new Float32Array([1, 2, 3]));
 * await ops.dot(a, a, 3, 0);
 * console.log((await ops.read())[0]); // 14
 * gpu.dispose();
 * ```
 */
export class VectorOps {
  /** The context the slots and kernels belong to. */
  readonly gpu: GpuContext;
  /** The scalar slots (f32). */
  readonly scalars: GPUBuffer;
  /** Number of scalar slots. */
  readonly slots: number;
  #partials: GPUBuffer | null = null;
  #partialCap = 0;

  /** Allocates `slots` scalar slots (default 16), all zero. */
  constructor(gpu: GpuContext, slots = 16) {
    this.gpu = gpu;
    this.slots = slots;
    this.scalars = gpu.upload(new Float32Array(slots), "scalars");
  }

  /**
   * Queues `s[slot] = Σ a[i] b[i]` over `n` elements, in a fixed summation order. `then` folds a Krylov
   * step's scalar update into the same final dispatch: `{ over: k }` writes `s[slot] = s[k] / Σ` (a step
   * length), `{ beta: k }` writes `s[slot] = Σ / s[k]` and then `s[k] = Σ` (β and the new squared norm).
   * A zero denominator gives 0.
   */
  async dot(
    a: GPUBuffer,
    b: GPUBuffer,
    n: number,
    slot: number,
    then?: { over: number } | { beta: number },
  ): Promise<void> {
    const wgs = this.#partialsFor(n);
    const [gx, gy] = grid(wgs, 1);
    await this.gpu.run("vector", "dot_partial", params(n), [a, b, this.#partials!], [gx, gy]);
    await this.#final(wgs, slot, then);
  }

  /**
   * CG's update in two dispatches: `x += s[alpha]·p`, `r −= s[alpha]·q` and, from the new r,
   * `s[beta] = r·r / s[rr]`, then `s[rr] = r·r` (the same summation order as {@linkcode VectorOps.dot}).
   */
  async cgUpdate(
    bufs: { p: GPUBuffer; q: GPUBuffer; x: GPUBuffer; r: GPUBuffer },
    n: number,
    slots: { alpha: number; beta: number; rr: number },
  ): Promise<void> {
    const wgs = this.#partialsFor(n);
    const [gx, gy] = grid(wgs, 1);
    await this.gpu.run(
      "vector",
      "cg_update",
      params(n, slots.alpha),
      [bufs.p, bufs.q, bufs.x, bufs.r, this.#partials!, this.scalars],
      [gx, gy],
    );
    await this.#final(wgs, slots.beta, { beta: slots.rr });
  }

  /** The second reduction pass over `wgs` partials (modes of `dot_final` in shaders/vector.wgsl). */
  #final(wgs: number, slot: number, then?: { over: number } | { beta: number }): Promise<void> {
    const [mode, other] = !then ? [0, 0] : "over" in then ? [1, then.over] : [2, then.beta];
    return this.gpu.run("vector", "dot_final", params(wgs, slot, other, mode), [
      this.#partials!,
      this.scalars,
    ], [
      1,
    ]);
  }

  /** Workgroups of the first reduction pass over `n` elements, with the partials buffer grown to fit. */
  #partialsFor(n: number): number {
    const wgs = Math.max(1, Math.ceil(n / (RW * PER)));
    if (wgs > this.#partialCap) {
      this.gpu.release(this.#partials ?? undefined);
      this.#partials = this.gpu.buffer(wgs * 4, "dot partials");
      this.#partialCap = wgs;
    }
    return wgs;
  }

  /** Queues `y = c·y + (a + b·s[slot])·x` over `n` elements. */
  axpby(
    x: GPUBuffer,
    y: GPUBuffer,
    n: number,
    o: { a?: number; b?: number; slot?: number; c?: number },
  ): Promise<void> {
    return this.gpu.run(
      "vector",
      "axpby",
      params(n, o.slot ?? 0, 0, 0, { f: o.a ?? 0 }, { f: o.b ?? 0 }, { f: o.c ?? 1 }),
      [x, y, this.scalars],
      grid(Math.ceil(n / 4)),
    );
  }

  /** Queues `y = x + (a + b·s[slot])·y` over `n` elements. */
  xpby(x: GPUBuffer, y: GPUBuffer, n: number, o: { a?: number; b?: number; slot?: number }): Promise<void> {
    return this.gpu.run(
      "vector",
      "xpby",
      params(n, o.slot ?? 0, 0, 0, { f: o.a ?? 0 }, { f: o.b ?? 0 }),
      [x, y, this.scalars],
      grid(Math.ceil(n / 4)),
    );
  }

  /** Sets slots from the host. */
  set(values: Record<number, number>): void {
    for (const [k, v] of Object.entries(values)) {
      this.gpu.write(this.scalars, new Float32Array([v]), Number(k) * 4);
    }
  }

  /** Reads all slots back. */
  read(): Promise<Float32Array> {
    return this.gpu.download(this.scalars, this.slots);
  }

  /** Releases the slots and the dot-product scratch buffer. */
  dispose(): void {
    this.gpu.release(this.scalars, this.#partials ?? undefined);
  }
}
