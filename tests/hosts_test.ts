import assert from "node:assert/strict";

/** A registry's or archive's host written into code would bypass a user's mirror or proxy. */
Deno.test("no registry or archive host names in lib/, tasks/, train/ or web/", async () => {
  const root = new URL("../", import.meta.url);
  const hosts =
    /registry\.npmjs\.org|npmjs\.com|deb\.debian\.org|debian\.org\/debian|jsr\.io|deno\.land|esm\.sh|unpkg\.com|jsdelivr|pypi\.org|pythonhosted|github(usercontent)?\.com/i;
  const found: string[] = [];
  async function walk(dir: URL) {
    for await (const e of Deno.readDir(dir)) {
      const url = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
      if (e.isDirectory) {
        if (e.name !== "dist" && e.name !== "node_modules") await walk(url);
      } else if (/\.(ts|py|html|js|sh)$/.test(e.name)) {
        (await Deno.readTextFile(url)).split("\n").forEach((line, i) => {
          if (hosts.test(line)) {
            found.push(`${url.pathname.slice(root.pathname.length)}:${i + 1}: ${line.trim()}`);
          }
        });
      }
    }
  }
  for (const d of ["lib/", "tasks/", "train/", "web/"]) await walk(new URL(d, root));
  assert.deepEqual(found, []);
});
