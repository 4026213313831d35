/**
 * `deno task bench reconstruct [--steps 6] [--backend auto] [--projector auto]`: seconds per DiffusionBlend++ step at
 * 256²×36 slices (8 views), split into network, CG data consistency, blending/DDIM kernels and host
 * transfers, on the LIDC evaluation volume.
 * @module
 */
import { z } from "../lib/deps.ts";
import { flagSchema, intFlag, parseFlags } from "./_cli.ts";
import { openProblem, type Problem } from "../lib/jobs/problem.ts";
import { reconstructWith } from "../lib/jobs/reconstruct.ts";
import { num } from "../lib/report/format.ts";
import { gpuFor, openPrior } from "../lib/prior/prior.ts";
import { modelMap } from "../lib/prior/card.ts";
import type { StepTimings } from "../lib/diffusion/sampler.ts";
import { ORT_BACKEND_FLAG, PROJECTOR_FLAG } from "./_shared_flags.ts";

const BENCH_FLAGS = {
  steps: {
    type: "string",
    help: "Sampler steps from noise",
    default: "6",
    schema: intFlag("steps").pipe(z.number().int().min(1, "must be at least 1")).default(6),
  },
  backend: ORT_BACKEND_FLAG,
  slices: { type: "string", help: "LIDC slices A:B", default: "48:84", schema: z.string().default("48:84") },
  projector: PROJECTOR_FLAG,
} as const;

/** Runs the benchmark and prints a Markdown table. */
export async function run(args: string[]): Promise<void> {
  const values = parseFlags(
    args,
    "Usage: deno task bench reconstruct [--steps 6] [--backend auto] [--slices 48:84] [--projector auto]",
    BENCH_FLAGS,
    flagSchema(BENCH_FLAGS),
  );
  const steps = values.steps;
  const prior = await openPrior({ backend: values.backend });
  const gpu = await gpuFor(prior);
  let problem: Problem | null = null;
  try {
    // the one case loader, as every task: LIDC's slices in u, 8 simulated views, one operator
    problem = await openProblem(gpu, { input: "sample:lidc", slices: values.slices, views: 8 }, {
      engine: values.projector,
    });
    const [Z, H, W] = problem.case.shape;
    let timings: StepTimings = { network: 0, transfer: 0, cg: 0, blend: 0, adapt: 0 };
    const t0 = performance.now();
    await reconstructWith(problem.operator, problem.y, {
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
      onProgress: (_d, _t, e) => {
        if (e) timings = e.timings;
      },
    });
    const total = (performance.now() - t0) / 1000;
    // three significant digits: a phase of a few microseconds per step reads as such, not as "0.000"
    const per = (s: number) => num(s / steps, 3);
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
    problem?.dispose();
    await prior.dispose();
    gpu.dispose();
  }
}

if (import.meta.main) await run(Deno.args);
