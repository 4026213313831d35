import assert from "node:assert/strict";
import { GpuContext } from "../lib/gpu/context.ts";
import { Projector } from "../lib/ct/projector.ts";
import { forwardRef } from "../lib/ct/projector_ref.ts";
import { sparseView } from "../lib/ct/geometry.ts";
import { runSampler, type SamplerConfig, type SamplerState } from "../lib/diffusion/sampler.ts";
import { createDenoiser, type Denoiser, verifyParity } from "../lib/prior/denoiser.ts";
import { loadModel, modelMap } from "../lib/prior/card.ts";
import { decodeState, encodeState } from "../lib/diffusion/state.ts";
import { adaptGroups } from "../lib/diffusion/adapt.ts";
import { adjacentPartition, jumpPartition } from "../lib/diffusion/partition.ts";
import { findPython } from "../lib/python.ts";
import { runTaskFile } from "./helpers.ts";

const TINY = new URL("../fixtures/tiny-torch/tiny.json", import.meta.url);
const torch = await findPython(["torch", "numpy"]).then(() => true, () => false);
if (!torch) {
  console.log("skipping torch_test's worker tests: no Python with torch (apt-get install python3-torch)");
}

Deno.test("adaptGroups: distinct groups of the partition, a pure function of seed, step and iteration", () => {
  const p = jumpPartition(18);
  const a = adaptGroups(p, 3, 5, 2, 1);
  assert.deepEqual(a, adaptGroups(p, 3, 5, 2, 1));
  assert.equal(new Set(a).size, 3);
  assert.ok(a.every((g) => g >= 0 && g < p.gaps.length));
  const draws = new Set(Array.from({ length: 8 }, (_, i) => adaptGroups(p, 3, 5, 2, i).join(",")));
  assert.ok(draws.size > 1, "different iterations draw different groups");
  assert.equal(
    adaptGroups(adjacentPartition(6, 0), 5, 0, 0, 0).length,
    2,
    "never more than the partition has",
  );
});

// a tiny volume, a known operator and the tiny network (trained 3 steps; its checkpoint is in fixtures/)
async function setup() {
  const gpu = await GpuContext.create();
  const Z = 9, N = 16;
  const truth = new Float32Array(Z * N * N);
  for (let z = 0; z < Z; z++) {
    for (let j = 0; j < N; j++) {
      for (let i = 0; i < N; i++) {
        const r2 = (i - 7.5) ** 2 + (j - 7.5 + 0.3 * z) ** 2;
        truth[(z * N + j) * N + i] = r2 < 30 ? 1 + 0.05 * z : r2 < 40 ? 2 : 0;
      }
    }
  }
  const A = await Projector.create(gpu, sparseView(6, { imageSize: N }), { Z, H: N, W: N });
  const y = gpu.upload(forwardRef(truth, A.geometry, A.shape));
  const model = await loadModel(TINY);
  const map = modelMap(model.card);
  const release = () => {
    gpu.release(y);
    A.dispose();
    gpu.dispose();
  };
  return { gpu, A, y, model, map, release };
}

const cfg = (map: [number, number], adapt?: SamplerConfig["adapt"]): SamplerConfig => ({
  mode: "blend++",
  steps: 4,
  eta: 0.85,
  cgIters: 2,
  jumpEvery: 2,
  rho: 0,
  lambda: 0,
  seed: 3,
  modelMap: map,
  t0: 300,
  ...(adapt ? { adapt } : {}),
});

Deno.test({
  name:
    "torch back end: the tiny card's checkpoint reproduces its parity fixture; a card without one is refused",
  ignore: !torch,
  fn: async () => {
    const d = await createDenoiser(TINY, { backend: "torch", device: "cpu" });
    try {
      assert.equal(d.backend, "torch");
      const p = await verifyParity(d);
      assert.ok(p.ok, `parity error ${p.error}`);
      assert.ok(d.adapter, "the torch back end offers adaptation");
    } finally {
      await d.dispose();
    }
    await assert.rejects(
      createDenoiser(new URL("../fixtures/tiny-prior/tiny.json", import.meta.url), { backend: "torch" }),
      /ships no PyTorch checkpoint/,
    );
  },
});

Deno.test({
  name:
    "adaptation lowers the data residual; lr 0 leaves the network (and the run) unchanged; same seed, same bytes",
  ignore: !torch,
  fn: async () => {
    const { gpu, A, y, model, map, release } = await setup();
    const d = await createDenoiser(model, { backend: "torch", device: "cpu", threads: 1 });
    try {
      const init = new Float32Array(A.domainSize).fill(0.5);
      // 30 slices: every group of every partition, so the residuals of one step are comparable
      const adapt = { iters: 6, lr: 1e-2, slices: 30, rank: 4, layers: "lora" as const };
      const residuals: number[][] = [];
      const a = await runSampler({ gpu, A, model: d, y }, cfg(map, adapt), {
        init,
        onStep: (e) => void residuals.push(e.adapt!.residuals),
      });
      assert.equal(residuals.length, 4);
      // x_t fixed within a step: the Adam steps must lower ‖A x̂₀ − y‖ at the first (noisiest) step
      const first = residuals[0];
      assert.equal(first.length, 6);
      assert.ok(first[5] < 0.95 * first[0], `residual ${first[0]} -> ${first[5]}`);
      const b = await runSampler({ gpu, A, model: d, y }, cfg(map, adapt), { init });
      assert.deepEqual(new Uint8Array(b.buffer), new Uint8Array(a.buffer), "same seed, same bytes");
      const plain = await runSampler({ gpu, A, model: d, y }, cfg(map), { init });
      const zero = await runSampler({ gpu, A, model: d, y }, cfg(map, { ...adapt, lr: 0 }), { init });
      assert.deepEqual(new Uint8Array(zero.buffer), new Uint8Array(plain.buffer), "lr 0 changes nothing");
      assert.notDeepEqual(
        new Uint8Array(a.buffer),
        new Uint8Array(plain.buffer),
        "adaptation changes the run",
      );
      // norm adapters too
      const norm: number[][] = [];
      await runSampler({ gpu, A, model: d, y }, cfg(map, { ...adapt, layers: "norm", lr: 2e-2 }), {
        init,
        onStep: (e) => void norm.push(e.adapt!.residuals),
      });
      assert.ok(norm[0][5] < norm[0][0], `norm adapters: residual ${norm[0][0]} -> ${norm[0][5]}`);
    } finally {
      await d.dispose();
      release();
    }
  },
});

Deno.test({
  name: "an adapted run interrupted and resumed from its saved state gives the same bytes",
  ignore: !torch,
  fn: async () => {
    const { gpu, A, y, model, map, release } = await setup();
    let d: Denoiser = await createDenoiser(model, { backend: "torch", device: "cpu", threads: 1 });
    try {
      const init = new Float32Array(A.domainSize).fill(0.5);
      const c = cfg(map, { iters: 2, lr: 5e-3, slices: 3, rank: 2, layers: "lora" });
      const full = await runSampler({ gpu, A, model: d, y }, c, { init });
      let saved: SamplerState | null = null;
      const controller = new AbortController();
      await assert.rejects(
        runSampler({ gpu, A, model: d, y }, c, {
          init,
          signal: controller.signal,
          onStep: async (e, state) => {
            if (e.step === 2) {
              saved = await state();
              controller.abort();
            }
          },
        }),
        /interrupted after step 2/,
      );
      assert.ok(saved!.adapter && saved!.estimate, "the state carries the adapters and the estimate");
      // through the file format, in a fresh worker, as --resume does
      const state = decodeState(encodeState(saved!, { k: 1 }), { k: 1 }, "state", 4);
      await d.dispose();
      d = await createDenoiser(model, { backend: "torch", device: "cpu", threads: 1 });
      const resumed = await runSampler({ gpu, A, model: d, y }, c, { init, resume: state });
      assert.deepEqual(new Uint8Array(resumed.buffer), new Uint8Array(full.buffer));
      // a state saved without adaptation cannot resume an adapted run
      await assert.rejects(
        runSampler({ gpu, A, model: d, y }, c, { resume: { step: 1, x: state.x } }),
        /saved without --adapt/,
      );
    } finally {
      await d.dispose();
      release();
    }
  },
});

Deno.test({
  name: "a worker that dies mid-run is one line naming it; --adapt without gradients is refused",
  ignore: !torch,
  fn: async () => {
    const { gpu, A, y, model, map, release } = await setup();
    Deno.env.set("BLENDCT_WORKER_EXIT_AFTER", "4");
    const d = await createDenoiser(model, { backend: "torch", device: "cpu", threads: 1 });
    Deno.env.delete("BLENDCT_WORKER_EXIT_AFTER");
    try {
      const c = cfg(map, { iters: 2, lr: 1e-3, slices: 3, rank: 2, layers: "lora" });
      await assert.rejects(
        runSampler({ gpu, A, model: d, y }, c, { init: new Float32Array(A.domainSize) }),
        (e: Error) =>
          e.name === "UserError" && /PyTorch worker stopped during \w+ \(exit code 3\)/.test(e.message) &&
          !e.message.includes("\n"),
      );
      const onnx = await createDenoiser(model, { backend: "wasm" });
      await assert.rejects(
        runSampler({ gpu, A, model: onnx, y }, c),
        /--adapt needs a back end with gradients/,
      );
      await onnx.dispose();
    } finally {
      await d.dispose();
      release();
    }
  },
});

Deno.test("reconstruct refuses --adapt where it does not apply, in one line with exit code 2", async () => {
  const cwd = await Deno.makeTempDir();
  const cases: [string[], RegExp][] = [
    [["--method", "tv", "--adapt"], /--adapt.*blend\+\+, blend, dds, not --method tv/],
    [["--adapt", "--backend", "native"], /--backend.*no gradients/],
    [["--adapt-iters", "3"], /--adapt-iters.*applies with --adapt/],
    [["--adapt", "--adapt-layers", "norm", "--adapt-rank", "2"], /--adapt-rank.*lora/],
    [["--device", "cuda"], /--device.*--backend torch/],
    [["--adapt", "--adapt-lr", "0"], /--adapt-lr.*> 0/],
  ];
  for (const [args, re] of cases) {
    const r = await runTaskFile("reconstruct", args, cwd);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  assert.deepEqual([...Deno.readDirSync(cwd)], [], "nothing written");
  await Deno.remove(cwd, { recursive: true });
});

Deno.test({
  name:
    "reconstruct --backend torch --device cuda without CUDA, and a card without a checkpoint: one line, exit 2",
  ignore: !torch,
  fn: async () => {
    const cwd = await Deno.makeTempDir();
    const hasCuda = (await new Deno.Command(await findPython(["torch"]), {
      args: ["-c", "import torch; print(torch.cuda.is_available())"],
      stdout: "piped",
    }).output()).stdout;
    const cases: [string[], RegExp][] = [
      [[
        "--model",
        new URL("../fixtures/tiny-prior/tiny.json", import.meta.url).pathname,
        "--backend",
        "torch",
      ], /ships no PyTorch checkpoint/],
    ];
    if (new TextDecoder().decode(hasCuda).trim() === "False") {
      cases.push([["--backend", "torch", "--device", "cuda"], /--device cuda: this torch sees no CUDA/]);
    }
    for (const [args, re] of cases) {
      const r = await runTaskFile("reconstruct", [...args, "--slices", "48:51", "--steps", "1"], cwd);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    await Deno.remove(cwd, { recursive: true });
  },
});
