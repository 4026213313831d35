/**
 * The flags of `deno task reconstruct`: their help, their zod schema (with the combinations that are
 * refused rather than ignored) and the method configuration they resolve to.
 * @module
 */
import { z } from "../lib/deps.ts";
import { VOLUME_INPUTS } from "../lib/io/files.ts";
import { FBP_FILTERS } from "../lib/ct/fbp.ts";
import { modelMap, seenCoronal } from "../lib/prior/card.ts";
import { UserError } from "../lib/errors.ts";
import { isDiffusion, type MethodConfig, METHODS, resolveMethod, STARTS } from "../lib/jobs/reconstruct.ts";
import { mbirSeconds, METHOD_DEFAULTS, RUN_BUDGET_SECONDS } from "../lib/defaults.ts";
import { DEFAULT_CASE } from "../lib/cases.ts";
import { openPrior, type Prior } from "../lib/prior/prior.ts";
import type { PrecisionChoice } from "../lib/prior/denoiser.ts";
import { displayFlag, flagSchema, intFlag, numberFlag, rangeFlag } from "./_cli.ts";
import {
  ANGLE_RANGE_FLAG,
  MODEL_FLAG,
  MU_WATER_FLAG,
  NOISE_FLAG,
  PRECISION_FLAG,
  PROJECTOR_FLAG,
  SEED_FLAG,
  UNIT_FLAG,
  VIEWS_FLAG,
} from "./_shared_flags.ts";

const pos = (name: string) => intFlag(name).pipe(z.number().int().min(1, "must be at least 1"));

/**
 * The back-end and adaptation flags, declared once and shared by `reconstruct` and `--task zsr`: their
 * help, their schema, the combinations refused, and the adaptation settings they resolve to.
 */
export const BACKEND_FLAGS = {
  backend: {
    type: "string",
    help:
      "Denoiser back end: auto, webgpu, wasm, native, torch (the card's PyTorch checkpoint; needed by --adapt)",
    default: "auto (torch with --adapt)",
    schema: z.enum(["auto", "webgpu", "wasm", "native", "torch"], {
      error: "must be auto, webgpu, wasm, native or torch",
    }).default("auto"),
  },
  device: {
    type: "string",
    help: "--backend torch: where its worker runs: auto (CUDA when present), cpu, cuda",
    default: "auto",
    schema: z.enum(["auto", "cpu", "cuda"], { error: "must be auto, cpu or cuda" }).optional(),
  },
  adapt: {
    type: "boolean",
    help:
      "blend++, blend, dds: adapt the prior to this scan while sampling (LoRA adapters trained on the data residual; PyTorch)",
    schema: z.boolean().default(false),
  },
  "adapt-iters": {
    type: "string",
    help: "--adapt: Adam steps per sampler step",
    default: String(METHOD_DEFAULTS.adapt.iters),
    schema: intFlag("adapt-iters").pipe(
      z.number().int().min(1, "must be at least 1").max(100, "must be at most 100"),
    )
      .optional(),
  },
  "adapt-lr": {
    type: "string",
    help: "--adapt: Adam's learning rate",
    default: String(METHOD_DEFAULTS.adapt.lr),
    schema: numberFlag("adapt-lr").pipe(z.number().positive("must be > 0").max(1, "must be at most 1"))
      .optional(),
  },
  "adapt-slices": {
    type: "string",
    help: "--adapt: slices adapted on per Adam step (whole triplets, drawn at random from --seed)",
    default: String(METHOD_DEFAULTS.adapt.slices),
    schema: pos("adapt-slices").pipe(z.number().max(48, "must be at most 48 (one Adam step's batch)"))
      .optional(),
  },
  "adapt-rank": {
    type: "string",
    help: "--adapt: LoRA rank",
    default: String(METHOD_DEFAULTS.adapt.rank),
    schema: intFlag("adapt-rank").pipe(
      z.number().int().min(1, "must be at least 1").max(64, "must be at most 64"),
    )
      .optional(),
  },
  "adapt-layers": {
    type: "string",
    help: "--adapt: lora (every convolution) or norm (scale and shift after every GroupNorm)",
    default: METHOD_DEFAULTS.adapt.layers,
    schema: z.enum(["lora", "norm"], { error: "must be lora or norm" }).optional(),
  },
} as const;

type BackendFlags = {
  method: string;
  backend: "auto" | "webgpu" | "wasm" | "native" | "torch";
  device?: "auto" | "cpu" | "cuda";
  adapt: boolean;
  "adapt-iters"?: number;
  "adapt-lr"?: number;
  "adapt-slices"?: number;
  "adapt-rank"?: number;
  "adapt-layers"?: "lora" | "norm";
};

/** The combinations of {@linkcode BACKEND_FLAGS} that are refused rather than ignored. */
export function refineBackend(f: BackendFlags, ctx: z.RefinementCtx, adaptable: string[]): void {
  const adaptFlags = (["adapt-iters", "adapt-lr", "adapt-slices", "adapt-rank", "adapt-layers"] as const)
    .filter(
      (k) => f[k] !== undefined,
    );
  if (!f.adapt && adaptFlags.length) {
    ctx.addIssue({ code: "custom", path: [adaptFlags[0]], message: "applies with --adapt" });
  }
  if (f.adapt && !adaptable.includes(f.method)) {
    ctx.addIssue({
      code: "custom",
      path: ["adapt"],
      message: `applies to ${adaptable.join(", ")}, not --method ${f.method}`,
    });
  }
  if (f.adapt && f.backend !== "auto" && f.backend !== "torch") {
    ctx.addIssue({
      code: "custom",
      path: ["backend"],
      message: `${f.backend} has no gradients: --adapt runs on --backend torch (or auto)`,
    });
  }
  if (f["adapt-rank"] !== undefined && f["adapt-layers"] === "norm") {
    ctx.addIssue({ code: "custom", path: ["adapt-rank"], message: "applies to --adapt-layers lora" });
  }
  if (f.device !== undefined && f.backend !== "torch" && !f.adapt) {
    ctx.addIssue({ code: "custom", path: ["device"], message: "applies to --backend torch" });
  }
}

/**
 * The prior a run's flags ask for (`--model`, `--backend`, `--device`, `--precision`), opened; `method`
 * lets `auto` choose the back end the method runs best on.
 */
export async function openFlagsPrior(
  f: BackendFlags & { model?: string; precision: PrecisionChoice },
  method?: string,
): Promise<Prior> {
  return await openPrior({
    model: f.model,
    backend: priorBackend(f),
    device: f.device,
    precision: f.precision,
    ...(method ? { method } : {}),
  });
}

/** The back end to open the prior on: `--adapt` turns `auto` into torch, the one back end with gradients. */
export function priorBackend(f: BackendFlags): BackendFlags["backend"] {
  return f.adapt && f.backend === "auto" ? "torch" : f.backend;
}

/** The adaptation settings the flags ask for (with the measured defaults), or nothing without `--adapt`. */
export function adaptConfig(f: BackendFlags): Pick<MethodConfig, "adapt"> {
  return f.adapt
    ? {
      adapt: {
        iters: f["adapt-iters"] ?? METHOD_DEFAULTS.adapt.iters,
        lr: f["adapt-lr"] ?? METHOD_DEFAULTS.adapt.lr,
        slices: f["adapt-slices"] ?? METHOD_DEFAULTS.adapt.slices,
        rank: f["adapt-rank"] ?? METHOD_DEFAULTS.adapt.rank,
        layers: f["adapt-layers"] ?? METHOD_DEFAULTS.adapt.layers,
      },
    }
    : {};
}

export const FLAGS = {
  task: {
    type: "string",
    help:
      "ct: reconstruct from views; zsr: z-super-resolution of --input by --factor (see --task zsr --help)",
    default: "ct",
    schema: z.enum(["ct", "zsr"], { error: "must be ct or zsr" }).optional(),
  },
  factor: {
    type: "string",
    help: "--task zsr: thin slices per thick slice (>= 2)",
    schema: z.string().optional(),
  },
  input: {
    type: "string",
    help: `Volume to reconstruct from simulated views (${VOLUME_INPUTS})`,
    default: DEFAULT_CASE.input,
    schema: z.string().optional(),
  },
  slices: {
    type: "string",
    help: "Slice range A:B of the input (end exclusive)",
    default: "all (default case: 48:84)",
    schema: z.string().regex(/^\d+:\d+$/, "must be A:B, e.g. 48:84").optional(),
  },
  views: VIEWS_FLAG,
  "angle-range": ANGLE_RANGE_FLAG,
  noise: NOISE_FLAG,
  method: {
    type: "string",
    help: `One of ${METHODS.join(", ")}`,
    default: "blend++",
    schema: z.enum(METHODS, { error: `must be one of ${METHODS.join(", ")}` }).default("blend++"),
  },
  steps: {
    type: "string",
    help: "Sampler steps (DDIM)",
    default:
      `${METHOD_DEFAULTS.cliBlend.steps} from the default ${METHOD_DEFAULTS.cliBlend.start} start; ${METHOD_DEFAULTS.blend.steps} from noise (dds: ${METHOD_DEFAULTS.dds.steps})`,
    schema: intFlag("steps").pipe(z.number().int().min(1).max(1000, "must be in 1..1000")).optional(),
  },
  "cg-iters": {
    type: "string",
    help: "CG iterations of data consistency per step",
    default: String(METHOD_DEFAULTS.blend.cgIters),
    schema: intFlag("cg-iters").pipe(z.number().int().min(0, "must be >= 0")).optional(),
  },
  eta: {
    type: "string",
    help: "DDIM eta",
    default: String(METHOD_DEFAULTS.blend.eta),
    schema: numberFlag("eta").pipe(z.number().min(0, "must be in [0, 1]").max(1, "must be in [0, 1]"))
      .optional(),
  },
  "jump-every": {
    type: "string",
    help: "blend++: jump partition every N steps",
    default: String(METHOD_DEFAULTS.blend.jumpEvery),
    schema: intFlag("jump-every").pipe(z.number().int().min(0, "must be >= 0 (0: never)")).optional(),
  },
  rho: {
    type: "string",
    help: "z-TV ADMM penalty (blendct units)",
    default: `0 (dds: reference ${METHOD_DEFAULTS.dds.referenceRho})`,
    schema: numberFlag("rho").pipe(z.number().min(0, "must be >= 0")).optional(),
  },
  lambda: {
    type: "string",
    help: "z-TV weight (blendct units)",
    default: `0 (dds: reference ${METHOD_DEFAULTS.dds.referenceLambda})`,
    schema: numberFlag("lambda").pipe(z.number().min(0, "must be >= 0")).optional(),
  },
  "tv-lambda": {
    type: "string",
    help: "tv: TV weight",
    default: String(METHOD_DEFAULTS.tv.lambda),
    schema: numberFlag("tv-lambda").pipe(z.number().positive("must be > 0")).optional(),
  },
  iterations: {
    type: "string",
    help: "cgls / tv iterations",
    default: `${METHOD_DEFAULTS.cgls.iterations} / ${METHOD_DEFAULTS.tv.iterations}`,
    schema: pos("iterations").optional(),
  },
  filter: {
    type: "string",
    help: `FBP filter: ${FBP_FILTERS.join(", ")}`,
    default: "ramp",
    schema: z.enum(FBP_FILTERS, { error: `must be one of ${FBP_FILTERS.join(", ")}` }).default("ramp"),
  },
  seed: SEED_FLAG,
  ...BACKEND_FLAGS,
  projector: PROJECTOR_FLAG,
  precision: PRECISION_FLAG,
  model: MODEL_FLAG,
  resample: {
    type: "boolean",
    help: "Resample slices to the model's image size instead of refusing",
    schema: z.boolean().default(false),
  },
  unit: UNIT_FLAG,
  "mu-water": MU_WATER_FLAG,
  "metric-range": {
    type: "string",
    help: "Data range LO,HI of PSNR/SSIM in the input's unit",
    default: "HU -1024,3071; image 0,1",
    schema: rangeFlag("metric-range").optional(),
  },
  "display-window": {
    type: "string",
    help: "Preview window: soft, brain, bone, lung or LO,HI in the input's unit",
    default: "soft (image: 0,1)",
    schema: displayFlag.optional(),
  },
  sinogram: {
    type: "string",
    help: "Measured sinogram instead of simulating (needs its .geometry.json or --geometry)",
    schema: z.string().optional(),
  },
  geometry: {
    type: "string",
    help:
      "Geometry JSON: of --sinogram, or to simulate instead of --views (parallel, fanflat, cone, cone_vec; ASTRA's vol_geom/proj_geom; TIGRE's geometry)",
    schema: z.string().optional(),
  },
  reference: {
    type: "string",
    help: "Ground truth for metrics when reconstructing a --sinogram or --projections",
    schema: z.string().optional(),
  },
  projections: {
    type: "string",
    help:
      "Raw cone-beam projections: a folder of TIFFs (one per view, sorted by name), a multi-page TIFF, or a walnut data set orbit folder",
    schema: z.string().optional(),
  },
  flat: {
    type: "string",
    help: "--projections: flat-field TIFFs, comma-separated (averaged)",
    default: "the walnut folder's",
    schema: z.string().transform((v) => v.split(",").filter(Boolean)).optional(),
  },
  dark: {
    type: "string",
    help: "--projections: dark-field TIFFs, comma-separated (averaged)",
    default: "the walnut folder's",
    schema: z.string().transform((v) => v.split(",").filter(Boolean)).optional(),
  },
  every: {
    type: "string",
    help: "--projections: keep every N-th view",
    default: "1",
    schema: pos("every").optional(),
  },
  bin: {
    type: "string",
    help: "--projections: bin detector pixels N x N",
    default: "1",
    schema: pos("bin").optional(),
  },
  grid: {
    type: "string",
    help: "--projections: volume grid Z,H,W when the geometry states none",
    default: "the model's slice size over the field every view sees",
    schema: z.string().regex(/^\d+,\d+,\d+$/, "must be Z,H,W (three whole numbers)").transform((v) =>
      v.split(",").map(Number) as [number, number, number]
    ).refine((v) => v.every((n) => n >= 1), "every size must be at least 1").optional(),
  },
  "voxel-size": {
    type: "string",
    help: "--projections: voxel size DZ,DXY in mm (or one number)",
    default: "from the field",
    schema: z.string().regex(/^[0-9.eE+-]+(,[0-9.eE+-]+)?$/, "must be DZ,DXY or one number, in mm")
      .transform((v) => {
        const n = v.split(",").map(Number);
        return (n.length === 1 ? [n[0], n[0]] : n) as [number, number];
      }).refine((v) => v.every((n) => n > 0 && Number.isFinite(n)), "sizes must be positive mm").optional(),
  },
  "out-dir": {
    type: "string",
    help: "Output folder (metrics, preview, manifest, state)",
    default: "out, or the folder of --output",
    schema: z.string().optional(),
  },
  output: {
    type: "string",
    help: "Reconstructed volume path",
    default: "OUT-DIR/recon.nii.gz",
    schema: z.string().optional(),
  },
  force: {
    type: "boolean",
    help: "Replace the outputs of an earlier run in OUT-DIR",
    schema: z.boolean().default(false),
  },
  resume: {
    type: "boolean",
    help: "Continue an interrupted run from OUT-DIR/state.bin",
    schema: z.boolean().default(false),
  },
  start: {
    type: "string",
    help: "Diffusion: start from noise, or from fbp, cgls or tv forward-noised to --t0",
    default: "blend/blend++: tv (measured best; noise with --preset paper), dds: noise",
    schema: z.enum(STARTS, { error: `must be one of ${STARTS.join(", ")}` }).optional(),
  },
  "start-iters": {
    type: "string",
    help: "Diffusion: iterations of the classical start (cgls, tv)",
    default: `${METHOD_DEFAULTS.cliBlend.startIters} with the default start`,
    schema: pos("start-iters").optional(),
  },
  t0: {
    type: "string",
    help: "Diffusion: timestep to start at (1..999); steps then run from t0 to 0",
    default: `${METHOD_DEFAULTS.cliBlend.t0} with the default start`,
    schema: intFlag("t0").pipe(
      z.number().int().min(1, "must be in 1..999 (0 < t0 < T)").max(999, "must be in 1..999 (0 < t0 < T)"),
    )
      .optional(),
  },
  samples: {
    type: "string",
    help: "Diffusion: K independent chains; output their mean, std.nii.gz their std",
    default: "1",
    schema: pos("samples").optional(),
  },
  dc: {
    type: "string",
    help: "Diffusion data consistency: cg or tv (PDHG with a proximity term)",
    default: "cg",
    schema: z.enum(["cg", "tv"], { error: "must be cg or tv" }).optional(),
  },
  "dc-lambda": {
    type: "string",
    help: "--dc tv: TV weight (attenuation units)",
    default: String(METHOD_DEFAULTS.dcTv.lambda),
    schema: numberFlag("dc-lambda").pipe(z.number().positive("must be > 0")).optional(),
  },
  "dc-gamma": {
    type: "string",
    help: "--dc tv: proximity weight to Tweedie's estimate",
    default: String(METHOD_DEFAULTS.dcTv.gamma),
    schema: numberFlag("dc-gamma").pipe(z.number().min(0, "must be >= 0")).optional(),
  },
  finish: {
    type: "string",
    help: "Diffusion: tv adds a final TV solve anchored to the output (weight --finish-gamma); none",
    default: "blend/blend++: tv, dds: none",
    schema: z.enum(["tv", "none"], { error: "must be tv or none" }).optional(),
  },
  "finish-gamma": {
    type: "string",
    help: "--finish tv: anchor weight γ (γ → 0 gives TV back)",
    default: String(METHOD_DEFAULTS.finish.gamma),
    schema: numberFlag("finish-gamma").pipe(z.number().min(0, "must be >= 0")).optional(),
  },
  "ztv-from": {
    type: "string",
    help: "dds, mbir: run the z-TV ADMM only once t <= T (a labelled variant; the reference runs it always)",
    schema: intFlag("ztv-from").pipe(z.number().int().min(0).max(999, "must be in 0..999")).optional(),
  },
  predictor: {
    type: "string",
    help: "mbir: ancestral (exact in variance at few levels) or reverse (reverse diffusion, the reference's)",
    default: METHOD_DEFAULTS.mbir.predictor,
    schema: z.enum(["reverse", "ancestral"], { error: "must be reverse or ancestral" }).optional(),
  },
  "aux-every": {
    type: "string",
    help:
      "tpdm: the coronal (auxiliary) prior at every K-th step; a fractional K draws it with probability 1/K",
    default: String(METHOD_DEFAULTS.tpdm.auxEvery),
    schema: z.coerce.number({ error: "must be a number" }).gt(1, "must be more than 1").optional(),
  },
  preset: {
    type: "string",
    help:
      "paper: blend/blend++ as published (200 steps, noise start, CG 5, no z-TV, 1 chain); mbir with the reference's 2000 noise levels (refused where over the time budget)",
    schema: z.enum(["paper"], { error: "must be paper" }).optional(),
  },
} as const;

export const Schema = flagSchema(FLAGS).superRefine((f, ctx) => {
  if (f.factor !== undefined) {
    ctx.addIssue({ code: "custom", path: ["factor"], message: "applies to --task zsr" });
  }
  if (!f.projections) {
    const k = (["flat", "dark", "every", "bin", "grid", "voxel-size"] as const).find((k) =>
      f[k] !== undefined
    );
    if (k) ctx.addIssue({ code: "custom", path: [k], message: "applies to --projections" });
  }
  if (f.projections && f.sinogram) {
    ctx.addIssue({
      code: "custom",
      path: ["projections"],
      message: "give --projections or --sinogram, not both",
    });
  }
  if (f.sinogram || f.projections) {
    // measured data fix the acquisition: flags that would change it are refused, not ignored
    const clash = (["views", "angle-range", "noise", "input", "slices", "resample"] as const).find((k) =>
      f[k] !== undefined && f[k] !== false
    );
    if (clash) {
      ctx.addIssue({
        code: "custom",
        path: [clash],
        message: `does not apply with --${
          f.sinogram ? "sinogram" : "projections"
        } (the measured data fix the acquisition)`,
      });
    }
  }
  if (f.geometry && !f.sinogram && !f.projections) {
    const clash = (["views", "angle-range"] as const).find((k) => f[k] !== undefined);
    if (clash) {
      ctx.addIssue({
        code: "custom",
        path: [clash],
        message: "does not apply with --geometry (the file sets the views)",
      });
    }
  }
  // flags a classical method would ignore are refused: steps and the sampler's knobs
  const diffusionOnly = ([
    "start",
    "start-iters",
    "t0",
    "samples",
    "preset",
    "dc",
    "finish",
    "steps",
    "eta",
    "cg-iters",
    "jump-every",
    "rho",
    "lambda",
  ] as const).filter((k) => f[k] !== undefined);
  if (!isDiffusion(f.method) && diffusionOnly.length) {
    ctx.addIssue({
      code: "custom",
      path: [diffusionOnly[0]],
      message:
        `applies to diffusion methods (dds2d, dds, mbir, tpdm, blend, blend++), not --method ${f.method}`,
    });
  }
  refineBackend(f, ctx, ["blend++", "blend", "dds"]);
  if (f.start && f.start !== "noise" && f.t0 === undefined) {
    ctx.addIssue({ code: "custom", path: ["t0"], message: `is required with --start ${f.start}` });
  }
  if (f["ztv-from"] !== undefined && f.method !== "dds" && f.method !== "mbir") {
    ctx.addIssue({
      code: "custom",
      path: ["ztv-from"],
      message: `applies to --method dds or mbir, not ${f.method}`,
    });
  }
  if (f.predictor !== undefined && f.method !== "mbir") {
    ctx.addIssue({
      code: "custom",
      path: ["predictor"],
      message: `applies to --method mbir, not ${f.method}`,
    });
  }
  if (f["aux-every"] !== undefined && f.method !== "tpdm") {
    ctx.addIssue({
      code: "custom",
      path: ["aux-every"],
      message: `applies to --method tpdm, not ${f.method}`,
    });
  }
  if (f.finish === "tv" && f.dc !== "tv" && f["tv-lambda"] === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["finish"],
      message:
        "tv with --dc cg needs the TV weight: pass --tv-lambda (or --dc tv, whose --dc-lambda it uses)",
    });
  }
  if (f.preset === "paper" && isDiffusion(f.method) && !["blend", "blend++", "mbir"].includes(f.method)) {
    ctx.addIssue({
      code: "custom",
      path: ["preset"],
      message:
        `paper applies to blend, blend++ (the published loop) and mbir (the reference's ${METHOD_DEFAULTS.mbir.referenceLevels} noise levels); --method ${f.method} runs its reference's settings by default`,
    });
  }
  if (f.preset === "paper") {
    const clash = ([
      "start",
      "start-iters",
      "t0",
      "samples",
      "steps",
      "cg-iters",
      "rho",
      "lambda",
      "dc",
      "finish",
    ] as const)
      .find((k) => f[k] !== undefined);
    if (clash) {
      ctx.addIssue({
        code: "custom",
        path: [clash],
        message: "cannot be combined with --preset paper (it fixes it)",
      });
    }
  }
  if (f.t0 !== undefined && f.steps !== undefined && f.steps > f.t0 + 1) {
    ctx.addIssue({ code: "custom", path: ["steps"], message: `must be at most t0 + 1 = ${f.t0 + 1}` });
  }
});

/** The parsed flags of `deno task reconstruct`. */
export type Flags = z.infer<typeof Schema>;

/**
 * The command line's defaults for blend / blend++, chosen by the README's ablation on the held-out CTs
 * (the best measured configuration under 10 minutes): start from the TV estimate (150 iterations) noised to
 * t = 300, 20 steps, a final TV solve anchored to the result. `--preset paper` (or `--start noise --finish none`)
 * gives the published loop; `resolveMethod` applies the same defaults in the library, `evaluate` and the page.
 */
export const CLI_BLEND_DEFAULTS = METHOD_DEFAULTS.cliBlend;

/** The method configuration the flags ask for, with the command line's defaults filled in. */
export function methodConfig(f: Flags, prior: Prior | null): MethodConfig {
  if (prior?.card.slices === 1 && f.method !== "dds2d" && f.method !== "mbir") {
    throw new UserError(
      `--method ${f.method} needs the 3-slice prior; ${prior.card.name} is a 2D (1-slice) prior, which only ` +
        "dds2d and mbir use: drop --model or pass a 3-slice card",
    );
  }
  if (f.method === "tpdm" && prior && !seenCoronal(prior.card)) {
    throw new UserError(
      `--method tpdm needs a prior trained on coronal triplets too; ${prior.card.name}'s card says training.axes ${
        String(prior.card.training.axes ?? "z")
      }: retrain with train/train.py --axes all, or pick another method`,
    );
  }
  return resolveMethod({
    method: f.method,
    filter: f.filter,
    iterations: f.iterations,
    tvLambda: f["tv-lambda"],
    eta: f.eta,
    cgIters: f["cg-iters"],
    jumpEvery: f["jump-every"],
    rho: f.rho,
    lambda: f.lambda,
    seed: f.seed,
    schedule: prior?.card.schedule,
    modelMap: prior ? modelMap(prior.card) : undefined,
    ...adaptConfig(f),
    ...(f.preset === "paper" && f.method === "mbir"
      ? { steps: METHOD_DEFAULTS.mbir.referenceLevels, start: "noise" as const, samples: 1 }
      : {
        preset: f.preset,
        steps: f.steps,
        start: f.start,
        startIters: f["start-iters"],
        t0: f.t0,
        samples: f.samples,
        dc: f.dc,
        dcLambda: f["dc-lambda"],
        dcGamma: f["dc-gamma"],
        finish: f.finish,
        finishGamma: f["finish-gamma"],
        ztvFrom: f["ztv-from"],
        predictor: f.predictor,
        auxEvery: f["aux-every"],
      }),
  });
}

/**
 * Refuses an mbir run whose noise levels would take longer than the run budget when the count did not
 * come from `--steps` (the reference's 2,000 levels are 4,000 network calls per slice); asked for with
 * `--steps`, any count runs. Called once the case is loaded, before anything is written.
 */
export function checkBudget(f: Flags, cfg: MethodConfig, shape: readonly [number, number, number]): void {
  if (f.method !== "mbir" || f.steps !== undefined) return;
  const levels = cfg.steps ?? METHOD_DEFAULTS.mbir.levels;
  const seconds = mbirSeconds(levels, shape);
  if (seconds <= RUN_BUDGET_SECONDS) return;
  const fits = Math.floor(levels * RUN_BUDGET_SECONDS / seconds);
  // the count is the user's to choose, not ours to cut: refused, not reduced
  throw new UserError(
    `--method mbir: ${levels} noise levels are ${2 * levels} network calls per slice, about ${
      Math.round(seconds / 60)
    } min for ${shape[0]} slices of ${shape[1]}x${shape[2]} on 2 CPU cores, over the ${
      RUN_BUDGET_SECONDS / 60
    }-minute budget: choose the count with --steps${f.preset ? " instead of --preset paper" : ""} (${
      Math.max(1, fits)
    } fit the budget)`,
  );
}
