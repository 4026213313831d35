/**
 * The training pipeline end to end on a tiny model: a few steps of train/train.py, export to ONNX with
 * card and parity fixture, then blendct's native back end reproduces the parity fixture. Skips with a
 * printed reason where PyTorch is absent (Debian: apt-get install python3-torch python3-onnx).
 */
import assert from "node:assert/strict";
import { createDenoiser, verifyParity } from "../lib/prior/denoiser.ts";
import { loadModel } from "../lib/prior/card.ts";

const PY = "/usr/bin/python3";
const root = new URL("../", import.meta.url).pathname;

async function hasTorch(): Promise<boolean> {
  try {
    const r = await new Deno.Command(PY, {
      args: ["-c", "import torch, onnx"],
      stderr: "null",
      stdout: "null",
    })
      .output();
    return r.success;
  } catch {
    return false;
  }
}

const torch = await hasTorch();
if (!torch) console.log("skipping train_test: PyTorch and onnx not found at /usr/bin/python3");

Deno.test({
  name: "a few training steps resume from their checkpoint, export, and match the parity fixture natively",
  ignore: !torch,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "blendct-train-" });
    try {
      const train = (steps: number) =>
        new Deno.Command(PY, {
          args: [
            `${root}train/train.py`,
            "--tiny",
            "--steps",
            String(steps),
            "--batch",
            "2",
            "--crop",
            "32",
            "--out",
            dir,
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
      const first = await train(2);
      assert.ok(first.success, new TextDecoder().decode(first.stderr));
      const second = await train(4);
      const log = new TextDecoder().decode(second.stdout);
      assert.ok(second.success, new TextDecoder().decode(second.stderr));
      assert.match(log, /resumed at step 2/);
      assert.match(log, /saved .* at step 4/);
      const exp = await new Deno.Command(PY, {
        args: [
          `${root}train/export.py`,
          "--ckpt",
          `${dir}/ckpt.pt`,
          "--out",
          dir,
          "--name",
          "t",
          "--force",
          "--eval-count",
          "2",
          "--eval-size",
          "32",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(exp.success, new TextDecoder().decode(exp.stderr));
      const card = JSON.parse(await Deno.readTextFile(`${dir}/t.json`));
      assert.equal(card.training.steps, 4);
      assert.deepEqual(card.gaps, [1, 3]);
      assert.ok(card.evaluation.eps_mse["500"] > 0);
      const d = await createDenoiser(await loadModel(`${dir}/t.json`), { backend: "native" });
      const parity = await verifyParity(d);
      assert.ok(parity.ok, `parity error ${parity.error}`);
      await d.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
