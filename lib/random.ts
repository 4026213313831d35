/**
 * blendct's one source of randomness: a seeded xoshiro128** generator whose output depends only on the seed
 * (and the fork labels), never on the machine, the clock or `Math.random`.
 *
 * Why xoshiro128**: it needs only 32-bit integer arithmetic (`Math.imul`, shifts), which JavaScript does
 * exactly and fast, whereas a 64-bit generator such as PCG64 would need BigInt. The 128-bit state is filled
 * from the seed by a murmur3-style mixer, so nearby seeds (0, 1, 2, …) give unrelated streams.
 *
 * Normals use Box-Muller in float64. `Math.log`, `Math.sqrt`, `Math.cos` and `Math.sin` are V8's fdlibm
 * ports, so the same Deno build gives the same bits on every machine; a different JavaScript engine may
 * differ in the last bit of a normal draw (uniforms and integers are exact everywhere).
 *
 * @example
 * ```ts
 * import { Rng } from "./random.ts";
 * const rng = new Rng(42);
 * const noise = rng.fillNormal(new Float32Array(8));
 * const dropout = rng.fork("dropout").uniform();
 * console.log(noise.length, dropout < 1); // 8 true
 * ```
 * @module
 */

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** murmur3's 32-bit finalizer: a bijection that spreads every input bit over every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over UTF-16 code units, then mixed: turns a fork label or string seed into a 32-bit word. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // The length goes in too, so "a" + "" and "" + "a" style ambiguities in fork chains cannot collide.
  return fmix32(h ^ s.length);
}

/** The 32-bit words a seed stands for: integers keep all 53 bits, strings are hashed. */
function seedWords(seed: number | string): number[] {
  if (typeof seed === "string") return [0x5eed0001, hashString(seed)];
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`seed must be a safe integer or a string, got ${seed}`);
  }
  const neg = seed < 0 ? 1 : 0;
  const a = Math.abs(seed);
  return [neg, a % TWO_POW_32 >>> 0, Math.floor(a / TWO_POW_32) >>> 0];
}

/** Options for {@linkcode Rng.fillNormal}. */
export interface FillNormalOptions {
  /** Mean of the draws. Default 0. */
  mean?: number;
  /** Standard deviation of the draws. Default 1. */
  std?: number;
}

/**
 * A deterministic pseudo-random stream (xoshiro128**). Same seed, same sequence, on any machine.
 *
 * @example
 * ```ts
 * import { Rng } from "./random.ts";
 * const a = new Rng(7), b = new Rng(7);
 * console.log(a.uniform() === b.uniform(), a.int(6) === b.int(6)); // true true
 * ```
 */
export class Rng {
  /** The words this stream was seeded from: the seed, then one hash per fork label. */
  readonly key: readonly number[];
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;
  #spare = 0;
  #hasSpare = false;

  /**
   * Starts the stream of `seed`.
   *
   * @param seed a safe integer or a string; default 0.
   */
  constructor(seed: number | string = 0) {
    this.key = seedWords(seed);
    this.#init();
  }

  #init(): void {
    // Four lanes, each folding every key word through the mixer with its own constant, give 128 state bits
    // that all depend on the whole key.
    const lanes = [0x9e3779b9, 0x7f4a7c15, 0x6a09e667, 0xbb67ae85].map((h) => {
      for (const w of this.key) h = fmix32((h ^ w) + 0x632be5ab);
      return fmix32(h + this.key.length);
    });
    [this.#s0, this.#s1, this.#s2, this.#s3] = lanes;
    // xoshiro's only bad state is all zeros.
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
    this.#hasSpare = false;
  }

  /**
   * A child stream named by `label`, independent of this one. It depends only on this stream's seed and the
   * label, not on how many numbers were drawn before, so adding a draw somewhere cannot shift another
   * module's randomness.
   *
   * @example
   * ```ts
   * import { Rng } from "./random.ts";
   * const rng = new Rng(1);
   * const x = rng.fork("noise").uniform();
   * rng.uniform();
   * console.log(rng.fork("noise").uniform() === x); // true
   * ```
   */
  fork(label: string): Rng {
    const child = new Rng(0);
    (child as { key: readonly number[] }).key = [...this.key, hashString(label)];
    child.#init();
    return child;
  }

  /**
   * The next raw 32-bit unsigned integer.
   *
   * @example
   * ```ts
   * import { Rng } from "./random.ts";
   * const u = new Rng(3).nextUint32();
   * console.log(u >= 0 && u < 2 ** 32); // true
   * ```
   */
  nextUint32(): number {
    const s0 = this.#s0, s1 = this.#s1, s2 = this.#s2, s3 = this.#s3;
    const m = Math.imul(s1, 5);
    const r = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    this.#s1 = s1 ^ n2;
    this.#s0 = s0 ^ n3;
    this.#s2 = n2 ^ t;
    this.#s3 = (n3 << 11) | (n3 >>> 21);
    return r;
  }

  /**
   * A uniform float64 in [0, 1) with all 53 mantissa bits random.
   *
   * @example
   * ```ts
   * import { Rng } from "./random.ts";
   * const u = new Rng(3).uniform();
   * console.log(u >= 0 && u < 1); // true
   * ```
   */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / TWO_POW_53;
  }

  /**
   * A uniform float64 in [lo, hi).
   *
   * @example
   * ```ts
   * import { Rng } from "./random.ts";
   * const v = new Rng(3).between(-1, 1);
   * console.log(v >= -1 && v < 1); // true
   * ```
   */
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /**
   * A uniform integer in [0, n), without modulo bias, for 1 ≤ n ≤ 2^32.
   *
   * @example
   * ```ts
   * import { Rng } from "./random.ts";
   * const die = new Rng(5).int(6);
   * console.log(die >= 0 && die < 6); // true
   * ```
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new RangeError(`int(n) needs an integer 1 ≤ n ≤ 2^32, got ${n}`);
    }
    // Reject the top partial block of 2^32 so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }

  /**
   * A standard normal draw (Box-Muller in float64; the second value of each pair is kept for the next call).
   *
   * @example
   * ```ts
   * import { Rng } from "./random.ts";
   * const x = new Rng(9).normal();
   * console.log(Number.isFinite(x)); // true
   * ```
   */
  normal(): number {
    if (this.#hasSpare) {
      this.#hasSpare = false;
      return this.#spare;
    }
    // 1 - u lies in (0, 1], so the logarithm is finite.
    const r = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const phi = 2 * Math.PI * this.uniform();
    this.#spare = r * Math.sin(phi);
    this.#hasSpare = true;
    return r * Math.cos(phi);
  }

  /**
   * Fills `out` with normal draws (in the same order {@linkcode Rng.normal} would give them) and returns it.
   *
   * @example
   * ```ts
   * import { Rng } from "./random.ts";
   * const x = new Rng(9).fillNormal(new Float32Array(4), { mean: 10, std: 0.1 });
   * console.log(x.every((v) => Math.abs(v - 10) < 1)); // true
   * ```
   */
  fillNormal<T extends Float32Array | Float64Array>(out: T, options: FillNormalOptions = {}): T {
    const mean = options.mean ?? 0;
    const std = options.std ?? 1;
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /**
   * Fills `out` with uniform draws in [lo, hi) and returns it.
   *
   * @example
   * ```ts
   * import { Rng } from "./random.ts";
   * const x = new Rng(2).fillUniform(new Float32Array(4), { lo: -1, hi: 1 });
   * console.log(x.every((v) => v >= -1 && v <= 1)); // true
   * ```
   */
  fillUniform<T extends Float32Array | Float64Array>(out: T, options: { lo?: number; hi?: number } = {}): T {
    const lo = options.lo ?? 0;
    const hi = options.hi ?? 1;
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }
}
