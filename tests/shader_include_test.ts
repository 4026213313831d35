import assert from "node:assert/strict";
import { expandIncludes, loadShader } from "../lib/gpu/context.ts";

const files: Record<string, string> = {
  a: "fn a() {}\n// #include b",
  b: "fn b() {}",
  c: "// #include d",
  d: "// #include c",
};
const read = (n: string) => {
  if (!(n in files)) return Promise.reject(new Error(`no file ${n}`));
  return Promise.resolve(files[n]);
};

Deno.test("expandIncludes pastes nested files once each, in place, and leaves other lines alone", async () => {
  const out = await expandIncludes("x\n// #include a\n// #include b\ny\n//#include a", read);
  assert.equal(out, "x\nfn a() {}\nfn b() {}\ny\n//#include a");
});

Deno.test("expandIncludes names a cycle", async () => {
  await assert.rejects(() => expandIncludes("// #include c", read), /cycle: c → d → c/);
});

Deno.test("both projector modules get the one Joseph march, with no include line left", async () => {
  for (const name of ["projector", "fan"]) {
    const code = await loadShader(name);
    assert.equal(code.split("fn joseph_march(").length, 2, name);
    assert.ok(!/^\/\/ #include/m.test(code), name);
  }
});
