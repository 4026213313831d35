/**
 * The CPU engine of the projectors: the system matrix of one slice, stored once as a sparse matrix by
 * pixel, applied to every slice at once with WebAssembly SIMD (`wasm/spmm.c`). On a software WebGPU
 * adapter (llvmpipe) the WGSL kernels pay a scalar gather per lane and per weight; here one weight is
 * loaded once for all slices, which sit next to each other in memory, four to a vector. The matrix holds
 * the reference's weights (`projector_ref.ts`, `fan_ref.ts`) entry for entry, so forward and adjoint are
 * exact transposes by construction.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import { UserError } from "../errors.ts";

/** Visits every nonzero weight `(pixel, weight)` of ray (angle `a`, bin `u`). */
export type RayVisitor = (a: number, u: number, visit: (pixel: number, weight: number) => void) => void;

/**
 * The system matrix of one slice, stored by pixel (compressed rows: row = pixel, column = `angle · bins +
 * bin`, columns ascending within a row). `Aᵀ`'s rows, so the adjoint is a gather and `A` a scatter.
 */
export interface PixelMajorMatrix {
  /** Rows (`H·W`). */
  readonly pixels: number;
  /** Columns (`angles · bins`). */
  readonly columns: number;
  /** Row `p`'s entries are `ptr[p]` to `ptr[p + 1] − 1`. */
  readonly ptr: Uint32Array;
  /** Column of each entry. */
  readonly col: Uint32Array;
  /** Weight of each entry (float32 of the reference's float64). */
  readonly val: Float32Array;
}

/**
 * Builds the pixel-major matrix of `angles · bins` rays over `pixels` pixels: two sweeps over the rays
 * (count, then fill) in (angle, bin) order, so each row's columns come out ascending.
 *
 * @example
 * ```ts
 * import { parallelRays } from "./projector_ref.ts";
 * import { sparseView } from "./geometry.ts";
 * import { pixelMajorMatrix } from "./sparse.ts";
 * const g = sparseView(2, { imageSize: 4 });
 * const m = pixelMajorMatrix(parallelRays(g, 4, 4), 2, g.detectorCount, 16);
 * console.log(m.pixels, m.columns, m.ptr[16] === m.val.length); // 16 12 true
 * ```
 */
export function pixelMajorMatrix(
  rays: RayVisitor,
  angles: number,
  bins: number,
  pixels: number,
): PixelMajorMatrix {
  const ptr = new Uint32Array(pixels + 1);
  for (let a = 0; a < angles; a++) {
    for (let u = 0; u < bins; u++) rays(a, u, (p, w) => w !== 0 && ptr[p + 1]++);
  }
  for (let p = 0; p < pixels; p++) ptr[p + 1] += ptr[p];
  const nnz = ptr[pixels], col = new Uint32Array(nnz), val = new Float32Array(nnz);
  const next = ptr.slice(0, pixels);
  for (let a = 0; a < angles; a++) {
    for (let u = 0; u < bins; u++) {
      const c = a * bins + u;
      rays(a, u, (p, w) => {
        if (w === 0) return;
        const k = next[p]++;
        col[k] = c;
        val[k] = w;
      });
    }
  }
  return { pixels, columns: angles * bins, ptr, col, val };
}

/**
 * Bytes of host memory the engine needs for a matrix of `entries` nonzeros over `pixels` pixels and
 * `columns` rays, applied to up to `slices` slices at once: what `auto` compares with its budget before
 * building anything. `entries` may be an upper bound.
 */
export function sparseBytes(entries: number, pixels: number, columns: number, slices: number): number {
  const zp = sliceStride(slices);
  // the matrix, the staging and pixel-major buffers, and the solvers' space (TV's PDHG: 8 volumes and 4
  // sinograms; CG: 5 volumes and a sinogram)
  return 4 * (pixels + 1 + 2 * entries) + 4 * (pixels + columns) * (zp + slices) +
    4 * zp * (13 * pixels + 5 * columns) +
    64 * 1024;
}

/**
 * An upper bound on the nonzeros of a Joseph projector of `angles` angles and `bins` bins on `H`×`W`
 * slices: each ray takes two pixels per step along its dominant axis.
 */
export function entriesBound(angles: number, bins: number, H: number, W: number): number {
  return 2 * angles * bins * Math.max(H, W);
}

/** `spmm` and `spmm_t`: the matrix (ptr, col, val), rows r0..r1, input, output, slice stride. */
type Product = (
  ptr: number,
  col: number,
  val: number,
  r0: number,
  r1: number,
  inp: number,
  out: number,
  zp: number,
) => void;

/** The raw exports of `wasm/spmm.wasm`: the matrix products and the layout transposes. */
export interface Kernels {
  heap_start(): number;
  spmm: Product;
  spmm_t: Product;
  to_pixel_major(src: number, dst: number, nz: number, np: number, zp: number): void;
  to_slice_major(src: number, dst: number, nz: number, np: number, zp: number): void;
}

/** The solver kernels of `wasm/spmm.c` on pixel-major arrays (pointers into the engine's memory). */
export interface PixelMajorKernels {
  /** Σ a·b over `n` floats, in float64, in index order. */
  dot(a: number, b: number, n: number): number;
  /** `r = b − r`. */
  rsub(b: number, r: number, n: number): void;
  /** `x += α p`, `r −= α q`; returns the new r·r (float64). */
  cg_update(x: number, r: number, p: number, q: number, alpha: number, n: number): number;
  /** `p = r + β p`. */
  xpby(r: number, p: number, beta: number, n: number): void;
  /** `out += b · D_zᵀD_z v` over `np` pixels of `nz` slices at stride `zp` (`circular` 1: wrapping). */
  lapz_add(v: number, out: number, b: number, np: number, zp: number, nz: number, circular: number): void;
  /** PDHG's data dual: `pd = (pd + σ(Ax̄ − y)) / (1 + σ)`. */
  tv_dual_data(ax: number, y: number, sig: number, pd: number, n: number): void;
  /** PDHG's TV dual: `q = clip(q + ½∇x̄, −λ, λ)` for the three axes. */
  tv_dual(
    xb: number,
    qx: number,
    qy: number,
    qz: number,
    H: number,
    W: number,
    zp: number,
    nz: number,
    lam: number,
  ): void;
  /** PDHG's primal step with the proximity term and non-negativity, and x̄ = 2x′ − x. */
  tv_primal(
    atp: number,
    qx: number,
    qy: number,
    qz: number,
    tau: number,
    x: number,
    xb: number,
    anchor: number,
    gamma: number,
    H: number,
    W: number,
    zp: number,
    nz: number,
  ): void;
}

let compiled: Promise<WebAssembly.Module> | null = null;

/** The compiled kernels, fetched next to this module (so a URL import finds them too), compiled once. */
export function kernelsModule(): Promise<WebAssembly.Module> {
  compiled ??= fetch(new URL("./wasm/spmm.wasm", import.meta.url))
    .then((r) => {
      if (!r.ok) {
        throw new Error(`cannot fetch the CPU projector's kernels (wasm/spmm.wasm): HTTP ${r.status}`);
      }
      return r.arrayBuffer();
    })
    .then((b) => WebAssembly.compile(b))
    .catch((e) => {
      compiled = null; // a failed fetch (a transient error over http) is tried again next time
      throw e;
    });
  return compiled;
}

/**
 * Most memory the engine takes: 2 GiB, half of what wasm32 addresses, so that every byte offset stays a
 * positive 32-bit integer on the JavaScript side.
 */
export const SPARSE_MAX_BYTES = 2 ** 31;

/** Slices padded to a multiple of 4 (one SIMD vector): the pixel-major layout's stride. */
function sliceStride(nz: number): number {
  return Math.ceil(nz / 4) * 4;
}

/** `x` rounded up to a multiple of 16 (arithmetic, not bitwise: offsets may pass 2³¹ − 1 in float). */
const align16 = (x: number) => Math.ceil(x / 16) * 16;

/**
 * One slice geometry's matrix in WebAssembly memory, with the scratch to apply it to up to `maxSlices`
 * slices at once. Single-threaded and deterministic: the same input gives the same bits.
 *
 * @example
 * ```ts
 * import { parallelRays } from "./projector_ref.ts";
 * import { sparseView } from "./geometry.ts";
 * import { pixelMajorMatrix, SparseEngine } from "./sparse.ts";
 * const g = sparseView(4, { imageSize: 8 });
 * const m = pixelMajorMatrix(parallelRays(g, 8, 8), 4, g.detectorCount, 64);
 * const engine = await SparseEngine.create(m, 2);
 * const y = engine.forwardHost(new Float32Array(128).fill(1), 2);
 * console.log(y.length === 2 * 4 * g.detectorCount); // true
 * ```
 */
export class SparseEngine {
  /** Rows of the matrix (pixels of a slice). */
  readonly pixels: number;
  /** Columns (rays of a slice). */
  readonly columns: number;
  /** Nonzeros of the matrix. */
  readonly entries: number;
  /** Most slices one call takes. */
  readonly maxSlices: number;
  #k: Kernels;
  #mem: WebAssembly.Memory;
  #ptr: number;
  #col: number;
  #val: number;
  #volPix: number;
  #sinoPix: number;
  #volSlice: number;
  #sinoSlice: number;
  #top: number;
  #live: { ptr: number; end: number; freed: boolean }[] = [];

  private constructor(m: PixelMajorMatrix, maxSlices: number, k: Kernels, mem: WebAssembly.Memory) {
    this.pixels = m.pixels;
    this.columns = m.columns;
    this.entries = m.val.length;
    this.maxSlices = maxSlices;
    this.#k = k;
    this.#mem = mem;
    const zp = sliceStride(maxSlices);
    let at = k.heap_start();
    const take = (floats: number) => {
      const o = at;
      at = align16(at + floats * 4);
      return o;
    };
    this.#ptr = take(m.pixels + 1);
    this.#col = take(this.entries);
    this.#val = take(this.entries);
    this.#volPix = take(m.pixels * zp);
    this.#sinoPix = take(m.columns * zp);
    this.#volSlice = take(m.pixels * maxSlices);
    this.#sinoSlice = take(m.columns * maxSlices);
    this.#top = at;
    const need = at - mem.buffer.byteLength;
    if (need > 0) mem.grow(Math.ceil(need / 65536));
    new Uint32Array(mem.buffer, this.#ptr, m.pixels + 1).set(m.ptr);
    new Uint32Array(mem.buffer, this.#col, this.entries).set(m.col);
    new Float32Array(mem.buffer, this.#val, this.entries).set(m.val);
  }

  /** Loads the kernels and copies `matrix` into their memory; throws when it would not fit in wasm32. */
  static async create(matrix: PixelMajorMatrix, maxSlices: number): Promise<SparseEngine> {
    const bytes = sparseBytes(matrix.val.length, matrix.pixels, matrix.columns, maxSlices);
    if (bytes > SPARSE_MAX_BYTES - (1 << 20)) {
      throw new RangeError(
        `the sparse projector needs ${
          (bytes / 2 ** 30).toFixed(2)
        } GiB, over its 2 GiB: use --projector wgsl`,
      );
    }
    const mem = new WebAssembly.Memory({ initial: 2, maximum: SPARSE_MAX_BYTES / 65536 });
    const inst = await WebAssembly.instantiate(await kernelsModule(), { env: { memory: mem } });
    return new SparseEngine(matrix, maxSlices, inst.exports as unknown as Kernels, mem);
  }

  /** `y = A x` for `nz` slices: `x` is `[nz][pixels]`, the result `[nz][columns]`. */
  forwardHost(x: Float32Array, nz: number): Float32Array {
    return this.#apply(x, nz, "forward");
  }

  /** `x = Aᵀ y` for `nz` slices: `y` is `[nz][columns]`, the result `[nz][pixels]`. */
  adjointHost(y: Float32Array, nz: number): Float32Array {
    return this.#apply(y, nz, "adjoint");
  }

  /** `y = A x` between GPU buffers (read back, applied here, written back in queue order). */
  async forward(gpu: GpuContext, x: GPUBuffer, y: GPUBuffer, nz: number): Promise<void> {
    const out = this.forwardHost(await gpu.download(x, nz * this.pixels), nz);
    gpu.flush();
    gpu.write(y, out);
  }

  /** `x = Aᵀ y` between GPU buffers. */
  async adjoint(gpu: GpuContext, y: GPUBuffer, x: GPUBuffer, nz: number): Promise<void> {
    const out = this.adjointHost(await gpu.download(y, nz * this.columns), nz);
    gpu.flush();
    gpu.write(x, out);
  }

  /** The solver kernels (pointers from {@linkcode SparseEngine.alloc}). */
  get kernels(): PixelMajorKernels {
    return this.#k as unknown as PixelMajorKernels;
  }

  /** Slices padded to the vector width: the stride of the pixel-major layout for `nz` slices. */
  static stride(nz: number): number {
    return sliceStride(nz);
  }

  /**
   * Zeroed room for `floats` floats in the engine's memory (grown as needed), for solvers that iterate in
   * the pixel-major layout; returns its byte offset. Released with {@linkcode SparseEngine.free}.
   */
  alloc(floats: number): number {
    // 16 bytes of slack: the slice-difference kernels read one float past an array's end (masked out)
    const ptr = this.#top, end = align16(ptr + floats * 4 + 16);
    if (end > this.#mem.buffer.byteLength) {
      if (end > SPARSE_MAX_BYTES) {
        throw new RangeError("the sparse engine's solver space passes its 2 GiB: use --projector wgsl");
      }
      this.#mem.grow(Math.ceil((end - this.#mem.buffer.byteLength) / 65536));
    }
    new Float32Array(this.#mem.buffer, ptr, floats).fill(0);
    this.#top = end;
    this.#live.push({ ptr, end, freed: false });
    return ptr;
  }

  /**
   * Releases an allocation; space is reused once every allocation after it is released too. A pointer
   * that is not live (freed already, or never allocated) throws, so a double free cannot release a later
   * allocation at the same offset.
   */
  free(ptr: number): void {
    const a = this.#live.find((e) => e.ptr === ptr && !e.freed);
    if (!a) throw new RangeError(`sparse engine: ${ptr} is not a live allocation`);
    a.freed = true;
    while (this.#live.length && this.#live[this.#live.length - 1].freed) this.#top = this.#live.pop()!.ptr;
  }

  /** Bytes of solver space in use (0 when every allocation is released). */
  get inUse(): number {
    return this.#live.length ? this.#top - this.#live[0].ptr : 0;
  }

  /** A view of `floats` floats at `ptr` (valid until the next {@linkcode SparseEngine.alloc}). */
  view(ptr: number, floats: number): Float32Array {
    return new Float32Array(this.#mem.buffer, ptr, floats);
  }

  /** Writes `[nz][n]` slice-major values into the pixel-major array at `ptr` (`kind`: pixels or rays). */
  loadPixelMajor(ptr: number, values: Float32Array, nz: number, kind: "volume" | "sinogram"): void {
    const n = kind === "volume" ? this.pixels : this.columns,
      stage = kind === "volume" ? this.#volSlice : this.#sinoSlice;
    this.#check(nz, values.length, n);
    this.view(stage, nz * n).set(values);
    this.#k.to_pixel_major(stage, ptr, nz, n, SparseEngine.stride(nz));
  }

  /** Reads the pixel-major array at `ptr` back as `[nz][n]` slice-major values. */
  storePixelMajor(ptr: number, nz: number, kind: "volume" | "sinogram"): Float32Array {
    const n = kind === "volume" ? this.pixels : this.columns,
      stage = kind === "volume" ? this.#volSlice : this.#sinoSlice;
    this.#check(nz, nz * n, n);
    this.#k.to_slice_major(ptr, stage, nz, n, SparseEngine.stride(nz));
    return this.view(stage, nz * n).slice();
  }

  /** `y = A x` between pixel-major arrays of `nz` slices. */
  forwardPixelMajor(x: number, y: number, nz: number): void {
    const zp = SparseEngine.stride(nz);
    this.view(y, this.columns * zp).fill(0);
    this.#k.spmm_t(this.#ptr, this.#col, this.#val, 0, this.pixels, x, y, zp);
  }

  /** `x = Aᵀ y` between pixel-major arrays of `nz` slices. */
  adjointPixelMajor(y: number, x: number, nz: number): void {
    this.#k.spmm(this.#ptr, this.#col, this.#val, 0, this.pixels, y, x, SparseEngine.stride(nz));
  }

  /** Refuses a slice count outside 1..maxSlices, or `length` floats that are not `nz` slices of `per`. */
  #check(nz: number, length: number, per: number): void {
    if (!Number.isInteger(nz) || nz < 1 || nz > this.maxSlices) {
      throw new RangeError(`sparse projector: ${nz} slices (1..${this.maxSlices})`);
    }
    if (length !== nz * per) throw new RangeError(`sparse projector: ${length} floats, expected ${nz * per}`);
  }

  #apply(input: Float32Array, nz: number, dir: "forward" | "adjoint"): Float32Array {
    if (dir === "forward") {
      this.loadPixelMajor(this.#volPix, input, nz, "volume");
      this.forwardPixelMajor(this.#volPix, this.#sinoPix, nz);
      return this.storePixelMajor(this.#sinoPix, nz, "sinogram");
    }
    this.loadPixelMajor(this.#sinoPix, input, nz, "sinogram");
    this.adjointPixelMajor(this.#sinoPix, this.#volPix, nz);
    return this.storePixelMajor(this.#volPix, nz, "volume");
  }
}

/** A projector's host helper on the engine, as a promise (a bad input rejects rather than throws). */
export function onHost(
  engine: SparseEngine,
  input: Float32Array,
  Z: number,
  entry: "forward" | "adjoint",
): Promise<Float32Array> {
  try {
    return Promise.resolve(entry === "forward" ? engine.forwardHost(input, Z) : engine.adjointHost(input, Z));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Which projector kernels run: `wgsl` on the GPU, `sparse` on the CPU, `auto` picks. */
export type ProjectorEngine = "auto" | "wgsl" | "sparse";

/** Host memory `auto` lets the sparse engine take (1.5 GiB; `sparse` may take up to {@linkcode SPARSE_MAX_BYTES}). */
export const SPARSE_AUTO_BYTES = 1.5 * 2 ** 30;

/** Whether an adapter is a CPU in disguise (Mesa's llvmpipe or lavapipe, SwiftShader, WARP, a fallback). */
export function isSoftwareAdapter(adapter: { description: string; isFallbackAdapter: boolean }): boolean {
  return adapter.isFallbackAdapter ||
    /llvmpipe|lavapipe|softpipe|swiftshader|warp|basic render driver|software/i.test(adapter.description);
}

/**
 * Whether a projector of `angles` × `bins` on `[Z][H][W]` slices runs on the sparse engine: `sparse`
 * always (a one-line error when it cannot fit in wasm32), `wgsl` never, `auto` on a software adapter
 * when the engine fits in {@linkcode SPARSE_AUTO_BYTES}: there the WGSL kernels run on the same CPU, slower.
 */
export function wantsSparse(
  engine: ProjectorEngine,
  adapter: { description: string; isFallbackAdapter: boolean },
  angles: number,
  bins: number,
  shape: { Z: number; H: number; W: number },
): boolean {
  if (engine === "wgsl") return false;
  const bytes = sparseBytes(
    entriesBound(angles, bins, shape.H, shape.W),
    shape.H * shape.W,
    angles * bins,
    shape.Z,
  );
  if (engine === "sparse") {
    if (bytes > SPARSE_MAX_BYTES - (1 << 20)) {
      throw new UserError(
        `--projector sparse: ${angles} views of ${shape.H}x${shape.W} for ${shape.Z} slices need about ${
          (bytes / 2 ** 30).toFixed(1)
        } GiB, over the sparse engine's 2 GiB: use --projector wgsl (or auto)`,
      );
    }
    return true;
  }
  return isSoftwareAdapter(adapter) && bytes <= SPARSE_AUTO_BYTES;
}
