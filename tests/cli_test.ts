/** Bad flags across the tasks: one line in blendct's words (never zod's raw text), exit code 2. */
import assert from "node:assert/strict";
import { runTaskFile } from "./helpers.ts";

const CASES: [string, string[], RegExp][] = [
  ["evaluate", ["--steps", "0"], /^error: --steps: must be at least 1 \(got "0"\)$/],
  ["evaluate", ["--angle-range", "0"], /^error: --angle-range: must be at least 1/],
  ["evaluate", ["--backend", "cuda"], /^error: --backend: must be one of auto, webgpu, wasm, native/],
  [
    "evaluate",
    ["--methods", "blend++", "--model", new URL("../models/blendct-prior2d.json", import.meta.url).pathname],
    /^error: --model .*blendct-prior2d\.json: blendct-prior2d is a 2D \(1-slice\) prior; dds, tpdm, blend and blend\+\+ need a 3-slice card$/,
  ],
  ["reconstruct", ["--steps", "0"], /^error: --steps: must be at least 1/],
  ["reconstruct", ["--samples", "0"], /^error: --samples: /],
  ["reconstruct", ["--task", "sr"], /^error: --task: must be ct or zsr/],
  [
    "simulate",
    ["--input", "x.nii", "--output", "y.nii", "--views", "0"],
    /^error: --views: must be at least 1/,
  ],
  ["generate", ["--steps", "5000"], /^error: --steps: must be <= 1000/],
  // deno task export: checked in Deno before any Python starts
  ["train", ["export", "--eval-on", "all"], /^error: --eval-on: must be run or held-out \(got "all"\)$/],
  ["train", ["export", "--eval-size", "8"], /^error: --eval-size: must be at least 16/],
];

Deno.test("bad flags: one line naming the flag in blendct's words, exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "blendct-cli-" });
  try {
    for (const [task, args, message] of CASES) {
      const r = await runTaskFile(task, args, dir);
      assert.equal(r.code, 2, `${task} ${args.join(" ")}: ${r.stderr}`);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], message);
      assert.doesNotMatch(lines[0], /Too small|Too big|Invalid input|expected number/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the README's method defaults and reconstruct --help are rendered from the one table", async () => {
  const { defaultsTable, METHOD_DEFAULTS } = await import("../lib/defaults.ts");
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  for (const line of defaultsTable()) assert.ok(readme.includes(`- ${line}`), `README lacks "- ${line}"`);
  const help = await runTaskFile("reconstruct", ["--help"], ".");
  assert.equal(help.code, 0);
  assert.match(help.stdout, new RegExp(`--tv-lambda .*default: ${METHOD_DEFAULTS.tv.lambda}\\)`));
  assert.match(
    help.stdout,
    new RegExp(
      `cgls / tv iterations \\(default: ${METHOD_DEFAULTS.cgls.iterations} / ${METHOD_DEFAULTS.tv.iterations}\\)`,
    ),
  );
});

Deno.test("from 16 views: a longer TV finish, and a notice over a full arc (not sparse or limited-angle runs)", async () => {
  const { DENSE_VIEWS, denseViewsNotice, finishIterations, METHOD_DEFAULTS } = await import(
    "../lib/defaults.ts"
  );
  // the finish runs longer from the same view count on
  assert.equal(finishIterations(DENSE_VIEWS - 1), METHOD_DEFAULTS.finish.iterations);
  assert.equal(finishIterations(DENSE_VIEWS), METHOD_DEFAULTS.finish.denseIterations);
  const arc = (n: number, deg: number) => Array.from({ length: n }, (_, i) => (i * deg * Math.PI) / 180 / n);
  assert.equal(denseViewsNotice("blend++", arc(DENSE_VIEWS - 1, 180)), null);
  assert.match(
    denseViewsNotice("blend++", arc(DENSE_VIEWS, 180)) ?? "",
    /blend\+\+ at 16 views.*--method tv/,
  );
  assert.match(denseViewsNotice("blend", arc(60, 360)) ?? "", /^blend at 60 views/);
  // 90 views over 90°: limited angle, where blend++ leads TV
  assert.equal(denseViewsNotice("blend++", arc(90, 90)), null);
  assert.equal(denseViewsNotice("tv", arc(60, 180)), null);
});

Deno.test("export --help is blendct's help, every flag explained, without Python", async () => {
  const help = await runTaskFile("train", ["export", "--help"], ".", { PATH: "/nonexistent" });
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: deno task export /);
  for (
    const flag of [
      "ckpt",
      "out",
      "name",
      "force",
      "ckpt-copy",
      "volumes",
      "eval-on",
      "eval-count",
      "eval-size",
    ]
  ) {
    assert.match(help.stdout, new RegExp(`\\n  --${flag}\\b.* [A-Z(a-z]`), `--${flag} has no help`);
  }
  assert.doesNotMatch(help.stdout, /argparse|show this help message/);
});

Deno.test("tpdm refuses a prior that has not seen coronal triplets, naming the fix", async () => {
  const dir = await Deno.makeTempDir({ prefix: "blendct-cli-" });
  try {
    const tiny = new URL("../fixtures/tiny-prior/tiny.json", import.meta.url).pathname;
    const r = await runTaskFile("reconstruct", ["--method", "tpdm", "--model", tiny, "--views", "8"], dir);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr.trim(),
      /^error: --method tpdm needs a prior trained on coronal triplets too; .*--axes all/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a 3-slice method refuses the 2D prior, naming the methods that use it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "blendct-cli-" });
  try {
    const card = new URL("../models/blendct-prior2d.json", import.meta.url).pathname;
    const r = await runTaskFile("reconstruct", ["--method", "blend++", "--model", card, "--views", "8"], dir);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr.trim(),
      /^error: --method blend\+\+ needs the 3-slice prior; .*only dds2d and mbir use/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("each flag is declared once: help, default and schema in one entry; shared flags shared", async () => {
  const dir = new URL("../tasks/", import.meta.url);
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.endsWith(".ts") || e.name === "_cli.ts") continue;
    const code = await Deno.readTextFile(new URL(e.name, dir));
    // a task's zod object is made from its flags (flagSchema), never written beside them
    assert.doesNotMatch(code, /z\.object\(/, `${e.name} declares a schema apart from its flags`);
    // the flags every prior-using task takes come from the one shared declaration
    for (const shared of ["seed", "precision"]) {
      const own = new RegExp(`\\n  ${shared}: \\{\\s*type:`);
      assert.doesNotMatch(code, own, `${e.name} declares --${shared} again (use tasks/_shared_flags.ts)`);
    }
  }
  const { FLAGS } = await import("../tasks/_reconstruct_flags.ts");
  const { SEED_FLAG } = await import("../tasks/_shared_flags.ts");
  assert.equal(FLAGS.seed, SEED_FLAG);
  for (const [name, f] of Object.entries(FLAGS as Record<string, { help: string; schema: unknown }>)) {
    assert.ok(f.help.length > 3 && f.schema, `--${name}`);
  }
});
