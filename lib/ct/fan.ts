/**
 * The fan-beam projector (flat detector) and its exact adjoint as WGSL kernels, plus the weights of its
 * filtered back-projection (cosine pre-weighting, Parker weights for a short scan, distance weighting).
 * @module
 */
import { type GpuContext, groups, params } from "../gpu/context.ts";
import { grid } from "../gpu/vector.ts";
import { angularStep, type FanGeometry } from "./geometry.ts";
import { fanPixelSize, fanTable } from "./fan_ref.ts";
import { type HostApply, hostSide, type LinearOperator, type SliceShape } from "./operator.ts";
import { slabSlices, streamSlabs } from "./projector.ts";
import { onHost, type SparseEngine } from "./sparse.ts";

/** What fan-beam FBP needs besides the ramp: per-(view, bin) weights, the filter's bin width, the scale. */
export interface FanFbpWeights {
  /** `[A][D]` weights: cosine pre-weighting times the Parker weight (1 for a full scan). */
  weights: Float32Array;
  /** Bin width on the virtual detector through the axis, in pixels (the ramp's sampling). */
  spacing: number;
  /** Factor of the back-projection sum: the angular step, halved for a full scan (every ray twice). */
  scale: number;
  /** `"full"` (2π), `"short"` (π + fan angle or more, Parker weights) or `"partial"` (less: no redundancy weights). */
  scan: "full" | "short" | "partial";
}

/**
 * FBP weights of a fan geometry (Kak & Slaney's equispaced-detector formula on the virtual detector through
 * the axis; Parker's weights when the views cover less than a full turn but at least π plus the fan angle).
 *
 * @example
 * ```ts
 * import { fanBeam } from "./geometry.ts";
 * import { fanFbpWeights } from "./fan.ts";
 * console.log(fanFbpWeights(fanBeam(360, { imageSize: 64 }), 1).scan); // full
 * ```
 */
export function fanFbpWeights(g: FanGeometry, pixelSize: number): FanFbpWeights {
  const A = g.angles.length, D = g.detectorCount;
  const dso = g.sourceOrigin / pixelSize, dod = g.originDetector / pixelSize;
  const mag = (dso + dod) / dso;
  const dw = g.detectorSpacing / pixelSize, off = g.detectorOffset / pixelSize;
  const cu = (D - 1) / 2;
  const sigma = Float64Array.from({ length: D }, (_, u) => ((u - cu) * dw + off) / mag);
  const gamma = sigma.map((s) => Math.atan(s / dso));
  const gm = Math.max(...gamma.map(Math.abs));
  const step = angularStep(g);
  const sorted = [...g.angles].sort((a, b) => a - b);
  const span = sorted[A - 1] - sorted[0] + step;
  const scan = span >= 2 * Math.PI - 1e-6
    ? "full"
    : span >= Math.PI + 2 * gm - 1e-3 * step
    ? "short"
    : "partial";
  const beta0 = sorted[0], end = Math.PI + 2 * gm;
  const parker = (b: number, gam: number) => {
    // Parker (1982): rays measured twice in a short scan share weight 1 between their two views
    if (b < 0 || b > end) return 0;
    if (b < 2 * (gm - gam)) return Math.sin((Math.PI / 4) * (b / (gm - gam))) ** 2;
    if (b <= Math.PI - 2 * gam) return 1;
    return Math.sin((Math.PI / 4) * ((end - b) / (gm + gam))) ** 2;
  };
  const weights = new Float32Array(A * D);
  for (let a = 0; a < A; a++) {
    const b = g.angles[a] - beta0;
    for (let u = 0; u < D; u++) {
      const cos = dso / Math.hypot(dso, sigma[u]);
      weights[a * D + u] = cos * (scan === "short" ? parker(b, -gamma[u]) : 1);
    }
  }
  return { weights, spacing: dw / mag, scale: scan === "full" ? step / 2 : step, scan };
}

/**
 * Fan-beam projection of every slice of a `[Z][H][W]` stack, line integrals in pixel lengths (so the
 * same data scale as the parallel projector: a fan sinogram file holds `μ_water · pixel · y`).
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { FanProjector } from "./fan.ts";
 * import { fanBeam } from "./geometry.ts";
 * const gpu = await GpuContext.create();
 * const A = FanProjector.create(gpu, fanBeam(8, { imageSize: 16 }), { Z: 1, H: 16, W: 16 });
 * const y = await A.project(new Float32Array(256).fill(1));
 * console.log(y.length === 8 * A.geometry.detectorCount); // true
 * A.dispose();
 * gpu.dispose();
 * ```
 */
export class FanProjector implements LinearOperator {
  readonly shape: SliceShape;
  readonly rangeShape: readonly number[];
  readonly domainSize: number;
  readonly rangeSize: number;
  /** Slices per dispatch, so that no binding exceeds the device limit. */
  readonly slab: number;
  /** The image grid's pixel size in mm the geometry is applied with. */
  readonly pixelSize: number;
  /** Where forward and adjoint run: the WGSL kernels, or the sparse engine on the CPU. */
  readonly engine: "wgsl" | "sparse";
  #tab: GPUBuffer;
  #sparse: SparseEngine | null;
  #weights: GPUBuffer | null = null;
  #fbp: FanFbpWeights | null = null;

  private constructor(
    readonly gpu: GpuContext,
    readonly geometry: FanGeometry,
    shape: SliceShape,
    pixelSize: number,
    maxBindingBytes: number,
    sparse: SparseEngine | null,
  ) {
    this.shape = shape;
    this.#sparse = sparse;
    this.engine = sparse ? "sparse" : "wgsl";
    this.pixelSize = pixelSize;
    const A = geometry.angles.length, D = geometry.detectorCount;
    this.rangeShape = [shape.Z, A, D];
    this.domainSize = shape.Z * shape.H * shape.W;
    this.rangeSize = shape.Z * A * D;
    this.slab = slabSlices(maxBindingBytes, shape, A * D);
    this.#tab = gpu.upload(fanTable(geometry, pixelSize), "fan table");
  }

  /**
   * Builds the operator; `pixelSize` (mm) applies when the geometry has none (default 1);
   * `maxBindingBytes` (default: the device's limit) caps the bytes one dispatch binds, which sets the slab;
   * `sparse` (built from {@linkcode fanRays} by `createProjector`) runs forward and adjoint on the CPU.
   */
  static create(
    gpu: GpuContext,
    geometry: FanGeometry,
    shape: SliceShape,
    pixelSize?: number,
    options: { maxBindingBytes?: number; sparse?: SparseEngine } = {},
  ): FanProjector {
    const limit = Math.min(options.maxBindingBytes ?? gpu.maxBinding, gpu.maxBinding);
    return new FanProjector(
      gpu,
      geometry,
      shape,
      fanPixelSize(geometry, pixelSize),
      limit,
      options.sparse ?? null,
    );
  }

  /** FBP weights of this geometry (computed once). */
  get fbpWeights(): FanFbpWeights {
    return this.#fbp ??= fanFbpWeights(this.geometry, this.pixelSize);
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
    return this.#dispatch("forward", x, y, 1);
  }

  adjoint(y: GPUBuffer, x: GPUBuffer): Promise<void> {
    if (this.#sparse) return this.#sparse.adjoint(this.gpu, y, x, this.shape.Z);
    return this.#dispatch("adjoint", y, x, 1);
  }

  /** FBP's distance-weighted back-projection of filtered rows, times `scale`. */
  backproject(q: GPUBuffer, x: GPUBuffer, scale: number): Promise<void> {
    return this.#dispatch("backproject", q, x, scale);
  }

  /** `dst = src ·` the FBP pre-weights of each (view, bin), for every slice. */
  async weightRows(src: GPUBuffer, dst: GPUBuffer): Promise<void> {
    this.#weights ??= this.gpu.upload(this.fbpWeights.weights, "fan fbp weights");
    const { Z, H, W } = this.shape, A = this.geometry.angles.length, D = this.geometry.detectorCount;
    await this.gpu.run(
      "fan",
      "weight_rows",
      params(H, W, D, A, Z, { f: 1 }, 0, 0),
      [this.#weights, src, dst],
      grid(
        this.rangeSize,
      ),
    );
  }

  async #dispatch(
    entry: "forward" | "adjoint" | "backproject",
    src: GPUBuffer,
    dst: GPUBuffer,
    scale: number,
    Z = this.shape.Z,
  ) {
    const { H, W } = this.shape, A = this.geometry.angles.length, D = this.geometry.detectorCount;
    const img = H * W, sino = A * D;
    const [srcPer, dstPer] = entry === "forward" ? [img, sino] : [sino, img];
    for (let z0 = 0; z0 < Z; z0 += this.slab) {
      const nz = Math.min(this.slab, Z - z0);
      await this.gpu.run(
        "fan",
        entry,
        params(H, W, D, A, nz, { f: scale }, 0, 0),
        [
          this.#tab,
          { buffer: src, offset: z0 * srcPer * 4, size: nz * srcPer * 4 },
          { buffer: dst, offset: z0 * dstPer * 4, size: nz * dstPer * 4 },
        ],
        entry === "forward" ? [groups(D), A, nz] : [groups(W), H, nz],
      );
    }
  }

  /** Host convenience: projects a whole volume, streaming it through the GPU in slabs. */
  project(volume: Float32Array): Promise<Float32Array> {
    return this.#host(volume, "forward");
  }

  /** Host convenience: applies `Aᵀ` to a whole sinogram stack. */
  backprojectAdjoint(sinogram: Float32Array): Promise<Float32Array> {
    return this.#host(sinogram, "adjoint");
  }

  #host(input: Float32Array, entry: "forward" | "adjoint"): Promise<Float32Array> {
    if (this.#sparse) return onHost(this.#sparse, input, this.shape.Z, entry);
    const { H, W } = this.shape, sino = this.geometry.angles.length * this.geometry.detectorCount;
    const per: [number, number] = entry === "forward" ? [H * W, sino] : [sino, H * W];
    return streamSlabs(
      this.gpu,
      input,
      this.shape.Z,
      this.slab,
      per,
      entry,
      (src, dst, n) => this.#dispatch(entry, src, dst, 1, n),
    );
  }

  dispose(): void {
    this.gpu.release(this.#tab, this.#weights ?? undefined);
  }
}
