/**
 * `deno task bench quantized [--record]`: the int8 (QDQ) copy of the prior (`train/quantize.py`) against
 * its fp32 model on the same held-out triplets and the same noise, on the native back end: Tweedie's x0
 * RMSE in HU at t = 100, 200, 300, 500, 700, 900, the one-step denoising gain at t = 200, ε's relative error, and
 * triplets per second of both. It keeps the prior's quality when every timestep's Tweedie PSNR is within
 * `--bound-db` of fp32's (and, where only the timesteps from some t on are, it records that t: `auto` then
 * runs int8 there and fp32 below); `--record` writes the verdict and the numbers into the card's
 * `quantized` section, which is what `precision: "auto"` reads.
 *
 * The triplets come from the evaluation CTs (held out from training), at the model's image size, gaps 1
 * and 3; the noise is seeded, so two runs give the same quality numbers.
 * @module
 */
import { z } from "../lib/deps.ts";
import { UserError } from "../lib/errors.ts";
import { Rng } from "../lib/random.ts";
import { loadModel, modelMap } from "../lib/prior/card.ts";
import { createDenoiser, type Denoiser } from "../lib/prior/denoiser.ts";
import { alphasCumprod } from "../lib/diffusion/schedule.ts";
import { cropSlices, resampleSlices } from "../lib/cases.ts";
import { loadSample, type SampleName } from "../lib/io/samples.ts";
import { DEFAULT_MU_WATER, toU } from "../lib/units.ts";
import { flagSchema, numberFlag, parseFlags } from "./_cli.ts";

const FLAGS = {
  model: {
    type: "string",
    help: "Model card path or URL (default: the shipped prior)",
    schema: z.string().optional(),
  },
  cases: {
    type: "string",
    help: "Held-out sample:NAME@A:B volumes the triplets come from",
    default: "sample:lidc@57:75,sample:headsq@39:57",
    schema: z.string().default("sample:lidc@57:75,sample:headsq@39:57"),
  },
  "bound-db": {
    type: "string",
    help: "Largest Tweedie PSNR loss (dB) that keeps the quality",
    default: "0.2",
    schema: numberFlag("bound-db").pipe(z.number().positive().max(10)).default(0.2),
  },
  seconds: {
    type: "string",
    help: "Minimum timed seconds per precision",
    default: "6",
    schema: numberFlag("seconds").pipe(z.number().positive().max(600)).default(6),
  },
  record: {
    type: "boolean",
    help: "Write the verdict and the numbers into the card's quantized section",
    schema: z.boolean().default(false),
  },
} as const;

const Schema = flagSchema(FLAGS);

const TIMES = [100, 200, 300, 500, 700, 900];
const BATCH = 4;

/** Four triplets per volume (gaps 1 and 3, two positions each) in model units, `[n][3][S][S]`. */
async function heldOutTriplets(
  cases: string,
  size: number,
  map: [number, number],
): Promise<{ x0: Float32Array; k: Float32Array; n: number }> {
  const out: Float32Array[] = [];
  const gaps: number[] = [];
  for (const spec of cases.split(",")) {
    const m = /^sample:([a-z]+)(@\d+:\d+)?$/.exec(spec.trim());
    if (!m) throw new UserError(`--cases: ${spec} is not sample:NAME@A:B`);
    let vol = await loadSample(m[1] as SampleName);
    if (m[2]) vol = cropSlices(vol, m[2].slice(1));
    if (vol.shape[1] !== size || vol.shape[2] !== size) vol = resampleSlices(vol, size);
    const u = toU(vol.data, { unit: vol.unit ?? "image", muWater: DEFAULT_MU_WATER, imageHu: vol.imageHu });
    const Z = vol.shape[0], plane = size * size;
    for (const gap of [1, 3]) {
      for (const frac of [0.35, 0.65]) {
        const z0 = Math.min(Z - 1 - 2 * gap, Math.max(0, Math.round(frac * (Z - 1)) - gap));
        if (z0 < 0) throw new UserError(`--cases: ${spec} has too few slices for gap ${gap}`);
        const trip = new Float32Array(3 * plane);
        for (let c = 0; c < 3; c++) {
          const src = u.subarray((z0 + c * gap) * plane, (z0 + c * gap + 1) * plane);
          for (let i = 0; i < plane; i++) trip[c * plane + i] = map[0] * src[i] + map[1];
        }
        out.push(trip);
        gaps.push(gap);
      }
    }
  }
  const x0 = new Float32Array(out.length * out[0].length);
  out.forEach((t, i) => x0.set(t, i * t.length));
  return { x0, k: new Float32Array(gaps), n: out.length };
}

async function predictAll(d: Denoiser, x: Float32Array, t: number, k: Float32Array, n: number, size: number) {
  const per = 3 * size * size, out = new Float32Array(x.length);
  for (let i = 0; i < n; i += BATCH) {
    const b = Math.min(BATCH, n - i);
    const eps = await d.predict(
      x.subarray(i * per, (i + b) * per),
      new Float32Array(b).fill(t),
      k.subarray(i, i + b),
      [b, 3, size, size],
    );
    out.set(eps, i * per);
  }
  return out;
}

function rms(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
}

/** Runs the comparison with command-line flags (see `--help`) and prints Markdown tables. */
export async function run(args: string[]): Promise<void> {
  const flags = parseFlags(
    args,
    "Usage: deno task bench quantized [--record] [--bound-db 0.2]",
    FLAGS,
    Schema,
  );
  const model = await loadModel(flags.model);
  if (!model.card.quantized) {
    throw new UserError(`model ${model.card.name} has no int8 copy: run python3 train/quantize.py first`);
  }
  const size = model.card.imageSize;
  const map = modelMap(model.card);
  // x in model units is map[0]·u + map[1] and HU = 1000 (u − 1), so an error of e in x is 1000 e / map[0] HU
  const hu = 1000 / map[0];
  const range = 4095 / hu; // [−1024, 3071] HU in model units
  const { x0, k, n } = await heldOutTriplets(flags.cases, size, map);
  const abar = alphasCumprod(model.card.schedule);
  const fp32 = await createDenoiser(model, { backend: "native", precision: "fp32", maxBatch: BATCH });
  const int8 = await createDenoiser(model, { backend: "native", precision: "int8", maxBatch: BATCH });
  const rows: { t: number; fp32: number; int8: number; deltaDb: number; epsRel: number }[] = [];
  let gain = { fp32: 0, int8: 0 };
  try {
    for (const t of TIMES) {
      const a = Math.sqrt(abar[t]), s = Math.sqrt(1 - abar[t]);
      const eps = new Rng(`quantized-bench-${t}`).fillNormal(new Float32Array(x0.length));
      const xt = x0.map((v, i) => a * v + s * eps[i]);
      const res: Record<string, { x0hat: Float32Array; eps: Float32Array }> = {};
      for (const [name, d] of [["fp32", fp32], ["int8", int8]] as const) {
        const e = await predictAll(d, xt, t, k, n, size);
        res[name] = { eps: e, x0hat: xt.map((v, i) => (v - s * e[i]) / a) };
      }
      const r32 = rms(res.fp32.x0hat, x0), r8 = rms(res.int8.x0hat, x0);
      const epsNorm = rms(res.fp32.eps, new Float32Array(x0.length));
      rows.push({
        t,
        fp32: r32 * hu,
        int8: r8 * hu,
        deltaDb: 20 * Math.log10(r8 / r32),
        epsRel: rms(res.int8.eps, res.fp32.eps) / epsNorm,
      });
      if (t === 200) {
        const noisy = rms(xt.map((v) => v / a), x0);
        const db = (r: number) => 20 * Math.log10(range / r);
        gain = { fp32: db(r32) - db(noisy), int8: db(r8) - db(noisy) };
      }
    }
    // speed: the same inputs, the two sessions taking turns so that a drifting machine hurts both alike
    const xs = new Rng("quantized-speed").fillNormal(new Float32Array(BATCH * 3 * size * size));
    const ts = new Float32Array(BATCH).fill(500), ks = new Float32Array(BATCH).fill(1);
    const spent = { fp32: 0, int8: 0 }, calls = { fp32: 0, int8: 0 };
    for (const d of [fp32, int8]) await d.predict(xs, ts, ks, [BATCH, 3, size, size]);
    while (spent.fp32 < flags.seconds || spent.int8 < flags.seconds) {
      for (const [name, d] of [["fp32", fp32], ["int8", int8]] as const) {
        const t0 = performance.now();
        await d.predict(xs, ts, ks, [BATCH, 3, size, size]);
        spent[name] += (performance.now() - t0) / 1000;
        calls[name]++;
      }
    }
    const tps = { fp32: BATCH * calls.fp32 / spent.fp32, int8: BATCH * calls.int8 / spent.int8 };
    const bound = flags["bound-db"];
    const worst = Math.max(...rows.map((r) => r.deltaDb), gain.fp32 - gain.int8);
    const keepsQuality = worst <= bound;
    // the smallest measured t from which on every measured t keeps the bound: int8 runs there (mixed)
    let int8FromT: number | null = null;
    for (let i = rows.length - 1; i >= 0 && rows[i].deltaDb <= bound; i--) int8FromT = rows[i].t;
    console.log(
      `int8 (QDQ) against fp32, ${model.card.name} ${model.card.version}, ${n} held-out triplets of ${flags.cases} at ${size}², native back end\n`,
    );
    console.log("| t | x0 RMSE fp32 (HU) | x0 RMSE int8 (HU) | Tweedie PSNR loss (dB) | ε relative error |");
    console.log("|---:|---:|---:|---:|---:|");
    for (const r of rows) {
      console.log(
        `| ${r.t} | ${r.fp32.toFixed(1)} | ${r.int8.toFixed(1)} | ${r.deltaDb.toFixed(3)} | ${
          r.epsRel.toExponential(2)
        } |`,
      );
    }
    console.log(
      `\nOne-step denoising gain at t = 200: fp32 ${gain.fp32.toFixed(2)} dB, int8 ${
        gain.int8.toFixed(2)
      } dB.`,
    );
    console.log(
      `Speed at batch ${BATCH}: fp32 ${tps.fp32.toFixed(2)} triplets/s, int8 ${
        tps.int8.toFixed(2)
      } triplets/s (${(tps.int8 / tps.fp32).toFixed(2)}×).`,
    );
    console.log(
      `Verdict: ${keepsQuality ? "keeps" : "does not keep"} the prior's quality everywhere (worst loss ${
        worst.toFixed(3)
      } dB, bound ${bound} dB)${
        keepsQuality ? "" : int8FromT === null ? "; at no measured t" : `; it does for t ≥ ${int8FromT}`
      }.`,
    );
    if (flags.record) {
      await recordVerdict(model.cardUrl, model.card.sha256, {
        keepsQuality,
        int8FromT: keepsQuality ? 0 : int8FromT,
        boundDb: bound,
        worstLossDb: worst,
        heldOut: { cases: flags.cases, triplets: n, size },
        tweedie: rows,
        gainT200Db: gain,
        speedup: tps.int8 / tps.fp32,
        tripletsPerSecond: { ...tps, batch: BATCH, machineCores: navigator.hardwareConcurrency },
        measured: new Date().toISOString().slice(0, 10),
        command: `deno task bench quantized --record${flags.model ? ` --model ${flags.model}` : ""}`,
      });
      console.log(`recorded in ${decodeURIComponent(model.cardUrl.pathname)}`);
    }
  } finally {
    await fp32.dispose();
    await int8.dispose();
  }
}

/** Writes `evaluation` into the card's `quantized` section, atomically, if it still names this fp32 model. */
async function recordVerdict(cardUrl: URL, sha: string, evaluation: Record<string, unknown>): Promise<void> {
  if (cardUrl.protocol !== "file:") throw new UserError("--record needs a card on this machine's disk");
  const path = decodeURIComponent(cardUrl.pathname);
  const card = JSON.parse(await Deno.readTextFile(path));
  if (card.sha256 !== sha || card.quantized?.fromSha256 !== sha) {
    throw new UserError(`${path} changed during the benchmark: rerun it`);
  }
  card.quantized.evaluation = evaluation;
  const temp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(temp, JSON.stringify(card, null, 2) + "\n");
  await Deno.rename(temp, path);
}
