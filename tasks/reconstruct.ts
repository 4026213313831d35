/**
 * `deno task reconstruct [--views 8] [--method blend++] [...]`: the main job. With no flag it reconstructs
 * the bundled default case (36 slices of the LIDC chest CT, never seen in training) from 8 simulated views
 * and writes the volume, a preview PNG, metrics.json and manifest.json to `out/`.
 * @module
 */
import { z } from "../lib/deps.ts";
import { GpuContext } from "../lib/gpu/context.ts";
import { readVolumeFile, VOLUME_INPUTS, writeFileAtomic, writeVolumeFile } from "../lib/io/files.ts";
import { readSinogram } from "../lib/io/sinogram.ts";
import { decodeState, saveState } from "../lib/io/state.ts";
import { chooseMapping, fromUnit, type IntensityMapping, toUnit } from "../lib/intensity.ts";
import { measure } from "../lib/ct/measure.ts";
import { FBP_FILTERS } from "../lib/ct/fbp.ts";
import type { Geometry } from "../lib/ct/geometry.ts";
import { isDiffusion, type MethodConfig, METHODS, reconstruct, samplerConfig } from "../lib/reconstruct.ts";
import { computeMetrics } from "../lib/metrics/index.ts";
import { midPlanesPng } from "../lib/report/png.ts";
import { createProgress, formatDuration } from "../lib/report/progress.ts";
import { buildManifest } from "../lib/report/manifest.ts";
import { sha256Hex } from "../lib/hash.ts";
import { makeVolume, type Volume } from "../lib/volume.ts";
import { UserError } from "../lib/errors.ts";
import { cropSlices, DEFAULT_CASE, resampleSlices } from "../lib/cases.ts";
import { gpuFor, openPrior, priorSummary } from "../lib/diffusion/prior.ts";
import { intFlag, numberFlag, parseFlags, runTask, windowFlag } from "./cli.ts";

const FLAGS = {
  input: {
    type: "string",
    help: `Volume to reconstruct from simulated views (${VOLUME_INPUTS})`,
    default: DEFAULT_CASE.input,
  },
  slices: {
    type: "string",
    help: "Slice range A:B of the input (end exclusive)",
    default: "all (default case: 48:84)",
  },
  views: { type: "string", help: "Number of views", default: "8" },
  "angle-range": {
    type: "string",
    help: "Limited angle: views over [0, DEG) degrees (e.g. 90 with --views 90)",
  },
  noise: { type: "string", help: "Incident photons per ray (Poisson noise); noiseless if absent" },
  method: { type: "string", help: `One of ${METHODS.join(", ")}`, default: "blend++" },
  steps: { type: "string", help: "Sampler steps (DDIM)", default: "80 (dds: 50)" },
  "cg-iters": { type: "string", help: "CG iterations of data consistency per step", default: "5" },
  eta: { type: "string", help: "DDIM eta", default: "0.85" },
  "jump-every": { type: "string", help: "blend++: jump partition every N steps", default: "2" },
  rho: { type: "string", help: "z-TV ADMM penalty (blendct units)", default: "0 (dds: reference 10)" },
  lambda: { type: "string", help: "z-TV weight (blendct units)", default: "0 (dds: reference 0.04)" },
  "tv-lambda": { type: "string", help: "tv: TV weight", default: "0.05" },
  iterations: { type: "string", help: "cgls / tv iterations", default: "30 / 300" },
  filter: { type: "string", help: `FBP filter: ${FBP_FILTERS.join(", ")}`, default: "ramp" },
  seed: { type: "string", help: "Seed of every random choice", default: "0" },
  backend: { type: "string", help: "Denoiser back end: auto, webgpu, wasm, native", default: "auto" },
  model: { type: "string", help: "Model card JSON (default: the shipped models/blendct-prior.json)" },
  resample: { type: "boolean", help: "Resample slices to the model's image size instead of refusing" },
  window: {
    type: "string",
    help: "Map input values to [0, 1] with --window=LO,HI (HU default: the model card's)",
  },
  sinogram: {
    type: "string",
    help: "Measured sinogram instead of simulating (needs its .geometry.json or --geometry)",
  },
  geometry: { type: "string", help: "Geometry JSON of --sinogram" },
  reference: { type: "string", help: "Ground truth for metrics when reconstructing a --sinogram" },
  "out-dir": { type: "string", help: "Output folder", default: "out" },
  output: { type: "string", help: "Reconstructed volume path", default: "OUT-DIR/recon.nii.gz" },
  resume: { type: "boolean", help: "Continue an interrupted run from OUT-DIR/state.bin" },
} as const;

const pos = (name: string) => intFlag(name).pipe(z.number().int().min(1, "must be at least 1"));
const Schema = z.object({
  input: z.string().optional(),
  slices: z.string().regex(/^\d+:\d+$/, "must be A:B, e.g. 48:84").optional(),
  views: pos("views").default(8),
  "angle-range": numberFlag("angle-range").pipe(
    z.number().gt(0, "must be in (0, 360]").max(360, "must be in (0, 360]"),
  )
    .optional(),
  noise: numberFlag("noise").pipe(z.number().positive("must be > 0 photons")).optional(),
  method: z.enum(METHODS, { error: `must be one of ${METHODS.join(", ")}` }).default("blend++"),
  steps: intFlag("steps").pipe(z.number().int().min(1).max(1000, "must be in 1..1000")).optional(),
  "cg-iters": intFlag("cg-iters").pipe(z.number().int().min(0, "must be >= 0")).optional(),
  eta: numberFlag("eta").pipe(z.number().min(0, "must be in [0, 1]").max(1, "must be in [0, 1]")).optional(),
  "jump-every": intFlag("jump-every").pipe(z.number().int().min(0, "must be >= 0 (0: never)")).optional(),
  rho: numberFlag("rho").pipe(z.number().min(0, "must be >= 0")).optional(),
  lambda: numberFlag("lambda").pipe(z.number().min(0, "must be >= 0")).optional(),
  "tv-lambda": numberFlag("tv-lambda").pipe(z.number().positive("must be > 0")).optional(),
  iterations: pos("iterations").optional(),
  filter: z.enum(FBP_FILTERS, { error: `must be one of ${FBP_FILTERS.join(", ")}` }).default("ramp"),
  seed: intFlag("seed").pipe(z.number().int().min(0, "must be >= 0").max(2 ** 32 - 1)).default(0),
  backend: z.enum(["auto", "webgpu", "wasm", "native"], { error: "must be auto, webgpu, wasm or native" })
    .default(
      "auto",
    ),
  model: z.string().optional(),
  resample: z.boolean().default(false),
  window: windowFlag.optional(),
  sinogram: z.string().optional(),
  geometry: z.string().optional(),
  reference: z.string().optional(),
  "out-dir": z.string().default("out"),
  output: z.string().optional(),
  resume: z.boolean().default(false),
});

type Flags = z.infer<typeof Schema>;

interface Case {
  y: Float32Array;
  geometry: Geometry;
  shape: [number, number, number];
  spacing: [number, number, number];
  affine: number[][];
  mapping: IntensityMapping;
  truth: Float32Array | null;
  inputs: string[];
  label: string;
}

async function loadCase(
  f: Flags,
  gpu: GpuContext,
  imageSize: number | null,
  huWindow?: [number, number],
): Promise<Case> {
  if (f.sinogram) {
    const { y, meta } = await readSinogram(f.sinogram, f.geometry);
    const [Z, H, W] = meta.imageShape;
    if (imageSize && (H !== imageSize || W !== imageSize)) {
      throw new UserError(
        `the model works on ${imageSize}x${imageSize} slices but the sinogram's image is ${H}x${W}; a measured sinogram cannot be resampled: use a matching model`,
      );
    }
    let truth: Float32Array | null = null;
    const mapping = { ...meta.mapping, unit: meta.mapping.unit ?? "unitless" } as IntensityMapping;
    if (f.reference) {
      const ref = await readVolumeFile(f.reference);
      if (ref.shape.join() !== meta.imageShape.join()) {
        throw new UserError(
          `--reference is ${ref.shape.join("x")} but the sinogram's image is ${meta.imageShape.join("x")}`,
        );
      }
      truth = toUnit(ref.data, mapping);
    }
    const sp = meta.spacing as [number, number, number];
    return {
      y,
      geometry: meta.geometry,
      shape: [Z, H, W],
      spacing: sp,
      affine: makeVolume(new Float32Array(Z * H * W), [Z, H, W], { spacing: sp }).affine,
      mapping,
      truth,
      inputs: [f.sinogram, ...(f.reference ? [f.reference] : [])],
      label: f.sinogram,
    };
  }
  const input = f.input ?? DEFAULT_CASE.input;
  let volume: Volume = await readVolumeFile(input);
  const range = f.slices ?? (f.input ? undefined : DEFAULT_CASE.slices);
  if (range) volume = cropSlices(volume, range);
  const mapping = chooseMapping(volume, { window: f.window, huWindow });
  let [Z, H, W] = volume.shape;
  if (imageSize && (H !== imageSize || W !== imageSize)) {
    if (!f.resample) {
      throw new UserError(
        `the model works on ${imageSize}x${imageSize} slices but ${input} has ${H}x${W}: pass --resample to resample them (and back), or use a matching model`,
      );
    }
    volume = resampleSlices(volume, imageSize);
    console.error(`note: resampled ${H}x${W} slices to ${imageSize}x${imageSize} (--resample)`);
    [Z, H, W] = volume.shape;
  }
  const truth = toUnit(volume.data, mapping);
  const { y, geometry } = await measure(gpu, truth, { Z, H, W }, {
    views: f.views,
    angleRange: f["angle-range"],
    photons: f.noise,
    seed: f.seed,
  });
  return {
    y,
    geometry,
    shape: [Z, H, W],
    spacing: volume.spacing,
    affine: volume.affine,
    mapping,
    truth,
    inputs: [input],
    label: `${input}${range ? ` slices ${range}` : ""}`,
  };
}

function methodConfig(f: Flags, schedule?: MethodConfig["schedule"]): MethodConfig {
  return {
    method: f.method,
    filter: f.filter,
    iterations: f.iterations,
    tvLambda: f["tv-lambda"],
    steps: f.steps,
    eta: f.eta,
    cgIters: f["cg-iters"],
    jumpEvery: f["jump-every"],
    rho: f.rho,
    lambda: f.lambda,
    seed: f.seed,
    schedule,
  };
}

async function main(): Promise<void> {
  const f = parseFlags(
    Deno.args,
    "Usage: deno task reconstruct [--views 8] [--method blend++] [flags]",
    FLAGS,
    Schema,
  );
  const outDir = f["out-dir"];
  await Deno.mkdir(outDir, { recursive: true });
  const output = f.output ?? `${outDir}/recon.nii.gz`;
  const statePath = `${outDir}/state.bin`;
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const diffusion = isDiffusion(f.method);
  const prior = diffusion ? await openPrior({ model: f.model, backend: f.backend }) : null;
  const gpu = await gpuFor(prior);
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) Deno.exit(130);
    console.error("\ninterrupt: finishing the current step and saving state (Ctrl-C again to quit now)");
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    timings.setup = (performance.now() - t0) / 1000;
    let t = performance.now();
    const c = await loadCase(f, gpu, prior ? prior.card.imageSize : null, prior?.card.intensity.huWindow);
    const [Z, H, W] = c.shape;
    if (diffusion && Z < 3) {
      throw new UserError(`the 3-slice prior needs at least 3 slices (the input has ${Z})`);
    }
    timings.load_and_measure = (performance.now() - t) / 1000;
    const shape = { Z, H, W };
    const cfg = methodConfig(f, prior?.card.schedule);
    const views = c.geometry.angles.length;
    const fingerprint = {
      ...(samplerConfig(cfg, views) ?? cfg),
      input: c.label,
      inputSha256: await sha256Hex(new Uint8Array(c.y.buffer)),
      shape: c.shape,
      model: prior?.card.sha256 ?? null,
    };
    let resume = undefined;
    if (f.resume) {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(statePath);
      } catch {
        throw new UserError(`--resume: no saved state at ${statePath}; run without --resume`);
      }
      if (!diffusion) {
        throw new UserError(`--resume applies to diffusion methods only (got --method ${f.method})`);
      }
      resume = decodeState(bytes, fingerprint, statePath);
      console.error(`resuming at step ${resume.step} from ${statePath}`);
    }
    t = performance.now();
    const fbpX = await reconstruct(c.y, c.geometry, shape, { method: "fbp", filter: f.filter }, { gpu });
    timings.fbp = (performance.now() - t) / 1000;
    t = performance.now();
    const progress = createProgress(f.method, { unit: diffusion ? "step" : "iter" });
    let stepTimings: Record<string, number> = {};
    const x = f.method === "fbp" ? fbpX : await reconstruct(c.y, c.geometry, shape, cfg, {
      gpu,
      model: prior?.denoiser,
      resume,
      signal: controller.signal,
      onProgress: (done, total, e) => {
        if (e) stepTimings = { ...e.timings };
        progress.update(done, total, e ? `(t=${e.t}, ${e.partition})` : "");
      },
      onState: (s) => saveState(statePath, s, fingerprint),
    }).catch((e) => {
      progress.done();
      if (e instanceof DOMException && e.name === "AbortError") {
        throw new UserError(
          `${e.message}; state saved to ${statePath}: continue with the same flags and --resume`,
        );
      }
      throw e;
    });
    progress.done();
    timings[f.method] = (performance.now() - t) / 1000;
    for (const [k, v] of Object.entries(stepTimings)) timings[`${f.method}_${k}`] = v;

    // outputs: each written atomically, never over an input
    t = performance.now();
    const vol = (data: Float32Array) =>
      makeVolume(fromUnit(data, c.mapping), c.shape, {
        spacing: c.spacing,
        affine: c.affine,
        unit: c.mapping.unit,
      });
    await writeVolumeFile(output, vol(x), { inputs: c.inputs });
    const outputs = [output];
    const metrics: Record<string, unknown> = {};
    const unitVol = (d: Float32Array) => makeVolume(d, c.shape, { spacing: c.spacing });
    if (c.truth) {
      const truthV = unitVol(c.truth);
      for (const [name, data] of [[f.method, x], ["fbp", fbpX]] as const) {
        const m = computeMetrics(unitVol(data), truthV);
        metrics[name] = {
          psnr: m.psnr,
          ssim: m.ssim,
          tv: m.tv.total,
          tvReference: m.tvReference.total,
          zConsistency: m.zConsistency,
          zConsistencyReference: m.zConsistencyReference,
        };
      }
      await writeFileAtomic(
        `${outDir}/metrics.json`,
        new TextEncoder().encode(JSON.stringify(metrics, null, 2) + "\n"),
        {
          inputs: c.inputs,
        },
      );
      outputs.push(`${outDir}/metrics.json`);
    }
    const columns = [
      ...(c.truth ? [{ label: "ground truth", volume: unitVol(c.truth) }] : []),
      { label: `FBP ${views} views`, volume: unitVol(fbpX) },
      ...(f.method === "fbp" ? [] : [{ label: f.method, volume: unitVol(x) }]),
    ];
    await writeFileAtomic(`${outDir}/preview.png`, midPlanesPng(columns), { inputs: c.inputs });
    outputs.push(`${outDir}/preview.png`);
    timings.write = (performance.now() - t) / 1000;
    timings.total = (performance.now() - t0) / 1000;
    const manifest = buildManifest({
      command: ["deno", "task", "reconstruct", ...Deno.args],
      adapter: gpu.adapter,
      seed: f.seed,
      config: { ...f, resolved: samplerConfig(cfg, views) ?? cfg, geometry: c.geometry, mapping: c.mapping },
      model: priorSummary(prior),
      inputs: [{ path: c.label, sha256: fingerprint.inputSha256, shape: c.shape }],
      timings,
      outputs: [...outputs, `${outDir}/manifest.json`],
      ortVersion: prior?.ortVersion,
      extra: { metrics },
    });
    await writeFileAtomic(
      `${outDir}/manifest.json`,
      new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n"),
      {
        inputs: c.inputs,
      },
    );
    await Deno.remove(statePath).catch(() => {});
    for (
      const [name, m] of Object.entries(metrics) as [
        string,
        { psnr: Record<string, number>; ssim: Record<string, number> },
      ][]
    ) {
      console.log(
        `${name.padEnd(8)} PSNR axial/coronal/sagittal ${m.psnr.axial.toFixed(2)}/${
          m.psnr.coronal.toFixed(2)
        }/${m.psnr.sagittal.toFixed(2)} dB  SSIM ${m.ssim.axial.toFixed(3)}/${m.ssim.coronal.toFixed(3)}/${
          m.ssim.sagittal.toFixed(3)
        }`,
      );
    }
    console.log(`wrote ${outputs.join(", ")}, ${outDir}/manifest.json in ${formatDuration(timings.total)}`);
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    await prior?.dispose();
    gpu.dispose();
  }
}

if (import.meta.main) runTask(main);
