/**
 * Numbers as a person writes them in pictures, tables and benchmark lines.
 * @module
 */

/**
 * `v` to `digits` significant digits with float noise rounded away (−160.00000000000003 → "-160", 0.25 kept,
 * a few microseconds never "0.000").
 *
 * @example
 * ```ts
 * import { num } from "./format.ts";
 * console.log(num(-160.00000000000003), num(0.000123456, 3)); // -160 0.000123
 * ```
 */
export function num(v: number, digits = 6): string {
  return String(Number(v.toPrecision(digits)));
}
