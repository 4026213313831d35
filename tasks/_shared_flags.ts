/**
 * Flags several tasks take, declared once: the seed, the unit of an input, μ of water, the prior's card and
 * its precision, the projector engine. A task spreads the ones it takes into its own flag set.
 * @module
 */
import { z } from "../lib/deps.ts";
import { intFlag, numberFlag, unitFlag } from "./_cli.ts";

/** `--seed`: every random choice of a run (noise, partitions, adaptation) is a function of it. */
export const SEED_FLAG = {
  type: "string",
  help: "Seed of every random choice",
  default: "0",
  schema: intFlag("seed").pipe(z.number().int().min(0, "must be >= 0").max(2 ** 32 - 1)).default(0),
} as const;

/** `--unit`: what the values of an input mean when its file does not say. */
export const UNIT_FLAG = {
  type: "string",
  help: "Unit of the input when its file does not say: hu, mu (1/mm) or image",
  default: "header note, else inferred from the values (with a notice)",
  schema: unitFlag.optional(),
} as const;

/** `--mu-water`: links HU to line integrals. */
export const MU_WATER_FLAG = {
  type: "string",
  help: "Attenuation of water in 1/mm (links HU to line integrals)",
  default: "0.0193 (water at 70 keV)",
  schema: numberFlag("mu-water").pipe(
    z.number().positive("must be a positive attenuation in 1/mm (water: about 0.019)").finite(),
  ).optional(),
} as const;

/** `--precision` of the prior's network. */
export const PRECISION_FLAG = {
  type: "string",
  help:
    "Network precision: auto (int8 on the native back end where the card says it keeps quality), fp32, int8",
  default: "auto",
  schema: z.enum(["auto", "fp32", "int8"], { error: "must be auto, fp32 or int8" }).default("auto"),
} as const;

/** `--model`: the prior's card. */
export const MODEL_FLAG = {
  type: "string",
  help: "Model card JSON: the shipped prior or one you trained (deno task train)",
  default: "models/blendct-prior.json",
  schema: z.string().optional(),
} as const;

/** `--views`: how many views a simulated acquisition takes. */
export const VIEWS_FLAG = {
  type: "string",
  help: "Number of views",
  default: "8 (with --angle-range: one per degree)",
  schema: intFlag("views").pipe(z.number().int().min(1, "must be at least 1")).optional(),
} as const;

/** `--angle-range`: limited angle. */
export const ANGLE_RANGE_FLAG = {
  type: "string",
  help:
    "Limited angle: views over [0, DEG) degrees, 1° apart unless --views (default: sparse view over 180°)",
  schema: numberFlag("angle-range").pipe(
    z.number().gt(0, "must be in (0, 360]").max(360, "must be in (0, 360]"),
  )
    .optional(),
} as const;

/** `--noise`: Poisson noise on the simulated line integrals. */
export const NOISE_FLAG = {
  type: "string",
  help: "Incident photons per ray (Poisson noise); noiseless if absent",
  schema: numberFlag("noise").pipe(
    z.number().min(1, "is the incident photon count per ray (e.g. 1e5), not a fraction: give at least 1"),
  ).optional(),
} as const;

/** `--backend` where the prior runs on onnxruntime only (no adaptation): generation and the benches. */
export const ORT_BACKEND_FLAG = {
  type: "string",
  help: "Denoiser back end: auto, webgpu, wasm, native",
  default: "auto",
  schema: z.enum(["auto", "webgpu", "wasm", "native"], { error: "must be auto, webgpu, wasm or native" })
    .default("auto"),
} as const;

/** `--projector`: which engine applies the CT operator. */
export const PROJECTOR_FLAG = {
  type: "string",
  help: "Projector engine: auto (the CPU engine on a software WebGPU adapter), wgsl, sparse",
  default: "auto",
  schema: z.enum(["auto", "wgsl", "sparse"], { error: "must be auto, wgsl or sparse" }).default("auto"),
} as const;
