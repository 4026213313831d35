/**
 * Checksums for data verification and run manifests.
 * @module
 */

/**
 * Lowercase hex sha256 of some bytes.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./hash.ts";
 * console.log((await sha256Hex(new Uint8Array())).slice(0, 8)); // e3b0c442
 * ```
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
