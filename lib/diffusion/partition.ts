/**
 * How the volume's slices are grouped into triplets at each sampler step — the "blending" of
 * DiffusionBlend(++). Each group is three slice indices and its gap code; `owner[z]` names the one group
 * (and channel) whose noise estimate slice `z` takes, so every slice is covered exactly once per step.
 *
 * Rules for slice counts that do not tile evenly (blendct's choice, tested):
 * - adjacent with offset s: groups {j, j+1, j+2} for j = s, s+3, …; slices before s are owned by the group
 *   {0, 1, 2}, slices after the last full group by the group {Z−3, Z−2, Z−1}.
 * - jump: blocks of 9 slices b..b+8 (b = 0, 9, …) give groups {b+m, b+m+3, b+m+6}; the Z mod 9 slices left
 *   at the end are owned by the groups of the last 9-slice window {Z−9..Z−1}. Volumes with fewer than 9
 *   slices have no jump partition and use the adjacent one.
 * @module
 */
import type { Rng } from "../random.ts";

/** One step's grouping. */
export interface Partition {
  /** Slice indices, three per group. */
  slices: Uint32Array;
  /** Gap code per group (1 adjacent, 3 jump). */
  gaps: Float32Array;
  /** For each slice, `3 * group + channel` of the group whose output it takes. */
  owner: Uint32Array;
  /** "adjacent", "jump" or "single" (each slice on its own, repeated three times). */
  kind: "adjacent" | "jump" | "single";
}

function build(Z: number, groups: number[][], gap: number, kind: Partition["kind"]): Partition {
  const owner = new Uint32Array(Z).fill(0xffffffff);
  // first claim wins: full groups are listed first, edge groups only take what is left
  groups.forEach((g, gi) =>
    g.forEach((z, c) => {
      if (owner[z] === 0xffffffff) owner[z] = 3 * gi + c;
    })
  );
  return {
    slices: Uint32Array.from(groups.flat()),
    gaps: new Float32Array(groups.length).fill(gap),
    owner,
    kind,
  };
}

/**
 * Adjacent triplets starting at `offset` (0, 1 or 2).
 *
 * @example
 * ```ts
 * import { adjacentPartition } from "./partition.ts";
 * const p = adjacentPartition(7, 1);
 * console.log(Array.from(p.slices)); // [1,2,3, 4,5,6, 0,1,2]
 * console.log(Array.from(p.owner)); // [6, 0, 1, 2, 3, 4, 5]
 * ```
 */
export function adjacentPartition(Z: number, offset = 0): Partition {
  if (Z < 3) throw new RangeError(`a volume needs at least 3 slices for triplets (got ${Z})`);
  const groups: number[][] = [];
  let j = offset;
  for (; j + 2 < Z; j += 3) groups.push([j, j + 1, j + 2]);
  if (offset > 0) groups.push([0, 1, 2]);
  if (j < Z) groups.push([Z - 3, Z - 2, Z - 1]);
  return build(Z, groups, 1, "adjacent");
}

/**
 * Gap-3 triplets in blocks of 9 slices.
 *
 * @example
 * ```ts
 * import { jumpPartition } from "./partition.ts";
 * const p = jumpPartition(9);
 * console.log(Array.from(p.slices)); // [0,3,6, 1,4,7, 2,5,8]
 * ```
 */
export function jumpPartition(Z: number): Partition {
  if (Z < 9) return adjacentPartition(Z, 0);
  const groups: number[][] = [];
  const full = Math.floor(Z / 9) * 9;
  for (let b = 0; b < full; b += 9) for (let m = 0; m < 3; m++) groups.push([b + m, b + m + 3, b + m + 6]);
  if (full < Z) { for (let m = 0; m < 3; m++) groups.push([Z - 9 + m, Z - 6 + m, Z - 3 + m]); }
  return build(Z, groups, 3, "jump");
}

/**
 * Every slice on its own, given to the 3-slice prior three times ({z, z, z}, gap code 1) and taking the
 * middle channel: the prior as a 2D prior, for the 2D methods (DDS 2D, DiffusionMBIR). A triplet of one
 * slice is what a gap-1 triplet of a thin-sliced volume tends to, so it stays near the prior's training data.
 *
 * @example
 * ```ts
 * import { singlePartition } from "./partition.ts";
 * const p = singlePartition(3);
 * console.log(Array.from(p.slices), Array.from(p.owner)); // [0,0,0, 1,1,1, 2,2,2] [1, 4, 7]
 * ```
 */
export function singlePartition(Z: number): Partition {
  return {
    slices: Uint32Array.from({ length: 3 * Z }, (_, i) => Math.floor(i / 3)),
    gaps: new Float32Array(Z).fill(1),
    owner: Uint32Array.from({ length: Z }, (_, z) => 3 * z + 1),
    kind: "single",
  };
}

/** Which partitions a method uses: `single` runs the prior slice by slice (2D). */
export type BlendMode = "blend++" | "blend" | "fixed" | "single";

/**
 * The partition for sampler step `step`: `blend++` alternates jump (every `jumpEvery`-th step, starting
 * with step 1) and adjacent with a fresh random offset; `blend` uses only adjacent with fresh offsets;
 * `fixed` (DDS) always uses offset 0; `single` is {@linkcode singlePartition}. The offset is drawn from `rng` on every adjacent step.
 */
export function partitionForStep(
  mode: BlendMode,
  step: number,
  Z: number,
  rng: Rng,
  jumpEvery = 2,
): Partition {
  if (mode === "fixed") return adjacentPartition(Z, 0);
  if (mode === "single") return singlePartition(Z);
  if (mode === "blend++" && jumpEvery > 0 && step % jumpEvery === jumpEvery - 1 && Z >= 9) {
    return jumpPartition(Z);
  }
  return adjacentPartition(Z, rng.int(3));
}
