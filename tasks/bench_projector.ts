/**
 * `deno task bench projector`: giga pixel-view updates per second of A and Aᵀ, WGSL vs the TypeScript
 * reference, at 256²×64 and 512²×16 with 8 views (`--quick` uses smaller sizes).
 * @module
 */
import { parseArgs } from "node:util";
import { GpuContext } from "../lib/gpu/context.ts";
import { Projector } from "../lib/ct/projector.ts";
import { adjointRef, forwardRef } from "../lib/ct/projector_ref.ts";
import { sparseView } from "../lib/ct/geometry.ts";

async function time(fn: () => Promise<unknown>, repeats: number): Promise<number> {
  await fn(); // warm-up: pipeline compilation
  const t0 = performance.now();
  for (let i = 0; i < repeats; i++) await fn();
  return (performance.now() - t0) / 1000 / repeats;
}

/** Runs the benchmark and prints a Markdown table. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { quick: { type: "boolean" }, views: { type: "string" } } });
  const views = Number(values.views ?? 8);
  const sizes: [number, number][] = values.quick ? [[64, 8]] : [[256, 64], [512, 16]];
  const gpu = await GpuContext.create();
  console.log(
    `adapter: ${gpu.adapter.description}; ${views} views; ${navigator.hardwareConcurrency} CPU threads`,
  );
  console.log("| size | op | WGSL s | WGSL Gpix·view/s | TS ref s | TS Gpix·view/s | speed-up |");
  console.log("|---|---|---|---|---|---|---|");
  for (const [N, Z] of sizes) {
    const g = sparseView(views, { imageSize: N });
    const shape = { Z, H: N, W: N };
    const A = await Projector.create(gpu, g, shape);
    const x = gpu.upload(new Float32Array(A.domainSize).fill(0.5)), y = gpu.buffer(A.rangeSize * 4);
    const work = Z * N * N * views / 1e9;
    const fwd = await time(async () => {
      await A.forward(x, y);
      await gpu.sync();
    }, 3);
    const adj = await time(async () => {
      await A.adjoint(y, x);
      await gpu.sync();
    }, 3);
    // the reference is slow: time one slice and scale
    const one = { Z: 1, H: N, W: N };
    const xs = new Float32Array(N * N).fill(0.5);
    const ys = forwardRef(xs, g, one);
    const tf = await time(() => Promise.resolve(forwardRef(xs, g, one)), 1) * Z;
    const ta = await time(() => Promise.resolve(adjointRef(ys, g, one)), 1) * Z;
    for (const [op, tg, tr] of [["A", fwd, tf], ["Aᵀ", adj, ta]] as const) {
      console.log(
        `| ${N}²×${Z} | ${op} | ${tg.toFixed(3)} | ${(work / tg).toFixed(3)} | ${tr.toFixed(2)} | ${
          (work / tr).toFixed(3)
        } | ${(tr / tg).toFixed(1)}x |`,
      );
    }
    gpu.release(x, y);
    A.dispose();
  }
  gpu.dispose();
}

if (import.meta.main) await run(Deno.args);
