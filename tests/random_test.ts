import assert from "node:assert/strict";
import { Rng } from "../lib/random.ts";

Deno.test("same seed gives the same stream; different seeds differ", () => {
  const a = new Rng(123), b = new Rng(123), c = new Rng(124);
  const xa = Array.from({ length: 50 }, () => a.nextUint32());
  const xb = Array.from({ length: 50 }, () => b.nextUint32());
  const xc = Array.from({ length: 50 }, () => c.nextUint32());
  assert.deepEqual(xa, xb);
  assert.notDeepEqual(xa, xc);
  assert.ok(xa.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32));
});

Deno.test("the stream is pinned: golden values guard against accidental changes", () => {
  const r = new Rng(2024);
  const got = [r.nextUint32(), r.nextUint32(), r.nextUint32()];
  const again = new Rng(2024);
  assert.deepEqual(got, [again.nextUint32(), again.nextUint32(), again.nextUint32()]);
  // Golden values, recorded once: if these change, every seeded result in blendct changes.
  assert.deepEqual(got, GOLDEN_UINT32);
  const n = new Rng("blendct").fillNormal(new Float64Array(2));
  assert.deepEqual(Array.from(n), GOLDEN_NORMAL);
});

Deno.test("string seeds and large integer seeds work and differ", () => {
  assert.notEqual(new Rng("a").uniform(), new Rng("b").uniform());
  assert.notEqual(new Rng(2 ** 40).uniform(), new Rng(2 ** 40 + 1).uniform());
  assert.notEqual(new Rng(-5).uniform(), new Rng(5).uniform());
  assert.throws(() => new Rng(0.5), RangeError);
});

Deno.test("fork depends on the label and seed only, not on draws made before", () => {
  const r = new Rng(9);
  const f1 = r.fork("phantom").uniform();
  r.uniform();
  r.normal();
  assert.equal(r.fork("phantom").uniform(), f1);
  assert.notEqual(r.fork("other").uniform(), f1);
  assert.notEqual(new Rng(10).fork("phantom").uniform(), f1);
  assert.notEqual(r.fork("a").fork("b").uniform(), r.fork("b").fork("a").uniform());
});

Deno.test("uniform lies in [0, 1) with mean 1/2", () => {
  const r = new Rng(1);
  let s = 0;
  for (let i = 0; i < 1e5; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
    s += u;
  }
  assert.ok(Math.abs(s / 1e5 - 0.5) < 0.005);
});

Deno.test("int(n) stays in range and hits every value about equally", () => {
  const r = new Rng(2);
  const counts = new Array(7).fill(0);
  for (let i = 0; i < 70000; i++) {
    const k = r.int(7);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
    counts[k]++;
  }
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 500, `count ${c}`);
  assert.equal(r.int(1), 0);
  assert.ok(r.int(2 ** 32) < 2 ** 32);
  assert.throws(() => r.int(0), RangeError);
  assert.throws(() => r.int(2.5), RangeError);
});

Deno.test("1e5 normals have mean 0 and variance 1 within tolerance", () => {
  const x = new Rng(3).fillNormal(new Float64Array(1e5));
  let s = 0, s2 = 0;
  for (const v of x) {
    s += v;
    s2 += v * v;
  }
  const mean = s / x.length;
  const variance = s2 / x.length - mean * mean;
  // Standard error of the mean is 1/sqrt(1e5) ≈ 0.0032; of the variance ≈ sqrt(2/1e5) ≈ 0.0045.
  assert.ok(Math.abs(mean) < 0.015, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.02, `variance ${variance}`);
  const y = new Rng(3).fillNormal(new Float32Array(10), { mean: 5, std: 2 });
  assert.ok(Math.abs(y[0] - (5 + 2 * x[0])) < 1e-5);
});

const GOLDEN_UINT32 = [3214206611, 1777595598, 3958301744];
const GOLDEN_NORMAL = [0.3127333811407787, 1.4344802394097764];
