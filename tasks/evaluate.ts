/**
 * `deno task evaluate --views 4,6,8 --methods fbp,cgls,tv,dds,blend,blend++`: the paper's table on the
 * evaluation volumes (PSNR/SSIM per plane, TV, z-consistency, seconds), every method on the same operator
 * and data. TV's λ is tuned on a grid per setting against the ground truth, as hard as the diffusion
 * methods are tuned. Writes results.json, results.md and a picture per case to the output folder.
 * @module
 */
import { METHOD_DEFAULTS } from "../lib/defaults.ts";
import { z } from "../lib/deps.ts";
import { writeFileAtomic } from "../lib/io/files.ts";
import { defaultMetricRange, displayWindow, fromU } from "../lib/units.ts";
import { loadCase } from "../lib/case.ts";
import { modelMap } from "../lib/diffusion/card.ts";
import { displayOriented } from "../lib/report/orient.ts";
import { isDiffusion, type Method, type MethodConfig, METHODS, reconstruct } from "../lib/reconstruct.ts";
import { computeMetrics } from "../lib/metrics/index.ts";
import { midPlanesPng } from "../lib/report/png.ts";
import { createProgress } from "../lib/report/progress.ts";
import { buildManifest } from "../lib/report/manifest.ts";
import { makeVolume } from "../lib/volume.ts";
import { UserError } from "../lib/errors.ts";
import { DEFAULT_CASE } from "../lib/cases.ts";
import { gpuFor, openPrior, priorSummary } from "../lib/diffusion/prior.ts";
import { intFlag, numberFlag, parseFlags, runTask } from "./cli.ts";

/** The held-out real CTs of the README's tables: the LIDC chest (default case) and 36 slices of the head. */
const EVAL_CASES = [`${DEFAULT_CASE.input}@${DEFAULT_CASE.slices}`, "sample:headsq@30:66"] as const;

const FLAGS = {
  views: {
    type: "string",
    help: "Comma-separated view counts (limited angle: default one per degree)",
    default: "8",
  },
  "angle-range": {
    type: "string",
    help: "Limited angle in degrees (views = that many 1° steps unless --views)",
  },
  methods: {
    type: "string",
    help: `Comma-separated methods (${METHODS.join(", ")})`,
    default: METHODS.join(","),
  },
  cases: {
    type: "string",
    help: "Comma-separated VOLUME[@A:B] inputs (held out from training)",
    default: EVAL_CASES.join(","),
  },
  steps: {
    type: "string",
    help: `Diffusion steps (blend, blend++; dds uses ${METHOD_DEFAULTS.dds.steps})`,
    default: String(METHOD_DEFAULTS.blend.steps),
  },
  "tv-lambdas": {
    type: "string",
    help: "TV weights to try per setting (x in attenuation units u)",
    default: "0.003,0.01,0.02,0.05",
  },
  "tv-iterations": { type: "string", help: "TV iterations", default: String(METHOD_DEFAULTS.tv.iterations) },
  seed: { type: "string", help: "Seed", default: "0" },
  backend: { type: "string", help: "Denoiser back end", default: "auto" },
  "out-dir": { type: "string", help: "Output folder", default: "out/eval" },
  out: { type: "string", help: "Output folder (the same as --out-dir; a shard's PART or a merged TABLE)" },
  manifest: { type: "string", help: 'Cases JSON instead of --cases: {"cases": ["VOL@A:B", ...]}' },
  shard: { type: "string", help: "i/n: run only the cases with index % n == i (0 <= i < n)" },
  merge: { type: "string", help: "PART,PART,...: merge shard folders into --out (no evaluation)" },
  "mu-water": { type: "string", help: "Attenuation of water in 1/mm", default: "0.0193" },
} as const;

const list = () => z.string().transform((s) => s.split(",").map((v) => v.trim()).filter(Boolean));
const Schema = z.object({
  views: list().pipe(z.array(z.string().regex(/^\d+$/, "views must be whole numbers")).min(1)).optional(),
  "angle-range": intFlag("angle-range").pipe(z.number().int().min(1).max(360)).optional(),
  methods: list().pipe(z.array(
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
  cases: list().optional(),
  steps: intFlag("steps").pipe(z.number().int().min(1).max(1000)).default(METHOD_DEFAULTS.blend.steps),
  "tv-lambdas": list().transform((a) => a.map(Number)).pipe(z.array(z.number().positive()).min(1))
    .default([0.003, 0.01, 0.02, 0.05]),
  "tv-iterations": intFlag("tv-iterations").pipe(z.number().int().min(1)).default(
    METHOD_DEFAULTS.tv.iterations,
  ),
  seed: intFlag("seed").default(0),
  backend: z.enum(["auto", "webgpu", "wasm", "native"]).default("auto"),
  "out-dir": z.string().optional(),
  out: z.string().optional(),
  manifest: z.string().optional(),
  shard: z.string().regex(/^\d+\/\d+$/, "must be i/n (e.g. 0/4)").transform((v) => v.split("/").map(Number))
    .refine(([i, n]) => n >= 1 && i < n, "must be i/n with 0 <= i < n").optional(),
  "mu-water": numberFlag("mu-water").pipe(z.number().positive("must be > 0 (1/mm)")).optional(),
  merge: list().pipe(z.array(z.string()).min(1)).optional(),
}).superRefine((f, ctx) => {
  const clash = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
  if (f.out && f["out-dir"]) clash("out", "is the same as --out-dir: give one");
  if (f.manifest && f.cases) clash("cases", "does not apply with --manifest (it lists the cases)");
  if (f.merge) {
    const k = (["cases", "manifest", "shard", "views", "angle-range"] as const).find((k) =>
      f[k] !== undefined
    );
    if (k) clash(k, "does not apply with --merge (the shards were evaluated already)");
  }
});

const VARIANT_KEYS = [
  "start",
  "t0",
  "dc",
  "dc-lambda",
  "dc-gamma",
  "samples",
  "steps",
  "ztv-from",
  "finish",
  "finish-gamma",
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
        options[k] = v;
        break;
      case "preset":
        if (v !== "paper") throw new UserError(`${spec}: preset must be paper`);
        Object.assign(options, { steps: 200, cgIters: 5, rho: 0, lambda: 0, start: "noise", samples: 1 });
        break;
      default: {
        if (!Number.isFinite(num)) throw new UserError(`${spec}: ${k} must be a number`);
        const key = {
          "dc-lambda": "dcLambda",
          "dc-gamma": "dcGamma",
          "ztv-from": "ztvFrom",
          "finish-gamma": "finishGamma",
        }[
          k as string
        ] ?? k;
        options[key] = num;
      }
    }
  }
  return { method: base as Method, options: options as Partial<MethodConfig>, label: spec };
}

interface Row {
  /** Index of the case in the full case list (the order of the merged table). */
  caseIndex: number;
  case: string;
  setting: string;
  method: string;
  psnr: Record<string, number>;
  ssim: Record<string, number>;
  tv: number;
  tvReference: number;
  zConsistency: number;
  zConsistencyReference: number;
  seconds: number;
  /** Sampler steps run (each is one batched network call over the slice groups). */
  calls: number;
  note: string;
}

// NaN (a metric undefined for the case) reads back from results.json as null
const num = (v: number | null, d: number) => (typeof v === "number" ? v.toFixed(d) : "NaN");
const fmt = (r: Record<string, number>, d: number) =>
  `${num(r.axial, d)} / ${num(r.coronal, d)} / ${num(r.sagittal, d)}`;

/** The Markdown table of the results. */
export function markdownTable(rows: Row[]): string {
  const lines = [
    "| case | setting | method | PSNR ax / cor / sag (dB) | SSIM ax / cor / sag | TV (GT) | z-cons. (GT) | s | steps | note |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.case} | ${r.setting} | ${r.method} | ${fmt(r.psnr, 2)} | ${fmt(r.ssim, 3)} | ${num(r.tv, 4)} (${
        num(r.tvReference, 4)
      }) | ${num(r.zConsistency, 4)} (${num(r.zConsistencyReference, 4)}) | ${
        num(r.seconds, 0)
      } | ${r.calls} | ${r.note} |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const f = parseFlags(
    Deno.args,
    "Usage: deno task evaluate --views 4,6,8 --methods fbp,cgls,tv,dds,blend,blend++",
    FLAGS,
    Schema,
  );
  const out = f.out ?? f["out-dir"] ?? "out/eval";
  if (f.merge) return await mergeShards(f.merge, out);
  const allCases = f.manifest ? await readCaseManifest(f.manifest) : f.cases ?? [...EVAL_CASES];
  const [shardIndex, shardCount] = f.shard ?? [0, 1];
  const cases = allCases.map((spec, index) => ({ spec, index })).filter((c) =>
    c.index % shardCount === shardIndex
  );
  const needPrior = f.methods.some((m) => isDiffusion(parseVariant(m).method));
  const prior = needPrior ? await openPrior({ backend: f.backend }) : null;
  const gpu = await gpuFor(prior);
  await Deno.mkdir(out, { recursive: true });
  const rows: Row[] = [];
  const angle = f["angle-range"];
  // limited angle defaults to METHOD.md's 1° steps (90 views over 90°)
  const settings = (f.views ?? [String(angle ?? 8)]).map((v) => ({
    label: angle ? `${angle}° limited, ${v} views` : `${v} views`,
    views: Number(v),
    angleRange: angle,
  }));
  try {
    const fingerprint = {
      cases: allCases,
      views: settings.map((s) => s.label),
      methods: f.methods,
      steps: f.steps,
      tvLambdas: f["tv-lambdas"],
      tvIterations: f["tv-iterations"],
      seed: f.seed,
      muWater: f["mu-water"] ?? null,
      model: prior?.card.sha256 ?? null,
    };
    const shardInfo = (complete: boolean) =>
      new TextEncoder().encode(
        JSON.stringify({ shard: [shardIndex, shardCount], complete, fingerprint }, null, 2) + "\n",
      );
    await writeFileAtomic(`${out}/shard.json`, shardInfo(false));
    for (const { spec: caseSpec, index: caseIndex } of cases) {
      const [path, range] = caseSpec.split("@");
      for (const s of settings) {
        const c = await loadCase(gpu, {
          input: path,
          slices: range,
          muWater: f["mu-water"],
          views: s.views,
          angleRange: s.angleRange,
          imageSize: prior ? prior.card.imageSize : 256,
          // the model works on its own slice size; smaller scans (headsq's 64x64) are resampled, as said
          resample: true,
        });
        const [Z, H, W] = c.shape;
        const { y, geometry } = c;
        const metricRange = defaultMetricRange(c.units);
        const own = (u: Float32Array) =>
          makeVolume(fromU(u, c.units), c.shape, {
            spacing: c.spacing,
            affine: c.affine,
            unit: c.units.unit,
          });
        const truthV = own(c.truthU!);
        const columns = [{ label: "ground truth", volume: displayOriented(truthV) }];
        // classical estimates by method, reused as the start of diffusion variants (the tuned TV for tv)
        const classical = new Map<string, Float32Array>();
        for (const spec of f.methods) {
          const { method, options: variant } = parseVariant(spec);
          const t0 = performance.now();
          let x: Float32Array;
          let note = "";
          let calls = 0;
          if (method === "tv") {
            // λ tuned on a grid against the ground truth (mean PSNR over planes)
            let best: { x: Float32Array; lam: number; score: number } | null = null;
            for (const lam of f["tv-lambdas"]) {
              const cand = await reconstruct(y, geometry, { Z, H, W }, {
                method: "tv",
                tvLambda: lam,
                iterations: f["tv-iterations"],
              }, { gpu });
              const p = computeMetrics(own(cand), truthV, { range: metricRange }).psnr;
              const score = (p.axial + p.coronal + p.sagittal) / 3;
              console.error(`  tv λ=${lam}: mean PSNR ${score.toFixed(2)} dB`);
              if (!best || score > best.score) best = { x: cand, lam, score };
            }
            x = best!.x;
            classical.set("tv", x);
            note = `λ=${best!.lam} (best of ${f["tv-lambdas"].join(",")})`;
          } else {
            const progress = createProgress(`${path} ${s.label} ${method}`);
            x = await reconstruct(y, geometry, { Z, H, W }, {
              method,
              steps: method === "dds" ? undefined : f.steps,
              seed: f.seed,
              schedule: prior?.card.schedule,
              modelMap: prior ? modelMap(prior.card) : undefined,
              ...variant,
            }, {
              gpu,
              model: prior?.denoiser,
              startEstimate: variant.start ? classical.get(variant.start) : undefined,
              onProgress: (d, t, e) => {
                if (e) calls += 1;
                progress.update(d, t);
              },
            });
            progress.done();
            const opts = Object.entries(variant).map(([k, v]) => `${k} ${v}`).join(", ");
            if (method === "dds") {
              const d = METHOD_DEFAULTS.dds;
              note =
                `reference: ${d.steps} steps, no clip, circular Dz, z-TV ρ=${d.referenceRho} λ=${d.referenceLambda} (reference units)` +
                (variant.ztvFrom !== undefined ? `; z-TV only for t ≤ ${variant.ztvFrom} (variant)` : "");
            }
            if (method === "blend" || method === "blend++") {
              const d = METHOD_DEFAULTS.blend;
              note = `${variant.steps ?? f.steps} steps, η=${d.eta}, CG ${d.cgIters}${
                opts ? `; ${opts}` : ""
              }`;
            }
          }
          if (!isDiffusion(method) && !spec.includes("/")) classical.set(method, x);
          const seconds = (performance.now() - t0) / 1000;
          const m = computeMetrics(own(x), truthV, { range: metricRange });
          const row: Row = {
            caseIndex,
            case: range ? `${path}@${range}` : path,
            setting: s.label,
            method: spec,
            calls,
            psnr: m.psnr,
            ssim: m.ssim,
            tv: m.tv.total,
            tvReference: m.tvReference.total,
            zConsistency: m.zConsistency,
            zConsistencyReference: m.zConsistencyReference,
            seconds,
            note,
          };
          rows.push(row);
          console.log(markdownTable([row]).split("\n")[2]);
          columns.push({ label: spec, volume: displayOriented(own(x)) });
          // keep what is done: rewrite the results after every method
          await writeFileAtomic(
            `${out}/results.json`,
            new TextEncoder().encode(JSON.stringify(rows, null, 2) + "\n"),
          );
          await writeFileAtomic(`${out}/results.md`, new TextEncoder().encode(markdownTable(rows) + "\n"));
        }
        const name = `${path.replace(/[^a-z0-9]+/gi, "_")}_${s.label.replace(/[^a-z0-9]+/gi, "_")}.png`;
        await writeFileAtomic(`${out}/${name}`, midPlanesPng(columns, { window: displayWindow(c.units) }));
      }
    }
    if (rows.length === 0 && cases.length > 0) {
      throw new UserError("nothing was evaluated: check --cases and --methods");
    }
    await writeFileAtomic(
      `${out}/results.json`,
      new TextEncoder().encode(JSON.stringify(rows, null, 2) + "\n"),
    );
    await writeFileAtomic(`${out}/results.md`, new TextEncoder().encode(markdownTable(rows) + "\n"));
    await writeFileAtomic(`${out}/shard.json`, shardInfo(true));
    const manifest = buildManifest({
      command: ["deno", "task", "evaluate", ...Deno.args],
      adapter: gpu.adapter,
      seed: f.seed,
      config: f,
      model: priorSummary(prior),
      inputs: cases.map((c) => ({ path: c.spec, sha256: "" })),
      timings: {},
      outputs: [`${out}/results.json`, `${out}/results.md`],
      ortVersion: prior?.ortVersion,
    });
    await writeFileAtomic(
      `${out}/manifest.json`,
      new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n"),
    );
    console.log("\n" + markdownTable(rows));
  } finally {
    await prior?.dispose();
    gpu.dispose();
  }
}

/** The case list of a `--manifest` file: `{"cases": ["VOL@A:B", ...]}` or a bare array. */
async function readCaseManifest(path: string): Promise<string[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch {
    throw new UserError(`--manifest ${path}: not a readable JSON file`);
  }
  const list = Array.isArray(raw) ? raw : (raw as { cases?: unknown })?.cases;
  if (
    !Array.isArray(list) || list.length === 0 || !list.every((c) => typeof c === "string" && c.length > 0)
  ) {
    throw new UserError(`--manifest ${path}: needs {"cases": ["VOLUME[@A:B]", ...]} with at least one case`);
  }
  return list as string[];
}

/**
 * Merges shard folders into one table, in the full case list's order: every shard must be complete, of the
 * same evaluation (fingerprint), and the set must cover 0..n−1 exactly once, so the merge equals one
 * unsharded run (timings aside).
 */
async function mergeShards(parts: string[], out: string): Promise<void> {
  const infos = [];
  for (const part of parts) {
    let info;
    try {
      info = JSON.parse(await Deno.readTextFile(`${part}/shard.json`));
    } catch {
      throw new UserError(
        `--merge: ${part}/shard.json not found: is ${part} the --out of an evaluate --shard run?`,
      );
    }
    if (!info.complete) throw new UserError(`--merge: shard ${part} did not finish (rerun it)`);
    infos.push({ part, ...info });
  }
  const n = infos[0].shard[1];
  const same = JSON.stringify(infos[0].fingerprint);
  for (const i of infos) {
    if (i.shard[1] !== n) {
      throw new UserError(`--merge: ${i.part} is shard ${i.shard.join("/")}, not one of ${n}`);
    }
    if (JSON.stringify(i.fingerprint) !== same) {
      throw new UserError(`--merge: ${i.part} was evaluated with other settings than ${infos[0].part}`);
    }
  }
  const seen = infos.map((i) => i.shard[0]).sort((a, b) => a - b);
  const want = Array.from({ length: n }, (_, k) => k);
  if (seen.join() !== want.join()) {
    throw new UserError(
      `--merge: shards ${seen.join(",")} given; a table of ${n} shards needs ${want.join(",")} once each`,
    );
  }
  const rows: Row[] = [];
  for (const i of infos) rows.push(...JSON.parse(await Deno.readTextFile(`${i.part}/results.json`)));
  // stable sort: the rows of one case keep their order (settings, then methods)
  rows.sort((a, b) => a.caseIndex - b.caseIndex);
  await Deno.mkdir(out, { recursive: true });
  const write = (name: string, text: string) =>
    writeFileAtomic(`${out}/${name}`, new TextEncoder().encode(text));
  await write("results.json", JSON.stringify(rows, null, 2) + "\n");
  await write("results.md", markdownTable(rows) + "\n");
  await write(
    "shard.json",
    JSON.stringify(
      { shard: [0, 1], complete: true, fingerprint: infos[0].fingerprint, mergedFrom: parts },
      null,
      2,
    ) +
      "\n",
  );
  console.log(markdownTable(rows));
  console.log(`merged ${parts.length} shards into ${out}/results.json, ${out}/results.md`);
}

if (import.meta.main) runTask(main);
