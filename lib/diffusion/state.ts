/**
 * Sampler checkpoints for `--resume`: a JSON header (configuration fingerprint, step, sizes) followed by
 * the float32 variables, written atomically so an interrupted save never corrupts the previous one.
 * @module
 */
import type { SamplerState } from "./sampler.ts";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/files.ts";

const MAGIC = "BLENDCT-STATE-1\n";

/** Serializes a state with the fingerprint of the configuration that produced it. */
export function encodeState(state: SamplerState, fingerprint: Record<string, unknown>): Uint8Array {
  const n = state.x.length;
  const parts = [state.x, state.z, state.u].filter((a): a is Float32Array => Boolean(a));
  const wide = state.mean && state.m2 ? [state.mean, state.m2] : [];
  const header = new TextEncoder().encode(
    MAGIC +
      JSON.stringify({
        fingerprint,
        step: state.step,
        n,
        arrays: parts.length,
        chain: state.chain ?? 0,
        f64: wide.length,
      }) +
      "\n",
  );
  const pad = (4 - (header.length % 4)) % 4, start = header.length + pad;
  const out = new Uint8Array(start + parts.length * n * 4 + wide.length * n * 8);
  out.set(header);
  out.fill(32, header.length, start);
  parts.forEach((a, i) => out.set(new Uint8Array(a.buffer, a.byteOffset, n * 4), start + i * n * 4));
  wide.forEach((a, i) =>
    out.set(new Uint8Array(a.buffer, a.byteOffset, n * 8), start + parts.length * n * 4 + i * n * 8)
  );
  return out;
}

/**
 * Parses a state file and checks that it was made by the same configuration; a mismatch names the first
 * differing field.
 *
 * @example
 * ```ts
 * import { decodeState, encodeState } from "./state.ts";
 * const bytes = encodeState({ step: 3, x: new Float32Array([1, 2]) }, { steps: 10 });
 * console.log(decodeState(bytes, { steps: 10 }).step); // 3
 * ```
 */
export function decodeState(
  bytes: Uint8Array,
  fingerprint: Record<string, unknown>,
  name = "state",
): SamplerState {
  const text = new TextDecoder().decode(bytes.subarray(0, Math.min(bytes.length, 65536)));
  if (!text.startsWith(MAGIC)) throw new UserError(`${name} is not a blendct state file`);
  const end = text.indexOf("\n", MAGIC.length);
  const head = JSON.parse(text.slice(MAGIC.length, end));
  for (const key of new Set([...Object.keys(fingerprint), ...Object.keys(head.fingerprint)])) {
    const a = JSON.stringify(head.fingerprint[key]), b = JSON.stringify(fingerprint[key]);
    if (a !== b) {
      throw new UserError(
        `--resume: ${name} was saved by a different configuration (${key}: ${a} then, ${b} now); rerun with the same flags or without --resume`,
      );
    }
  }
  const headerLen = new TextEncoder().encode(text.slice(0, end + 1)).length;
  const start = headerLen + ((4 - (headerLen % 4)) % 4);
  const n: number = head.n;
  const f64: number = head.f64 ?? 0, wideAt = start + head.arrays * n * 4;
  if (bytes.length < wideAt + f64 * n * 8) {
    throw new UserError(`${name} is truncated; delete it and rerun`);
  }
  const arr = (i: number) => new Float32Array(bytes.slice(start + i * n * 4, start + (i + 1) * n * 4).buffer);
  const wide = (i: number) =>
    new Float64Array(bytes.slice(wideAt + i * n * 8, wideAt + (i + 1) * n * 8).buffer);
  return {
    step: head.step,
    x: arr(0),
    z: head.arrays > 1 ? arr(1) : undefined,
    u: head.arrays > 2 ? arr(2) : undefined,
    ...(head.chain ? { chain: head.chain } : {}),
    ...(f64 === 2 ? { mean: wide(0), m2: wide(1) } : {}),
  };
}

/** Writes a state file atomically. */
export function saveState(
  path: string,
  state: SamplerState,
  fingerprint: Record<string, unknown>,
): Promise<void> {
  return writeFileAtomic(path, encodeState(state, fingerprint));
}
