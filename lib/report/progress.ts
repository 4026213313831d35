/**
 * A progress reporter: a redrawn bar with step, ETA and throughput on a terminal, plain lines (about every
 * 10%) otherwise, so logs stay readable in CI.
 * @module
 */

/** Options for {@linkcode createProgress}. */
export interface ProgressOptions {
  /** Name of the unit counted ("step", "iter"). Default "step". */
  unit?: string;
  /** Whether to draw a bar. Default: whether stderr is a terminal. */
  tty?: boolean;
  /** Where text goes. Default: stderr. */
  write?: (text: string) => void;
  /** Clock in ms. Default `performance.now`. */
  now?: () => number;
}

/** Formats seconds as `1h02m`, `3m05s` or `42s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** A progress line's text for `done` of `total` after `elapsed` seconds. */
export function progressText(
  label: string,
  done: number,
  total: number,
  elapsed: number,
  unit: string,
  width = 24,
) {
  const frac = total > 0 ? done / total : 1;
  const rate = elapsed > 0 ? done / elapsed : 0;
  const eta = rate > 0 ? (total - done) / rate : Infinity;
  const filled = Math.round(frac * width);
  const bar = "#".repeat(filled) + "-".repeat(width - filled);
  const speed = rate >= 1
    ? `${rate.toFixed(2)} ${unit}/s`
    : `${rate > 0 ? (1 / rate).toFixed(2) : "?"} s/${unit}`;
  return `${label} [${bar}] ${done}/${total} ${unit}s, ETA ${formatDuration(eta)}, ${speed}`;
}

/**
 * Creates a reporter; call `update(done, total)` as work advances and `done()` at the end.
 *
 * @example
 * ```ts
 * import { createProgress } from "./progress.ts";
 * const lines: string[] = [];
 * const p = createProgress("recon", { tty: false, write: (t) => lines.push(t) });
 * for (let i = 1; i <= 10; i++) p.update(i, 10);
 * p.done();
 * console.log(lines.length > 0); // true
 * ```
 */
export function createProgress(label: string, options: ProgressOptions = {}) {
  const write = options.write ?? ((t: string) => Deno.stderr.writeSync(new TextEncoder().encode(t)));
  const tty = options.tty ?? Deno.stderr.isTerminal();
  const now = options.now ?? (() => performance.now());
  const unit = options.unit ?? "step";
  const start = now();
  let lastDecile = -1;
  let lastText = "";
  return {
    update(done: number, total: number, note = ""): void {
      const text = progressText(label, done, total, (now() - start) / 1000, unit) + (note ? ` ${note}` : "");
      lastText = text;
      if (tty) {
        write(`\r${text}\x1b[K`);
        return;
      }
      const decile = Math.floor((10 * done) / Math.max(1, total));
      if (decile !== lastDecile) {
        lastDecile = decile;
        write(`${text}\n`);
      }
    },
    done(): void {
      if (tty && lastText) write("\n");
    },
  };
}
