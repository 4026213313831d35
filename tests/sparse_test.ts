// The sparse CPU engine of the projectors against the TypeScript references (float64 Joseph weights walked
// ray by ray) and against the WGSL kernels, at slice counts that exercise every path of the SIMD kernels
// (one slice, a partial group of four, a full group of 32 plus a tail).
import assert from "node:assert/strict";
import { GpuContext } from "../lib/gpu/context.ts";
import { Projector } from "../lib/ct/projector.ts";
import { adjointRef, forwardRef, parallelRays } from "../lib/ct/projector_ref.ts";
import { fanAdjointRef, fanForwardRef } from "../lib/ct/fan_ref.ts";
import { fanBeam, limitedAngle, sparseView } from "../lib/ct/geometry.ts";
import { createProjector } from "../lib/ct/system.ts";
import { entriesBound, isSoftwareAdapter, pixelMajorMatrix, wantsSparse } from "../lib/ct/sparse.ts";
import { fbpOnGpu } from "../lib/ct/fbp.ts";
import { relErr, seededArray } from "./helpers.ts";
import { UserError } from "../lib/errors.ts";

const gpu = await GpuContext.create();

for (const Z of [1, 5, 33]) {
  Deno.test(`sparse engine matches the parallel reference and the WGSL kernels: ${Z} slices`, async () => {
    const g = sparseView(7, { imageSize: 24 }), shape = { Z, H: 24, W: 24 };
    const S = await createProjector(gpu, g, shape, { engine: "sparse" });
    const K = await Projector.create(gpu, g, shape);
    try {
      assert.equal(S.engine, "sparse");
      assert.equal(K.engine, "wgsl");
      const x = seededArray(S.domainSize, 11 + Z), y = seededArray(S.rangeSize, 12 + Z);
      const sx = await S.project(x), sy = await S.backprojectAdjoint(y);
      assert.ok(relErr(sx, forwardRef(x, g, shape)) < 1e-6, "forward vs reference");
      assert.ok(relErr(sy, adjointRef(y, g, shape)) < 1e-6, "adjoint vs reference");
      assert.ok(relErr(sx, await K.project(x)) < 1e-5, "forward vs WGSL");
      assert.ok(relErr(sy, await K.backprojectAdjoint(y)) < 1e-5, "adjoint vs WGSL");
      // the GPU-buffer path gives the host path's bits
      const xb = gpu.upload(x), yb = gpu.buffer(S.rangeSize * 4), ab = gpu.buffer(S.domainSize * 4);
      await S.forward(xb, yb);
      assert.deepEqual(await gpu.download(yb, S.rangeSize), sx);
      gpu.write(yb, y);
      await S.adjoint(yb, ab);
      assert.deepEqual(await gpu.download(ab, S.domainSize), sy);
      gpu.release(xb, yb, ab);
    } finally {
      S.dispose();
      K.dispose();
    }
  });
}

Deno.test("sparse engine matches the fan-beam reference (offset detector, rectangular slices)", async () => {
  const g = { ...fanBeam(11, { imageSize: 20, sourceOrigin: 70, originDetector: 30 }), detectorOffset: 0.8 };
  const shape = { Z: 6, H: 14, W: 20 };
  const S = await createProjector(gpu, g, shape, { engine: "sparse" });
  try {
    assert.equal(S.engine, "sparse");
    const x = seededArray(S.domainSize, 21), y = seededArray(S.rangeSize, 22);
    assert.ok(relErr(await S.project(x), fanForwardRef(x, g, shape)) < 1e-6, "forward");
    assert.ok(relErr(await S.backprojectAdjoint(y), fanAdjointRef(y, g, shape)) < 1e-6, "adjoint");
  } finally {
    S.dispose();
  }
});

Deno.test("sparse engine: the same input gives the same bits, and FBP runs unchanged on it", async () => {
  const g = limitedAngle(90, 45, { imageSize: 32 }), shape = { Z: 3, H: 32, W: 32 };
  const S = await createProjector(gpu, g, shape, { engine: "sparse" });
  const K = await createProjector(gpu, g, shape, { engine: "wgsl" });
  try {
    const x = seededArray(S.domainSize, 31);
    assert.deepEqual(await S.project(x), await S.project(x));
    // FBP's back-projection is the WGSL kernel on both engines
    const yb = gpu.upload(await K.project(x)), qb = gpu.buffer(K.rangeSize * 4);
    const o1 = gpu.buffer(K.domainSize * 4), o2 = gpu.buffer(K.domainSize * 4);
    await fbpOnGpu(gpu, S, yb, qb, o1, "ramp");
    await fbpOnGpu(gpu, K, yb, qb, o2, "ramp");
    assert.deepEqual(await gpu.download(o1, K.domainSize), await gpu.download(o2, K.domainSize));
    gpu.release(yb, qb, o1, o2);
  } finally {
    S.dispose();
    K.dispose();
  }
});

Deno.test("pixel-major matrix: every row's columns ascend, and its entry count is under the bound", () => {
  const g = sparseView(9, { imageSize: 17 }), H = 17, W = 13;
  const m = pixelMajorMatrix(parallelRays(g, H, W), 9, g.detectorCount, H * W);
  assert.equal(m.ptr[H * W], m.val.length);
  assert.ok(m.val.length <= entriesBound(9, g.detectorCount, H, W));
  for (let p = 0; p < H * W; p++) {
    for (let k = m.ptr[p] + 1; k < m.ptr[p + 1]; k++) assert.ok(m.col[k] > m.col[k - 1], `row ${p}`);
  }
  // the matrix is the reference operator: A applied to a unit pixel is its row
  const e = new Float32Array(H * W);
  e[100] = 1;
  const y = forwardRef(e, g, { Z: 1, H, W });
  for (let k = m.ptr[100]; k < m.ptr[101]; k++) assert.ok(Math.abs(y[m.col[k]] - m.val[k]) < 1e-6);
  assert.equal(y.filter((v) => v !== 0).length, m.ptr[101] - m.ptr[100]);
});

Deno.test("auto takes the sparse engine on a software adapter only, within its memory budget", () => {
  const cpu = { description: "llvmpipe (LLVM 15.0.6, 256 bits)", isFallbackAdapter: false };
  const real = { description: "NVIDIA H200", isFallbackAdapter: false };
  const shape = { Z: 36, H: 256, W: 256 };
  assert.ok(isSoftwareAdapter(cpu));
  assert.ok(!isSoftwareAdapter(real));
  assert.ok(wantsSparse("auto", cpu, 8, 363, shape));
  assert.ok(!wantsSparse("auto", real, 8, 363, shape));
  assert.ok(!wantsSparse("wgsl", cpu, 8, 363, shape));
  assert.ok(wantsSparse("sparse", real, 8, 363, shape));
  // 720 views of 1024² slices: the matrix alone would be ~11 GiB; asked for explicitly, one line names the fix
  assert.ok(!wantsSparse("auto", cpu, 720, 1449, { Z: 8, H: 1024, W: 1024 }));
  assert.throws(
    () => wantsSparse("sparse", cpu, 720, 1449, { Z: 8, H: 1024, W: 1024 }),
    (e: Error) =>
      e instanceof UserError && /over the sparse engine's 2 GiB: use --projector wgsl/.test(e.message),
  );
  // the budget's edge, 1.5 GiB: 180 views of 512² fit for 16 slices (~1.29 GiB), 360 views do not (~2.2 GiB)
  assert.ok(wantsSparse("auto", cpu, 180, 725, { Z: 16, H: 512, W: 512 }));
  assert.ok(!wantsSparse("auto", cpu, 360, 725, { Z: 8, H: 512, W: 512 }));
});

Deno.test("sparse engine refuses a slice count it has no room for", async () => {
  const g = sparseView(4, { imageSize: 8 });
  const S = await createProjector(gpu, g, { Z: 2, H: 8, W: 8 }, { engine: "sparse" });
  await assert.rejects(() => S.project(new Float32Array(3 * 64)), RangeError);
  S.dispose();
});

Deno.test("the committed spmm.wasm is what build.sh makes of spmm.c", async () => {
  // spawning a program that is not there throws at once, not through the promise
  const clang = await (async () => {
    try {
      return await new Deno.Command("clang", { args: ["--version"], stdout: "piped" }).output();
    } catch {
      return null;
    }
  })();
  if (!clang?.success) {
    console.log("skipped: clang not installed (apt-get install clang lld) to rebuild lib/ct/wasm/spmm.wasm");
    return;
  }
  const version = new TextDecoder().decode(clang.stdout).split("\n")[0];
  const out = await Deno.makeTempFile({ suffix: ".wasm" });
  const script = new URL("../lib/ct/wasm/build.sh", import.meta.url).pathname;
  const built = await new Deno.Command("bash", { args: [script, out], stderr: "piped" }).output();
  assert.ok(built.success, new TextDecoder().decode(built.stderr));
  const committed = await Deno.readFile(new URL("../lib/ct/wasm/spmm.wasm", import.meta.url));
  const rebuilt = await Deno.readFile(out);
  await Deno.remove(out);
  // another compiler version may emit other bytes: only the version the binary was built with must match
  if (!version.includes("14.0.6")) {
    console.log(`skipped: ${version} is not the clang 14.0.6 the binary was built with (bytes may differ)`);
    return;
  }
  assert.deepEqual(rebuilt, committed);
});
