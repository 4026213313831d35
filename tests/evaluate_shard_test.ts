/** `evaluate --manifest --shard i/n` and `--merge`: two shards merged give the unsharded table (timings aside). */
import assert from "node:assert/strict";
import { writeVolumeFile } from "../lib/io/files.ts";
import { makeVolume } from "../lib/volume.ts";
import { sheppLogan3d } from "../lib/ct/phantom.ts";
import { runTaskFile } from "./helpers.ts";

Deno.test("evaluate: 2 shards merged equal one unsharded run; bad shard sets are refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "blendct-shard-" });
  try {
    const v = sheppLogan3d([6, 256, 256]);
    for (const [name, scale] of [["a", 1], ["b", 0.8], ["c", 0.6]] as const) {
      const data = v.data.map((x) => x * scale);
      await writeVolumeFile(`${dir}/${name}.nii.gz`, makeVolume(data, [6, 256, 256], { unit: "image" }));
    }
    await Deno.writeTextFile(
      `${dir}/cases.json`,
      JSON.stringify({ cases: ["a.nii.gz@0:4", "b.nii.gz@1:5", "c.nii.gz"] }),
    );
    const common = ["--manifest", "cases.json", "--methods", "fbp,cgls", "--views", "4,6"];
    const whole = await runTaskFile("evaluate", [...common, "--out", "whole"], dir);
    assert.equal(whole.code, 0, whole.stderr);
    for (const i of [0, 1]) {
      const r = await runTaskFile("evaluate", [...common, "--shard", `${i}/2`, "--out", `part${i}`], dir);
      assert.equal(r.code, 0, r.stderr);
    }
    const p0 = JSON.parse(await Deno.readTextFile(`${dir}/part0/results.json`));
    assert.deepEqual([...new Set(p0.map((r: { case: string }) => r.case))], ["a.nii.gz@0:4", "c.nii.gz"]);
    const merged = await runTaskFile("evaluate", ["--merge", "part1,part0", "--out", "table"], dir);
    assert.equal(merged.code, 0, merged.stderr);
    const strip = (rows: { seconds?: number }[]) => rows.map(({ seconds: _s, ...rest }) => rest);
    const a = JSON.parse(await Deno.readTextFile(`${dir}/whole/results.json`));
    const b = JSON.parse(await Deno.readTextFile(`${dir}/table/results.json`));
    assert.equal(a.length, 12);
    assert.deepEqual(strip(b), strip(a));
    // PSNR against views, one plot per case, the same from the merge as from the whole run
    for (const c of ["a_nii_gz_0_4", "b_nii_gz_1_5", "c_nii_gz"]) {
      const name = `${c}_psnr_vs_views.png`;
      assert.deepEqual(
        await Deno.readFile(`${dir}/table/${name}`),
        await Deno.readFile(`${dir}/whole/${name}`),
      );
    }
    // report.md: the command, the table and every figure it links, side by side in the folder
    const report = await Deno.readTextFile(`${dir}/whole/report.md`);
    assert.match(
      report,
      /deno task evaluate --manifest cases\.json --methods fbp,cgls --views 4,6 --out whole/,
    );
    const links = [...report.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
    assert.ok(links.length >= 9, `${links.length} figures`); // 3 cases x (2 settings + 1 plot)
    for (const l of links) assert.ok((await Deno.stat(`${dir}/whole/${l}`)).size > 0, l);
    assert.match(await Deno.readTextFile(`${dir}/table/report.md`), /_psnr_vs_views\.png/);
    // two slice ranges of one volume get a picture each (named with the range), never one over the other
    const twice = await runTaskFile("evaluate", [
      "--cases",
      "a.nii.gz@0:3,a.nii.gz@2:5",
      "--methods",
      "fbp",
      "--views",
      "4",
      "--out",
      "twice",
    ], dir);
    assert.equal(twice.code, 0, twice.stderr);
    for (const f of ["a_nii_gz_0_3_4_views.png", "a_nii_gz_2_5_4_views.png"]) {
      assert.ok((await Deno.stat(`${dir}/twice/${f}`)).size > 0, f);
    }
    for (
      const [args, message] of [
        [["--merge", "part0", "--out", "t2"], /shards 0 given; a table of 2 shards needs 0,1 once each/],
        [["--merge", "part0,nowhere", "--out", "t3"], /nowhere\/shard\.json not found/],
        [[...common, "--shard", "2/2"], /--shard: must be i\/n with 0 <= i < n/],
        [["--merge", "part0,part1", "--views", "8"], /--views: does not apply with --merge/],
      ] as const
    ) {
      const r = await runTaskFile("evaluate", [...args], dir);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
