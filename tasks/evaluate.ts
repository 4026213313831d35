/**
 * `deno task evaluate --views 4,6,8 --methods fbp,fbpunet,cgls,tv,dds2d,dds,mbir,tpdm,blend,blend++`: the paper's table on the
 * evaluation volumes (PSNR/SSIM per plane, TV, z-consistency, seconds), every method on the same operator
 * and data. TV's λ is tuned on a grid per setting against the ground truth, as hard as the diffusion
 * methods are tuned. Writes results.json, results.md, a picture per case and setting, a PSNR-against-views
 * plot per case and report.md (all of it as one Markdown page) to the output folder.
 * The flags are in tasks/_evaluate_flags.ts, the table and the merge of shards in tasks/_evaluate_table.ts.
 * @module
 */
import { writeFileAtomic, writeJsonAtomic } from "../lib/io/files.ts";
import { defaultMetricRange, displayWindow } from "../lib/units.ts";
import { caseVolume } from "../lib/jobs/case.ts";
import { openProblem } from "../lib/jobs/problem.ts";
import { windowFooter } from "../lib/report/outputs.ts";
import { displayOriented } from "../lib/report/orient.ts";
import { methodMetrics } from "../lib/metrics/index.ts";
import { midPlanesPng } from "../lib/report/png.ts";
import { buildManifest } from "../lib/report/manifest.ts";
import { UserError } from "../lib/errors.ts";
import { gpuFor, priorSummary } from "../lib/prior/prior.ts";
import { parseFlags, runTask } from "./_cli.ts";
import { EVAL_CASES, FLAGS, Schema } from "./_evaluate_flags.ts";
import {
  fileStem,
  machineLine,
  markdownTable,
  mergeShards,
  readCaseManifest,
  type Row,
  writeTables,
} from "./_evaluate_table.ts";
import { openPriors, runMethod } from "./_evaluate_methods.ts";

export { parseVariant } from "./_evaluate_flags.ts";
export { markdownTable } from "./_evaluate_table.ts";

async function main(): Promise<void> {
  const f = parseFlags(
    Deno.args,
    "Usage: deno task evaluate --views 4,6,8 --methods fbp,fbpunet,cgls,tv,dds2d,dds,mbir,tpdm,blend,blend++",
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
  const priors = await openPriors(f.methods, f.backend, f.precision, f.model);
  const prior = priors.main;
  const gpu = await gpuFor(prior);
  await Deno.mkdir(out, { recursive: true });
  const rows: Row[] = [];
  const pictures: Record<string, string[]> = {};
  const angle = f["angle-range"];
  // limited angle defaults to METHOD.md's 1° steps (90 views over 90°)
  const settings = f.geometry
    ? [{ label: `geometry ${f.geometry.split("/").pop()}`, views: undefined, angleRange: undefined }]
    : (f.views ?? [String(angle ?? 8)]).map((v) => ({
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
      model: priors.sha256,
    };
    const shardInfo = (complete: boolean) =>
      new TextEncoder().encode(
        JSON.stringify({ shard: [shardIndex, shardCount], complete, fingerprint }, null, 2) + "\n",
      );
    await writeFileAtomic(`${out}/shard.json`, shardInfo(false));
    for (const { spec: caseSpec, index: caseIndex } of cases) {
      const [path, range] = caseSpec.split("@");
      for (const s of settings) {
        const problem = await openProblem(gpu, {
          input: path,
          slices: range,
          muWater: f["mu-water"],
          views: s.views,
          angleRange: s.angleRange,
          geometry: f.geometry,
          imageSize: prior ? prior.card.imageSize : 256,
          // the model works on its own slice size; smaller scans (headsq's 64x64) are resampled, as said
          resample: true,
        });
        const c = problem.case;
        const metricRange = defaultMetricRange(c.units);
        const own = (u: Float32Array) => caseVolume(c, u);
        const truthV = own(c.truthU!);
        const columns = [{ label: "ground truth", volume: displayOriented(truthV) }];
        const classical = new Map<string, Float32Array>();
        for (const spec of f.methods) {
          const t0 = performance.now();
          const { x, note, calls } = await runMethod(spec, {
            gpu,
            problem,
            c,
            priors,
            truth: truthV,
            range: metricRange,
            classical,
            flags: f,
            label: `${path} ${s.label}`,
          });
          const seconds = (performance.now() - t0) / 1000;
          const row: Row = {
            caseIndex,
            case: range ? `${path}@${range}` : path,
            setting: s.label,
            method: spec,
            calls,
            ...methodMetrics(own(x), truthV, { range: metricRange }),
            seconds,
            note,
          };
          rows.push(row);
          console.log(markdownTable([row]).split("\n")[2]);
          columns.push({ label: spec, volume: displayOriented(own(x)) });
          // keep what is done: rewrite the results after every method
          await writeJsonAtomic(`${out}/results.json`, rows);
          await writeFileAtomic(`${out}/results.md`, new TextEncoder().encode(markdownTable(rows) + "\n"));
        }
        problem.dispose();
        // named after the case with its slice range: two ranges of one volume must not share a picture
        const key = range ? `${path}@${range}` : path;
        const name = `${fileStem(key)}_${fileStem(s.label)}.png`;
        (pictures[key] ??= []).push(name);
        const window = displayWindow(c.units);
        await writeFileAtomic(
          `${out}/${name}`,
          midPlanesPng(columns, { window, scaleBarMm: 50, footer: windowFooter(window, c.units) }),
        );
      }
    }
    if (rows.length === 0 && cases.length > 0) {
      throw new UserError("nothing was evaluated: check --cases and --methods");
    }
    const outputs = await writeTables(out, rows, {
      command: ["deno", "task", "evaluate", ...Deno.args].join(" "),
      machine: `${machineLine()}, ${gpu.adapter.description}`,
      pictures,
    });
    await writeFileAtomic(`${out}/shard.json`, shardInfo(true));
    const manifest = buildManifest({
      command: ["deno", "task", "evaluate", ...Deno.args],
      adapter: gpu.adapter,
      seed: f.seed,
      config: f,
      model: priorSummary(prior),
      inputs: cases.map((c) => ({ path: c.spec, sha256: "" })),
      timings: {},
      outputs,
      ortVersion: prior?.ortVersion,
    });
    await writeJsonAtomic(`${out}/manifest.json`, manifest);
    console.log("\n" + markdownTable(rows));
  } finally {
    await priors.dispose();
    gpu.dispose();
  }
}

if (import.meta.main) runTask(main);
