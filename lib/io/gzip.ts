/**
 * One checked reader for gzip input: every member's CRC-32 and size trailer are verified (gzip's own
 * integrity check, which a plain inflate skips), and the output is bounded before it is allocated — by what
 * the caller's format header promises (a NIfTI header's voxel count) and by a memory budget — so a
 * corrupt file is refused instead of read with wrong voxels, and a small file that inflates to gigabytes
 * stops at the first chunk past its promise.
 * @module
 */
import { Gunzip } from "../deps.ts";
import { UserError } from "../errors.ts";
import { crc32 } from "./crc32.ts";
import { memoryBudget } from "../memory.ts";

/** Options for {@linkcode gunzipChecked}. */
export interface GunzipOptions {
  /** Name in error messages (the file path). */
  name: string;
  /** The most bytes the output may hold. @default {memoryBudget()} */
  maxBytes?: number;
  /**
   * Given the first inflated bytes (at least `promiseBytes` of them, or all there are), the size the
   * format's header promises, or null when it cannot say; the output may not exceed it.
   */
  promise?: (head: Uint8Array) => number | null;
  /** How many inflated bytes `promise` needs. @default {540} */
  promiseBytes?: number;
}

const gb = (n: number) => `${(n / 2 ** 30).toFixed(n < 2 ** 30 ? 2 : 1)} GiB`;

/** Whether `bytes` start with gzip's magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Inflates a (single- or multi-member) gzip file, checking each member's CRC-32 and length against its
 * trailer, and the total against `promise` and `maxBytes` as it goes. Every failure is a one-line
 * {@linkcode UserError} naming the file and the fix.
 *
 * @example
 * ```ts
 * import { gunzipChecked } from "./gzip.ts";
 * import { gzipSync } from "../deps.ts";
 * const gz = gzipSync(new TextEncoder().encode("hello"));
 * console.log(new TextDecoder().decode(gunzipChecked(gz, { name: "x.gz" }))); // hello
 * gz[gz.length - 8] ^= 1; // the stored CRC
 * try { gunzipChecked(gz, { name: "x.gz" }); } catch (e) { console.log((e as Error).message.includes("CRC")); } // true
 * ```
 */
export function gunzipChecked(bytes: Uint8Array, options: GunzipOptions): Uint8Array {
  const { name } = options;
  const budget = options.maxBytes ?? memoryBudget();
  const need = options.promiseBytes ?? 540;
  const chunks: Uint8Array[] = [];
  let total = 0, limit = budget, promised: number | null = null, asked = false;
  // per member: where its output started and the CRC of its output so far
  const members: { start: number; crc: number; inputStart: number }[] = [{ start: 0, crc: 0, inputStart: 0 }];
  const ask = () => {
    asked = true;
    const head = concat(chunks, Math.min(total, need));
    promised = options.promise?.(head) ?? null;
    if (promised !== null && promised > budget) {
      throw new UserError(
        `${name}: its header promises ${gb(promised)} of data, more than this machine's memory budget of ${
          gb(budget)
        }; crop or downsample it first (e.g. with nibabel), or run where more memory is free`,
      );
    }
    if (promised !== null) limit = Math.min(budget, promised);
  };
  const g = new Gunzip((chunk: Uint8Array) => {
    const m = members[members.length - 1];
    m.crc = crc32(chunk, m.crc);
    chunks.push(chunk);
    total += chunk.length;
    if (!asked && total >= need) ask();
    if (total > limit) {
      throw new UserError(
        promised !== null && limit === promised
          ? `${name}: inflates to more than the ${promised} bytes its header promises (a damaged or hostile file); re-export it`
          : `${name}: inflates to more than this machine's memory budget of ${gb(budget)}; crop it first`,
      );
    }
  });
  g.onmember = (offset: number) => members.push({ start: total, crc: 0, inputStart: offset });
  const STEP = 1 << 16;
  try {
    for (let at = 0; at < bytes.length; at += STEP) {
      g.push(bytes.subarray(at, Math.min(bytes.length, at + STEP)), at + STEP >= bytes.length);
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(
      `${name}: the gzip stream is truncated or corrupt (${
        (e as Error).message
      }); re-export or re-download it`,
    );
  }
  if (!asked) ask();
  // each member's trailer is the 8 bytes before the next member (the last one's: the file's last 8)
  for (let i = 0; i < members.length; i++) {
    const end = i + 1 < members.length ? members[i + 1].inputStart : bytes.length;
    if (end - members[i].inputStart < 18) {
      throw new UserError(`${name}: the gzip stream is truncated; re-export or re-download it`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset + end - 8, 8);
    const storedCrc = view.getUint32(0, true), storedSize = view.getUint32(4, true);
    const size = (i + 1 < members.length ? members[i + 1].start : total) - members[i].start;
    if (storedCrc !== members[i].crc) {
      throw new UserError(
        `${name}: the gzip CRC-32 does not match the data (stored ${storedCrc.toString(16)}, computed ${
          members[i].crc.toString(16)
        }): the file is corrupt; re-export or re-download it`,
      );
    }
    // ISIZE is the length modulo 2^32, so files over 4 GiB compare on their low 32 bits
    if (storedSize !== size % 2 ** 32) {
      throw new UserError(
        `${name}: the gzip trailer says ${storedSize} bytes${
          size >= 2 ** 32 ? " (modulo 4 GiB)" : ""
        } but the data inflate to ${size}: the file is corrupt; re-export or re-download it`,
      );
    }
  }
  return concat(chunks, total);
}

function concat(chunks: Uint8Array[], n: number): Uint8Array {
  if (chunks.length === 1 && chunks[0].length === n) return chunks[0];
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    if (at >= n) break;
    const take = Math.min(c.length, n - at);
    out.set(c.subarray(0, take), at);
    at += take;
  }
  return out;
}
