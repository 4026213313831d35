/**
 * `deno task bench denoiser [flags]`: triplets per second of the prior at 256² on every back end this
 * machine has (native in fp32 and, where the card has one, its int8 copy; wasm; webgpu) and, when /usr/bin/python3 and the training checkpoint are present,
 * PyTorch on the same architecture; prints a Markdown table for BENCHMARKS.md.
 *
 * A software WebGPU adapter (llvmpipe) runs the model many times slower than the CPU back ends, so there
 * it gets only batch 1 and one timed call unless `--webgpu-batches` says otherwise.
 *
 * @example
 * ```ts
 * import { run } from "./_bench_denoiser.ts";
 * // The real benchmark takes minutes; this only shows the call.
 * const bench = () => run(["--backends", "native", "--batches", "1", "--no-torch"]);
 * console.log(typeof bench); // function
 * ```
 * @module
 */
import { flagSchema, intFlag, numberFlag, parseFlags } from "./_cli.ts";
import { z } from "../lib/deps.ts";
import { UserError } from "../lib/errors.ts";
import { Rng } from "../lib/random.ts";
import { loadModel } from "../lib/prior/card.ts";
import { type Backend, createDenoiser, probeWebGpu } from "../lib/prior/denoiser.ts";

const batchList = (name: string) =>
  z.string().regex(/^\d+(,\d+)*$/, `${name} must be comma-separated whole numbers, e.g. 1,4,8`)
    .transform((s) => s.split(",").map(Number))
    .refine((l) => l.every((b) => b >= 1 && b <= 256), `${name} values must be 1..256`);
const FLAGS = {
  model: {
    type: "string",
    help: "Model card path or URL (default: the shipped prior)",
    schema: z.string().optional(),
  },
  size: {
    type: "string",
    help: "Slice size H = W",
    default: "256",
    schema: intFlag("size").pipe(z.number().int().min(16).max(2048)).default(256),
  },
  batches: {
    type: "string",
    help: "Comma-separated batch sizes",
    default: "1,4,8",
    schema: batchList("batches").default([1, 4, 8]),
  },
  backends: {
    type: "string",
    help:
      "Comma-separated back ends to try (torch: the card's checkpoint in the PyTorch worker, and one adaptation step)",
    default: "native,wasm,webgpu",
    schema: z.string().default("native,wasm,webgpu").transform((s) => s.split(",").map((b) => b.trim()))
      .refine(
        (l) => l.every((b) => ["native", "wasm", "webgpu", "torch"].includes(b)),
        "backends must be a comma-separated subset of native, wasm, webgpu, torch",
      ),
  },
  seconds: {
    type: "string",
    help: "Minimum timed seconds per CPU measurement",
    default: "3",
    schema: numberFlag("seconds").pipe(z.number().positive().max(600)).default(3),
  },
  "webgpu-batches": {
    type: "string",
    help: "Batch sizes for webgpu (default: --batches on a real GPU, 1 on a software adapter)",
    schema: batchList("webgpu-batches").optional(),
  },
  "webgpu-iters": {
    type: "string",
    help: "Timed calls per webgpu batch size on a software adapter",
    default: "1",
    schema: intFlag("webgpu-iters").pipe(z.number().int().min(1).max(1000)).default(1),
  },
  threads: {
    type: "string",
    help: "Native intra-op threads (default: onnxruntime's choice)",
    schema: intFlag("threads").pipe(z.number().int().min(1).max(256)).optional(),
  },
  "no-torch": {
    type: "boolean",
    help: "Skip the PyTorch row (train/bench_torch.py)",
    schema: z.boolean().optional(),
  },
  "session-sweep": {
    type: "boolean",
    help:
      "Native only: also time threads 1/2 × graph optimisation basic/all × memory arena on/off at batch 4",
    schema: z.boolean().default(false),
  },
} as const;

const Schema = flagSchema(FLAGS);

/** One measured configuration. */
interface Row {
  runtime: string;
  batch: number;
  tripletsPerSecond: number;
  calls: number;
  note?: string;
}

/** Times `predict` at one batch size: one warm-up call, then calls until `seconds` or `maxCalls`. */
async function timeBatch(
  predict: (x: Float32Array, t: Float32Array, k: Float32Array) => Promise<unknown>,
  batch: number,
  size: number,
  seconds: number,
  maxCalls: number,
): Promise<{ tps: number; calls: number }> {
  const x = new Rng(batch).fillNormal(new Float32Array(batch * 3 * size * size));
  const t = new Float32Array(batch).fill(500), k = new Float32Array(batch).fill(1);
  await predict(x, t, k); // warm-up: first calls allocate and compile kernels
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  while (calls < maxCalls) {
    await predict(x, t, k);
    calls++;
    elapsed = (performance.now() - start) / 1000;
    if (elapsed >= seconds) break;
  }
  return { tps: (batch * calls) / elapsed, calls };
}

/** Runs train/bench_torch.py when this is a local checkout with the system Python; null with a reason otherwise. */
async function torchRows(size: number, batches: number[], seconds: number): Promise<Row[] | string> {
  const script = new URL("../train/bench_torch.py", import.meta.url);
  if (script.protocol !== "file:") return "PyTorch row needs a local checkout";
  try {
    await Deno.stat("/usr/bin/python3");
    await Deno.stat(script);
  } catch {
    return "PyTorch row skipped: /usr/bin/python3 or train/bench_torch.py missing";
  }
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [
      script.pathname,
      "--size",
      String(size),
      "--batches",
      batches.join(","),
      "--seconds",
      String(seconds),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").pop();
    return `PyTorch row skipped: bench_torch.py failed (${err})`;
  }
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  return r.results.map((m: { batch: number; calls: number; triplets_per_s: number; precision?: string }) => ({
    runtime: `${r.runtime}, ${r.threads} threads${m.precision ? `, ${m.precision}` : ""}`,
    batch: m.batch,
    tripletsPerSecond: m.triplets_per_s,
    calls: m.calls,
    note: `checkpoint step ${r.step}`,
  }));
}

/**
 * Runs the benchmark with command-line flags (see `--help`) and prints the Markdown table.
 *
 * @example
 * ```ts
 * import { run } from "./_bench_denoiser.ts";
 * const quick = () => run(["--size", "64", "--batches", "1", "--backends", "native", "--seconds", "1"]);
 * console.log(typeof quick); // function
 * ```
 */
export async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args, "Usage: deno task bench denoiser [flags]", FLAGS, Schema);
  const model = await loadModel(flags.model);
  const gpu = await probeWebGpu();
  const rows: Row[] = [];
  const notes: string[] = [];
  const size = flags.size;
  for (const backend of flags.backends as Backend[]) {
    if (backend === "webgpu" && !gpu.available) {
      notes.push(`webgpu skipped: ${gpu.description}`);
      continue;
    }
    const software = backend === "webgpu" && gpu.software;
    const batches = backend === "webgpu"
      ? flags["webgpu-batches"] ?? (software ? [1] : flags.batches)
      : flags.batches;
    // the native back end runs the card's int8 copy too, beside fp32 on the same inputs
    const precisions: ("fp32" | "int8")[] = backend === "native" && model.card.quantized
      ? ["fp32", "int8"]
      : ["fp32"];
    for (const [batch, precision] of batches.flatMap((b) => precisions.map((p) => [b, p] as const))) {
      let d;
      try {
        d = await createDenoiser(model, { backend, maxBatch: batch, threads: flags.threads, precision });
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        notes.push(`${backend} skipped: ${e.message}`);
        break;
      }
      try {
        const shape = [batch, 3, size, size] as const;
        const maxCalls = software ? flags["webgpu-iters"] : Infinity;
        const m = await timeBatch(
          (x, t, k) => d.predict(x, t, k, shape),
          batch,
          size,
          flags.seconds,
          maxCalls,
        );
        rows.push({
          runtime: d.description.replace(/ \(requested.*\)$/, ""),
          batch,
          tripletsPerSecond: m.tps,
          calls: m.calls,
        });
        console.error(
          `${backend} ${precision} batch ${batch}: ${m.tps.toFixed(3)} triplets/s (${m.calls} calls)`,
        );
        if (d.adapter) {
          // one Adam step of --adapt: a forward pass that keeps its graph and a backward pass
          await d.adapter.reset({ kind: "lora", rank: 4, lr: 1e-3, seed: 0 });
          const a = await timeBatch(
            async (x, t, k) => {
              const eps = await d.adapter!.forward(x, t, k, shape);
              await d.adapter!.backward(eps.map((v) => 1e-3 * v));
            },
            batch,
            size,
            flags.seconds,
            Infinity,
          );
          await d.adapter.clear();
          rows.push({
            runtime: `${
              d.description.replace(/ \(requested.*\)$/, "")
            }: adaptation step (forward + backward + Adam, LoRA rank 4)`,
            batch,
            tripletsPerSecond: a.tps,
            calls: a.calls,
          });
        }
      } finally {
        await d.dispose();
      }
    }
  }
  if (flags["session-sweep"]) {
    for (const threads of [1, 2]) {
      for (const graphOptimization of ["basic", "all"] as const) {
        for (const memArena of [true, false]) {
          const d = await createDenoiser(model, {
            backend: "native",
            maxBatch: 4,
            threads,
            graphOptimization,
            memArena,
            precision: "fp32",
          });
          try {
            const m = await timeBatch(
              (x, t, k) => d.predict(x, t, k, [4, 3, size, size]),
              4,
              size,
              flags.seconds,
              Infinity,
            );
            rows.push({
              runtime: `onnxruntime-node, ${threads} thread${
                threads > 1 ? "s" : ""
              }, optimisation ${graphOptimization}, arena ${memArena ? "on" : "off"}`,
              batch: 4,
              tripletsPerSecond: m.tps,
              calls: m.calls,
            });
          } finally {
            await d.dispose();
          }
        }
      }
    }
  }
  if (!flags["no-torch"]) {
    const t = await torchRows(size, flags.batches, flags.seconds);
    if (typeof t === "string") notes.push(t);
    else rows.push(...t);
  }
  const cores = navigator.hardwareConcurrency;
  console.log(
    `Denoiser throughput, ${model.card.name} ${model.card.version} (${
      model.card.parameters ?? "?"
    } parameters), ${size}×${size} triplets, ${cores} logical cores, WebGPU adapter: ${gpu.description}${
      gpu.software ? " (software)" : ""
    }\n`,
  );
  console.log("| runtime | batch | triplets/s | ms/triplet | timed calls |");
  console.log("|---|---:|---:|---:|---:|");
  for (const r of rows) {
    const ms = 1000 / r.tripletsPerSecond;
    console.log(
      `| ${r.runtime}${r.note ? ` (${r.note})` : ""} | ${r.batch} | ${r.tripletsPerSecond.toPrecision(3)} | ${
        ms.toFixed(0)
      } | ${r.calls} |`,
    );
  }
  for (const n of notes) console.log(`\n- ${n}`);
}
