/**
 * One part of the cone-beam projector: the views `a0..a1` with their own stacked fan matrices in their own
 * WebAssembly instance of the sparse engine's kernels (`wasm/spmm.c`). The projector splits its views into
 * parts and runs them on worker threads (`cone_worker.ts`) or one after the other; either way each part
 * does the same arithmetic, so the result does not depend on the number of threads.
 * @module
 */
import { fanRayWeights } from "./fan_ref.ts";
import { rowRangeInto } from "./cone_plan.ts";
import { type Kernels, kernelsModule, pixelMajorMatrix } from "./sparse.ts";

/** What a part needs: its views' tables (sliced from the plan) and the sizes. */
export interface PartSpec {
  /** First view of the part. */
  a0: number;
  /** One past the part's last view. */
  a1: number;
  /** Slices. */
  Z: number;
  /** Rows per slice. */
  H: number;
  /** Columns per slice. */
  W: number;
  /** Detector columns. */
  U: number;
  /** Detector rows. */
  V: number;
  /** The part's fan tables (`FAN_STRIDE` floats per view, from view `a0`). */
  tab: Float32Array;
  /** The part's `[views][H·W]` slice coordinate of detector row 0's ray. */
  alpha: Float32Array;
  /** The part's `[views][H·W]` slices per detector row. */
  beta: Float32Array;
  /** Bytes the resampled columns of a chunk of views may take. */
  chunkBytes: number;
}

const align16 = (x: number) => Math.ceil(x / 16) * 16;

/** Detector rows padded to the vector width: the stride of a ray's or a pixel column's rows. */
export function rowStride(V: number): number {
  return Math.ceil(V / 4) * 4;
}

/**
 * The part's engine. Layouts shared with the projector: `xp` is the volume pixel-major with one zero slice
 * of padding at each end (`[H·W][Z + 2]`); `rays` is `[A][U][rowStride(V)]` for every view (a part touches
 * only its own); `acc` is a float64 `[H·W][Z + 2]` that the adjoint adds into.
 */
export class ConePart {
  #k: Kernels;
  #mem: WebAssembly.Memory;
  #ptr: number;
  #col: number;
  #val: number;
  #rays: number;
  #cols: number;
  #chunk: number;
  /** Per (view, pixel): the detector rows whose rays pass the pixel column ({@linkcode rowRangeInto}). */
  #lo: Uint16Array;
  #hi: Uint16Array;

  private constructor(
    readonly spec: PartSpec,
    k: Kernels,
    mem: WebAssembly.Memory,
    at: Record<string, number>,
  ) {
    const n = spec.alpha.length, range = new Int32Array(2);
    this.#lo = new Uint16Array(n);
    this.#hi = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      rowRangeInto(spec.alpha[i] + 1, spec.beta[i], spec.Z, spec.V, range);
      this.#lo[i] = range[0];
      this.#hi[i] = range[1];
    }
    this.#k = k;
    this.#mem = mem;
    this.#ptr = at.ptr;
    this.#col = at.col;
    this.#val = at.val;
    this.#rays = at.rays;
    this.#cols = at.cols;
    this.#chunk = at.chunk;
  }

  /** Builds the part's matrices (its views' fan weights, stacked: row `v·P + p`, column `v·U + c`). */
  static async create(spec: PartSpec): Promise<ConePart> {
    const { H, W, U, V } = spec, P = H * W, n = spec.a1 - spec.a0, vp = rowStride(V);
    const parts = Array.from(
      { length: n },
      (_, v) => pixelMajorMatrix((_, c, visit) => fanRayWeights(spec.tab, v, c, H, W, visit), 1, U, P),
    );
    const nnz = parts.reduce((s, m) => s + m.val.length, 0);
    const chunk = Math.max(1, Math.min(n, Math.floor(spec.chunkBytes / (P * vp * 4))));
    const mem = new WebAssembly.Memory({ initial: 2, maximum: 2 ** 31 / 65536 });
    const inst = await WebAssembly.instantiate(await kernelsModule(), { env: { memory: mem } });
    const k = inst.exports as unknown as Kernels;
    let top = k.heap_start();
    const take = (floats: number) => {
      const o = top;
      top = align16(top + floats * 4);
      return o;
    };
    const at = {
      ptr: take(n * P + 1),
      col: take(nnz),
      val: take(nnz),
      rays: take(n * U * vp),
      cols: take(chunk * P * vp),
      chunk,
    };
    if (top > 2 ** 31 - (1 << 20)) {
      throw new RangeError(
        `cone projector part needs ${(top / 2 ** 30).toFixed(1)} GiB, over wasm32's 2 GiB`,
      );
    }
    if (top > mem.buffer.byteLength) mem.grow(Math.ceil((top - mem.buffer.byteLength) / 65536));
    const ptr = new Uint32Array(mem.buffer, at.ptr, n * P + 1);
    const col = new Uint32Array(mem.buffer, at.col, nnz), val = new Float32Array(mem.buffer, at.val, nnz);
    let e = 0;
    parts.forEach((m, v) => {
      for (let p = 0; p < P; p++) ptr[v * P + p] = e + m.ptr[p];
      for (let i = 0; i < m.val.length; i++) col[e + i] = m.col[i] + v * U;
      val.set(m.val, e);
      e += m.val.length;
    });
    ptr[n * P] = e;
    return new ConePart(spec, k, mem, at);
  }

  /** Writes the part's views of `rays` (before the 3D length factor) from the padded volume `xp`. */
  forward(xp: Float32Array, rays: Float32Array): void {
    const { a0, a1, Z, H, W, U, V, alpha, beta } = this.spec, P = H * W, vp = rowStride(V), zp = Z + 2;
    const n = a1 - a0, los = this.#lo, his = this.#hi;
    const local = new Float32Array(this.#mem.buffer, this.#rays, n * U * vp);
    local.fill(0);
    for (let c0 = 0; c0 < n; c0 += this.#chunk) {
      const c1 = Math.min(n, c0 + this.#chunk);
      const cols = new Float32Array(this.#mem.buffer, this.#cols, (c1 - c0) * P * vp);
      for (let v = c0; v < c1; v++) {
        for (let p = 0; p < P; p++) {
          const k = v * P + p, o = ((v - c0) * P + p) * vp, src = p * zp;
          const s1 = alpha[k] + 1, b = beta[k], lo = los[k], hi = his[k];
          if (lo > 0) cols.fill(0, o, o + Math.min(lo, vp));
          for (let r = lo; r < hi; r++) {
            // t ≥ 0 within the range, so truncation is the floor
            const t = s1 + b * r, i = t | 0, f = t - i, x0 = xp[src + i];
            cols[o + r] = x0 + f * (xp[src + i + 1] - x0);
          }
          if (hi < vp) cols.fill(0, o + Math.max(hi, lo), o + vp);
        }
      }
      // rows c0·P.. of the stacked matrix read this chunk: shift the base pointer back (wasm32 wraps)
      this.#k.spmm_t(
        this.#ptr,
        this.#col,
        this.#val,
        c0 * P,
        c1 * P,
        this.#cols - c0 * P * vp * 4,
        this.#rays,
        vp,
      );
    }
    rays.set(local, a0 * U * vp);
  }

  /** Adds the part's views of `Aᵀ` applied to `rays` (3D length factor applied already) into `acc`. */
  adjoint(rays: Float32Array, acc: Float64Array): void {
    const { a0, a1, Z, H, W, U, V, alpha, beta } = this.spec, P = H * W, vp = rowStride(V), zp = Z + 2;
    const n = a1 - a0, los = this.#lo, his = this.#hi;
    new Float32Array(this.#mem.buffer, this.#rays, n * U * vp).set(rays.subarray(a0 * U * vp, a1 * U * vp));
    for (let c0 = 0; c0 < n; c0 += this.#chunk) {
      const c1 = Math.min(n, c0 + this.#chunk);
      this.#k.spmm(
        this.#ptr,
        this.#col,
        this.#val,
        c0 * P,
        c1 * P,
        this.#rays,
        this.#cols - c0 * P * vp * 4,
        vp,
      );
      const cols = new Float32Array(this.#mem.buffer, this.#cols, (c1 - c0) * P * vp);
      for (let v = c0; v < c1; v++) {
        for (let p = 0; p < P; p++) {
          const k = v * P + p, o = ((v - c0) * P + p) * vp, dst = p * zp;
          const s1 = alpha[k] + 1, b = beta[k], lo = los[k], hi = his[k];
          for (let r = lo; r < hi; r++) {
            const x = cols[o + r];
            if (x === 0) continue;
            const t = s1 + b * r, i = t | 0, f = t - i;
            acc[dst + i] += x - f * x;
            acc[dst + i + 1] += f * x;
          }
        }
      }
    }
  }
}
