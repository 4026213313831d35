/**
 * Sampler checkpoints for `--resume`: a header line (configuration fingerprint, step, the arrays it holds,
 * a CRC-32 over the header and every data byte) followed by the float32 and float64 variables and the
 * adapter's state, written atomically so an interrupted save never corrupts the previous one. A state
 * that does not parse, fails its checksum, was made by another configuration or lies outside the run is
 * refused in one line: nothing resumes silently into a wrong volume.
 * @module
 */
import type { SamplerState } from "./sampler.ts";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/files.ts";
import { crc32 } from "../io/crc32.ts";

const MAGIC = "BLENDCT-STATE-2\n";
const F32 = ["x", "z", "u", "estimate"] as const;
const F64 = ["mean", "m2"] as const;

interface Header {
  fingerprint: Record<string, unknown>;
  step: number;
  n: number;
  chain: number;
  f32: string[];
  f64: string[];
  adapter: { shapes: number[][]; length: number } | null;
}

function bytesOf(a: Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Serializes a state with the fingerprint of the configuration that produced it. */
export function encodeState(state: SamplerState, fingerprint: Record<string, unknown>): Uint8Array {
  const n = state.x.length;
  const f32 = F32.filter((k) => state[k]);
  const f64 = state.mean && state.m2 ? [...F64] : [];
  const header: Header = {
    fingerprint,
    step: state.step,
    n,
    chain: state.chain ?? 0,
    f32,
    f64,
    adapter: state.adapter ? { shapes: state.adapter.shapes, length: state.adapter.data.length } : null,
  };
  const parts: Uint8Array[] = [
    ...f32.map((k) => bytesOf(state[k]!)),
    ...f64.map((k) => bytesOf(state[k as "mean" | "m2"]!)),
    ...(state.adapter ? [bytesOf(state.adapter.data)] : []),
  ];
  for (const k of f32) {
    if (state[k]!.length !== n) {
      throw new RangeError(`state array ${k} holds ${state[k]!.length} floats, x ${n}`);
    }
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  let crc = crc32(json);
  for (const p of parts) crc = crc32(p, crc);
  const head = new TextEncoder().encode(
    `${MAGIC}${new TextDecoder().decode(json)}\n${crc.toString(16).padStart(8, "0")}\n`,
  );
  // data start on an 8-byte boundary
  const start = Math.ceil(head.length / 8) * 8;
  const total = start + parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(total);
  out.set(head);
  out.fill(32, head.length, start);
  let at = start;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Parses a state file and checks it: readable header, checksum over header and data, the same
 * configuration (a mismatch names the first differing field), a step inside the run (`steps`, when given).
 *
 * @example
 * ```ts
 * import { decodeState, encodeState } from "./state.ts";
 * const bytes = encodeState({ step: 3, x: new Float32Array([1, 2]) }, { steps: 10 });
 * console.log(decodeState(bytes, { steps: 10 }).step); // 3
 * bytes[bytes.length - 1] ^= 1;
 * try { decodeState(bytes, { steps: 10 }); } catch (e) { console.log((e as Error).message.includes("checksum")); } // true
 * ```
 */
export function decodeState(
  bytes: Uint8Array,
  fingerprint: Record<string, unknown>,
  name = "state",
  steps?: number,
): SamplerState {
  const corrupt = (why: string) =>
    new UserError(`--resume: ${name} is corrupt (${why}); delete it and rerun without --resume`);
  const text = new TextDecoder().decode(bytes.subarray(0, Math.min(bytes.length, 1 << 20)));
  if (text.startsWith("BLENDCT-STATE-1\n")) {
    throw new UserError(
      `--resume: ${name} was saved by an older blendct without a checksum; delete it and rerun without --resume`,
    );
  }
  if (!text.startsWith(MAGIC)) throw new UserError(`--resume: ${name} is not a blendct state file`);
  const end = text.indexOf("\n", MAGIC.length);
  const crcEnd = end < 0 ? -1 : text.indexOf("\n", end + 1);
  if (end < 0 || crcEnd < 0) throw corrupt("its header is cut short");
  const jsonText = text.slice(MAGIC.length, end);
  let head: Header;
  try {
    head = JSON.parse(jsonText);
  } catch {
    throw corrupt("its header is not readable");
  }
  const n = head?.n, f32 = head?.f32, f64 = head?.f64;
  if (
    !Number.isInteger(n) || n < 1 || !Array.isArray(f32) || !Array.isArray(f64) ||
    !Number.isInteger(head.step) ||
    head.step < 0 || !f32.includes("x") || !f32.every((k) => (F32 as readonly string[]).includes(k)) ||
    !f64.every((k) => (F64 as readonly string[]).includes(k)) || typeof head.fingerprint !== "object" ||
    head.fingerprint === null || !(Number.isInteger(head.chain ?? 0) && (head.chain ?? 0) >= 0)
  ) {
    throw corrupt("its header does not describe a state");
  }
  const adapterLen = head.adapter ? Number(head.adapter.length) : 0;
  if (!Number.isInteger(adapterLen) || adapterLen < 0) throw corrupt("its adapter length is not a count");
  const headBytes = new TextEncoder().encode(text.slice(0, crcEnd + 1)).length;
  const start = Math.ceil(headBytes / 8) * 8;
  const size = start + f32.length * n * 4 + f64.length * n * 8 + adapterLen * 4;
  if (bytes.length !== size) {
    throw corrupt(bytes.length < size ? "it is truncated" : "it is longer than its header says");
  }
  const stored = parseInt(text.slice(end + 1, crcEnd), 16);
  const crc = crc32(bytes.subarray(start), crc32(new TextEncoder().encode(jsonText)));
  if (!(stored === crc)) throw corrupt("checksum mismatch: its bytes changed since they were written");
  for (const key of new Set([...Object.keys(fingerprint), ...Object.keys(head.fingerprint)])) {
    const a = JSON.stringify(head.fingerprint[key]), b = JSON.stringify(fingerprint[key]);
    if (a !== b) {
      throw new UserError(
        `--resume: ${name} was saved by a different configuration (${key}: ${a} then, ${b} now); rerun with the same flags or without --resume`,
      );
    }
  }
  if (steps !== undefined && head.step >= steps) {
    throw new UserError(
      `--resume: ${name} is at step ${head.step}, past this run's ${steps} steps; delete it and rerun without --resume`,
    );
  }
  let at = start;
  const out: SamplerState = { step: head.step, x: new Float32Array(0) };
  for (const k of f32) {
    out[k as typeof F32[number]] = new Float32Array(bytes.slice(at, at + n * 4).buffer);
    at += n * 4;
  }
  for (const k of f64) {
    out[k as typeof F64[number]] = new Float64Array(bytes.slice(at, at + n * 8).buffer);
    at += n * 8;
  }
  if (head.adapter) {
    out.adapter = {
      shapes: head.adapter.shapes,
      data: new Float32Array(bytes.slice(at, at + adapterLen * 4).buffer),
    };
  }
  if (head.chain) out.chain = head.chain;
  return out;
}

/** Writes a state file atomically. */
export function saveState(
  path: string,
  state: SamplerState,
  fingerprint: Record<string, unknown>,
): Promise<void> {
  return writeFileAtomic(path, encodeState(state, fingerprint));
}
