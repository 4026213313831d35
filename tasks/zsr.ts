/**
 * `deno task reconstruct --task zsr --factor F --input thick.nii.gz [--output thin.nii.gz] [--reference
 * thin-truth.nii.gz]`: z-super-resolution with the same prior. Writes the volume with F× the slices
 * (spacing and affine updated), a preview, manifest.json, and with `--reference` metrics.json comparing
 * the method with linear and cubic interpolation (axial scored on the slices that were not given).
 * @module
 */
import { readVolumeFile, writeFileAtomic, writeJsonAtomic, writeVolumeFile } from "../lib/io/files.ts";
import { cropSlices, resampleSlices } from "../lib/cases.ts";
import { DEFAULT_MU_WATER, defaultMetricRange, displayWindow, toU, type UnitMap } from "../lib/units.ts";
import { interpolateSlices, superResolve, thinGrid, zsrOffset } from "../lib/zsr.ts";
import { keptSlices } from "../lib/ct/subsample.ts";
import { modelMap } from "../lib/diffusion/card.ts";
import { gpuFor, openPrior, priorSummary } from "../lib/diffusion/prior.ts";
import { isDiffusion, type MethodConfig } from "../lib/reconstruct.ts";
import { computeMetrics } from "../lib/metrics/index.ts";
import { midPlanesPng } from "../lib/report/png.ts";
import { displayOriented } from "../lib/report/orient.ts";
import { createProgress, formatDuration } from "../lib/report/progress.ts";
import { buildManifest } from "../lib/report/manifest.ts";
import { makeVolume, type Volume } from "../lib/volume.ts";
import { UserError } from "../lib/errors.ts";
import { sha256Hex } from "../lib/hash.ts";
import { caseVolume } from "../lib/case.ts";
import { dirname, parseFlags, refuseOverwrite } from "./cli.ts";
import { FLAGS, Schema, ZSR_DEFAULTS } from "./zsr_flags.ts";

export { ZSR_DEFAULTS } from "./zsr_flags.ts";

/** `--task` of argv (`--task zsr` or `--task=zsr`), or undefined. */
export function taskOf(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--task") return args[i + 1];
    if (args[i].startsWith("--task=")) return args[i].slice(7);
  }
  return undefined;
}

/** Thin volumes above this many voxels are refused (GPU buffers of a few times this size are needed). */
const MAX_THIN_VOXELS = 256 * 256 * 512;

/** Runs the zsr task on `args`. */
export async function main(args: string[]): Promise<void> {
  const f = parseFlags(
    args,
    "Usage: deno task reconstruct --task zsr --factor 4 --input thick.nii.gz",
    FLAGS,
    Schema,
  );
  const outDir = f["out-dir"] ?? (f.output ? dirname(f.output) : "out");
  const output = f.output ?? `${outDir}/thin.nii.gz`;
  await refuseOverwrite(outDir, output, f.force);
  const t0 = performance.now();
  let thick = await readVolumeFile(f.input, { unit: f.unit });
  if (thick.unitNotice) console.error(`note: ${thick.unitNotice}`);
  if (f.slices) thick = cropSlices(thick, f.slices);
  const [Zt, H0, W0] = thick.shape;
  if (Zt * f.factor * H0 * W0 > MAX_THIN_VOXELS) {
    throw new UserError(
      `--factor ${f.factor}: ${Zt} slices x ${f.factor} of ${H0}x${W0} exceed ${MAX_THIN_VOXELS} voxels: use --slices A:B or a smaller factor`,
    );
  }
  const diffusion = isDiffusion(f.method as never);
  const prior = diffusion ? await openPrior({ model: f.model, backend: f.backend }) : null;
  const size = prior?.card.imageSize;
  if (size && (H0 !== size || W0 !== size)) {
    if (!f.resample) {
      throw new UserError(
        `the model works on ${size}x${size} slices but ${f.input} has ${H0}x${W0}: pass --resample, or use a matching model`,
      );
    }
    thick = resampleSlices(thick, size);
  }
  const [, H, W] = thick.shape;
  const units: UnitMap = { unit: thick.unit ?? "image", muWater: DEFAULT_MU_WATER, imageHu: thick.imageHu };
  const grid = thinGrid(thick, f.factor);
  const reference = f.reference ? await readVolumeFile(f.reference, { unit: f.unit ?? thick.unit }) : null;
  if (reference && reference.shape.join() !== grid.shape.join()) {
    throw new UserError(
      `--reference is ${reference.shape.join("x")} but the thin volume is ${
        grid.shape.join("x")
      } (${Zt} slices x ${f.factor})`,
    );
  }
  const gpu = await gpuFor(prior);
  try {
    await Deno.mkdir(outDir, { recursive: true });
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
            t0: f.t0 ?? ZSR_DEFAULTS.t0,
            steps: f.steps ?? ZSR_DEFAULTS.steps,
            schedule: prior!.card.schedule,
            modelMap: modelMap(prior!.card),
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
      const kept = new Set(keptSlices(grid.shape[0], f.factor, zsrOffset(f.factor)));
      const unseen = Array.from({ length: grid.shape[0] }, (_, z) => z).filter((z) => !kept.has(z));
      const pick = (v: Volume) => {
        const hw = H * W, data = new Float32Array(unseen.length * hw);
        unseen.forEach((z, k) => data.set(v.data.subarray(z * hw, (z + 1) * hw), k * hw));
        return makeVolume(data, [unseen.length, H, W], { unit: v.unit });
      };
      metrics.range = { unit: units.unit, lo: range[0], hi: range[1] };
      metrics.axialScoredOn = `${unseen.length} slices not given`;
      const rows: [string, Volume][] = [[f.method, thin]];
      if (f.method !== "linear") {
        rows.push(["linear", own(interpolateSlices(thickU, thick.shape, f.factor, "linear"))]);
      }
      if (f.method !== "cubic") rows.push(["cubic", own(cubicU)]);
      for (const [name, vol] of rows) {
        // axial is scored on the slices that were not given only
        const all = computeMetrics(vol, reference, { range, planes: ["coronal", "sagittal"] });
        const ax = computeMetrics(pick(vol), pick(reference), { range, planes: ["axial"] });
        metrics[name] = {
          psnr: { ...all.psnr, axial: ax.psnr.axial },
          ssim: { ...all.ssim, axial: ax.ssim.axial },
        };
      }
      await writeJsonAtomic(`${outDir}/metrics.json`, metrics, {
        inputs,
      });
      outputs.push(`${outDir}/metrics.json`);
    }
    const columns = [
      ...(reference ? [{ label: "ground truth", volume: displayOriented(reference) }] : []),
      {
        label: "cubic",
        volume: displayOriented(own(cubicU)),
      },
      { label: `zsr ${f.method}`, volume: displayOriented(thin) },
    ];
    await writeFileAtomic(`${outDir}/preview.png`, midPlanesPng(columns, { window: displayWindow(units) }), {
      inputs,
    });
    outputs.push(`${outDir}/preview.png`);
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
      outputs: [...outputs, `${outDir}/manifest.json`],
      ortVersion: prior?.ortVersion,
      extra: { metrics },
    });
    await writeJsonAtomic(`${outDir}/manifest.json`, manifest, {
      inputs,
    });
    for (
      const [name, m] of Object.entries(metrics).filter(([, v]) => typeof v === "object" && v && "psnr" in v)
    ) {
      const p = (m as { psnr: Record<string, number> }).psnr;
      console.log(
        `${name.padEnd(8)} PSNR axial (unseen)/coronal/sagittal ${p.axial.toFixed(2)}/${
          p.coronal.toFixed(2)
        }/${p.sagittal.toFixed(2)} dB`,
      );
    }
    console.log(
      `wrote ${outputs.join(", ")}, ${outDir}/manifest.json in ${
        formatDuration((performance.now() - t0) / 1000)
      }`,
    );
  } finally {
    await prior?.dispose();
    gpu.dispose();
  }
}
