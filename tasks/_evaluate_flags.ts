/**
 * The flags of `deno task evaluate`, their schema, and the `METHOD/key=value` variants of `--methods`.
 * @module
 */
import { METHOD_DEFAULTS } from "../lib/defaults.ts";
import { z } from "../lib/deps.ts";
import { type Method, type MethodConfig, METHODS } from "../lib/jobs/reconstruct.ts";
import { UserError } from "../lib/errors.ts";
import { DEFAULT_CASE } from "../lib/cases.ts";
import { flagSchema, intFlag } from "./_cli.ts";
import { MODEL_FLAG, MU_WATER_FLAG, PRECISION_FLAG, SEED_FLAG } from "./_shared_flags.ts";

/** The held-out real CTs of the README's tables: the LIDC chest (default case) and 36 slices of the head. */
export const EVAL_CASES = [`${DEFAULT_CASE.input}@${DEFAULT_CASE.slices}`, "sample:headsq@30:66"] as const;

const list = () => z.string().transform((s) => s.split(",").map((v) => v.trim()).filter(Boolean));
export const FLAGS = {
  views: {
    type: "string",
    help: "Comma-separated view counts (limited angle: default one per degree)",
    default: "8",
    schema: list().pipe(z.array(z.string().regex(/^\d+$/, "views must be whole numbers")).min(1)).optional(),
  },
  "angle-range": {
    type: "string",
    help: "Limited angle in degrees (views = that many 1° steps unless --views)",
    schema: intFlag("angle-range").pipe(z.number().int().min(1).max(360)).optional(),
  },
  geometry: {
    type: "string",
    help:
      "Geometry JSON instead of --views (fan or cone beam, ASTRA's dictionaries, TIGRE's geometry); its grid must be the model's",
    schema: z.string().optional(),
  },
  methods: {
    type: "string",
    help: `Comma-separated methods (${METHODS.join(", ")})`,
    default: METHODS.join(","),
    schema: list().pipe(z.array(
      z.string().refine(
        (m) => {
          try {
            parseVariant(m);
            return true;
          } catch {
            return false;
          }
        },
        `methods must be among ${
          METHODS.join(",")
        }, optionally with /key=value options (e.g. blend++/start=tv/t0=400)`,
      ),
    ))
      .default([...METHODS]),
  },
  cases: {
    type: "string",
    help: "Comma-separated VOLUME[@A:B] inputs (held out from training)",
    default: EVAL_CASES.join(","),
    schema: list().optional(),
  },
  steps: {
    type: "string",
    help: `Diffusion steps (blend, blend++; dds uses ${METHOD_DEFAULTS.dds.steps})`,
    default:
      `the method's own (blend, blend++: ${METHOD_DEFAULTS.cliBlend.steps} from the TV start, as reconstruct)`,
    schema: intFlag("steps").pipe(z.number().int().min(1).max(1000)).optional(),
  },
  "tv-lambdas": {
    type: "string",
    help: "TV weights to try per setting (x in attenuation units u)",
    default: "0.01,0.02,0.04,0.08,0.16,0.32",
    schema: list().transform((a) => a.map(Number)).pipe(z.array(z.number().positive()).min(1))
      .default([0.01, 0.02, 0.04, 0.08, 0.16, 0.32]),
  },
  "tv-iterations": {
    type: "string",
    help: "TV iterations",
    default: String(METHOD_DEFAULTS.tv.iterations),
    schema: intFlag("tv-iterations").pipe(z.number().int().min(1)).default(
      METHOD_DEFAULTS.tv.iterations,
    ),
  },
  seed: SEED_FLAG,
  backend: {
    type: "string",
    help: "Denoiser back end",
    default: "auto",
    schema: z.enum(["auto", "webgpu", "wasm", "native"]).default("auto"),
  },
  model: MODEL_FLAG,
  precision: PRECISION_FLAG,
  "out-dir": { type: "string", help: "Output folder", default: "out/eval", schema: z.string().optional() },
  out: {
    type: "string",
    help: "Output folder (the same as --out-dir; a shard's PART or a merged TABLE)",
    schema: z.string().optional(),
  },
  manifest: {
    type: "string",
    help: 'Cases JSON instead of --cases: {"cases": ["VOL@A:B", ...]}',
    schema: z.string().optional(),
  },
  shard: {
    type: "string",
    help: "i/n: run only the cases with index % n == i (0 <= i < n)",
    schema: z.string().regex(/^\d+\/\d+$/, "must be i/n (e.g. 0/4)").transform((v) =>
      v.split("/").map(Number)
    )
      .refine(([i, n]) => n >= 1 && i < n, "must be i/n with 0 <= i < n").optional(),
  },
  merge: {
    type: "string",
    help: "PART,PART,...: merge shard folders into --out (no evaluation)",
    schema: list().pipe(z.array(z.string()).min(1)).optional(),
  },
  "mu-water": MU_WATER_FLAG,
} as const;

export const Schema = flagSchema(FLAGS).superRefine((f, ctx) => {
  const clash = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
  if (f.out && f["out-dir"]) clash("out", "is the same as --out-dir: give one");
  if (f.manifest && f.cases) clash("cases", "does not apply with --manifest (it lists the cases)");
  if (f.geometry) {
    const k = (["views", "angle-range"] as const).find((k) => f[k] !== undefined);
    if (k) clash(k, "does not apply with --geometry (the file sets the views)");
  }
  if (f.merge) {
    const k = (["cases", "manifest", "shard", "views", "angle-range", "geometry"] as const).find((k) =>
      f[k] !== undefined
    );
    if (k) clash(k, "does not apply with --merge (the shards were evaluated already)");
  }
});

export const VARIANT_KEYS = [
  "start",
  "t0",
  "dc",
  "dc-lambda",
  "dc-gamma",
  "samples",
  "steps",
  "ztv-from",
  "aux-every",
  "predictor",
  "finish",
  "finish-gamma",
  "tv-lambda",
  "preset",
] as const;

/**
 * `METHOD[/key=value...]` → the method and its settings, e.g. `blend++/start=tv/t0=400/dc=tv` or
 * `dds/ztv-from=500`, so one evaluation holds an ablation of the sampler's levers.
 */
export function parseVariant(
  spec: string,
): { method: Method; options: Partial<MethodConfig>; label: string } {
  const [base, ...parts] = spec.split("/");
  if (!(METHODS as readonly string[]).includes(base)) throw new UserError(`unknown method ${base}`);
  const options: Record<string, unknown> = {};
  for (const part of parts) {
    const [k, v] = part.split("=");
    if (!(VARIANT_KEYS as readonly string[]).includes(k) || v === undefined) {
      throw new UserError(`${spec}: option ${part} is not one of ${VARIANT_KEYS.join(", ")} (key=value)`);
    }
    const num = Number(v);
    switch (k) {
      case "start":
      case "dc":
      case "finish":
      case "predictor":
        if (k === "predictor" && v !== "reverse" && v !== "ancestral") {
          throw new UserError(`${spec}: predictor must be reverse or ancestral`);
        }
        options[k] = v;
        break;
      case "preset":
        if (v !== "paper" && v !== "default") throw new UserError(`${spec}: preset must be default or paper`);
        options.preset = v;
        break;
      default: {
        if (!Number.isFinite(num)) throw new UserError(`${spec}: ${k} must be a number`);
        const key = {
          "dc-lambda": "dcLambda",
          "dc-gamma": "dcGamma",
          "ztv-from": "ztvFrom",
          "aux-every": "auxEvery",
          "finish-gamma": "finishGamma",
          "tv-lambda": "tvLambda",
        }[
          k as string
        ] ?? k;
        options[key] = num;
      }
    }
  }
  return { method: base as Method, options: options as Partial<MethodConfig>, label: spec };
}
