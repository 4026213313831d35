/**
 * blendct must work with no checkout: this serves the repository over http on 127.0.0.1 and runs a task
 * and a library import by URL in a fresh Deno process (no import map, shaders fetched over http).
 */
import assert from "node:assert/strict";
import { writeNpy } from "../lib/io/npy.ts";
import { makeVolume } from "../lib/volume.ts";

const root = new URL("../", import.meta.url);

function serveRepo(): { url: string; close: () => Promise<void> } {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    async (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname);
      if (path.includes("..")) return new Response("no", { status: 400 });
      try {
        const body = await Deno.readFile(new URL("." + path, root));
        // text/plain on purpose: a plain static file server is all a user needs
        return new Response(body, { headers: { "content-type": "text/plain" } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => (ac.abort(), server.finished) };
}

async function deno(args: string[], cwd: string) {
  const out = await new Deno.Command(Deno.execPath(), { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("a task and the library run imported by URL from a plain http server", async () => {
  const srv = serveRepo();
  const dir = await Deno.makeTempDir();
  try {
    // a volume to project, written by blendct itself (npy needs no sample download)
    const vol = new Float32Array(3 * 16 * 16).map((_, i) => (i % 16 > 4 && i % 16 < 11 ? 0.5 : 0));
    await Deno.writeFile(`${dir}/v.npy`, writeNpy(makeVolume(vol, [3, 16, 16])));
    const r = await deno(
      [
        "run",
        "-A",
        "--no-lock",
        "--no-config",
        `${srv.url}/tasks/simulate.ts`,
        "--input",
        "v.npy",
        "--views",
        "4",
        "--output",
        "s.nii.gz",
      ],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /3 slices x 4 views x 23 bins/);
    const stat = await Deno.stat(`${dir}/s.geometry.json`);
    assert.ok(stat.isFile);
    // the sparse engine's kernels (wasm) are fetched over http like the shaders
    const script = `import { sparseView, GpuContext, Projector, createProjector } from "${srv.url}/mod.ts";
const gpu = await GpuContext.create();
const A = await Projector.create(gpu, sparseView(2, { imageSize: 4 }), { Z: 1, H: 4, W: 4 });
const S = await createProjector(gpu, sparseView(2, { imageSize: 4 }), { Z: 1, H: 4, W: 4 }, { engine: "sparse" });
const a = await A.project(new Float32Array(16).fill(1)), s = await S.project(new Float32Array(16).fill(1));
console.log(a.length, S.engine, Math.max(...a.map((v, i) => Math.abs(v - s[i]))) < 1e-5);
gpu.dispose();`;
    await Deno.writeTextFile(`${dir}/use.ts`, script);
    const r2 = await deno(["run", "-A", "--no-lock", "--no-config", "use.ts"], dir);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(r2.stdout.trim(), "12 sparse true");
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
