/**
 * `deno task reconstruct --task zsr --factor F --input thick.nii.gz [--output thin.nii.gz] [--reference
 * thin-truth.nii.gz]`: z-super-resolution with the same prior. Writes the volume with F× the slices
 * (spacing and affine updated), a preview, manifest.json, and with `--reference` metrics.json comparing
 * the method with linear and cubic interpolation (axial scored on the slices that were not given).
 * @module
 */
import { writeFileAtomic, writeJsonAtomic, writeVolumeFile } from "../lib/io/files.ts";
import { defaultMetricRange, displayWindow, toU } from "../lib/units.ts";
import { interpolateSlices, scoreZsr, superResolve, zsrOffset } from "../lib/jobs/zsr.ts";
import { modelMap } from "../lib/prior/card.ts";
import { gpuFor, priorSummary } from "../lib/prior/prior.ts";
import { isDiffusion, type MethodConfig } from "../lib/jobs/reconstruct.ts";
import { midPlanesPng } from "../lib/report/png.ts";
import { displayOriented } from "../lib/report/orient.ts";
import { createProgress, formatDuration } from "../lib/report/progress.ts";
import { buildManifest } from "../lib/report/manifest.ts";
import type { Volume } from "../lib/volume.ts";
import { sha256Hex } from "../lib/hash.ts";
import { caseVolume } from "../lib/jobs/case.ts";
import { makeOutputFolder, outputPath, parseFlags } from "./_cli.ts";
import { adaptConfig, openFlagsPrior } from "./_reconstruct_flags.ts";
import { claimOutputs } from "../lib/report/sidecars.ts";
import { FLAGS, printScores, readZsrInputs, Schema, ZSR_DEFAULTS } from "./_zsr_flags.ts";

export { taskOf, ZSR_DEFAULTS } from "./_zsr_flags.ts";

/** Runs the zsr task on `args`. */
export async function main(args: string[]): Promise<void> {
  const f = parseFlags(
    args,
    "Usage: deno task reconstruct --task zsr --factor 4 --input thick.nii.gz",
    FLAGS,
    Schema,
  );
  const output = outputPath(f, "thin.nii.gz");
  const t0 = performance.now();
  const diffusion = isDiffusion(f.method as never);
  const prior = diffusion ? await openFlagsPrior(f) : null;
  const { thick, reference, grid, units } = await readZsrInputs(f, prior?.card.imageSize);
  const Zt = thick.shape[0];
  const gpu = await gpuFor(prior);
  let claim: Awaited<ReturnType<typeof claimOutputs>> | null = null;
  try {
    if (f["out-dir"] || !f.output) await makeOutputFolder(output);
    claim = await claimOutputs(output, {
      force: f.force,
      inputs: [f.input, ...(f.reference ? [f.reference] : [])],
    });
    const files = claim.files;
    const thickU = toU(thick.data, units);
    const progress = createProgress(`zsr ${f.method}`, { unit: diffusion ? "step" : "iter" });
    const t = performance.now();
    // cubic interpolation serves three times: the diffusion start, a baseline of the metrics, the preview
    const cubicU = interpolateSlices(thickU, thick.shape, f.factor, "cubic");
    let thinU: Float32Array;
    if (f.method === "cubic") thinU = cubicU;
    else if (f.method === "linear") thinU = interpolateSlices(thickU, thick.shape, f.factor, "linear");
    else {
      const cfg: MethodConfig = {
        method: f.method,
        seed: f.seed,
        ...(diffusion
          ? {
            start: "tv" as const, // with superResolve: the cubic interpolation is the classical start
            finish: "none" as const,
            t0: f.t0 ?? ZSR_DEFAULTS.t0,
            steps: f.steps ?? ZSR_DEFAULTS.steps,
            schedule: prior!.card.schedule,
            modelMap: modelMap(prior!.card),
            ...adaptConfig(f),
          }
          : {}),
      };
      thinU = await superResolve(gpu, thickU, thick.shape, f.factor, cfg, {
        gpu,
        model: prior?.denoiser,
        startEstimate: diffusion ? cubicU : undefined,
        onProgress: (done, total) => progress.update(done, total),
      });
      progress.done();
    }
    const seconds = (performance.now() - t) / 1000;
    const thinCase = { units, shape: grid.shape, spacing: grid.spacing, affine: grid.affine };
    const own = (u: Float32Array): Volume => caseVolume(thinCase, u);
    const thin = own(thinU);
    const inputs = [f.input, ...(f.reference ? [f.reference] : [])];
    await writeVolumeFile(output, thin, { inputs });
    const outputs = [output];
    const metrics: Record<string, unknown> = {};
    if (reference) {
      const range = f["metric-range"] ?? defaultMetricRange(units);
      const unseen = grid.shape[0] - Zt;
      metrics.range = { unit: units.unit, lo: range[0], hi: range[1] };
      metrics.axialScoredOn = `${unseen} slices not given`;
      const rows: [string, Volume][] = [[f.method, thin]];
      if (f.method !== "linear") {
        rows.push(["linear", own(interpolateSlices(thickU, thick.shape, f.factor, "linear"))]);
      }
      if (f.method !== "cubic") rows.push(["cubic", own(cubicU)]);
      Object.assign(metrics, scoreZsr(rows, reference, f.factor, range));
      await writeJsonAtomic(files.metrics, metrics, { inputs });
      outputs.push(files.metrics);
    }
    const columns = [
      ...(reference ? [{ label: "ground truth", volume: displayOriented(reference) }] : []),
      {
        label: "cubic",
        volume: displayOriented(own(cubicU)),
      },
      { label: `zsr ${f.method}`, volume: displayOriented(thin) },
    ];
    await writeFileAtomic(files.preview, midPlanesPng(columns, { window: displayWindow(units) }), { inputs });
    outputs.push(files.preview);
    const manifest = buildManifest({
      command: ["deno", "task", "reconstruct", ...args],
      adapter: gpu.adapter,
      seed: f.seed,
      config: { ...f, thinShape: grid.shape, offset: zsrOffset(f.factor), units },
      model: priorSummary(prior),
      // hashes of the volumes as read (an input may be a sample:NAME, not a file)
      inputs: [
        { path: f.input, sha256: await sha256Hex(new Uint8Array(thick.data.buffer)), shape: thick.shape },
        ...(reference
          ? [{
            path: f.reference!,
            sha256: await sha256Hex(new Uint8Array(reference.data.buffer)),
            shape: reference.shape,
          }]
          : []),
      ],
      timings: { zsr: seconds, total: (performance.now() - t0) / 1000 },
      outputs: [...outputs, files.manifest],
      ortVersion: prior?.ortVersion,
      extra: { metrics },
    });
    await writeJsonAtomic(files.manifest, manifest, { inputs });
    await claim.finish([...outputs, files.manifest]);
    printScores(metrics);
    console.log(
      `wrote ${outputs.join(", ")}, ${files.manifest} in ${formatDuration((performance.now() - t0) / 1000)}`,
    );
  } finally {
    await claim?.release();
    await prior?.dispose();
    gpu.dispose();
  }
}
