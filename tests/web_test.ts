/**
 * The browser page in a real browser: headless Chromium (WebGPU on a software Vulkan adapter) opens the
 * page served by `deno task web`, reconstructs a small case, and its PSNR must equal the Deno task's on the
 * same case and seed within 0.1 dB; a screenshot is saved. Skips with a printed reason without Chromium.
 */
import assert from "node:assert/strict";
import { findChromium, launch } from "./cdp.ts";
import { writeVolumeFile } from "../lib/io/files.ts";
import { anatomicalPhantom } from "../lib/ct/phantom.ts";
import { makeVolume } from "../lib/volume.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const chromium = await findChromium();
if (!chromium) {
  console.log("skipping web_test: Chromium not found (apt-get install chromium mesa-vulkan-drivers)");
}

async function readLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  return text.split("\n")[0];
}

Deno.test({
  name: "the browser page reconstructs like the Deno task (PSNR within 0.1 dB) and reports in #result",
  ignore: !chromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const port = 8200 + Math.floor(Math.random() * 500);
    const server = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}tasks/web.ts`, "--port", String(port)],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const dir = await Deno.makeTempDir({ prefix: "blendct-web-" });
    let browser;
    try {
      const url = await readLine(server.stdout);
      assert.equal(url, `http://127.0.0.1:${port}/web/index.html`, "the URL comes first");
      // a small HU case, put where the page can fetch it (web/dist is generated, never committed)
      // at the prior's size (the command line refuses other sizes without --resample), three slices to stay quick
      const v = anatomicalPhantom([3, 256, 256], { anatomy: "head", seed: 4 });
      const small = makeVolume(v.data, v.shape, { spacing: [2, 0.75, 0.75], unit: "HU" });
      await Deno.mkdir(`${ROOT}web/dist`, { recursive: true });
      await writeVolumeFile(`${ROOT}web/dist/test-small.nii.gz`, small);
      await writeVolumeFile(`${dir}/small.nii.gz`, small);
      // wait for the build (the server answers once app.js exists)
      for (let i = 0; i < 120; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/web/dist/app.js`).catch(() => null);
        await r?.body?.cancel();
        if (r?.ok) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      browser = await launch(chromium!, port + 1000);
      // tv, and blend++ with a few steps (the page's default method: the prior on the browser's ORT back end)
      for (const [method, steps] of [["tv", 20], ["blend++", 2]] as const) {
        await browser.navigate(
          `${url}?method=${method}&views=8&steps=${steps}&seed=1&case=dist/test-small.nii.gz&run=1`,
        );
        let result = "", error = "";
        for (let i = 0; i < 600 && !result && !error; i++) {
          await new Promise((r) => setTimeout(r, 1000));
          result = String(await browser.evaluate("document.getElementById('result').textContent") ?? "");
          error = String(await browser.evaluate("document.getElementById('error').textContent") ?? "");
        }
        assert.equal(error, "", `${method}: the page reported: ${error}`);
        const page = JSON.parse(result);
        await Deno.writeFile(`${dir}/page.png`, await browser.screenshot());
        assert.ok((await Deno.stat(`${dir}/page.png`)).size > 10000, "screenshot saved");
        // the README's picture of the page is this screenshot: BLENDCT_SCREENSHOT=docs/web-page.png remakes it
        const keep = Deno.env.get("BLENDCT_SCREENSHOT");
        if (keep && method === "blend++") await Deno.copyFile(`${dir}/page.png`, keep);
        const args = method === "tv" ? [] : ["--steps", String(steps), "--seed", "1", "--backend", "native"];
        const deno = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            `${ROOT}tasks/reconstruct.ts`,
            "--input",
            "small.nii.gz",
            "--method",
            method,
            "--views",
            "8",
            "--output",
            `${method}.nii.gz`,
            ...args,
          ],
          cwd: dir,
          stdout: "null",
          stderr: "piped",
        }).output();
        assert.ok(deno.success, new TextDecoder().decode(deno.stderr));
        const m = JSON.parse(await Deno.readTextFile(`${dir}/${method}.metrics.json`));
        for (const p of ["axial", "coronal", "sagittal"]) {
          assert.ok(
            Math.abs(page.psnr[p] - m[method].psnr[p]) < 0.1,
            `${method} ${p}: page ${page.psnr[p]} vs Deno ${m[method].psnr[p]}`,
          );
        }
        assert.equal(page.method, method);
        assert.ok(page.seconds > 0 && typeof page.backend === "string");
      }
    } finally {
      await browser?.close();
      server.kill("SIGTERM");
      await server.status;
      await server.stdout.cancel().catch(() => {});
      await Deno.remove(`${ROOT}web/dist/test-small.nii.gz`).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});
