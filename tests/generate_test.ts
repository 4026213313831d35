/** `deno task generate` as a user runs it (tiny test model): shape, unit, seeds, bad input. */
import assert from "node:assert/strict";
import { readVolumeFile } from "../lib/io/files.ts";
import { runTaskFile } from "./helpers.ts";

const TINY = new URL("../fixtures/tiny-prior/tiny.json", import.meta.url).pathname;
const COARSE = new URL("../fixtures/tiny-coarse/tiny-coarse.json", import.meta.url).pathname;
const BASE = ["--steps", "3", "--model", TINY, "--backend", "native"];

Deno.test("generate writes a HU volume and its preview; a seed gives the same bytes, another seed others", async () => {
  const dir = await Deno.makeTempDir({ prefix: "blendct-generate-" });
  try {
    for (
      const [seed, out, extra] of [
        ["1", "a/g.nii.gz", ["--coarse", COARSE]],
        ["1", "b/g.nii.gz", ["--coarse", COARSE]],
        ["2", "c/g.nii.gz", ["--coarse", COARSE]],
        ["1", "d/g.nii.gz", ["--coarse", "none"]],
      ] as [string, string, string[]][]
    ) {
      const r = await runTaskFile(
        "generate",
        [...BASE, "--slices", "4", "--seed", seed, "--output", out, ...extra],
        dir,
      );
      assert.equal(r.code, 0, r.stderr);
    }
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/a/g.manifest.json`));
    assert.equal(manifest.config.coarse.name, "tiny-coarse");
    assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/d/g.manifest.json`)).config.coarse, "none");
    const v = await readVolumeFile(`${dir}/a/g.nii.gz`);
    assert.deepEqual(v.shape, [4, 256, 256]);
    assert.equal(v.unit, "HU");
    assert.ok(v.data.every(Number.isFinite));
    assert.ok((await Deno.stat(`${dir}/a/g.preview.png`)).size > 1000);
    const bytes = (p: string) => Deno.readFile(`${dir}/${p}`);
    assert.deepEqual(await bytes("a/g.nii.gz"), await bytes("b/g.nii.gz"));
    assert.notDeepEqual(await bytes("a/g.nii.gz"), await bytes("c/g.nii.gz"));
    assert.notDeepEqual(
      await bytes("a/g.nii.gz"),
      await bytes("d/g.nii.gz"),
      "the coarse stage changes the sample",
    );
    const again = await runTaskFile("generate", [
      ...BASE,
      "--coarse",
      "none",
      "--slices",
      "4",
      "--output",
      "a/g.nii.gz",
    ], dir);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /a\/g\.nii\.gz exists from an earlier run: pass --force/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generate refuses fewer than 3 slices, a size the model was not trained at, a coarse card that is not whole-slice and a refine-t0 outside (0, T), in one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "blendct-generate-" });
  try {
    for (
      const [args, message] of [
        [["--slices", "2"], /--slices: must be >= 3/],
        [["--slices", "4", "--size", "128"], /--size 128: the model generates 256x256 slices/],
        [["--slices", "4", "--coarse", TINY], /--coarse .*tiny\.json was not trained on whole slices/],
        [["--slices", "4", "--coarse", COARSE, "--refine-t0", "1000"], /--refine-t0: must be in \(0, 1000\)/],
      ] as const
    ) {
      const r = await runTaskFile("generate", [...BASE, ...args], dir);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    await assert.rejects(Deno.stat(`${dir}/out`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
