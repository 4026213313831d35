/**
 * The cone-beam projector (flat detector) over a whole volume and its exact adjoint, on the CPU: per view,
 * a linear resampling along z of every pixel column (JavaScript), then the view's fan-beam matrix applied
 * with the detector rows as the vector dimension by the WebAssembly SIMD kernels of the sparse engine
 * (`wasm/spmm.c`). The factorisation and its accuracy are described in `cone_plan.ts`.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import { UserError } from "../errors.ts";
import type { AnyCone } from "./cone_geometry.ts";
import { type ConePlan, conePlan, rowRange } from "./cone_plan.ts";
import { fanRayWeights } from "./fan_ref.ts";
import type { LinearOperator, SliceShape } from "./operator.ts";
import { type Kernels, kernelsModule, pixelMajorMatrix } from "./sparse.ts";

/** Bytes the per-chunk resampled columns may take in WebAssembly memory. */
const CHUNK_BYTES = 96 * 2 ** 20;

const align16 = (x: number) => Math.ceil(x / 16) * 16;

/**
 * Cone-beam projection of a `[Z][H][W]` volume into `[rows][views][columns]` (ASTRA's 3D layout), line
 * integrals in units of the in-plane voxel size (the same data scale as blendct's other projectors).
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { ConeProjector } from "./cone.ts";
 * const gpu = await GpuContext.create();
 * const g = { type: "cone" as const, angles: [0, 1, 2], detectorCount: 24, detectorRows: 12, detectorSpacing: 2,
 *   detectorSpacingV: 2, sourceOrigin: 60, originDetector: 60, detectorOffset: 0, detectorOffsetV: 0 };
 * const A = await ConeProjector.create(gpu, g, { Z: 6, H: 16, W: 16 }, [1, 1, 1]);
 * console.log(A.rangeShape); // [ 12, 3, 24 ]
 * A.dispose();
 * gpu.dispose();
 * ```
 */
export class ConeProjector implements LinearOperator {
  readonly shape: SliceShape;
  readonly rangeShape: readonly number[];
  readonly domainSize: number;
  readonly rangeSize: number;
  /** Where forward and adjoint run (always the CPU: there are no cone WGSL kernels yet). */
  readonly engine = "sparse" as const;
  #k: Kernels;
  #mem: WebAssembly.Memory;
  #ptr: number;
  #col: number;
  #val: number;
  #rays: number;
  #cols: number;
  #chunk: number;
  #vp: number;

  private constructor(
    readonly gpu: GpuContext | null,
    readonly geometry: AnyCone,
    readonly plan: ConePlan,
    k: Kernels,
    mem: WebAssembly.Memory,
    layout: { ptr: number; col: number; val: number; rays: number; cols: number; chunk: number },
  ) {
    const { Z, H, W } = plan.shape;
    this.shape = plan.shape;
    this.rangeShape = [plan.V, plan.A, plan.U];
    this.domainSize = Z * H * W;
    this.rangeSize = plan.V * plan.A * plan.U;
    this.#k = k;
    this.#mem = mem;
    this.#ptr = layout.ptr;
    this.#col = layout.col;
    this.#val = layout.val;
    this.#rays = layout.rays;
    this.#cols = layout.cols;
    this.#chunk = layout.chunk;
    this.#vp = Math.ceil(plan.V / 4) * 4;
  }

  /**
   * Builds the projector of `geometry` for a `[Z][H][W]` volume of `spacing` `[dz, dy, dx]` mm (what the
   * geometry's `voxelSize` overrides). `gpu` is where `forward`/`adjoint` read and write their buffers
   * (`null`: host arrays only, through {@linkcode ConeProjector.project}).
   */
  static async create(
    gpu: GpuContext | null,
    geometry: AnyCone,
    shape: SliceShape,
    spacing: [number, number, number],
  ): Promise<ConeProjector> {
    const plan = conePlan(geometry, shape, spacing);
    const { H, W } = shape, P = H * W, { A, U, V } = plan;
    const vp = Math.ceil(V / 4) * 4;
    // the views' fan matrices, stacked: row a·P + p, column a·U + c
    const parts = Array.from(
      { length: A },
      (_, a) => pixelMajorMatrix((_, c, visit) => fanRayWeights(plan.tab, a, c, H, W, visit), 1, U, P),
    );
    const nnz = parts.reduce((s, m) => s + m.val.length, 0);
    const chunk = Math.max(1, Math.min(A, Math.floor(CHUNK_BYTES / (P * vp * 4))));
    const bytes = 4 * (A * P + 1) + 8 * nnz + 4 * A * U * vp + 4 * chunk * P * vp + (1 << 20);
    if (bytes > 2 ** 31 - (1 << 20)) {
      throw new UserError(
        `cone beam: ${A} views of ${U}x${V} over ${shape.Z}x${H}x${W} need ${
          (bytes / 2 ** 30).toFixed(1)
        } GiB of projector memory, over 2 GiB: use fewer views or a smaller volume`,
      );
    }
    const mem = new WebAssembly.Memory({ initial: 2, maximum: 2 ** 31 / 65536 });
    const inst = await WebAssembly.instantiate(await kernelsModule(), { env: { memory: mem } });
    const k = inst.exports as unknown as Kernels;
    let at = k.heap_start();
    const take = (floats: number) => {
      const o = at;
      at = align16(at + floats * 4);
      return o;
    };
    const layout = {
      ptr: take(A * P + 1),
      col: take(nnz),
      val: take(nnz),
      rays: take(A * U * vp),
      cols: take(chunk * P * vp),
      chunk,
    };
    if (at > mem.buffer.byteLength) mem.grow(Math.ceil((at - mem.buffer.byteLength) / 65536));
    const ptr = new Uint32Array(mem.buffer, layout.ptr, A * P + 1);
    const col = new Uint32Array(mem.buffer, layout.col, nnz),
      val = new Float32Array(mem.buffer, layout.val, nnz);
    let e = 0;
    parts.forEach((m, a) => {
      for (let p = 0; p < P; p++) ptr[a * P + p] = e + m.ptr[p];
      for (let i = 0; i < m.val.length; i++) col[e + i] = m.col[i] + a * U;
      val.set(m.val, e);
      e += m.val.length;
    });
    ptr[A * P] = e;
    return new ConeProjector(gpu, geometry, plan, k, mem, layout);
  }

  /** Notes about the geometry worth printing (an ignored small tilt). */
  get notes(): string[] {
    return this.plan.notes;
  }

  /** `A x` of a host volume `[Z][H][W]`, as `[V][A][U]`. */
  forwardHost(x: Float32Array): Float32Array {
    if (x.length !== this.domainSize) {
      throw new RangeError(`cone forward: ${x.length} floats, expected ${this.domainSize}`);
    }
    const { Z, H, W } = this.shape, P = H * W, { A, U, V, alpha, beta, amp } = this.plan, vp = this.#vp;
    const zp = Z + 2;
    const xp = new Float32Array(P * zp);
    for (let z = 0; z < Z; z++) for (let p = 0; p < P; p++) xp[p * zp + z + 1] = x[z * P + p];
    const rays = new Float32Array(this.#mem.buffer, this.#rays, A * U * vp);
    rays.fill(0);
    for (let a0 = 0; a0 < A; a0 += this.#chunk) {
      const a1 = Math.min(A, a0 + this.#chunk);
      const cols = new Float32Array(this.#mem.buffer, this.#cols, (a1 - a0) * P * vp);
      for (let a = a0; a < a1; a++) {
        for (let p = 0; p < P; p++) {
          const k = a * P + p, o = ((a - a0) * P + p) * vp, src = p * zp;
          const s1 = alpha[k] + 1, b = beta[k];
          const [lo, hi] = rowRange(s1, b, Z, V);
          cols.fill(0, o, o + vp);
          for (let r = lo; r < hi; r++) {
            const t = s1 + b * r, i = Math.floor(t), f = t - i, x0 = xp[src + i];
            cols[o + r] = x0 + f * (xp[src + i + 1] - x0);
          }
        }
      }
      // rows a0·P.. of the stacked matrix read their columns from this chunk: shift the base pointer back
      this.#k.spmm_t(
        this.#ptr,
        this.#col,
        this.#val,
        a0 * P,
        a1 * P,
        this.#cols - a0 * P * vp * 4,
        this.#rays,
        vp,
      );
    }
    const y = new Float32Array(V * A * U);
    const out = new Float32Array(this.#mem.buffer, this.#rays, A * U * vp);
    for (let a = 0; a < A; a++) {
      for (let c = 0; c < U; c++) {
        const o = (a * U + c) * vp, m = (a * U + c) * V;
        for (let r = 0; r < V; r++) y[(r * A + a) * U + c] = out[o + r] * amp[m + r];
      }
    }
    return y;
  }

  /** `Aᵀ y` of host projections `[V][A][U]`, as `[Z][H][W]`. */
  adjointHost(y: Float32Array): Float32Array {
    if (y.length !== this.rangeSize) {
      throw new RangeError(`cone adjoint: ${y.length} floats, expected ${this.rangeSize}`);
    }
    const { Z, H, W } = this.shape, P = H * W, { A, U, V, alpha, beta, amp } = this.plan, vp = this.#vp;
    const zp = Z + 2;
    const rays = new Float32Array(this.#mem.buffer, this.#rays, A * U * vp);
    rays.fill(0);
    for (let a = 0; a < A; a++) {
      for (let c = 0; c < U; c++) {
        const o = (a * U + c) * vp, m = (a * U + c) * V;
        for (let r = 0; r < V; r++) rays[o + r] = y[(r * A + a) * U + c] * amp[m + r];
      }
    }
    const acc = new Float64Array(P * zp);
    for (let a0 = 0; a0 < A; a0 += this.#chunk) {
      const a1 = Math.min(A, a0 + this.#chunk);
      this.#k.spmm(
        this.#ptr,
        this.#col,
        this.#val,
        a0 * P,
        a1 * P,
        this.#rays,
        this.#cols - a0 * P * vp * 4,
        vp,
      );
      const cols = new Float32Array(this.#mem.buffer, this.#cols, (a1 - a0) * P * vp);
      for (let a = a0; a < a1; a++) {
        for (let p = 0; p < P; p++) {
          const k = a * P + p, o = ((a - a0) * P + p) * vp, dst = p * zp;
          const s1 = alpha[k] + 1, b = beta[k];
          const [lo, hi] = rowRange(s1, b, Z, V);
          for (let r = lo; r < hi; r++) {
            const v = cols[o + r];
            if (v === 0) continue;
            const t = s1 + b * r, i = Math.floor(t), f = t - i;
            acc[dst + i] += v - f * v;
            acc[dst + i + 1] += f * v;
          }
        }
      }
    }
    const x = new Float32Array(Z * P);
    for (let z = 0; z < Z; z++) for (let p = 0; p < P; p++) x[z * P + p] = acc[p * zp + z + 1];
    return x;
  }

  async forward(x: GPUBuffer, y: GPUBuffer): Promise<void> {
    const gpu = this.#gpu();
    const out = this.forwardHost(await gpu.download(x, this.domainSize));
    gpu.flush();
    gpu.write(y, out);
  }

  async adjoint(y: GPUBuffer, x: GPUBuffer): Promise<void> {
    const gpu = this.#gpu();
    const out = this.adjointHost(await gpu.download(y, this.rangeSize));
    gpu.flush();
    gpu.write(x, out);
  }

  /** Host convenience, as the other projectors have it: `A x`. */
  project(volume: Float32Array): Promise<Float32Array> {
    try {
      return Promise.resolve(this.forwardHost(volume));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Host convenience: `Aᵀ y`. */
  backprojectAdjoint(projections: Float32Array): Promise<Float32Array> {
    try {
      return Promise.resolve(this.adjointHost(projections));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #gpu(): GpuContext {
    if (!this.gpu) throw new Error("this cone projector was built without a GPU context: use forwardHost");
    return this.gpu;
  }

  /** The WebAssembly memory goes with the object; nothing on the GPU to release. */
  dispose(): void {}
}
