/**
 * `deno task bench <projector|denoiser|reconstruct|quantized> [flags]`: measures speed on this machine and prints a
 * Markdown table for BENCHMARKS.md. Each benchmark lives in its own module.
 * @module
 */
import { runTask } from "./_cli.ts";
import { UserError } from "../lib/errors.ts";

const BENCHES: Record<string, string> = {
  projector: "./_bench_projector.ts",
  denoiser: "./_bench_denoiser.ts",
  reconstruct: "./_bench_reconstruct.ts",
  quantized: "./_bench_quantized.ts",
};

const ABOUT: Record<string, string> = {
  projector: "forward and adjoint projector rates (G pixel·view/s) at several sizes",
  denoiser: "triplets/s of the prior on each onnxruntime back end (and PyTorch where present)",
  reconstruct: "one reconstruction, its step split into network / CG / blending / transfers",
  quantized:
    "the int8 copy of the prior against fp32: held-out Tweedie error and speed (--record: into the card)",
};

if (import.meta.main) {
  runTask(async () => {
    const [name, ...rest] = Deno.args;
    if (!name || name === "--help" || name === "-h") {
      console.log(`Usage: deno task bench <${Object.keys(BENCHES).join("|")}> [flags]\n`);
      for (const [k, v] of Object.entries(ABOUT)) console.log(`  ${k.padEnd(12)} ${v}`);
      console.log(
        "\n`deno task bench NAME --help` lists the flags of one benchmark. Stop background jobs first:",
      );
      console.log("figures taken beside other work (a training run) are not this machine's.");
      return;
    }
    const path = BENCHES[name];
    if (!path) {
      throw new UserError(`unknown benchmark "${name}": choose one of ${Object.keys(BENCHES).join(", ")}`);
    }
    const mod = await import(path);
    await mod.run(rest);
  });
}
