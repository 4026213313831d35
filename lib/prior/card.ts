/**
 * The model card and the model contract: {@linkcode loadModel} reads a card, checks it with zod and checks
 * the ONNX file against the card's sha256; {@linkcode validateContract} checks that an ONNX session really
 * is a 3-slice noise predictor `eps(x, t, k)`; {@linkcode loadParity} reads the card's parity fixture, so
 * any back end can prove it computes what PyTorch computed.
 *
 * Files are fetched with `fetch(new URL(rel, import.meta.url))`, so the shipped model is found whether
 * blendct runs from a checkout or is imported by URL; a path the user gives is a file path.
 *
 * @example
 * ```ts
 * import { loadModel, loadParity } from "./card.ts";
 * const model = await loadModel(new URL("../../fixtures/tiny-prior/tiny.json", import.meta.url));
 * const parity = await loadParity(model);
 * console.log(model.card.slices, model.card.gaps, parity.shape); // 3 [ 1, 3 ] [ 2, 3, 48, 48 ]
 * ```
 * @module
 */
import { z } from "../deps.ts";
import { UserError } from "../errors.ts";
import type { Schema } from "../schema.ts";
import { sha256Hex } from "../hash.ts";
import type { LinearSchedule } from "../diffusion/schedule.ts";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits");
const range = z.tuple([z.number(), z.number()]);

/**
 * A validated model card, as `train/export.py` writes it. Only the fields blendct reads or checks are
 * spelled out; the card and its loose sections keep any other field (hence the index signatures), so a
 * newer exporter's extra fields do not break an older blendct.
 */
export interface ModelCard {
  /** Model name, used in messages and run manifests. */
  name: string;
  /** Model version (the exporter writes `0.1.<training step>`). */
  version: string;
  /** The ONNX file, relative to the card. */
  file: string;
  /** sha256 of the ONNX file, lowercase hex. */
  sha256: string;
  /** ONNX opset the file was exported with. */
  opset?: number;
  /** Optional, used only to size batches to GPU limits: UNet base channels and per-level multipliers. */
  architecture?: { base?: number; mults?: number[]; [key: string]: unknown };
  /**
   * Slices stacked as input channels: 3 for the position-aware prior of the model contract, 1 for a 2D
   * prior of single slices (used by `dds2d` and `mbir`, which run the prior slice by slice).
   */
  slices: 1 | 3;
  /** Slice width and height in pixels the model works on; other sizes must be resampled. */
  imageSize: number;
  /**
   * Trained on whole slices shrunk to `imageSize` (`train.py --whole`): a coarse prior that knows a slice's
   * layout, the first stage of `generateVolume`. Absent in cards of crop-trained priors.
   */
  wholeSlice?: boolean;
  /** The slice gaps `k` the model was trained on; others are refused. */
  gaps: number[];
  /** The DDPM noise schedule the model was trained with; `beta_start` is below `beta_end`. */
  schedule: LinearSchedule;
  /**
   * The model's units: the linear map that sends blendct's attenuation range `unitRange` (u, water 1) onto
   * the network's `modelRange` (see {@linkcode modelMap}); values outside are not clipped. Older cards also
   * carry a display `huWindow`, which blendct no longer applies.
   */
  intensity: {
    modelRange: [number, number];
    unitRange: [number, number];
    huWindow?: [number, number];
    fromUnit?: string;
    fromHU?: string;
    [key: string]: unknown;
  };
  /** Training provenance: optimizer steps and the data sources of the training and test sets. */
  training: {
    steps: number;
    data: {
      training: { source: string; [key: string]: unknown }[];
      test: { source: string; [key: string]: unknown }[];
      [key: string]: unknown;
    };
    [key: string]: unknown;
  };
  /** Held-out scores: eps MSE per timestep, and the Tweedie denoising gain at t = 200 in dB. */
  evaluation: {
    eps_mse?: Record<string, number>;
    tweedie_t200?: { gain_db: number; [key: string]: unknown };
    [key: string]: unknown;
  };
  /** The parity fixture that lets any back end prove it computes what PyTorch computed. */
  parity: {
    /** The parity fixture, relative to the card. */
    file: string;
    /** sha256 of the parity fixture, lowercase hex. */
    sha256: string;
    /** Largest allowed `max|a − b| / max|b|` between a back end's eps and the fixture's. */
    tolerance: number;
  };
  /**
   * An int8 copy of the network (`train/quantize.py`), optional: what it was made from and whether
   * `deno task bench quantized` found it keeps the prior's quality; {@linkcode loadQuantized} reads it.
   */
  quantized?: QuantizedModelInfo;
  /** Fields blendct does not read (`created`, `parameters`, `inputs`, …), kept as they are. */
  [key: string]: unknown;
}

/** The card's `quantized` section: the int8 (QDQ) model next to the fp32 one. */
export interface QuantizedModelInfo {
  /** The int8 ONNX file, relative to the card. */
  file: string;
  /** sha256 of that file, lowercase hex. */
  sha256: string;
  /** sha256 of the fp32 model it was quantised from: it must be the card's `sha256`. */
  fromSha256: string;
  /**
   * What `deno task bench quantized` measured on held-out triplets: `keepsQuality` when the held-out
   * Tweedie numbers stay within the stated bound of fp32's at every measured timestep, else `int8FromT`,
   * the smallest measured t from which on they do (null: at none); `speedup`, int8's triplets per second
   * over fp32's; `precision: "auto"` goes by these.
   */
  evaluation?: { keepsQuality: boolean; int8FromT?: number | null; speedup?: number; [key: string]: unknown };
  /** Fields this version of blendct does not read (calibration, scheme details) are kept as written. */
  [key: string]: unknown;
}

/**
 * The schema of a model card, as `train/export.py` writes it. Fields blendct does not read are kept
 * (loose objects), so a newer exporter's extra fields do not break an older blendct.
 *
 * @example
 * ```ts
 * import { ModelCardSchema } from "./card.ts";
 * const r = ModelCardSchema.safeParse({ name: "x", slices: 3 });
 * console.log(r.success); // false
 * ```
 */
export const ModelCardSchema: Schema<ModelCard> = z.looseObject({
  name: z.string().min(1),
  version: z.string().min(1),
  file: z.string().min(1),
  sha256: hex64,
  opset: z.number().int().positive().optional(),
  architecture: z.looseObject({
    base: z.number().int().positive().optional(),
    mults: z.array(z.number().int().positive()).min(1).optional(),
  }).optional(),
  slices: z.union([z.literal(3), z.literal(1)]),
  imageSize: z.number().int().positive(),
  wholeSlice: z.boolean().optional(),
  gaps: z.array(z.number().int().positive()).min(1),
  schedule: z.object({
    type: z.literal("linear"),
    beta_start: z.number().positive().lt(1),
    beta_end: z.number().positive().lt(1),
    T: z.number().int().min(2),
  }).refine((s) => s.beta_start < s.beta_end, { message: "beta_start must be below beta_end" }),
  intensity: z.looseObject({
    modelRange: range,
    unitRange: range,
    huWindow: range.optional(),
    fromUnit: z.string().optional(),
    fromHU: z.string().optional(),
  }),
  training: z.looseObject({
    steps: z.number().int().nonnegative(),
    data: z.looseObject({
      training: z.array(z.looseObject({ source: z.string() })).min(1),
      test: z.array(z.looseObject({ source: z.string() })),
    }),
  }),
  evaluation: z.looseObject({
    eps_mse: z.record(z.string(), z.number()).optional(),
    tweedie_t200: z.looseObject({ gain_db: z.number() }).optional(),
  }),
  parity: z.object({
    file: z.string().min(1),
    sha256: hex64,
    tolerance: z.number().positive(),
  }),
  quantized: z.looseObject({
    file: z.string().min(1),
    sha256: hex64,
    fromSha256: hex64,
    evaluation: z.looseObject({
      keepsQuality: z.boolean(),
      int8FromT: z.number().nonnegative().nullable().optional(),
    })
      .optional(),
  }).optional(),
});

/** A model ready for a back end: the card, the verified ONNX bytes, and where both came from. */
export interface LoadedModel {
  /** The validated card. */
  card: ModelCard;
  /** The ONNX file's bytes; their sha256 equals `card.sha256`. */
  bytes: Uint8Array;
  /** Where the ONNX file was read from. */
  url: URL;
  /** Where the card was read from; the parity fixture is resolved against it. */
  cardUrl: URL;
}

/** Options for {@linkcode loadModel}. */
export interface LoadModelOptions {
  /** Check the ONNX file's sha256 against the card. Default true; only tooling that rewrites cards turns it off. */
  verify?: boolean;
}

/**
 * The bytes of the card's int8 model (its `quantized` section), checked against its sha256 and against the
 * fp32 model it must have been made from.
 *
 * @example
 * ```ts
 * import { loadModel, loadQuantized } from "./card.ts";
 * const model = await loadModel();
 * if (model.card.quantized) console.log((await loadQuantized(model)).length > 0); // true
 * ```
 */
export async function loadQuantized(model: LoadedModel): Promise<Uint8Array> {
  const q = model.card.quantized;
  if (!q) {
    throw new UserError(
      `model ${model.card.name} has no int8 copy (its card has no \`quantized\` section): ` +
        "run python3 train/quantize.py, or use --precision fp32",
    );
  }
  if (q.fromSha256 !== model.card.sha256) {
    throw new UserError(
      `the int8 model of ${model.card.name} was made from another fp32 model: rerun python3 train/quantize.py`,
    );
  }
  const url = new URL(q.file, model.cardUrl);
  const bytes = await readUrl(url);
  if (bytes === null) {
    throw new UserError(
      `model card field \`quantized.file\` names ${q.file}, which is missing (${shown(url)})`,
    );
  }
  if (await sha256Hex(bytes) !== q.sha256) {
    throw new UserError(
      `model card field \`quantized.sha256\` does not match ${q.file}: rerun python3 train/quantize.py`,
    );
  }
  return bytes;
}

/**
 * The shipped prior's card, resolved from this module so it is found from a checkout and from a URL import.
 *
 * @example
 * ```ts
 * import { SHIPPED_MODEL } from "./card.ts";
 * console.log(SHIPPED_MODEL.pathname.endsWith("/models/blendct-prior.json")); // true
 * ```
 */

export const SHIPPED_MODEL: URL = new URL("../../models/blendct-prior.json", import.meta.url);

/**
 * The shipped 2D prior's card (one slice in, one ε out): what `dds2d` and `mbir`, which run the prior slice
 * by slice, open by default.
 *
 * @example
 * ```ts
 * import { SLICE_MODEL } from "./card.ts";
 * console.log(SLICE_MODEL.pathname.endsWith("/models/blendct-prior2d.json")); // true
 * ```
 */
export const SLICE_MODEL: URL = new URL("../../models/blendct-prior2d.json", import.meta.url);

/**
 * Turns what a user typed into a URL: `http(s):` and `file:` URLs stay as they are, anything else is a
 * file path (relative to the working directory, because the user typed it there). A `.onnx` path stands
 * for the card next to it.
 *
 * @example
 * ```ts
 * import { resolveModelSource } from "./card.ts";
 * console.log(resolveModelSource("https://example.org/m/prior.onnx").href); // https://example.org/m/prior.json
 * ```
 */
export function resolveModelSource(source?: string | URL): URL {
  let url: URL;
  if (source === undefined) url = SHIPPED_MODEL;
  else if (source instanceof URL) url = new URL(source.href);
  else if (/^(https?|file):\/\//i.test(source)) url = new URL(source);
  else url = fileUrl(source);
  if (url.pathname.toLowerCase().endsWith(".onnx")) url.pathname = url.pathname.replace(/\.onnx$/i, ".json");
  return url;
}

/**
 * A file path as a `file:` URL, relative to the working directory. Written here rather than taken from
 * `node:url` so that the module also loads in a browser (the web page), where only URLs reach it.
 */
function fileUrl(path: string): URL {
  const abs = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  return new URL(`file://${abs.split("/").map(encodeURIComponent).join("/")}`);
}

/** A URL as a person would write it: a path for files, the URL otherwise. */
function shown(url: URL): string {
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
}

/** Reads a URL's bytes, or null when it does not exist (so callers can say which file is missing and why). */
async function readUrl(url: URL): Promise<Uint8Array | null> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    if (
      e instanceof Deno.errors.NotFound ||
      (e instanceof TypeError && /not ?found|no such file/i.test(e.message))
    ) {
      return null;
    }
    throw e;
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new UserError(`could not read ${shown(url)}: HTTP ${res.status} ${res.statusText}`);
  }
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Parses and validates card JSON; `where` names the card in errors. A failure names the first bad field.
 *
 * @example
 * ```ts
 * import { parseModelCard } from "./card.ts";
 * try {
 *   parseModelCard({ name: "m" }, "m.json");
 * } catch (e) {
 *   console.log((e as Error).message.startsWith("model card m.json: field `version`")); // true
 * }
 * ```
 */
export function parseModelCard(json: unknown, where = "model card"): ModelCard {
  const parsed = ModelCardSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue.path.length ? issue.path.map(String).join(".") : "(root)";
  throw new UserError(`model card ${where}: field \`${field}\` ${issue.message}`);
}

/**
 * Loads a model: reads the card (default: the shipped `models/blendct-prior.json`), validates it, reads the
 * ONNX file it names and checks its sha256. Every failure is a {@linkcode UserError} that says which file
 * or which card field is wrong and what to do.
 *
 * @example
 * ```ts
 * import { loadModel } from "./card.ts";
 * const tiny = await loadModel(new URL("../../fixtures/tiny-prior/tiny.json", import.meta.url));
 * console.log(tiny.card.name, tiny.bytes.length > 0); // tiny true
 * ```
 */
export async function loadModel(source?: string | URL, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const cardUrl = resolveModelSource(source);
  const cardBytes = await readUrl(cardUrl);
  if (cardBytes === null) {
    if (source === undefined) {
      throw new UserError(
        `the shipped model card ${shown(cardUrl)} is missing: train and export the prior ` +
          "(deno task train, then deno task export) or pass the path of a model card",
      );
    }
    throw new UserError(
      `model card not found: ${shown(cardUrl)} (give the .json card written by train/export.py)`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(cardBytes));
  } catch (e) {
    throw new UserError(`model card ${shown(cardUrl)} is not valid JSON: ${(e as Error).message}`);
  }
  const card = parseModelCard(json, shown(cardUrl));
  const url = new URL(card.file, cardUrl);
  const bytes = await readUrl(url);
  if (bytes === null) {
    throw new UserError(
      `model card field \`file\` names ${card.file}, which is missing (looked for ${shown(url)}): ` +
        "put the ONNX file next to its card or fix the card",
    );
  }
  if (options.verify !== false) {
    const sha = await sha256Hex(bytes);
    if (sha !== card.sha256) {
      const name = url.pathname.split("/").pop();
      throw new UserError(
        `model card field \`sha256\` does not match ${name}: re-export the model or fix the card ` +
          `(card ${card.sha256.slice(0, 12)}…, file ${sha.slice(0, 12)}…)`,
      );
    }
  }
  return { card, bytes, url, cardUrl };
}

/** A parity fixture: inputs and the eps PyTorch computed for them. */
export interface ParityFixture {
  /** `[B, 3, H, W]` of the batch. */
  shape: [number, number, number, number];
  /** The noisy triplets. */
  x: Float32Array;
  /** Their timesteps. */
  t: Float32Array;
  /** Their slice gaps. */
  k: Float32Array;
  /** ε that PyTorch computed. */
  eps: Float32Array;
  /** From the card: the largest allowed {@linkcode parityError}. */
  tolerance: number;
}

/** Little-endian float32 from base64, independent of the host's byte order. */
function decodeF32(b64: string): Float32Array {
  const bin = atob(b64);
  const view = new DataView(Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer);
  const out = new Float32Array(bin.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

const ParitySchema = z.object({
  x_shape: z.tuple([
    z.number().int().positive(),
    z.union([z.literal(3), z.literal(1)]),
    z.number().int().positive(),
    z.number().int().positive(),
  ]),
  t: z.array(z.number()),
  k: z.array(z.number()),
  x: z.string(),
  eps: z.string(),
});

/**
 * Reads and checks the parity fixture a card names (its sha256 included).
 *
 * @example
 * ```ts
 * import { loadModel, loadParity } from "./card.ts";
 * const p = await loadParity(await loadModel(new URL("../../fixtures/tiny-prior/tiny.json", import.meta.url)));
 * console.log(p.x.length === p.eps.length, p.tolerance); // true 0.0001
 * ```
 */
export async function loadParity(model: { card: ModelCard; cardUrl: URL }): Promise<ParityFixture> {
  const url = new URL(model.card.parity.file, model.cardUrl);
  const bytes = await readUrl(url);
  if (bytes === null) throw new UserError(`model card field \`parity.file\`: ${shown(url)} is missing`);
  if (await sha256Hex(bytes) !== model.card.parity.sha256) {
    throw new UserError(
      `model card field \`parity.sha256\` does not match ${shown(url)}: re-export the model`,
    );
  }
  const p = ParitySchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
  if (!p.success) throw new UserError(`parity fixture ${shown(url)}: ${p.error.issues[0].message}`);
  const [b, c, h, w] = p.data.x_shape;
  if (c !== model.card.slices) {
    throw new UserError(`parity fixture ${shown(url)}: ${c} channel(s), the card says ${model.card.slices}`);
  }
  const x = decodeF32(p.data.x), eps = decodeF32(p.data.eps);
  if (
    x.length !== b * c * h * w || eps.length !== x.length || p.data.t.length !== b || p.data.k.length !== b
  ) {
    throw new UserError(`parity fixture ${shown(url)}: array sizes do not match x_shape ${p.data.x_shape}`);
  }
  return {
    shape: [b, c, h, w],
    x,
    t: Float32Array.from(p.data.t),
    k: Float32Array.from(p.data.k),
    eps,
    tolerance: model.card.parity.tolerance,
  };
}

/**
 * Parity error `max|a − b| / max|b|`: relative to the output's peak rather than per element, because eps
 * values near zero would turn float32 rounding into huge per-element ratios.
 *
 * @example
 * ```ts
 * import { parityError } from "./card.ts";
 * console.log(parityError(new Float32Array([1, 2.001]), new Float32Array([1, 2])).toFixed(4)); // 0.0005
 * ```
 */
export function parityError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) {
    throw new RangeError(`parity: ${actual.length} values vs ${expected.length} expected`);
  }
  let diff = 0, peak = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    // NaN fails every comparison, so it is caught explicitly rather than silently ignored by the max.
    if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d;
    peak = Math.max(peak, Math.abs(expected[i]));
  }
  return peak === 0 ? diff : diff / peak;
}

/** The part of an onnxruntime tensor that {@linkcode validateContract} reads. */
export interface ContractTensor {
  readonly dims: readonly number[];
  getData?(): Promise<unknown>;
  dispose?(): void;
}

/** The part of an onnxruntime `InferenceSession` (web or node) that {@linkcode validateContract} uses. */
export interface ContractSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata?: readonly unknown[];
  run(feeds: Record<string, unknown>): Promise<Record<string, ContractTensor>>;
}

/** The onnxruntime module the session came from: its `Tensor` class makes the probe's inputs. */
export interface TensorModule {
  Tensor: new (type: "float32", data: Float32Array, dims: readonly number[]) => unknown;
}

/**
 * Checks that a session honours the model contract (DESIGN.md): inputs exactly `x`, `t`, `k`, an output
 * `eps`, `x` with the card's `slices` channels (3, or 1 for a 2D prior), and a probe run on
 * `[1, slices, 16, 16]` that returns finite `eps` of the same shape. Throws a {@linkcode UserError} naming what is wrong; `name` says which model in the message.
 *
 * @example
 * ```ts
 * import { validateContract } from "./card.ts";
 * import { importOrtNode } from "../deps.ts";
 * async function check(path: string) {
 *   const ort = await importOrtNode();
 *   await validateContract(await ort.InferenceSession.create(path), ort, path);
 * }
 * console.log(typeof check); // function
 * ```
 */
export async function validateContract(
  session: ContractSession,
  ort: TensorModule,
  name = "model",
  slices: 1 | 3 = 3,
): Promise<void> {
  // small enough to be instant on any back end
  const PROBE: readonly [number, number, number, number] = [1, slices, 16, 16];
  const what = slices === 3 ? "3 (three slices stacked as channels)" : "1 (a 2D prior of single slices)";
  const want = ["x", "t", "k"];
  const got = [...session.inputNames];
  if (got.length !== 3 || !want.every((n) => got.includes(n))) {
    const missing = want.filter((n) => !got.includes(n));
    const extra = got.filter((n) => !want.includes(n));
    throw new UserError(
      `${name}: its inputs are [${got.join(", ")}], the contract needs exactly x, t, k` +
        (missing.length
          ? ` (missing ${missing.join(", ")}` + (extra.length ? `; unexpected ${extra.join(", ")})` : ")")
          : "") +
        `: re-export with input_names=["x", "t", "k"]`,
    );
  }
  if (!session.outputNames.includes("eps")) {
    throw new UserError(
      `${name}: its outputs are [${session.outputNames.join(", ")}], the contract needs one named eps: ` +
        `re-export with output_names=["eps"]`,
    );
  }
  // Metadata (when the runtime offers it) gives a precise message before the probe fails less clearly.
  for (const meta of session.inputMetadata ?? []) {
    const m = meta as { name?: string; type?: string; shape?: readonly (number | string)[] };
    if (m.type !== undefined && m.type !== "float32") {
      throw new UserError(`${name}: input \`${m.name}\` is ${m.type}, the contract needs float32`);
    }
    if (m.name === "x" && m.shape && typeof m.shape[1] === "number" && m.shape[1] !== slices) {
      throw new UserError(
        `${name}: input \`x\` has ${m.shape[1]} channel(s) (shape [${m.shape.join(", ")}]), ` +
          `the card says ${what}`,
      );
    }
  }
  const size = PROBE.reduce((a, b) => a * b, 1);
  // A smooth ramp, not zeros: a constant input can hide shape bugs behind broadcasting.
  const x = Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.1) * 0.5);
  let outputs: Record<string, ContractTensor>;
  try {
    outputs = await session.run({
      x: new ort.Tensor("float32", x, PROBE),
      t: new ort.Tensor("float32", new Float32Array([500]), [1]),
      k: new ort.Tensor("float32", new Float32Array([1]), [1]),
    });
  } catch (e) {
    const msg = String((e as Error)?.message ?? e).split("\n")[0];
    throw new UserError(`${name}: the probe run on x [${PROBE.join(", ")}] failed: ${msg}`);
  }
  const eps = outputs.eps;
  try {
    const dims = [...eps.dims];
    if (dims.length !== 4 || dims.some((d, i) => d !== PROBE[i])) {
      const channels = dims.length === 4 ? `${dims[1]} channel(s)` : `rank ${dims.length}`;
      throw new UserError(
        `${name}: output \`eps\` has shape [${dims.join(", ")}] (${channels}) for x [${PROBE.join(", ")}], ` +
          `the contract needs the same shape as x (${slices} channel(s), one noise map per slice)`,
      );
    }
    const data = await eps.getData?.();
    if (data instanceof Float32Array && !data.every(Number.isFinite)) {
      throw new UserError(`${name}: the probe run returned NaN or infinite eps`);
    }
  } finally {
    for (const out of Object.values(outputs)) out.dispose?.();
  }
}

/**
 * The card's linear map from attenuation u to the network's input, `[scale, offset]` with
 * `model = scale · u + offset`: `unitRange` onto `modelRange`.
 *
 * @example
 * ```ts
 * import { modelMap } from "./card.ts";
 * console.log(modelMap({ intensity: { modelRange: [-1, 2], unitRange: [0, 3] } })); // [ 1, -1 ]
 * ```
 */
export function modelMap(
  card: { intensity: { modelRange: [number, number]; unitRange: [number, number] } },
): [
  number,
  number,
] {
  const [m0, m1] = card.intensity.modelRange, [u0, u1] = card.intensity.unitRange;
  const scale = (m1 - m0) / (u1 - u0);
  return [scale, m0 - scale * u0];
}

/**
 * Whether a prior has seen coronal (and sagittal) triplets: its card's `training.axes` is `all`, as TPDM's
 * auxiliary direction needs.
 *
 * @example
 * ```ts
 * import { loadModel, seenCoronal } from "./card.ts";
 * console.log(seenCoronal((await loadModel()).card)); // true
 * ```
 */
export function seenCoronal(card: ModelCard): boolean {
  return card.training.axes === "all";
}
