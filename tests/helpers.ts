/** Small shared test utilities. */

/** Deterministic pseudo-random values in [-1, 1) (a 32-bit LCG: tests must not depend on lib/random). */
export function seededArray(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** ‖a − b‖ / ‖b‖ in float64. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / (den || 1));
}

/** Runs `tasks/<name>.ts` with `args` in `cwd` as a user would (`deno run -A`), capturing its output. */
export async function runTaskFile(
  name: string,
  args: string[],
  cwd: string,
  env?: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(`../tasks/${name}.ts`, import.meta.url).pathname, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
    env,
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** A smooth deterministic ε of a triplet batch: any fixed function will do as a stand-in for the network. */
export function standIn(
  x: Float32Array,
  t: Float32Array,
  k: Float32Array,
  s: readonly number[],
): Float32Array {
  const [B, C, H, W] = s, m = H * W, out = new Float32Array(x.length);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < m; i++) {
        const j = (b * C + c) * m + i;
        out[j] = Math.fround(
          0.3 * Math.tanh(x[j]) + 0.1 * x[(b * C + 1) * m + i] + 1e-4 * t[b] + 0.01 * k[b] + 0.02 * c,
        );
      }
    }
  }
  return out;
}
