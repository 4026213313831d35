/**
 * `deno task bench <projector|denoiser|reconstruct> [flags]`: measures speed on this machine and prints a
 * Markdown table for BENCHMARKS.md. Each benchmark lives in its own module.
 * @module
 */
import { runTask } from "./cli.ts";
import { UserError } from "../lib/errors.ts";

const BENCHES: Record<string, string> = {
  projector: "./bench_projector.ts",
  denoiser: "./bench_denoiser.ts",
  reconstruct: "./bench_reconstruct.ts",
};

if (import.meta.main) {
  runTask(async () => {
    const [name, ...rest] = Deno.args;
    if (!name || name === "--help" || name === "-h") {
      console.log(`Usage: deno task bench <${Object.keys(BENCHES).join("|")}> [--help]`);
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
