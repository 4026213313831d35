/**
 * One problem per run: the case, the operator that measured it (or that its measured data were taken
 * with) and its data on the device, built once and handed to every stage: the FBP preview, the start, the
 * sampler, the finish and the step plot. Nothing is projected twice and `y` crosses to the device once.
 * @module
 */
import type { GpuContext } from "../gpu/context.ts";
import type { Geometry } from "../ct/geometry.ts";
import { createProjector, type CtProjector } from "../ct/system.ts";
import type { ProjectorEngine } from "../ct/sparse.ts";
import { type Case, type CaseSpec, loadCase } from "./case.ts";

/** A run's problem: release it with {@linkcode Problem.dispose} (the context stays open). */
export interface Problem {
  /** The case: host data, ground truth, units, notices. */
  case: Case;
  /** The acquisition geometry (the case's). */
  geometry: Geometry;
  /** The operator the data were measured with, for every stage of the run. */
  operator: CtProjector;
  /** The measurements `y` on the device (`operator.rangeSize` floats). */
  y: GPUBuffer;
  /** Releases the operator and `y`. */
  dispose(): void;
}

/** Options for {@linkcode openProblem}. */
export interface OpenProblemOptions {
  /**
   * Where the operator's forward and adjoint run (`lib/ct/system.ts`): `auto` (the sparse CPU engine on
   * a software adapter), `wgsl` or `sparse`; or a choice by geometry, known once the case is read (FBP
   * alone needs no sparse copy of a slice geometry). @default "auto"
   */
  engine?: ProjectorEngine | ((geometry: Geometry) => ProjectorEngine);
}

/**
 * Loads the case `spec` describes and builds its operator once: a simulated case is measured with the
 * operator that the run then reconstructs with; a measured sinogram or raw projections get the operator of
 * their geometry.
 *
 * @example
 * ```ts
 * import { GpuContext } from "../gpu/context.ts";
 * import { writeVolumeFile } from "../io/files.ts";
 * import { makeVolume } from "../volume.ts";
 * import { openProblem } from "./problem.ts";
 * import { reconstructWith } from "./reconstruct.ts";
 * const path = await Deno.makeTempFile({ suffix: ".nii.gz" });
 * await writeVolumeFile(path, makeVolume(new Float32Array(2 * 32 * 32).fill(0.5), [2, 32, 32], { unit: "image" }));
 * const gpu = await GpuContext.create();
 * const p = await openProblem(gpu, { input: path, views: 8 });
 * const x = await reconstructWith(p.operator, p.y, { method: "fbp" }, { gpu });
 * console.log(x.length === p.operator.domainSize); // true
 * p.dispose();
 * gpu.dispose();
 * ```
 */
export async function openProblem(
  gpu: GpuContext,
  spec: CaseSpec,
  options: OpenProblemOptions = {},
): Promise<Problem> {
  let operator: CtProjector | null = null;
  const engine = (g: Geometry) => typeof options.engine === "function" ? options.engine(g) : options.engine;
  try {
    const c = await loadCase(gpu, spec, {
      openOperator: async (
        geometry,
        shape,
      ) => (operator = await createProjector(gpu, geometry, shape, { engine: engine(geometry) })),
    });
    const [Z, H, W] = c.shape;
    operator ??= await createProjector(gpu, c.geometry, { Z, H, W }, { engine: engine(c.geometry) });
    const A: CtProjector = operator;
    const y = gpu.upload(c.y, "y");
    return {
      case: c,
      geometry: c.geometry,
      operator: A,
      y,
      dispose: () => {
        gpu.release(y);
        A.dispose();
      },
    };
  } catch (e) {
    (operator as CtProjector | null)?.dispose();
    throw e;
  }
}
