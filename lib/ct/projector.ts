/**
 * The parallel-beam projector `A` and its exact adjoint `Aᵀ` as WGSL kernels over GPU buffers, plus host
 * helpers that stream volumes of any size through the GPU in slabs of slices.
 * @module
 */
import { type Binding, GpuContext, groups, params } from "../gpu/context.ts";
import type { ParallelGeometry } from "./geometry.ts";
import { trigTable } from "./projector_ref.ts";
import { onHost, type SparseEngine } from "./sparse.ts";
import { type HostApply, hostSide, type LinearOperator, type SliceShape } from "./operator.ts";

export type { LinearOperator, SliceShape } from "./operator.ts";

/** 256-byte binding offsets in floats. */
const ALIGN_FLOATS = 64;

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Parallel-beam Radon transform applied to every slice of a `[Z][H][W]` stack.
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { Projector } from "./projector.ts";
 * import { sparseView } from "./geometry.ts";
 * const gpu = await GpuContext.create();
 * const A = await Projector.create(gpu, sparseView(4, { imageSize: 8 }), { Z: 2, H: 8, W: 8 });
 * const sino = await A.project(new Float32Array(2 * 8 * 8).fill(1));
 * console.log(sino.length); // 2 slices x 4 angles x 12 bins = 96
 * gpu.dispose();
 * ```
 */
export class Projector implements LinearOperator {
  /** The context the kernels run on. */
  readonly gpu: GpuContext;
  /** The acquisition geometry. */
  readonly geometry: ParallelGeometry;
  /** The `[Z][H][W]` stack shape of the image side. */
  readonly shape: SliceShape;
  readonly rangeShape: readonly number[];
  readonly domainSize: number;
  readonly rangeSize: number;
  /** Slices per dispatch, so that no binding exceeds the device limit. */
  readonly slab: number;
  /** Where forward and adjoint run: the WGSL kernels, or the sparse engine on the CPU. */
  readonly engine: "wgsl" | "sparse";
  #trig: GPUBuffer;
  #sparse: SparseEngine | null;

  private constructor(
    gpu: GpuContext,
    geometry: ParallelGeometry,
    shape: SliceShape,
    trig: GPUBuffer,
    sparse: SparseEngine | null,
    maxBindingBytes = gpu.maxBinding,
  ) {
    this.gpu = gpu;
    this.geometry = geometry;
    this.shape = shape;
    this.#trig = trig;
    this.#sparse = sparse;
    this.engine = sparse ? "sparse" : "wgsl";
    const A = geometry.angles.length, D = geometry.detectorCount;
    this.domainSize = shape.Z * shape.H * shape.W;
    this.rangeShape = [shape.Z, A, D];
    this.rangeSize = shape.Z * A * D;
    this.slab = slabSlices(maxBindingBytes, shape, A * D);
  }

  /**
   * Builds the operator; kernels compile on first use. `options.maxBindingBytes` (default: the device
   * limit) caps the bytes one dispatch binds, which sets the slab size. `options.sparse` (built from
   * {@linkcode parallelRays} by `createProjector`) runs forward and adjoint on the CPU; back-projection for
   * FBP always runs the WGSL kernel.
   */
  static create(
    gpu: GpuContext,
    geometry: ParallelGeometry,
    shape: SliceShape,
    options: { maxBindingBytes?: number; sparse?: SparseEngine } = {},
  ): Promise<Projector> {
    if (geometry.type !== "parallel") throw new Error(`Projector is parallel beam: got ${geometry.type}`);
    const trig = gpu.upload(trigTable(geometry.angles), "angles");
    return Promise.resolve(
      new Projector(gpu, geometry, shape, trig, options.sparse ?? null, options.maxBindingBytes),
    );
  }

  /** Floats per sinogram of one slice. */
  get sliceRange(): number {
    return this.geometry.angles.length * this.geometry.detectorCount;
  }

  /**
   * The host side of forward and adjoint on the sparse engine (`null` on the WGSL kernels): an engine
   * internal the solvers use.
   * @ignore
   */
  get host(): HostApply | null {
    return hostSide(this.#sparse, this.shape.Z);
  }

  forward(x: GPUBuffer, y: GPUBuffer): Promise<void> {
    if (this.#sparse) return this.#sparse.forward(this.gpu, x, y, this.shape.Z);
    return this.#dispatch("forward", x, y, this.shape.H * this.shape.W, this.sliceRange);
  }

  adjoint(y: GPUBuffer, x: GPUBuffer): Promise<void> {
    if (this.#sparse) return this.#sparse.adjoint(this.gpu, y, x, this.shape.Z);
    return this.#dispatch("adjoint", y, x, this.sliceRange, this.shape.H * this.shape.W);
  }

  /** Pixel-driven back-projection (linear interpolation along the detector) scaled by `scale`: FBP's last step. */
  backproject(q: GPUBuffer, x: GPUBuffer, scale: number): Promise<void> {
    return this.#dispatch("backproject", q, x, this.sliceRange, this.shape.H * this.shape.W, scale);
  }

  async #dispatch(
    entry: "forward" | "adjoint" | "backproject",
    src: GPUBuffer,
    dst: GPUBuffer,
    srcPer: number,
    dstPer: number,
    scale = 1,
  ): Promise<void> {
    const { Z, H, W } = this.shape;
    const A = this.geometry.angles.length, D = this.geometry.detectorCount;
    for (let z0 = 0; z0 < Z; z0 += this.slab) {
      const nz = Math.min(this.slab, Z - z0);
      const s: Binding = { buffer: src, offset: z0 * srcPer * 4, size: nz * srcPer * 4 };
      const d: Binding = { buffer: dst, offset: z0 * dstPer * 4, size: nz * dstPer * 4 };
      const wg: [number, number, number] = entry === "forward"
        ? spread(groups(Math.ceil(D / FORWARD_BINS) * A * nz)) // bin groups, angles and slices flattened
        : entry === "adjoint"
        ? [groups(Math.ceil(W / ADJOINT_PIXELS) * H), nz, 1] // pixel groups and rows flattened
        : [groups(W), H, nz];
      await this.gpu.run(
        "projector",
        entry,
        params(H, W, D, A, nz, { f: this.geometry.detectorSpacing }, { f: scale }),
        [this.#trig, s, d],
        wg,
      );
    }
  }

  /** Host convenience: projects a whole volume, streaming it through the GPU in slabs. */
  project(volume: Float32Array): Promise<Float32Array> {
    return this.#stream(volume, "forward");
  }

  /** Host convenience: applies `Aᵀ` to a whole sinogram stack. */
  backprojectAdjoint(sinogram: Float32Array): Promise<Float32Array> {
    return this.#stream(sinogram, "adjoint");
  }

  #stream(input: Float32Array, entry: "forward" | "adjoint"): Promise<Float32Array> {
    const { Z, H, W } = this.shape;
    if (this.#sparse) return onHost(this.#sparse, input, Z, entry);
    const per: [number, number] = entry === "forward" ? [H * W, this.sliceRange] : [this.sliceRange, H * W];
    const views = new Map<number, Projector>();
    const view = (n: number) => {
      if (!views.has(n)) {
        views.set(n, new Projector(this.gpu, this.geometry, { Z: n, H, W }, this.#trig, null));
      }
      return views.get(n)!;
    };
    return streamSlabs(
      this.gpu,
      input,
      Z,
      this.slab,
      per,
      entry,
      (src, dst, n) => entry === "forward" ? view(n).forward(src, dst) : view(n).adjoint(src, dst),
    );
  }

  /** Releases the angle table (the context owns the rest). */
  dispose(): void {
    this.gpu.release(this.#trig);
  }
}

/** Pixels per invocation of the adjoint kernel (`PIX` in shaders/projector.wgsl). */
const ADJOINT_PIXELS = 64;
/** Bins per invocation of the forward kernel (`FB` in shaders/projector.wgsl). */
const FORWARD_BINS = 8;
/** Workgroups over x, and y when x would pass the 65,535 limit (the kernel flattens them back). */
function spread(n: number): [number, number, number] {
  return n <= 65535 ? [n, 1, 1] : [65535, Math.ceil(n / 65535), 1];
}

/**
 * Runs an operator's host helper slab by slab: `apply(src, dst, n)` maps `n ≤ slab` slices held in `src`
 * to `dst`, two GPU buffers of one slab each, so a host volume of any size passes through buffers that
 * fit the device. `per` is the floats per slice of input and output.
 */
export async function streamSlabs(
  gpu: GpuContext,
  input: Float32Array,
  Z: number,
  slab: number,
  per: [number, number],
  what: string,
  apply: (src: GPUBuffer, dst: GPUBuffer, n: number) => Promise<void>,
): Promise<Float32Array> {
  const [inPer, outPer] = per;
  if (input.length !== Z * inPer) {
    throw new RangeError(`${what}: expected ${Z * inPer} values, got ${input.length}`);
  }
  const out = new Float32Array(Z * outPer), nz = Math.min(slab, Z);
  const src = gpu.buffer(nz * inPer * 4), dst = gpu.buffer(nz * outPer * 4);
  try {
    for (let z0 = 0; z0 < Z; z0 += nz) {
      const n = Math.min(nz, Z - z0);
      gpu.write(src, input.subarray(z0 * inPer, (z0 + n) * inPer));
      await apply(src, dst, n);
      out.set(await gpu.download(dst, n * outPer), z0 * outPer);
    }
  } finally {
    gpu.release(src, dst);
  }
  return out;
}

/**
 * Largest slice count per dispatch such that both the image and sinogram slabs fit a binding and slab
 * offsets stay 256-byte aligned.
 */
export function slabSlices(maxBindingBytes: number, shape: SliceShape, rangePerSlice: number): number {
  const per = Math.max(shape.H * shape.W, rangePerSlice) * 4;
  const fit = Math.floor(maxBindingBytes / per);
  if (fit < 1) {
    throw new RangeError(`one slice (${per} bytes) exceeds the GPU binding limit ${maxBindingBytes}`);
  }
  if (fit >= shape.Z) return shape.Z;
  const m1 = ALIGN_FLOATS / gcd(shape.H * shape.W, ALIGN_FLOATS);
  const m2 = ALIGN_FLOATS / gcd(rangePerSlice, ALIGN_FLOATS);
  const m = (m1 * m2) / gcd(m1, m2);
  const aligned = Math.floor(fit / m) * m;
  if (aligned < 1) throw new RangeError(`cannot align slabs of ${fit} slices to 256 bytes`);
  return aligned;
}
