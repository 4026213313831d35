import assert from "node:assert/strict";
import {
  adjacentPartition,
  jumpPartition,
  type Partition,
  partitionForStep,
} from "../lib/diffusion/partition.ts";
import { ddimTimes } from "../lib/diffusion/schedule.ts";
import { Rng } from "../lib/random.ts";

function coveredOnce(p: Partition, Z: number) {
  assert.equal(p.owner.length, Z);
  for (let z = 0; z < Z; z++) {
    const o = p.owner[z];
    assert.ok(o < p.slices.length, `slice ${z} has no owner`);
    assert.equal(p.slices[o], z, `owner of slice ${z} points at slice ${p.slices[o]}`);
  }
  assert.equal(p.slices.length, 3 * p.gaps.length);
}

Deno.test("every slice is covered exactly once, for all offsets and slice counts", () => {
  for (let Z = 3; Z <= 40; Z++) {
    for (const off of [0, 1, 2]) coveredOnce(adjacentPartition(Z, off), Z);
    coveredOnce(jumpPartition(Z), Z);
  }
});

Deno.test("adjacent groups are consecutive; jump groups have gap 3 inside blocks of 9", () => {
  const a = adjacentPartition(20, 2);
  for (let g = 0; g < a.gaps.length; g++) {
    assert.equal(a.slices[3 * g + 1] - a.slices[3 * g], 1);
    assert.equal(a.slices[3 * g + 2] - a.slices[3 * g + 1], 1);
    assert.equal(a.gaps[g], 1);
  }
  for (const Z of [9, 18, 22, 31]) {
    const j = jumpPartition(Z);
    for (let g = 0; g < j.gaps.length; g++) {
      assert.equal(j.gaps[g], 3);
      assert.equal(j.slices[3 * g + 1] - j.slices[3 * g], 3);
      assert.equal(j.slices[3 * g + 2] - j.slices[3 * g + 1], 3);
      assert.ok(j.slices[3 * g + 2] < Z);
    }
  }
  assert.equal(jumpPartition(18).gaps.length, 6);
  // 22 = 2 blocks + 4 left over, owned by the 3 groups of the window 13..21
  assert.equal(jumpPartition(22).gaps.length, 9);
  assert.equal(jumpPartition(5).kind, "adjacent");
});

Deno.test("offsets vary across steps with a seed and repeat with the same seed", () => {
  const offsets = (seed: number) =>
    Array.from(
      { length: 40 },
      (_, i) => partitionForStep("blend", i, 30, new Rng(`${seed}:partition:${i}`)).slices[0],
    );
  const a = offsets(1), b = offsets(1), c = offsets(2);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.equal(new Set(a).size, 3, "all three offsets occur");
  const kinds = Array.from({ length: 6 }, (_, i) => partitionForStep("blend++", i, 30, new Rng(i), 3).kind);
  assert.deepEqual(kinds, ["adjacent", "adjacent", "jump", "adjacent", "adjacent", "jump"]);
  const fixed = Array.from({ length: 5 }, (_, i) => partitionForStep("fixed", i, 30, new Rng(i)).slices[0]);
  assert.deepEqual(fixed, [0, 0, 0, 0, 0]);
});

Deno.test("DDIM times follow the reference: 200 steps are 995, 990, ..., 0", () => {
  const t = ddimTimes(200);
  assert.equal(t.length, 200);
  assert.equal(t[0], 995);
  assert.equal(t[1], 990);
  assert.equal(t.at(-1), 0);
  assert.throws(() => ddimTimes(0));
});
