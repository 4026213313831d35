/**
 * The cone-beam projector (flat detector) over a whole volume and its exact adjoint, on the CPU: per view,
 * a linear resampling along z of every pixel column (JavaScript), then the view's fan-beam matrix applied
 * with the detector rows as the vector dimension by the WebAssembly SIMD kernels of the sparse engine
 * (`wasm/spmm.c`). The views are split into two parts (`cone_part.ts`) that run on two worker threads
 * (or one after the other with `threads: 1`, giving the same bytes). The factorisation and its accuracy are
 * described in `cone_plan.ts`.
 * @module
 */
import { type GpuContext, params } from "../gpu/context.ts";
import { grid } from "../gpu/vector.ts";
import { UserError } from "../errors.ts";
import type { AnyCone } from "./cone_geometry.ts";
import { type ConePlan, conePlan } from "./cone_plan.ts";
import { FAN_STRIDE, fanRayWeights } from "./fan_ref.ts";
import { isSoftwareAdapter, pixelMajorMatrix, type ProjectorEngine } from "./sparse.ts";
import type { HostProducts, LinearOperator, SliceShape } from "./operator.ts";
import { ConePart, type PartSpec, rowStride } from "./cone_part.ts";

/** Bytes the resampled pixel columns of one chunk of views may take in a part's WebAssembly memory. */
const CHUNK_BYTES = 64 * 2 ** 20;

/** Parts the views are split into, whatever the thread count (so that the bytes do not depend on it). */
const PARTS = 2;

/** A part, local or on a worker thread. */
interface PartRunner {
  run(op: "forward" | "adjoint"): Promise<void>;
  close(): void;
}

/** Options of {@linkcode ConeProjector.create}. */
export interface ConeOptions {
  /** Worker threads of the CPU engine (1 runs the parts in this thread). @default min(2, the CPU's cores) */
  threads?: number;
  /**
   * Where forward and adjoint run: `sparse` (the CPU engine), `wgsl` (the GPU kernels of
   * `shaders/cone.wgsl`), `auto` (the CPU on a software adapter or without a GPU context, else the GPU).
   * @default "auto"
   */
  engine?: ProjectorEngine;
}

/** The WGSL engine's buffers: the weights ray-major (forward) and pixel-major (adjoint), α/β, the factors. */
interface GpuTables {
  ray: [GPUBuffer, GPUBuffer, GPUBuffer];
  pixel: [GPUBuffer, GPUBuffer, GPUBuffer];
  ab: GPUBuffer;
  amp: GPUBuffer;
}

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
  /** Where forward and adjoint run: the CPU engine or the WGSL kernels. */
  readonly engine: "sparse" | "wgsl";
  #parts: PartRunner[];
  #tables: GpuTables | null;
  #xp: Float32Array;
  #rays: Float32Array;
  #acc: Float64Array[];
  #busy: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly gpu: GpuContext | null,
    readonly geometry: AnyCone,
    readonly plan: ConePlan,
    parts: PartRunner[],
    buffers: { xp: Float32Array; rays: Float32Array; acc: Float64Array[] },
    tables: GpuTables | null = null,
  ) {
    this.engine = tables ? "wgsl" : "sparse";
    this.#tables = tables;
    const { Z, H, W } = plan.shape;
    this.shape = plan.shape;
    this.rangeShape = [plan.V, plan.A, plan.U];
    this.domainSize = Z * H * W;
    this.rangeSize = plan.V * plan.A * plan.U;
    this.#parts = parts;
    this.#xp = buffers.xp;
    this.#rays = buffers.rays;
    this.#acc = buffers.acc;
  }

  /**
   * Builds the projector of `geometry` for a `[Z][H][W]` volume of `spacing` `[dz, dy, dx]` mm (what the
   * geometry's `voxelSize` overrides). `gpu` is where `forward`/`adjoint` read and write their buffers
   * (`null`: host arrays only, through {@linkcode ConeProjector.forwardHost}). Dispose it: it owns threads.
   */
  static async create(
    gpu: GpuContext | null,
    geometry: AnyCone,
    shape: SliceShape,
    spacing: [number, number, number],
    options: ConeOptions = {},
  ): Promise<ConeProjector> {
    const plan = conePlan(geometry, shape, spacing);
    const { Z, H, W } = shape, P = H * W, { A, U, V } = plan, vp = rowStride(V);
    const engine = options.engine ?? "auto";
    if (engine === "wgsl" && !gpu) throw new Error("the cone projector's WGSL engine needs a GPU context");
    if (gpu && (engine === "wgsl" || (engine === "auto" && !isSoftwareAdapter(gpu.adapter)))) {
      const empty = { xp: new Float32Array(0), rays: new Float32Array(0), acc: [] };
      return new ConeProjector(gpu, geometry, plan, [], empty, gpuTables(gpu, plan));
    }
    const estimate = 4 * (2 * A * U * Math.max(H, W) * 2 + A * U * vp + CHUNK_BYTES / 4) +
      8 * P * (Z + 2) * PARTS;
    if (estimate > 2 ** 31 * PARTS) {
      throw new UserError(
        `cone beam: ${A} views of ${U}x${V} over ${Z}x${H}x${W} need about ${
          (estimate / 2 ** 30).toFixed(1)
        } GiB of projector memory: use fewer views or a smaller volume`,
      );
    }
    const shared = (bytes: number) => new SharedArrayBuffer(bytes);
    const xpBuf = shared(P * (Z + 2) * 4), raysBuf = shared(A * U * vp * 4);
    const n = Math.min(PARTS, A);
    const accBufs = Array.from({ length: n }, () => shared(P * (Z + 2) * 8));
    const buffers = {
      xp: new Float32Array(xpBuf),
      rays: new Float32Array(raysBuf),
      acc: accBufs.map((b) => new Float64Array(b)),
    };
    const threads = Math.max(
      1,
      Math.min(n, options.threads ?? Math.min(2, navigator.hardwareConcurrency ?? 1)),
    );
    const specs: PartSpec[] = Array.from({ length: n }, (_, i) => {
      const a0 = Math.floor((i * A) / n), a1 = Math.floor(((i + 1) * A) / n);
      return {
        a0,
        a1,
        Z,
        H,
        W,
        U,
        V,
        tab: plan.tab.slice(a0 * FAN_STRIDE, a1 * FAN_STRIDE),
        alpha: plan.alpha.slice(a0 * P, a1 * P),
        beta: plan.beta.slice(a0 * P, a1 * P),
        chunkBytes: CHUNK_BYTES,
      };
    });
    const parts = await Promise.all(
      specs.map((spec, i) =>
        threads > 1 ? workerPart(spec, xpBuf, raysBuf, accBufs[i]) : localPart(spec, buffers, i)
      ),
    );
    return new ConeProjector(gpu, geometry, plan, parts, buffers);
  }

  /**
   * The host products the solvers iterate with on the CPU engine (no GPU round trip per product: see
   * `hostProducts`); `null` on the WGSL engine, whose solvers stay on the GPU. An engine internal.
   * @ignore
   */
  get hostProducts(): HostProducts | null {
    return this.#tables ? null : this;
  }

  /** Notes about the geometry worth printing (an ignored small tilt). */
  get notes(): string[] {
    return this.plan.notes;
  }

  /** `A x` of a host volume `[Z][H][W]`, as `[V][A][U]`. */
  forwardHost(x: Float32Array): Promise<Float32Array> {
    return this.#serial(() => this.#forward(x));
  }

  /** `Aᵀ y` of host projections `[V][A][U]`, as `[Z][H][W]`. */
  adjointHost(y: Float32Array): Promise<Float32Array> {
    return this.#serial(() => this.#adjoint(y));
  }

  /** Calls run one at a time: they share the staging buffers. */
  #serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.#busy.then(f, f);
    this.#busy = next.catch(() => {});
    return next;
  }

  async #forward(x: Float32Array): Promise<Float32Array> {
    if (x.length !== this.domainSize) {
      throw new RangeError(`cone forward: ${x.length} floats, expected ${this.domainSize}`);
    }
    if (this.#tables) return await this.#onGpu(x, "forward");
    const { Z, H, W } = this.shape, P = H * W, { A, U, V, amp } = this.plan, vp = rowStride(V), zp = Z + 2;
    const xp = this.#xp;
    // a blocked transpose: 64 pixels at a time keep both sides in cache
    for (let p0 = 0; p0 < P; p0 += 64) {
      const p1 = Math.min(P, p0 + 64);
      for (let z = 0; z < Z; z++) {
        const s = z * P, d = z + 1;
        for (let p = p0; p < p1; p++) xp[p * zp + d] = x[s + p];
      }
    }
    await Promise.all(this.#parts.map((part) => part.run("forward")));
    const y = new Float32Array(V * A * U), rays = this.#rays;
    for (let a = 0; a < A; a++) {
      for (let c = 0; c < U; c++) {
        const o = (a * U + c) * vp, m = (a * U + c) * V;
        for (let r = 0; r < V; r++) y[(r * A + a) * U + c] = rays[o + r] * amp[m + r];
      }
    }
    return y;
  }

  async #adjoint(y: Float32Array): Promise<Float32Array> {
    if (y.length !== this.rangeSize) {
      throw new RangeError(`cone adjoint: ${y.length} floats, expected ${this.rangeSize}`);
    }
    if (this.#tables) return await this.#onGpu(y, "adjoint");
    const { Z, H, W } = this.shape, P = H * W, { A, U, V, amp } = this.plan, vp = rowStride(V), zp = Z + 2;
    const rays = this.#rays;
    for (let a = 0; a < A; a++) {
      for (let c = 0; c < U; c++) {
        const o = (a * U + c) * vp, m = (a * U + c) * V;
        for (let r = 0; r < V; r++) rays[o + r] = y[(r * A + a) * U + c] * amp[m + r];
        for (let r = V; r < vp; r++) rays[o + r] = 0;
      }
    }
    await Promise.all(this.#parts.map((part) => part.run("adjoint")));
    // the parts' sums added in part order: the same bytes on one thread or two
    const x = new Float32Array(Z * P), acc = this.#acc, a0 = acc[0], a1 = acc.length > 1 ? acc[1] : null;
    for (let p0 = 0; p0 < P; p0 += 64) {
      const p1 = Math.min(P, p0 + 64);
      for (let z = 0; z < Z; z++) {
        const d = z * P, s = z + 1;
        if (a1) { for (let p = p0; p < p1; p++) x[d + p] = a0[p * zp + s] + a1[p * zp + s]; }
        else for (let p = p0; p < p1; p++) x[d + p] = a0[p * zp + s];
      }
    }
    return x;
  }

  async forward(x: GPUBuffer, y: GPUBuffer): Promise<void> {
    const gpu = this.#gpu();
    if (this.#tables) return await this.#dispatch("forward", x, y);
    const out = await this.forwardHost(await gpu.download(x, this.domainSize));
    gpu.flush();
    gpu.write(y, out);
  }

  async adjoint(y: GPUBuffer, x: GPUBuffer): Promise<void> {
    const gpu = this.#gpu();
    if (this.#tables) return await this.#dispatch("adjoint", y, x);
    const out = await this.adjointHost(await gpu.download(y, this.rangeSize));
    gpu.flush();
    gpu.write(x, out);
  }

  /** Host convenience, as the other projectors have it: `A x`. */
  project(volume: Float32Array): Promise<Float32Array> {
    return this.forwardHost(volume);
  }

  /** Host convenience: `Aᵀ y`. */
  backprojectAdjoint(projections: Float32Array): Promise<Float32Array> {
    return this.adjointHost(projections);
  }

  /** Queues the WGSL kernel of `entry` from `src` into `dst`. */
  async #dispatch(entry: "forward" | "adjoint", src: GPUBuffer, dst: GPUBuffer): Promise<void> {
    const t = this.#tables!, { Z, H, W } = this.shape, { A, U, V } = this.plan;
    const [ptr, col, val] = entry === "forward" ? t.ray : t.pixel;
    await this.#gpu().run(
      "cone",
      entry,
      params(H * W, Z, A, U, V, 0, 0, 0),
      [ptr, col, val, t.ab, t.amp, src, dst],
      grid(entry === "forward" ? this.rangeSize : this.domainSize),
    );
  }

  /** A host array through the WGSL kernels (upload, dispatch, read back). */
  async #onGpu(input: Float32Array, entry: "forward" | "adjoint"): Promise<Float32Array> {
    const gpu = this.#gpu(), n = entry === "forward" ? this.rangeSize : this.domainSize;
    const src = gpu.upload(input), dst = gpu.buffer(n * 4);
    try {
      await this.#dispatch(entry, src, dst);
      return await gpu.download(dst, n);
    } finally {
      gpu.release(src, dst);
    }
  }

  #gpu(): GpuContext {
    if (!this.gpu) throw new Error("this cone projector was built without a GPU context: use forwardHost");
    return this.gpu;
  }

  /** Stops the worker threads or releases the GPU tables; the projector is unusable afterwards. */
  dispose(): void {
    for (const p of this.#parts) p.close();
    this.#parts = [];
    const t = this.#tables;
    if (t && this.gpu) this.gpu.release(...t.ray, ...t.pixel, t.ab, t.amp);
    this.#tables = null;
  }
}

/** The WGSL engine's tables: the plan's fan weights ray-major and pixel-major, α/β interleaved, the factors. */
function gpuTables(gpu: GpuContext, plan: ConePlan): GpuTables {
  const { H, W } = plan.shape, P = H * W, { A, U } = plan;
  const rays = (a: number, c: number, visit: (p: number, w: number) => void) =>
    fanRayWeights(plan.tab, a, c, H, W, visit);
  // ray-major: two sweeps (count, fill) in (view, column) order
  const ptr = new Uint32Array(A * U + 1);
  for (let a = 0; a < A; a++) {
    for (let c = 0; c < U; c++) {
      rays(a, c, (_, w) => w !== 0 && ptr[a * U + c + 1]++);
    }
  }
  for (let i = 0; i < A * U; i++) ptr[i + 1] += ptr[i];
  const col = new Uint32Array(ptr[A * U]), val = new Float32Array(ptr[A * U]);
  let e = 0;
  for (let a = 0; a < A; a++) {
    for (let c = 0; c < U; c++) {
      rays(a, c, (p, w) => {
        if (w === 0) return;
        col[e] = p;
        val[e++] = w;
      });
    }
  }
  const pm = pixelMajorMatrix(rays, A, U, P);
  const ab = new Float32Array(2 * A * P);
  for (let i = 0; i < A * P; i++) {
    ab[2 * i] = plan.alpha[i];
    ab[2 * i + 1] = plan.beta[i];
  }
  return {
    ray: [gpu.upload(ptr, "cone ray ptr"), gpu.upload(col, "cone ray col"), gpu.upload(val, "cone ray val")],
    pixel: [
      gpu.upload(pm.ptr, "cone pixel ptr"),
      gpu.upload(pm.col, "cone pixel col"),
      gpu.upload(pm.val, "cone pixel val"),
    ],
    ab: gpu.upload(ab, "cone alpha beta"),
    amp: gpu.upload(plan.amp, "cone amp"),
  };
}

function localPart(
  spec: PartSpec,
  buffers: { xp: Float32Array; rays: Float32Array; acc: Float64Array[] },
  i: number,
): Promise<PartRunner> {
  return ConePart.create(spec).then((part) => ({
    run(op) {
      if (op === "forward") part.forward(buffers.xp, buffers.rays);
      else {
        buffers.acc[i].fill(0);
        part.adjoint(buffers.rays, buffers.acc[i]);
      }
      return Promise.resolve();
    },
    close() {},
  }));
}

async function workerPart(
  spec: PartSpec,
  xp: SharedArrayBuffer,
  rays: SharedArrayBuffer,
  acc: SharedArrayBuffer,
): Promise<PartRunner> {
  const worker = new Worker(new URL("./cone_worker.ts", import.meta.url).href, { type: "module" });
  let pending: { resolve: () => void; reject: (e: Error) => void } | null = null;
  worker.onmessage = (e: MessageEvent) => {
    const p = pending;
    pending = null;
    const m = e.data as { ok: boolean; error?: string };
    if (m.ok) p?.resolve();
    else p?.reject(new Error(`cone projector worker: ${m.error}`));
  };
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    const p = pending;
    pending = null;
    p?.reject(new Error(`cone projector worker failed: ${e.message}`));
  };
  const ask = (message: unknown) =>
    new Promise<void>((resolve, reject) => {
      pending = { resolve, reject };
      worker.postMessage(message);
    });
  try {
    await ask({ op: "init", spec, xp, rays, acc });
  } catch (e) {
    worker.terminate();
    throw e;
  }
  return { run: (op) => ask({ op }), close: () => worker.terminate() };
}
