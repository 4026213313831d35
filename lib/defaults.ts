/**
 * The one table of method defaults: the library, every task's `--help`, the README and `evaluate`'s notes
 * read them from here, so they cannot disagree.
 * @module
 */

/**
 * Defaults per method. TV's λ is for x in attenuation units u (water 1). It was 0.04, chosen on a grid that
 * stopped there; on blendct's own held-out cases (the plastimatch chest at 4 and 8 views and 90°, LIDC and
 * headsq at 8 views; README, Results) tuned TV's best λ is 0.16–0.32, and 0.16 as blend++'s TV start and
 * finish raised its worst plane by 0.2–0.75 dB on every one of them (0.32: within 0.05 dB of 0.16). So 0.16;
 * `evaluate` still tunes TV's λ per case.
 * The diffusion steps keep the default run under 10 minutes on 2 CPU cores; dds's ρ and λ are the
 * reference code's (HJ-harry/DDS), converted to blendct's units at run time.
 */
export const METHOD_DEFAULTS = {
  fbp: { filter: "ramp" },
  cgls: { iterations: 30 },
  tv: { iterations: 300, lambda: 0.16 },
  dds: { steps: 50, eta: 0.85, cgIters: 5, referenceRho: 10, referenceLambda: 0.04 },
  /** DDS 2D: the prior slice by slice, no z coupling (HJ-harry/DDS's 2D sparse-view script). */
  dds2d: { steps: 50, eta: 0.85, cgIters: 5 },
  /**
   * DiffusionMBIR: 30 noise levels (the reference's 2,000 are 4,000 network calls per slice), CG 1 per data
   * step, the reference's ρ 10 / λ 0.04 (converted), snr 0.16, a final CG 5 for its Kaczmarz sweep.
   */
  mbir: {
    levels: 30,
    /** The reference's noise levels (`--preset paper`), 4,000 network calls per slice. */
    referenceLevels: 2000,
    // at 30 levels the reference's reverse-diffusion predictor adds 1.5x the noise variance per level; the
    // ancestral one is exact in variance (3 LIDC slices, 8 views: 21.8 vs 19.5 dB)
    predictor: "ancestral" as "reverse" | "ancestral",
    snr: 0.16,
    cgIters: 1,
    referenceRho: 10,
    referenceLambda: 0.04,
    finalCg: 5,
  },
  /** TPDM: axial triplets with CG data consistency, coronal triplets (unconditional) at every K-th step. */
  tpdm: { steps: 50, eta: 0.85, cgIters: 5, auxEvery: 2 },
  blend: { steps: 80, eta: 0.85, cgIters: 5, jumpEvery: 2 },
  "blend++": { steps: 80, eta: 0.85, cgIters: 5, jumpEvery: 2 },
  /** The command line's blend/blend++ (measured best; `--preset paper` runs the published loop instead). */
  cliBlend: { start: "tv", startIters: 150, t0: 300, steps: 20, finish: "tv" },
  /** `--preset paper`: the published loop. */
  paper: { steps: 200, cgIters: 5 },
  /**
   * `--adapt` (test-time adaptation through the torch back end): Adam steps per sampler step, learning
   * rate, slices per Adam step, LoRA rank, adapted layers. Measured on the held-out chest (README).
   */
  adapt: { iters: 3, lr: 3e-4, slices: 6, rank: 4, layers: "lora" as "lora" | "norm" },
  /**
   * `--finish tv`: min ½‖Ax − y‖² + λ TV(x) + (γ/2)‖x − d‖² from the sampler's output d, with TV's λ (or
   * `--dc tv`'s) and this anchor weight γ and iteration count; from {@linkcode DENSE_VIEWS} views on it runs
   * `denseIterations` (see {@linkcode finishIterations}).
   */
  finish: { gamma: 0.5, iterations: 100, denseIterations: 300 },
  /** `--dc tv`: the per-step TV-regularised data consistency's λ (x in u) and anchor weight γ. */
  dcTv: { lambda: 0.005, gamma: 0.1 },
  /** Diffusion runs save a resumable state every this many steps (and on an interrupt). */
  stateEvery: 10,
} as const;

/**
 * The wall-time budget of one command-line run (the default run's: 10 minutes on 2 CPU cores), which a
 * method's default step count is chosen to keep.
 */
export const RUN_BUDGET_SECONDS = 600;

/**
 * Seconds of one network call on one 256² slice on this machine kind (2 CPU cores, onnxruntime-node):
 * the fastest quiet step measured, 1.61 s of network for 36 slices (issue 13's machine; BENCHMARKS.md's table
 * on the same kind: 1.68 s), so the estimate errs short. A call's cost grows with the pixel count.
 */
export const SECONDS_PER_SLICE_CALL = 1.61 / 36;

/**
 * An estimate of mbir's network time: a predictor and a corrector call per level for each slice.
 *
 * @example
 * ```ts
 * import { mbirSeconds } from "./defaults.ts";
 * console.log(Math.round(mbirSeconds(2000, [36, 256, 256]) / 60)); // 107
 * ```
 */
export function mbirSeconds(levels: number, shape: readonly [number, number, number]): number {
  const [Z, H, W] = shape;
  return levels * 2 * Z * (H * W / (256 * 256)) * SECONDS_PER_SLICE_CALL;
}

/**
 * One line per method for help texts and notes.
 *
 * @example
 * ```ts
 * import { defaultsTable } from "./defaults.ts";
 * console.log(defaultsTable()[1]); // cgls: 30 iterations
 * ```
 */
export function defaultsTable(): string[] {
  const d = METHOD_DEFAULTS;
  return [
    `fbp: ${d.fbp.filter} filter`,
    `cgls: ${d.cgls.iterations} iterations`,
    `tv: ${d.tv.iterations} iterations, lambda ${d.tv.lambda}`,
    `dds2d: ${d.dds2d.steps} steps slice by slice, eta ${d.dds2d.eta}, CG ${d.dds2d.cgIters}`,
    `mbir: ${d.mbir.levels} noise levels, ${d.mbir.predictor} predictor, snr ${d.mbir.snr}, CG ${d.mbir.cgIters} per data step, rho ${d.mbir.referenceRho} / lambda ${d.mbir.referenceLambda} (reference units), final CG ${d.mbir.finalCg}`,
    `tpdm: ${d.tpdm.steps} steps, coronal every ${d.tpdm.auxEvery}, eta ${d.tpdm.eta}, CG ${d.tpdm.cgIters}`,
    `fbpunet: FBP + a residual 2D UNet per setting (models/fbpunet-*.json)`,
    `dds: ${d.dds.steps} steps, eta ${d.dds.eta}, CG ${d.dds.cgIters}, rho ${d.dds.referenceRho} / lambda ${d.dds.referenceLambda} (reference units)`,
    `--adapt (blend++, blend, dds; torch back end): ${d.adapt.iters} Adam steps per step, lr ${d.adapt.lr}, ${d.adapt.slices} slices, ${d.adapt.layers} rank ${d.adapt.rank} on every convolution`,
    `--finish tv: anchor gamma ${d.finish.gamma}, ${d.finish.iterations} iterations (${d.finish.denseIterations} from ${DENSE_VIEWS} views); --dc tv: lambda ${d.dcTv.lambda}, gamma ${d.dcTv.gamma}; diffusion state saved every ${d.stateEvery} steps`,
    `blend, blend++ (default preset, in every entry point): start ${d.cliBlend.start} (${d.cliBlend.startIters} iterations) at t0 ${d.cliBlend.t0}, ${d.cliBlend.steps} steps, finish ${d.cliBlend.finish}, eta ${d.blend.eta}, CG ${d.blend.cgIters}, jump every ${d.blend.jumpEvery}; --start noise: ${d.blend.steps} steps; --preset paper: ${d.paper.steps} steps from noise`,
  ];
}

/**
 * From this many views the default blend/blend++ run's TV finish runs `METHOD_DEFAULTS.finish.denseIterations`
 * (300, not 100): on blendct's held-out cases it then gained where the data are dense — plastimatch's chest
 * at 60 views +0.82 dB (43.63 → 44.45), at 90° limited angle (90 views) +0.50, LIDC at 16 views +0.37 — and
 * was level at 16 views on the chest; at 4 and 8 views it was level too (±0.02 dB, chest and headsq), so
 * sparse runs keep 100 and their time. Even so, from here on over a full arc TV stayed ahead of blend++ on
 * those chests (60 views −0.38 dB, chest 16 views −0.13, LIDC 16 views −1.6): {@linkcode denseViewsNotice}.
 */
export const DENSE_VIEWS = 16;

/**
 * The TV finish's iteration count for a run with `views` views (see {@linkcode DENSE_VIEWS}).
 *
 * @example
 * ```ts
 * import { finishIterations } from "./defaults.ts";
 * console.log(finishIterations(8), finishIterations(60)); // 100 300
 * ```
 */
export function finishIterations(views: number): number {
  const f = METHOD_DEFAULTS.finish;
  return views >= DENSE_VIEWS ? f.denseIterations : f.iterations;
}

/**
 * A one-line notice for a blend/blend++ run with at least {@linkcode DENSE_VIEWS} views spread over a full
 * arc (their angles span 135° or more), pointing at TV; `null` otherwise. `angles` in radians.
 *
 * @example
 * ```ts
 * import { denseViewsNotice } from "./defaults.ts";
 * const arc = (n: number, deg: number) => Array.from({ length: n }, (_, i) => (i * deg * Math.PI) / 180 / n);
 * console.log(denseViewsNotice("blend++", arc(8, 180))); // null
 * console.log(denseViewsNotice("blend++", arc(90, 90))); // null
 * console.log(denseViewsNotice("blend++", arc(60, 180))?.startsWith("blend++ at 60 views")); // true
 * ```
 */
export function denseViewsNotice(method: string, angles: readonly number[]): string | null {
  if ((method !== "blend" && method !== "blend++") || angles.length < DENSE_VIEWS) return null;
  const span = Math.max(...angles) - Math.min(...angles);
  if (span < (135 * Math.PI) / 180) return null;
  return `${method} at ${angles.length} views: its defaults were tuned at 4-8 views, and from ${DENSE_VIEWS} ` +
    `views on TV was ahead of it on blendct's held-out chests (60 views: 0.4 dB, LIDC at 16: 1.6 dB); compare with --method tv`;
}
