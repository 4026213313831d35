/**
 * `deno task bench projector [--quick] [--views 8]`: giga pixel-view updates per second of A and Aᵀ
 * (parallel and fan beam) on both engines (the WGSL kernels; the sparse CPU engine between GPU buffers and
 * between host arrays) and of the cone projector (host arrays, one and two threads), vs the TypeScript reference and vs scikit-image's `radon` and unfiltered
 * back-projection measured in the same run (skipped with a printed reason where scikit-image is absent),
 * at 256²×64 and 512²×16 (`--quick`: 64²×8).
 * @module
 */
import { z } from "../lib/deps.ts";
import { GpuContext } from "../lib/gpu/context.ts";
import { createProjector } from "../lib/ct/system.ts";
import { num } from "../lib/report/format.ts";
import { hostApply } from "../lib/ct/operator.ts";
import { adjointRef, forwardRef } from "../lib/ct/projector_ref.ts";
import { fanBeam, sparseView } from "../lib/ct/geometry.ts";
import { ConeProjector } from "../lib/ct/cone.ts";
import type { ConeGeometry } from "../lib/ct/cone_geometry.ts";
import { flagSchema, intFlag, parseFlags } from "./_cli.ts";

/** Three significant digits: small sizes run in microseconds, which "0.000" would hide. */
const sig = (v: number) => num(v, 3);

const FLAGS = {
  quick: {
    type: "boolean",
    help: "Small sizes only (64²×8), for a smoke test",
    schema: z.boolean().default(false),
  },
  views: {
    type: "string",
    help: "Views",
    default: "8",
    schema: intFlag("views").pipe(z.number().int().min(1, "must be at least 1")).default(8),
  },
} as const;
const Schema = flagSchema(FLAGS);

async function time(fn: () => Promise<unknown>, repeats: number): Promise<number> {
  await fn(); // warm-up: pipeline compilation
  const t0 = performance.now();
  for (let i = 0; i < repeats; i++) await fn();
  return (performance.now() - t0) / 1000 / repeats;
}

/** scikit-image's seconds per (N, Z) from bench/skimage_radon.py, or the reason it could not run. */
async function skimage(views: number, sizes: [number, number][]) {
  const script = new URL("../bench/skimage_radon.py", import.meta.url).pathname;
  try {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [script, String(views), sizes.map(([n, z]) => `${n}x${z}`).join(",")],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      return `scikit-image columns skipped: ${new TextDecoder().decode(out.stderr).trim().split("\n").pop()}`;
    }
    return JSON.parse(new TextDecoder().decode(out.stdout)) as Record<
      string,
      { radon: number; backprojection: number }
    >;
  } catch {
    return "scikit-image columns skipped: /usr/bin/python3 not found (apt-get install python3-skimage)";
  }
}

/** Runs the benchmark and prints a Markdown table. */
export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args, "Usage: deno task bench projector [--quick] [--views 8]", FLAGS, Schema);
  const views = f.views;
  const sizes: [number, number][] = f.quick ? [[64, 8]] : [[256, 64], [512, 16]];
  const gpu = await GpuContext.create();
  console.log(
    `adapter: ${gpu.adapter.description}; ${views} views; ${navigator.hardwareConcurrency} CPU threads`,
  );
  const rows: string[] = [];
  const rates: Record<string, { A: number; At: number }> = {};
  const builds: string[] = [];
  for (const [N, Z] of sizes) {
    const shape = { Z, H: N, W: N };
    const work = Z * N * N * views / 1e9;
    const refs: Record<string, string[]> = {};
    for (const beam of ["parallel", "fan"] as const) {
      const g = beam === "parallel" ? sparseView(views, { imageSize: N }) : fanBeam(views, { imageSize: N });
      for (const engine of ["wgsl", "sparse"] as const) {
        const tb = performance.now();
        const A = await createProjector(gpu, g, shape, { engine });
        if (engine === "sparse") {
          builds.push(`${N}²×${Z} ${beam}: ${((performance.now() - tb) / 1000).toFixed(2)} s`);
        }
        const x = gpu.upload(new Float32Array(A.domainSize).fill(0.5)), y = gpu.buffer(A.rangeSize * 4);
        // GPU buffers in and out: for the sparse engine this includes the read-back and the write
        const fwd = await time(async () => {
          await A.forward(x, y);
          await gpu.sync();
        }, 3);
        const adj = await time(async () => {
          await A.adjoint(y, x);
          await gpu.sync();
        }, 3);
        gpu.release(x, y);
        const timed: [string, number, number][] = [[engine, fwd, adj]];
        const host = hostApply(A);
        if (host) {
          // host arrays in and out, as the host CG applies it
          const xs = new Float32Array(A.domainSize).fill(0.5), ys = host.forwardHost(xs);
          timed.push([
            "sparse, host arrays",
            await time(() => Promise.resolve(host.forwardHost(xs)), 3),
            await time(() => Promise.resolve(host.adjointHost(ys)), 3),
          ]);
        }
        A.dispose();
        if (beam === "parallel" && !refs[beam]) {
          // the float64 reference is slow: time one slice and scale
          const one = { Z: 1, H: N, W: N }, pg = sparseView(views, { imageSize: N });
          const xs = new Float32Array(N * N).fill(0.5), ys = forwardRef(xs, pg, one);
          const tf = await time(() => Promise.resolve(forwardRef(xs, pg, one)), 1) * Z;
          const ta = await time(() => Promise.resolve(adjointRef(ys, pg, one)), 1) * Z;
          refs[beam] = [`${tf.toFixed(2)}`, `${ta.toFixed(2)}`];
        }
        for (const [label, tf, ta] of timed) {
          const key = `${N},${Z},${beam},${label}`;
          rates[key] = { A: tf, At: ta };
          const ref = refs[beam] ?? ["–", "–"];
          rows.push(
            `| ${N}²×${Z} | ${beam} | ${label} | A | ${sig(tf)} | ${sig(work / tf)} | ${
              ref[0]
            } | SK_A_${key} |`,
          );
          rows.push(
            `| ${N}²×${Z} | ${beam} | ${label} | Aᵀ | ${sig(ta)} | ${sig(work / ta)} | ${
              ref[1]
            } | SK_T_${key} |`,
          );
        }
      }
    }
    // cone beam over the whole volume (CPU only): 1 mm voxels, DSO 2.4·N, DOD 1.6·N, the detector sized
    // to the volume at the axis with 20% to spare
    const dso = 2.4 * N, dod = 1.6 * N, mag = (dso + dod) / dso;
    const cone: ConeGeometry = {
      type: "cone",
      angles: Array.from({ length: views }, (_, i) => (2 * Math.PI * i) / views),
      detectorCount: Math.ceil(N * Math.SQRT2 * 1.2),
      detectorRows: Math.ceil(Z * 1.2),
      detectorSpacing: mag,
      detectorSpacingV: mag,
      sourceOrigin: dso,
      originDetector: dod,
      detectorOffset: 0,
      detectorOffsetV: 0,
    };
    for (const threads of [2, 1]) {
      const tb = performance.now();
      const C = await ConeProjector.create(null, cone, shape, [1, 1, 1], { threads });
      builds.push(`${N}²×${Z} cone, ${threads} thread(s): ${((performance.now() - tb) / 1000).toFixed(2)} s`);
      const xs = new Float32Array(C.domainSize).fill(0.5), ys = await C.forwardHost(xs);
      const tf = await time(() => C.forwardHost(xs), 3), ta = await time(() => C.adjointHost(ys), 3);
      C.dispose();
      for (const [op, t] of [["A", tf], ["Aᵀ", ta]] as const) {
        rows.push(
          `| ${N}²×${Z} | cone | ${threads} thread(s), host arrays | ${op} | ${sig(t)} | ${
            sig(work / t)
          } | – | – |`,
        );
      }
    }
  }
  gpu.dispose();
  const sk = await skimage(views, sizes);
  console.log("| size | beam | engine | op | s | Gpix·view/s | TS ref s | vs scikit-image (same run) |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const row of rows) {
    console.log(row.replace(/SK_([AT])_(\d+),(\d+),(\w+),([^|]+) \|$/, (_, op, n, z, beam, label) => {
      if (typeof sk === "string" || beam !== "parallel") return "– |";
      const s = sk[`${n},${z}`], r = rates[`${n},${z},${beam},${label}`];
      const [theirs, ours] = op === "A" ? [s.radon, r.A] : [s.backprojection, r.At];
      return `${(theirs / ours).toFixed(1)}x (${op === "A" ? "radon" : "unfiltered iradon"} ${
        theirs.toFixed(2)
      } s) |`;
    }));
  }
  console.log(`sparse matrix build (once per geometry): ${builds.join("; ")}`);
  if (typeof sk === "string") console.log(sk);
}

if (import.meta.main) await run(Deno.args);
