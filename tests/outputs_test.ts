/**
 * Outputs never collide, never replace what blendct did not write without --force, never go through a
 * link, and a --force rerun leaves no stale sidecar (issue 25's output cases, end to end).
 */
import assert from "node:assert/strict";
import { writeNpy } from "../lib/io/npy.ts";
import { makeVolume } from "../lib/volume.ts";
import { sheppLogan3d } from "../lib/ct/phantom.ts";
import { claimOutputs, sidecarsOf } from "../lib/report/sidecars.ts";
import { runTaskFile } from "./helpers.ts";

async function setup(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "blendct-out-" });
  const v = sheppLogan3d([3, 64, 64]);
  await Deno.writeFile(`${dir}/p.npy`, writeNpy(makeVolume(v.data, [3, 64, 64])));
  return dir;
}
const TV = ["--input", "p.npy", "--unit", "image", "--method", "tv", "--iterations", "5", "--views", "8"];
const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
const oneLine = (r: { code: number; stderr: string }, re: RegExp) => {
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, re);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
};

Deno.test("two runs with different --output in one folder keep their own sidecars", async () => {
  const dir = await setup();
  try {
    await Deno.mkdir(`${dir}/d`);
    for (const name of ["a", "b"]) {
      const r = await runTaskFile("reconstruct", [...TV, "--output", `d/${name}.nii.gz`], dir);
      assert.equal(r.code, 0, r.stderr);
    }
    for (const name of ["a", "b"]) {
      const m = JSON.parse(await Deno.readTextFile(`${dir}/d/${name}.manifest.json`));
      assert.ok(m.outputs.every((p: string) => p.startsWith(`d/${name}.`)), m.outputs.join());
      assert.ok(await exists(`${dir}/d/${name}.metrics.json`));
    }
    // a third run onto a's output is refused, naming a file that exists
    const again = await runTaskFile("reconstruct", [...TV, "--output", "d/a.nii.gz"], dir);
    oneLine(again, /d\/a\.nii\.gz exists from an earlier run: pass --force/);
    // --output and --out-dir that disagree are refused: the sidecars would not be where the manifest says
    oneLine(
      await runTaskFile("reconstruct", [...TV, "--output", "d/c.nii.gz", "--out-dir", "e"], dir),
      /--output d\/c\.nii\.gz is not in --out-dir e/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file blendct did not write, a link, a device and a file as --out-dir are refused", async () => {
  const dir = await setup();
  try {
    await Deno.writeTextFile(`${dir}/mine.nii.gz`, "a user's file");
    oneLine(
      await runTaskFile("reconstruct", [...TV, "--output", "mine.nii.gz"], dir),
      /mine\.nii\.gz exists \(not written by blendct\): pass --force/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/mine.nii.gz`), "a user's file");
    await Deno.writeTextFile(`${dir}/target.txt`, "keep");
    await Deno.symlink(`${dir}/target.txt`, `${dir}/link.nii.gz`);
    oneLine(
      await runTaskFile("reconstruct", [...TV, "--output", "link.nii.gz", "--force"], dir),
      /link\.nii\.gz is a symbolic link/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/target.txt`), "keep");
    if (await exists("/dev/null")) {
      await Deno.symlink("/dev/null", `${dir}/null.nii.gz`).catch(() => {});
      oneLine(
        await runTaskFile("reconstruct", [...TV, "--output", "null.nii.gz", "--force"], dir),
        /symbolic link|not a regular file/,
      );
    }
    await Deno.writeTextFile(`${dir}/afile`, "x");
    oneLine(await runTaskFile("reconstruct", [...TV, "--out-dir", "afile"], dir), /afile.*a file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a --force rerun without ground truth removes the earlier run's metrics", async () => {
  const dir = await setup();
  try {
    const sim = await runTaskFile("simulate", [
      "--input",
      "p.npy",
      "--unit",
      "image",
      "--views",
      "8",
      "--output",
      "s.nii.gz",
    ], dir);
    assert.equal(sim.code, 0, sim.stderr);
    const first = await runTaskFile("reconstruct", [...TV, "--output", "r.nii.gz"], dir);
    assert.equal(first.code, 0, first.stderr);
    assert.ok(await exists(`${dir}/r.metrics.json`));
    const second = await runTaskFile(
      "reconstruct",
      ["--sinogram", "s.nii.gz", "--method", "tv", "--iterations", "5", "--output", "r.nii.gz", "--force"],
      dir,
    );
    assert.equal(second.code, 0, second.stderr);
    assert.ok(!(await exists(`${dir}/r.metrics.json`)), "the earlier run's metrics are gone");
    assert.ok(await exists(`${dir}/r.manifest.json`));
    // simulate may not write over its own --geometry (the sidecar of its output)
    const own = await runTaskFile(
      "simulate",
      ["--input", "p.npy", "--unit", "image", "--geometry", "s.geometry.json", "--output", "s.nii.gz"],
      dir,
    );
    oneLine(own, /s\.geometry\.json is the input/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the run lock: a live run's lock refuses, a dead run's lock is taken over, and it is released", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/x.nii.gz`;
    const claim = await claimOutputs(out, {});
    await assert.rejects(claimOutputs(out, {}), /another run \(process \d+\) is writing/);
    await claim.release();
    assert.ok(!(await exists(sidecarsOf(out).lock)));
    await Deno.writeTextFile(sidecarsOf(out).lock, "999999999\n");
    const taken = await claimOutputs(out, {});
    await taken.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task web's server: only the page's files, this host only, 400 on a malformed path", async () => {
  const { serveFile } = await import("../tasks/web.ts");
  const get = (path: string, host = "127.0.0.1:8123") =>
    serveFile(new Request(`http://127.0.0.1:8123${path}`, { headers: { host } }), 8123);
  assert.equal((await get("/web/index.html")).status, 200);
  assert.equal((await get("/models/blendct-prior.json")).status, 200);
  for (
    const p of [
      "/.git/config",
      "/deno.json",
      "/models/blendct-prior.ckpt.pt",
      "/lib/jobs/reconstruct.ts",
      "/web/../deno.json",
    ]
  ) {
    const r = await get(p);
    assert.equal(r.status, 404, p);
    await r.body?.cancel();
  }
  const rebind = await get("/web/index.html", "evil.example:8123");
  assert.equal(rebind.status, 421);
  assert.equal((await get("/web/%E0%A4%A.html")).status, 400);
});

Deno.test("deno task web on a busy port: one line, exit 2, before building anything", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (busy.addr as Deno.NetAddr).port;
    const dir = await Deno.makeTempDir();
    const r = await runTaskFile("web", ["--port", String(port)], dir);
    await Deno.remove(dir, { recursive: true });
    oneLine(r, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use`));
  } finally {
    busy.close();
  }
});

Deno.test("a full disk is one line naming it, and nothing partial is left", async () => {
  const dir = await setup();
  const small = `${dir}/small`;
  await Deno.mkdir(small);
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=8k", "tmpfs", small],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => null);
  try {
    if (!mount?.success) {
      console.log("skipped: a small tmpfs cannot be mounted here (needs root)");
      return;
    }
    const r = await runTaskFile("reconstruct", [...TV, "--output", "small/r.nii.gz"], dir);
    assert.equal(r.code, 2, r.stderr);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0], /cannot write small\/r\.nii\.gz: the disk is full/);
    const left = [...Deno.readDirSync(small)].map((e) => e.name).filter((n) => !n.endsWith(".lock"));
    assert.deepEqual(left, [], `left behind: ${left}`);
  } finally {
    if (mount?.success) await new Deno.Command("umount", { args: [small] }).output();
    await Deno.remove(dir, { recursive: true });
  }
});
