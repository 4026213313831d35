/**
 * What `evaluate` does per method: the priors the methods need, one method run on a case (TV's λ tuned on
 * a grid against the ground truth, the others through `reconstruct`), and the note each row carries (the
 * reference it follows, its settings and deviations).
 * @module
 */
import { METHOD_DEFAULTS } from "../lib/defaults.ts";
import type { GpuContext } from "../lib/gpu/context.ts";
import { type Case, caseVolume } from "../lib/jobs/case.ts";
import type { Problem } from "../lib/jobs/problem.ts";
import {
  isDiffusion,
  type Method,
  type MethodConfig,
  reconstructWith,
  resolveMethod,
} from "../lib/jobs/reconstruct.ts";
import { computeMetrics } from "../lib/metrics/index.ts";
import { createProgress } from "../lib/report/progress.ts";
import { modelMap } from "../lib/prior/card.ts";
import { openPrior, type Prior, priorFor } from "../lib/prior/prior.ts";
import type { BackendChoice, PrecisionChoice } from "../lib/prior/denoiser.ts";
import type { Volume } from "../lib/volume.ts";
import { parseVariant } from "./_evaluate_flags.ts";
import { UserError } from "../lib/errors.ts";

/** The priors of an evaluation: the 3-slice prior and, for `dds2d` and `mbir`, the 2D prior. */
export interface EvalPriors {
  /** The 3-slice prior, or the 2D one when only slice-by-slice methods run (its card sizes the slices). */
  main: Prior | null;
  /** The prior `method` runs on. */
  of(method: string): Prior | null;
  /** The sha256 of every opened model, for fingerprints (null when none is open). */
  sha256: string | null;
  dispose(): Promise<void>;
}

/** Opens each prior that one of `specs` (method or method/variant) needs, once. */
export async function openPriors(
  specs: string[],
  backend: BackendChoice,
  precision: PrecisionChoice = "auto",
  model?: string,
): Promise<EvalPriors> {
  const methods = specs.map((s) => parseVariant(s).method).filter(isDiffusion);
  const slice = methods.some((m) => priorFor(m))
    ? await openPrior({ backend, precision, method: "dds2d" })
    : null;
  const three = methods.some((m) => !priorFor(m)) ? await openPrior({ backend, precision, model }) : null;
  if (three?.card.slices === 1) {
    await three.dispose();
    await slice?.dispose();
    throw new UserError(
      `--model ${model}: ${three.card.name} is a 2D (1-slice) prior; dds, tpdm, blend and blend++ need a 3-slice card`,
    );
  }
  return {
    main: three ?? slice,
    sha256: [three, slice].filter((p) => p).map((p) => p!.card.sha256).join(",") || null,
    of: (m) => (priorFor(m) ? slice : three),
    dispose: async () => {
      await slice?.dispose();
      await three?.dispose();
    },
  };
}

/** What one method gave on a case: the volume in u, the row's note and the network calls it made. */
export interface MethodRun {
  x: Float32Array;
  note: string;
  calls: number;
}

/** The case-wide inputs of {@linkcode runMethod}. */
export interface MethodContext {
  gpu: GpuContext;
  /** The case's problem: one operator and `y` on the device for every method and every λ of the grid. */
  problem: Problem;
  c: Case;
  priors: EvalPriors;
  /** The ground truth in the case's unit, and the metric range, for tuning TV. */
  truth: Volume;
  range: [number, number];
  /** Classical results by method, the start of diffusion variants (`start` option). */
  classical: Map<string, Float32Array>;
  flags: { steps?: number; seed: number; "tv-lambdas": number[]; "tv-iterations"?: number };
  label: string;
}

/** Runs `spec` (a method, or `method/key=value,…`) on the case; classical results are kept in the context. */
export async function runMethod(spec: string, ctx: MethodContext): Promise<MethodRun> {
  const { method, options: variant } = parseVariant(spec);
  const { gpu, flags: f } = ctx;
  if (method === "tv") {
    const best = await tunedTv(gpu, ctx.problem, f["tv-lambdas"], f["tv-iterations"], ctx.truth, ctx.range);
    ctx.classical.set("tv", best.x);
    return { x: best.x, note: `λ=${best.lam} (best of ${f["tv-lambdas"].join(",")})`, calls: 0 };
  }
  const prior = ctx.priors.of(method);
  const progress = createProgress(`${ctx.label} ${method}`);
  let calls = 0;
  const x = await reconstructWith(ctx.problem.operator, ctx.problem.y, {
    method,
    steps: method === "blend" || method === "blend++" ? f.steps : undefined,
    seed: f.seed,
    schedule: prior?.card.schedule,
    modelMap: prior ? modelMap(prior.card) : undefined,
    ...variant,
  }, {
    gpu,
    model: prior?.denoiser,
    startEstimate: variant.start ? ctx.classical.get(variant.start) : undefined,
    onProgress: (d, t, e) => {
      if (e) calls += method === "mbir" ? 2 : 1; // mbir: predictor and corrector
      progress.update(d, t);
    },
  });
  progress.done();
  if (!isDiffusion(method) && !spec.includes("/")) ctx.classical.set(method, x);
  const twoD = prior?.card.slices === 1 ? "the 2D prior" : "{z,z,z} to the 3-slice prior";
  return { x, note: methodNote(method, variant, f.steps, twoD), calls };
}

/** TV at each λ of the grid; the one with the best mean PSNR over the planes. */
export async function tunedTv(
  gpu: GpuContext,
  problem: Problem,
  lambdas: number[],
  iterations: number | undefined,
  truth: Volume,
  range: [number, number],
): Promise<{ x: Float32Array; lam: number; score: number }> {
  const c = problem.case;
  let best: { x: Float32Array; lam: number; score: number } | null = null;
  for (const lam of lambdas) {
    const tv = { method: "tv" as const, tvLambda: lam, iterations };
    const cand = await reconstructWith(problem.operator, problem.y, tv, { gpu });
    const p = computeMetrics(caseVolume(c, cand), truth, { range }).psnr;
    const score = (p.axial + p.coronal + p.sagittal) / 3;
    console.error(`  tv λ=${lam}: mean PSNR ${score.toFixed(2)} dB`);
    if (!best || score > best.score) best = { x: cand, lam, score };
  }
  return best!;
}

/** The note of a row: the reference a method follows and the settings it ran with. */
export function methodNote(
  method: Method,
  variant: Partial<MethodConfig>,
  steps: number | undefined,
  twoD = "the 2D prior",
): string {
  const d = METHOD_DEFAULTS;
  const ztv = variant.ztvFrom !== undefined ? `; z-TV only for t ≤ ${variant.ztvFrom} (variant)` : "";
  const opts = Object.entries(variant).map(([k, v]) => `${k} ${v}`).join(", ");
  switch (method) {
    case "fbpunet":
      return "FBP + residual 2D UNet (models/fbpunet-*.json, 6 min of CPU training each)";
    case "dds2d":
      return `${d.dds2d.steps} steps slice by slice (${twoD}), CG ${d.dds2d.cgIters}, no z coupling`;
    case "dds":
      return `reference: ${d.dds.steps} steps, no clip, circular Dz, z-TV ρ=${d.dds.referenceRho} λ=${d.dds.referenceLambda} (reference units)${ztv}`;
    case "mbir":
      return `${variant.steps ?? d.mbir.levels} noise levels (reference: 2000) on ${twoD}, ${
        variant.predictor ?? d.mbir.predictor
      } predictor, PC snr ${d.mbir.snr}, CG 1 + z-TV ADMM ρ=${d.mbir.referenceRho} λ=${d.mbir.referenceLambda} (reference units)${ztv}`;
    case "tpdm":
      return `${d.tpdm.steps} steps, coronal every ${
        variant.auxEvery ?? d.tpdm.auxEvery
      }, CG data step (not DPS)`;
    case "blend":
    case "blend++": {
      // described as it runs: the one resolver fills the preset's settings
      const r = resolveMethod({ method, steps, ...variant });
      const from = r.start === "noise" ? "from noise" : `from ${r.start} at t0 ${r.t0}`;
      return `${r.preset ?? "default"} preset: ${
        r.steps ?? d.blend.steps
      } steps ${from}, η=${d.blend.eta}, CG ${r.cgIters ?? d.blend.cgIters}${
        r.finish === "tv" ? ", TV finish" : ""
      }${opts ? `; ${opts}` : ""}`;
    }
    default:
      return "";
  }
}
