/**
 * `deno task bench reconstruct [--steps 6] [--backend auto] [--projector auto]`: seconds per DiffusionBlend++ step at
 * 256²×36 slices (8 views), split into network, CG data consistency, blending/DDIM kernels and host
 * transfers, on the LIDC evaluation volume.
 * @module
 */
import { z } from "../lib/deps.ts";
import { loadSample } from "../lib/io/samples.ts";
import { DEFAULT_MU_WATER, toU } from "../lib/units.ts";
import { intFlag, parseFlags } from "./_cli.ts";
import { cropSlices } from "../lib/cases.ts";
import { measure } from "../lib/ct/measure.ts";
import { reconstruct } from "../lib/jobs/reconstruct.ts";
import { gpuFor, openPrior } from "../lib/prior/prior.ts";
import { modelMap } from "../lib/prior/card.ts";
import type { StepTimings } from "../lib/diffusion/sampler.ts";

/** Runs the benchmark and prints a Markdown table. */
export async function run(args: string[]): Promise<void> {
  const values = parseFlags(
    args,
    "Usage: deno task bench reconstruct [--steps 6] [--backend auto] [--slices 48:84] [--projector auto]",
    {
      steps: { type: "string", help: "Sampler steps from noise", default: "6" },
      backend: { type: "string", help: "Denoiser back end: auto, webgpu, wasm, native", default: "auto" },
      slices: { type: "string", help: "LIDC slices A:B", default: "48:84" },
      projector: { type: "string", help: "Projector engine: auto, wgsl, sparse", default: "auto" },
    },
    z.object({
      steps: intFlag("steps").pipe(z.number().int().min(1, "must be at least 1")).default(6),
      backend: z.enum(["auto", "webgpu", "wasm", "native"], { error: "must be auto, webgpu, wasm or native" })
        .default("auto"),
      slices: z.string().default("48:84"),
      projector: z.enum(["auto", "wgsl", "sparse"], { error: "must be auto, wgsl or sparse" }).default(
        "auto",
      ),
    }),
  );
  const steps = values.steps;
  const prior = await openPrior({ backend: values.backend });
  const gpu = await gpuFor(prior);
  try {
    const vol = cropSlices(await loadSample("lidc"), values.slices);
    const [Z, H, W] = vol.shape;
    // the measurement is of attenuation u, as in every task (LIDC reads as HU)
    const u = toU(vol.data, { unit: vol.unit ?? "image", muWater: DEFAULT_MU_WATER, imageHu: vol.imageHu });
    const { y, geometry } = await measure(gpu, u, { Z, H, W }, { views: 8 });
    let timings: StepTimings = { network: 0, transfer: 0, cg: 0, blend: 0, adapt: 0 };
    const t0 = performance.now();
    await reconstruct(y, geometry, { Z, H, W }, {
      method: "blend++",
      // the sampler's steps alone (the default preset would add a TV start and finish)
      start: "noise",
      finish: "none",
      steps,
      schedule: prior.card.schedule,
      modelMap: modelMap(prior.card),
    }, {
      gpu,
      model: prior.denoiser,
      projector: values.projector,
      onProgress: (_d, _t, e) => {
        if (e) timings = e.timings;
      },
    });
    const total = (performance.now() - t0) / 1000;
    // three significant digits: a phase of a few microseconds per step reads as such, not as "0.000"
    const per = (s: number) => String(Number((s / steps).toPrecision(3)));
    const rest = timings.cg + timings.blend + timings.transfer;
    console.log(
      `adapter: ${gpu.adapter.description}; denoiser: ${prior.denoiser.backend}; projector: ${values.projector}; ${Z}x${H}x${W}, 8 views`,
    );
    console.log("| phase | s/step | share |");
    console.log("|---|---|---|");
    const sum = timings.network + rest;
    const skipped: string[] = [];
    for (const [k, v] of Object.entries(timings)) {
      if (v === 0) skipped.push(k); // a phase this run has not got (adaptation; transfers in one process)
      else console.log(`| ${k} | ${per(v)} | ${(100 * v / sum).toFixed(1)}% |`);
    }
    console.log(`| all but network | ${per(rest)} | ${(100 * rest / sum).toFixed(1)}% |`);
    console.log(`| wall (incl. setup) | ${per(total)} | |`);
    if (skipped.length) console.log(`(not in this run: ${skipped.join(", ")})`);
  } finally {
    await prior.dispose();
    gpu.dispose();
  }
}

if (import.meta.main) await run(Deno.args);
