import assert from "node:assert/strict";
import { decodeState, encodeState } from "../lib/diffusion/state.ts";

const state = {
  step: 4,
  x: Float32Array.from({ length: 50 }, (_, i) => i / 7),
  z: new Float32Array(50).fill(0.5),
  estimate: new Float32Array(50).fill(2),
  mean: new Float64Array(50).fill(1 / 3),
  m2: new Float64Array(50).fill(0.25),
  chain: 1,
  adapter: { shapes: [[2, 3]], data: Float32Array.from({ length: 19 }, (_, i) => i) },
};
const fp = { steps: 10, precision: "fp32", backend: "native" };
const user = (f: () => unknown, re: RegExp) =>
  assert.throws(f, (e: Error) => e.name === "UserError" && re.test(e.message) && !e.message.includes("\n"));

Deno.test("resume states round-trip every array, the adapters and the chain", () => {
  const back = decodeState(encodeState(state, fp), fp, "s", 10);
  assert.equal(back.step, 4);
  assert.equal(back.chain, 1);
  for (const k of ["x", "z", "estimate", "mean", "m2"] as const) assert.deepEqual(back[k], state[k], k);
  assert.deepEqual(back.adapter, state.adapter);
});

Deno.test("a state that would lie is one line: broken header, flipped bit, other precision, step past the run", () => {
  const bytes = encodeState(state, fp);
  const header = bytes.slice();
  header[20] = 0x7b; // a brace inside the JSON header
  user(() => decodeState(header, fp, "s"), /s is corrupt/);
  for (const at of [bytes.length - 1, bytes.length - 300, 200]) {
    const flipped = bytes.slice();
    flipped[at] ^= 4;
    user(() => decodeState(flipped, fp, "s"), /s is corrupt/);
  }
  user(() => decodeState(bytes.subarray(0, bytes.length - 8), fp, "s"), /truncated/);
  user(() => decodeState(bytes, { ...fp, precision: "int8" }, "s"), /different configuration \(precision/);
  user(() => decodeState(bytes, fp, "s", 4), /at step 4, past this run's 4 steps/);
  user(() => decodeState(new TextEncoder().encode("BLENDCT-STATE-1\n{}"), fp, "s"), /older blendct/);
  user(() => decodeState(new Uint8Array(10), fp, "s"), /not a blendct state file/);
});
