import assert from "node:assert/strict";

/** JSR refuses versions over 20 MB: the package carries the default prior, the other models stay in git. */
Deno.test("deno publish --dry-run: under JSR's 20 MB, with the default prior and the PyTorch worker", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: new URL("../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) {
    console.log(`skipped: deno publish --dry-run failed here (${text.trim().split("\n").pop()})`);
    return;
  }
  const unit: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6 };
  let bytes = 0;
  const files: string[] = [];
  for (const m of text.matchAll(/file:\/\/\S+\/([^/\s]+) \(([\d.]+)(B|KB|MB)\)/g)) {
    files.push(m[1]);
    bytes += Number(m[2]) * unit[m[3]];
  }
  assert.ok(files.length > 50, `${files.length} files listed`);
  assert.ok(bytes < 20e6, `${(bytes / 1e6).toFixed(1)} MB`);
  for (
    const f of ["blendct-prior.onnx", "blendct-prior.json", "worker.py", "model.py", "adapt.py", "spmm.wasm"]
  ) {
    assert.ok(files.includes(f), `${f} is published`);
  }
  assert.ok(!files.some((f) => f.endsWith(".ckpt.pt")), "no checkpoints");
});
