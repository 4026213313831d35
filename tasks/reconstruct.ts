/**
 * `deno task reconstruct [--views 8] [--method blend++] [...]`: the main job. With no flag it reconstructs
 * the bundled default case (36 slices of the LIDC chest CT, never seen in training) from 8 simulated views
 * and writes the volume `out/recon.nii.gz` and beside it its preview, metrics and manifest
 * (`recon.preview.png`, `recon.metrics.json`, `recon.manifest.json`). `--task zsr` is
 * z-super-resolution (tasks/_zsr.ts); the flags live in tasks/_reconstruct_flags.ts.
 * @module
 */
import { saveState } from "../lib/diffusion/state.ts";
import { openProblem, type Problem } from "../lib/jobs/problem.ts";
import { isDiffusion, reconstructWith, samplerConfig } from "../lib/jobs/reconstruct.ts";
import { isCone } from "../lib/ct/cone_geometry.ts";
import { writeRunOutputs } from "../lib/report/outputs.ts";
import { createProgress, formatDuration } from "../lib/report/progress.ts";
import { sha256Hex } from "../lib/hash.ts";
import { UserError } from "../lib/errors.ts";
import { gpuFor, priorSummary } from "../lib/prior/prior.ts";
import { loadModel, SHIPPED_MODEL } from "../lib/prior/card.ts";
import { makeOutputFolder, outputPath, parseFlags, runTask } from "./_cli.ts";
import { claimOutputs, type OutputClaim, sidecarsOf } from "../lib/report/sidecars.ts";
import { checkBudget, FLAGS, methodConfig, openFlagsPrior, Schema } from "./_reconstruct_flags.ts";
import { printMetrics, readResume, stepScore } from "./_reconstruct_run.ts";
import { defaultMetricRange } from "../lib/units.ts";
import { denseViewsNotice } from "../lib/defaults.ts";
import type { StepCurve } from "../lib/report/outputs.ts";
import { main as zsrMain, taskOf } from "./_zsr.ts";

export { CLI_BLEND_DEFAULTS } from "./_reconstruct_flags.ts";

async function main(): Promise<void> {
  if (taskOf(Deno.args) === "zsr") return await zsrMain(Deno.args);
  const f = parseFlags(
    Deno.args,
    "Usage: deno task reconstruct [--views 8] [--method blend++] [flags]",
    FLAGS,
    Schema,
  );
  const output = outputPath(f, "recon.nii.gz");
  const statePath = sidecarsOf(output).state;
  let claim: OutputClaim | null = null;
  let problem: Problem | null = null;
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const diffusion = isDiffusion(f.method);
  const prior = diffusion ? await openFlagsPrior(f, f.method) : null;
  const gpu = await gpuFor(prior);
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) Deno.exit(130);
    console.error("\ninterrupt: finishing the current step and saving state (Ctrl-C again to quit now)");
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  const lap = (name: string, since: number) => (timings[name] = (performance.now() - since) / 1000);
  try {
    lap("setup", t0);
    let t = performance.now();
    // the problem, built once: the operator that measured the case reconstructs it, y on the device once
    // (FBP alone needs no sparse copy; cone beam's FDK runs on the host whatever the engine)
    const classicFbp = f.method === "fbp" || f.method === "fbpunet";
    problem = await openProblem(gpu, {
      ...f,
      muWater: f["mu-water"],
      // limited angle: one view per degree unless --views says otherwise (the same in every task)
      views: f.views ?? (f["angle-range"] ? Math.max(1, Math.round(f["angle-range"])) : 8),
      angleRange: f["angle-range"],
      voxelSize: f["voxel-size"],
      // --resample with a classical method: the prior's grid, so its numbers compare with the prior's runs
      imageSize: prior
        ? prior.card.imageSize
        : f.resample
        ? (await loadModel(f.model ?? SHIPPED_MODEL)).card.imageSize
        : null,
    }, { engine: (g) => (classicFbp && !isCone(g) ? "wgsl" : f.projector) });
    const c = problem.case, A = problem.operator;
    for (const line of c.notices) console.error(line);
    const cfg = methodConfig(f, prior);
    checkBudget(f, cfg, c.shape);
    // made once the case has loaded, so that bad input leaves nothing behind; the folder of --output must
    // exist already (as for any output file), an explicit --out-dir is made
    if (f["out-dir"] || !f.output) await makeOutputFolder(output);
    claim = await claimOutputs(output, { force: f.force, resume: f.resume, inputs: c.inputs });
    const [Z] = c.shape;
    if (diffusion && Z < 3) {
      throw new UserError(`the 3-slice prior needs at least 3 slices (the input has ${Z})`);
    }
    lap("load_and_measure", t);
    const views = c.geometry.angles.length;
    const dense = denseViewsNotice(f.method, c.geometry.angles);
    if (dense) console.error(dense);
    const fingerprint = {
      ...(samplerConfig(cfg, views) ?? cfg),
      input: c.label,
      inputSha256: await sha256Hex(new Uint8Array(c.y.buffer)),
      shape: c.shape,
      model: prior?.card.sha256 ?? null,
      // the arithmetic that produced the numbers: a state is never resumed on another
      backend: prior?.denoiser.backend ?? null,
      // the torch worker's device and autocast, as it reported them
      arithmetic: prior?.denoiser.backend === "torch"
        ? prior.denoiser.description.replace(/ \(.*\)$/, "")
        : null,
      precision: prior?.denoiser.precision ?? null,
      projector: f.projector,
    };
    const resume = f.resume ? await readResume(statePath, fingerprint, diffusion, f.method) : undefined;
    t = performance.now();
    const fbpX = await reconstructWith(A, problem.y, { method: "fbp", filter: f.filter }, { gpu });
    lap("fbp", t);
    t = performance.now();
    const progress = createProgress(f.method, { unit: diffusion ? "step" : "iter" });
    let stepTimings: Record<string, number> = {};
    const adaptation: { step: number; t: number; residuals: number[] }[] = [];
    let adapterParameters = 0;
    let stdU: Float32Array | null = null;
    const metricRange = f["metric-range"] ?? defaultMetricRange(c.units);
    const scored = diffusion ? stepScore(gpu, c, A, metricRange) : null;
    const steps: StepCurve | undefined = scored ? { metric: scored.metric, points: [] } : undefined;
    const x = f.method === "fbp" ? fbpX : await reconstructWith(A, problem.y, cfg, {
      gpu,
      model: prior?.denoiser,
      resume,
      signal: controller.signal,
      onProgress: async (done, total, e, estimate) => {
        if (e) stepTimings = { ...e.timings };
        if (e && estimate && scored) {
          const value = await scored.score(await estimate.get());
          steps!.points.push({ chain: estimate.chain, step: e.step, value: +value.toPrecision(6) });
        }
        if (e?.adapt) {
          adapterParameters = e.adapt.parameters;
          adaptation.push({
            step: e.step,
            t: e.t,
            residuals: e.adapt.residuals.map((r) => +r.toPrecision(6)),
          });
        }
        progress.update(done, total, e ? `(t=${e.t}, ${e.partition})` : "");
      },
      onState: (s) => saveState(statePath, s, fingerprint),
      onStd: (s) => {
        stdU = s;
      },
    }).catch((e) => {
      progress.done();
      if (e instanceof DOMException && e.name === "AbortError") {
        throw new UserError(
          `${e.message}; state saved to ${statePath}: continue with the same flags and --resume`,
        );
      }
      if (e instanceof UserError && /PyTorch worker/.test(e.message)) {
        let saved = false;
        try {
          saved = Deno.statSync(statePath).isFile;
        } catch { /* none saved yet */ }
        throw new UserError(
          `${e.message}; ${
            saved
              ? `the state saved so far is in ${statePath}: rerun with --resume`
              : "no state was saved yet: rerun"
          }`,
        );
      }
      throw e;
    }).finally(() => scored?.dispose());
    progress.done();
    lap(f.method, t);
    for (const [k, v] of Object.entries(stepTimings)) timings[`${f.method}_${k}`] = v;
    const { outputs, metrics } = await writeRunOutputs({
      case: c,
      method: f.method,
      x,
      fbp: fbpX,
      std: stdU,
      steps,
      files: claim.files,
      metricRange,
      displayWindow: f["display-window"],
      startedAt: t0,
      manifest: {
        command: ["deno", "task", "reconstruct", ...Deno.args],
        adapter: gpu.adapter,
        seed: f.seed,
        config: { ...f, resolved: samplerConfig(cfg, views) ?? cfg, geometry: c.geometry, units: c.units },
        model: priorSummary(prior),
        inputs: [{ path: c.label, sha256: fingerprint.inputSha256, shape: c.shape }],
        ...(c.measurement ? { measurement: c.measurement } : {}),
        timings,
        ortVersion: prior?.ortVersion,
        ...(cfg.adapt
          ? { adaptation: { ...cfg.adapt, parameters: adapterParameters, residualsPerStep: adaptation } }
          : {}),
      },
    });
    await Deno.remove(statePath).catch(() => {});
    await claim.finish(outputs);
    printMetrics(metrics);
    console.log(`wrote ${outputs.join(", ")} in ${formatDuration((performance.now() - t0) / 1000)}`);
  } finally {
    problem?.dispose();
    await claim?.release();
    Deno.removeSignalListener("SIGINT", onSigint);
    await prior?.dispose();
    gpu.dispose();
  }
}

if (import.meta.main) runTask(main);
