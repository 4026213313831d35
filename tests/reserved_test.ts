import assert from "node:assert/strict";

/**
 * Debian's invesalius-examples and jnifti-demos and elastix's 3DCT_lung_* are kept for independent
 * evaluation of blendct: no shipped model may have trained on them, and no manifest or fetch script may
 * name them as a source.
 */
const RESERVED = /invesalius|cranium\.inv3|jnifti|3dct_lung|elastix/i;

Deno.test("no shipped model card's data manifest names a reserved source", async () => {
  const dir = new URL("../models/", import.meta.url);
  let cards = 0;
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.endsWith(".json")) continue;
    const card = JSON.parse(await Deno.readTextFile(new URL(e.name, dir)));
    if (!card.sha256) continue; // not a model card
    cards++;
    // what the model trained and was validated on (a sentence saying what is reserved is not a source)
    const data = card.training?.data ?? {};
    const text = JSON.stringify({
      training: data.training,
      test: data.test,
      initialisedFrom: card.training?.initialisedFrom,
    });
    assert.ok(
      Array.isArray(data.training) || String(card.name).startsWith("fbpunet"),
      `${e.name} lists its data`,
    );
    assert.doesNotMatch(text, RESERVED, `${e.name} names a reserved source`);
  }
  assert.ok(cards >= 2, `${cards} cards checked`);
});

Deno.test("the real-CT fetch script fetches no reserved source", async () => {
  const code = await Deno.readTextFile(new URL("../train/real_ct.py", import.meta.url));
  // the docstring may say what is reserved; no code line may reach for it
  const lines = code.split("\n").filter((l) =>
    !/^\s*(#|\||Reserved|`)/.test(l) && !/kept for independent/.test(l)
  );
  const body = lines.join("\n").replace(/"""[\s\S]*?"""/, "");
  assert.doesNotMatch(body, RESERVED);
});
