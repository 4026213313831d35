/**
 * What a reconstruction run leaves behind, each file written atomically and never over an input, named after
 * the output (`sidecars.ts`): the volume in the case's unit, the per-voxel std of K chains, the metrics
 * against the ground truth (method and FBP), the preview PNG and the manifest.
 * @module
 */
import { type Case, caseVolume } from "../jobs/case.ts";
import { writeFileAtomic, writeJsonAtomic, writeVolumeFile } from "../io/files.ts";
import { type MethodMetrics, methodMetrics } from "../metrics/index.ts";
import { defaultMetricRange, displayWindow, uAffine, type UnitMap } from "../units.ts";
import { makeVolume } from "../volume.ts";
import { displayOriented } from "./orient.ts";
import { midPlanesPng } from "./png.ts";
import { linePlotPng, type PlotSeries } from "./plot.ts";
import { num } from "./format.ts";
import { isCone } from "../ct/cone_geometry.ts";
import { buildManifest, type ManifestInput } from "./manifest.ts";
import type { Sidecars } from "./sidecars.ts";

/** What {@linkcode writeRunOutputs} writes from. */
export interface RunOutputs {
  /** The case that was reconstructed. */
  case: Case;
  /** The method's label. */
  method: string;
  /** Its result in u. */
  x: Float32Array;
  /** FBP of the same data in u (for the metrics and the preview). */
  fbp: Float32Array;
  /** Per-voxel std over K chains in u, or null. */
  std: Float32Array | null;
  /** The run's files ({@linkcode sidecarsOf} of the output). */
  files: Sidecars;
  /** Data range of the metrics in the case's unit. Default: the unit's (HU −1024..3071). */
  metricRange?: [number, number];
  /** Preview window: a preset name or `[lo, hi]`. Default: the unit's soft-tissue window. */
  displayWindow?: string | [number, number];
  /** The manifest's fields except outputs and metrics; its timings gain `write` and `total`. */
  manifest: Omit<ManifestInput, "outputs" | "extra">;
  /** `performance.now()` when the run started, for the manifest's `total`. */
  startedAt?: number;
  /** Diffusion: a number per sampler step, plotted against step (`NAME.steps.png`) and kept in the manifest. */
  steps?: StepCurve;
}

/** One number per sampler step and chain: PSNR against the reference, or the relative data residual. */
export interface StepCurve {
  /** What the values are. */
  metric: "psnr" | "residual";
  /** The values, in the order the steps ran. */
  points: { chain: number; step: number; value: number }[];
}

/**
 * The line under a preview that says how its grey levels were set: the window in the case's unit, its
 * level and width.
 *
 * @example
 * ```ts
 * import { windowFooter } from "./outputs.ts";
 * console.log(windowFooter([-160, 240], { unit: "HU", muWater: 0.0193 })); // window -160..240 HU (level 40, width 400)
 * ```
 */
export function windowFooter(window: [number, number], units: UnitMap): string {
  const unit = units.unit === "HU" ? "HU" : units.unit === "attenuation" ? "1/mm" : "";
  return `window ${num(window[0])}..${num(window[1])} ${unit} (level ${
    num((window[0] + window[1]) / 2)
  }, width ${num(window[1] - window[0])})`;
}

/**
 * Writes the run's files; returns their paths (manifest last) and the metrics by method (empty without a
 * ground truth).
 *
 * @example
 * ```ts ignore
 * const { outputs, metrics } = await writeRunOutputs({ case: c, method, x, fbp, std: null, files, manifest });
 * ```
 */
export async function writeRunOutputs(
  o: RunOutputs,
): Promise<{ outputs: string[]; metrics: Record<string, MethodMetrics> }> {
  const c = o.case, inputs = { inputs: c.inputs }, t0 = performance.now();
  const recon = caseVolume(c, o.x);
  const f = o.files;
  await writeVolumeFile(f.volume, recon, inputs);
  const outputs = [f.volume];
  let stdVol = null;
  if (o.std) {
    // a standard deviation scales by the unit's slope only (no offset)
    const slope = uAffine(c.units)[0];
    stdVol = makeVolume(o.std.map((v) => v / slope), c.shape, {
      spacing: c.spacing,
      affine: c.affine,
      unit: c.units.unit,
    });
    await writeVolumeFile(f.std, stdVol, inputs);
    outputs.push(f.std);
  }
  const metrics: Record<string, MethodMetrics> = {};
  const range = o.metricRange ?? defaultMetricRange(c.units);
  const truth = c.truthU ? caseVolume(c, c.truthU) : null;
  const fbpVol = caseVolume(c, o.fbp);
  // metrics.json and the manifest hold the same object (empty without a ground truth)
  let metricsFile = {};
  if (truth) {
    for (const [name, data] of [[o.method, recon], ["fbp", fbpVol]] as const) {
      metrics[name] = methodMetrics(data, truth, { range });
    }
    metricsFile = { range: { unit: c.units.unit, lo: range[0], hi: range[1] }, ...metrics };
    await writeJsonAtomic(f.metrics, metricsFile, inputs);
    outputs.push(f.metrics);
  }
  const columns = [
    ...(truth ? [{ label: "ground truth", volume: displayOriented(truth) }] : []),
    {
      label: `${isCone(c.geometry) ? "FDK" : "FBP"} ${c.geometry.angles.length} views`,
      volume: displayOriented(fbpVol),
    },
    ...(o.method === "fbp" ? [] : [{ label: o.method, volume: displayOriented(recon) }]),
  ];
  const window = displayWindow(c.units, o.displayWindow);
  const columnWindows: Record<number, [number, number]> = {};
  const top99 = (data: Float32Array) => {
    const sorted = Float32Array.from(data).sort();
    return Math.max(sorted[Math.floor(0.99 * (sorted.length - 1))], 1e-6);
  };
  if (truth) {
    // where the truth is known: the error |result − truth|, 0 up to its 99th percentile
    const err = makeVolume(recon.data.map((v, i) => Math.abs(v - truth.data[i])), c.shape, {
      spacing: c.spacing,
      affine: c.affine,
      unit: c.units.unit,
    });
    columnWindows[columns.length] = [0, top99(err.data)];
    columns.push({ label: "|error|", volume: displayOriented(err) });
  }
  if (stdVol) {
    // the std panel gets its own window: 0 up to the 99th percentile of the std
    columnWindows[columns.length] = [0, top99(stdVol.data)];
    columns.push({ label: "std", volume: displayOriented(stdVol) });
  }
  const png = midPlanesPng(columns, {
    window,
    columnWindows,
    rampColumns: Object.keys(columnWindows).map(Number),
    scaleBarMm: 50,
    footer: windowFooter(window, c.units),
  });
  await writeFileAtomic(f.preview, png, inputs);
  outputs.push(f.preview);
  if (o.steps?.points.length) {
    await writeFileAtomic(f.steps, stepsPng(o.steps, o.method), inputs);
    outputs.push(f.steps);
  }
  outputs.push(f.manifest);
  const timings: Record<string, number> = { ...o.manifest.timings, write: (performance.now() - t0) / 1000 };
  if (o.startedAt !== undefined) timings.total = (performance.now() - o.startedAt) / 1000;
  const manifest = buildManifest({
    ...o.manifest,
    timings,
    outputs,
    extra: { metrics: metricsFile, ...(o.steps?.points.length ? { steps: o.steps } : {}) },
  });
  await writeJsonAtomic(f.manifest, manifest, inputs);
  return { outputs, metrics };
}

/** The step curve as a plot: one line per chain. */
function stepsPng(curve: StepCurve, method: string): Uint8Array {
  const chains = [...new Set(curve.points.map((p) => p.chain))].sort((a, b) => a - b);
  const series: PlotSeries[] = chains.map((k) => ({
    label: chains.length > 1 ? `chain ${k + 1}` : method,
    points: curve.points.filter((p) => p.chain === k).map((p) => [p.step, p.value]),
  }));
  return linePlotPng(series, {
    title: `${method}: each step's estimate after data consistency`,
    xLabel: "sampler step",
    yLabel: curve.metric === "psnr" ? "PSNR (dB), whole volume" : "data residual |Ax - y| / |y|",
  });
}
