/**
 * How much host memory one input or problem may take on this machine: the one budget that readers and
 * problem-size checks share.
 * @module
 */

/**
 * Bytes a reader may allocate for one input: half the machine's available memory when Deno may read it
 * (`--allow-sys`), else 4 GiB.
 *
 * @example
 * ```ts
 * import { memoryBudget } from "./memory.ts";
 * console.log(memoryBudget() > 0); // true
 * ```
 */
export function memoryBudget(): number {
  try {
    const m = Deno.systemMemoryInfo();
    return Math.max(256 * 2 ** 20, Math.floor(m.available / 2));
  } catch {
    return 4 * 2 ** 30;
  }
}
