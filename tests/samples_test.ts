/**
 * Tests of `lib/io/samples.ts`: the tar reader on hand-built archives, the failure messages (offline,
 * wrong sha256, missing package), and the real samples. The vtk.js tarball (27 MB) is downloaded once into
 * the default cache when it is not there yet; without network those tests print why and skip.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { UserError } from "../lib/errors.ts";
import { loadSample, readTarEntries, SAMPLES } from "../lib/io/samples.ts";

// --- a minimal tar writer, only for building test archives -------------------------------------------------

function tarHeader(name: string, size: number, type: string, prefix = ""): Uint8Array {
  const h = new Uint8Array(512);
  const put = (offset: number, text: string) => h.set(new TextEncoder().encode(text), offset);
  put(0, name);
  put(100, "0000644\0");
  put(108, "0000000\0");
  put(116, "0000000\0");
  put(124, size.toString(8).padStart(11, "0") + "\0");
  put(136, "00000000000\0");
  put(156, type);
  put(257, "ustar\0");
  put(263, "00");
  put(345, prefix);
  h.fill(32, 148, 156);
  const sum = h.reduce((a, b) => a + b, 0);
  put(148, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

function tarEntry(name: string, content: Uint8Array, type = "0", prefix = ""): Uint8Array[] {
  const padded = new Uint8Array(Math.ceil(content.length / 512) * 512);
  padded.set(content);
  return [tarHeader(name, content.length, type, prefix), padded];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((offset, p) => (out.set(p, offset), offset + p.length), 0);
  return out;
}

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("tar: plain, ustar-prefixed, GNU long-name and pax-path entries; filtering; end blocks", () => {
  const longName = "package/" + "d".repeat(120) + "/file.txt";
  const paxRecord = (key: string, value: string) => {
    const body = ` ${key}=${value}\n`;
    // The length counts its own digits, so settle it by iterating (two rounds at most).
    let length = body.length + 1;
    while (String(length).length + body.length !== length) length = String(length).length + body.length;
    return `${length}${body}`;
  };
  const paxPath = "package/" + "p".repeat(110) + "/pax.txt";
  const tar = concat([
    ...tarEntry("package/a.txt", text("alpha")),
    ...tarEntry("package/dir/", new Uint8Array(0), "5"),
    ...tarEntry("b.bin", new Uint8Array(700).fill(9), "0", "package/deep/er"),
    ...tarEntry("././@LongLink", text(longName + "\0"), "L"),
    ...tarEntry(longName.slice(0, 99), text("long")),
    ...tarEntry("PaxHeader", text(paxRecord("path", paxPath)), "x"),
    ...tarEntry("truncated-name", text("pax")),
    new Uint8Array(1024),
    ...tarEntry("after-end.txt", text("never read")),
  ]);
  const all = readTarEntries(tar);
  assert.deepEqual([...all.keys()], ["package/a.txt", "package/deep/er/b.bin", longName, paxPath]);
  assert.equal(new TextDecoder().decode(all.get("package/a.txt")), "alpha");
  assert.equal(all.get("package/deep/er/b.bin")?.length, 700);
  assert.equal(new TextDecoder().decode(all.get(paxPath)), "pax");
  const some = readTarEntries(tar, (p) => p.endsWith(".bin"));
  assert.deepEqual([...some.keys()], ["package/deep/er/b.bin"]);

  const damaged = tar.slice();
  damaged[10] ^= 1;
  assert.throws(
    () => readTarEntries(damaged),
    (e) => e instanceof UserError && /bad header checksum/.test(e.message),
  );
});

Deno.test("samples: the SAMPLES table is consistent", () => {
  for (const [name, info] of Object.entries(SAMPLES)) {
    assert.equal(info.name, name);
    assert.match(info.sha256, /^[0-9a-f]{64}$/);
    assert.equal(info.shape.length, 3);
    assert.ok(info.spacing.every((s) => s > 0));
    assert.ok(info.licence && info.anatomy && info.source && info.values);
  }
  assert.deepEqual(SAMPLES.lidc.shape, [133, 256, 256]);
  assert.deepEqual(SAMPLES.headsq.shape, [93, 64, 64]);
  assert.deepEqual(SAMPLES.stent.shape, [256, 128, 128]);
});

// --- failures that need no network ---------------------------------------------------------------------------

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "blendct-samples-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function rejectsUser(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"));
    return;
  }
  assert.fail(`expected a UserError matching ${pattern}`);
}

Deno.test("samples: offline, a wrong tarball and a missing package are clear UserErrors", async () => {
  await withTempDir(async (dir) => {
    // Port 9 (discard) on localhost refuses connections: the same failure a machine without network sees.
    await rejectsUser(
      loadSample("lidc", { cacheDir: dir, url: "http://127.0.0.1:9/vtk.js-6.2.5.tgz" }),
      /cannot download http:\/\/127\.0\.0\.1:9\/vtk\.js-6\.2\.5\.tgz .*offline\?.*place it at .*vtk\.js-6\.2\.5\.tgz$/,
    );
    await Deno.writeTextFile(join(dir, "fake.tgz"), "not the vtk.js tarball");
    await rejectsUser(
      loadSample("headsq", { cacheDir: dir, path: join(dir, "fake.tgz") }),
      /fake\.tgz: sha256 is [0-9a-f]{64}, expected 0112f2ece2a4.*delete it and retry/,
    );
    await rejectsUser(
      loadSample("stent", { path: join(dir, "stent.npz") }),
      /stent\.npz not found; install Debian's python3-imageio/,
    );
    await Deno.writeFile(join(dir, "stent.npz"), new Uint8Array(100));
    await rejectsUser(
      loadSample("stent", { path: join(dir, "stent.npz") }),
      /sha256 is .*, expected 60a83d22/,
    );
    const entries = await Array.fromAsync(Deno.readDir(dir));
    assert.deepEqual(
      entries.map((e) => e.name).sort(),
      ["fake.tgz", "stent.npz"],
      "no partial downloads left",
    );
  });
});

// --- the real samples -----------------------------------------------------------------------------------------

function defaultCache(): string {
  return Deno.env.get("BLENDCT_CACHE") ?? join(Deno.env.get("HOME") ?? ".", ".cache", "blendct");
}

/** Why the vtk.js samples cannot be tested here (no npm resolution reaches the package), or null. */
async function vtkUnavailable(): Promise<string | null> {
  try {
    await import("npm:vtk.js@6.2.5/package.json", { with: { type: "json" } });
    return null;
  } catch (e) {
    return `npm:vtk.js@6.2.5 unreachable through Deno's npm resolution (${
      (e as Error).message.split("\n")[0]
    })`;
  }
}

/** The vtk.js tarball for the tarball route's tests: cached, or packed by npm from its configured registry. */
async function vtkTarball(): Promise<string | null> {
  const dir = join(defaultCache(), "vtk");
  const path = join(dir, "vtk.js-6.2.5.tgz");
  if (await Deno.stat(path).catch(() => null)) return path;
  await Deno.mkdir(dir, { recursive: true });
  try {
    const out = await new Deno.Command("npm", {
      args: ["pack", "vtk.js@6.2.5", "--pack-destination", dir],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success ? path : null;
  } catch {
    return null;
  }
}

const stats = (data: Float32Array, scale = 1) => {
  let sum = 0, min = Infinity, max = -Infinity;
  for (const v of data) {
    sum += Math.round(v * scale);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { sum, min, max };
};

Deno.test("samples: lidc and headsq load from vtk.js@6.2.5 with the right shape, geometry and values", async () => {
  const reason = await vtkUnavailable();
  if (reason) {
    console.log(`skipped: ${reason}`);
    return;
  }
  const lidc = await loadSample("lidc");
  assert.deepEqual([lidc.shape, lidc.spacing, lidc.unit], [
    [133, 256, 256],
    [2.5, 1.40625, 1.40625],
    "HU",
  ]);
  assert.deepEqual(lidc.affine, [[1.40625, 0, 0, 0], [0, 1.40625, 0, 0], [0, 0, 2.5, 0], [0, 0, 0, 1]]);
  // Checksums of the raw arrays, computed independently with numpy.
  // back to the raw bytes: 0 is air (-1000 HU), else HU = -160 + 400 raw / 255
  const bytes = lidc.data.map((v) => (v === -1000 ? 0 : ((v + 160) / 400)));
  assert.deepEqual(stats(bytes, 255), { sum: 61489178, min: 0, max: 1 });

  const head = await loadSample("headsq");
  assert.deepEqual([head.shape, head.spacing], [[93, 64, 64], [1.5, 3.2, 3.2]]);
  // stored as HU + 1024 (air 0): read as HU, so the raw sum less 1024 per voxel (93 x 64 x 64)
  assert.deepEqual(stats(head.data), { sum: 193392317 - 1024 * 93 * 64 * 64, min: -1024, max: 2902 });
  assert.equal(head.unit, "HU");
  assert.equal(head.data[(46 * 64 + 32) * 64 + 32], 669 - 1024);
  // index.json's direction turns i toward (0.866, 0.5, 0) and j toward (-0.5, 0.866, 0).
  const a = head.affine;
  assert.deepEqual([a[0][0], a[1][0], a[0][1], a[1][1], a[2][2]].map((v) => +v.toFixed(4)), [
    2.7712,
    1.6,
    -1.6,
    2.7712,
    1.5,
  ]);
});

Deno.test("samples: extraction into a fresh cache, reuse without the tarball, repair of a damaged file", async () => {
  const tarball = await vtkTarball();
  if (!tarball) {
    console.log("skipped: no vtk.js tarball (npm pack vtk.js@6.2.5 failed: no npm or no registry)");
    return;
  }
  await withTempDir(async (dir) => {
    const first = await loadSample("headsq", { cacheDir: dir, path: tarball });
    // Both vtk.js samples were cached in that one pass; neither needs the tarball again.
    const missing = join(dir, "no-such.tgz");
    const again = await loadSample("headsq", { cacheDir: dir, path: missing });
    assert.deepEqual(again.data, first.data);
    assert.deepEqual((await loadSample("lidc", { cacheDir: dir, path: missing })).shape, [133, 256, 256]);

    const data = join(dir, "vtk", SAMPLES.headsq.path);
    await Deno.writeFile(data, new Uint8Array(10));
    await rejectsUser(loadSample("headsq", { cacheDir: dir, path: missing }), /no-such\.tgz not found/);
    const repaired = await loadSample("headsq", { cacheDir: dir, path: tarball });
    assert.deepEqual(repaired.data, first.data);
  });
});

Deno.test("samples: stent loads from Debian's python3-imageio", async () => {
  if (!(await Deno.stat(SAMPLES.stent.path).catch(() => null))) {
    console.log(`skipped: ${SAMPLES.stent.path} is absent (apt-get install python3-imageio)`);
    return;
  }
  const stent = await loadSample("stent");
  assert.deepEqual([stent.shape, stent.spacing, stent.unit], [[256, 128, 128], [1, 1, 1], "HU"]);
  assert.deepEqual(stats(stent.data), { sum: 148470906, min: 0, max: 2000 });
});
