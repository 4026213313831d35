import assert from "node:assert/strict";
import { gzipSync } from "../lib/deps.ts";
import { crc32 } from "../lib/io/crc32.ts";
import { gunzipChecked } from "../lib/io/gzip.ts";
import { readNifti, writeNifti } from "../lib/io/nifti.ts";
import { makeVolume } from "../lib/volume.ts";

const volume = makeVolume(
  Float32Array.from({ length: 6 * 16 * 16 }, (_, i) => ((i * 37) % 400) - 200),
  [6, 16, 16],
  { unit: "HU" },
);
const rejects = (f: () => unknown, re: RegExp) =>
  assert.throws(f, (e: Error) => e.name === "UserError" && re.test(e.message) && !e.message.includes("\n"));

Deno.test("crc32 matches the standard check value and continues across chunks", () => {
  const b = new TextEncoder().encode("123456789");
  assert.equal(crc32(b), 0xcbf43926);
  assert.equal(crc32(b.subarray(5), crc32(b.subarray(0, 5))), 0xcbf43926);
  assert.equal(crc32(new Uint8Array()), 0);
});

Deno.test("a flipped bit in a .nii.gz's deflate data or trailer is refused, never read into other voxels", () => {
  const gz = writeNifti(volume);
  assert.deepEqual(readNifti(gz).data, volume.data);
  let refused = 0;
  // every 7th byte of the body and each trailer byte: a flip is either a broken stream or a CRC mismatch
  for (let i = 10; i < gz.length; i += i < gz.length - 8 ? 7 : 1) {
    const bad = gz.slice();
    bad[i] ^= 0x10;
    let v;
    try {
      v = readNifti(bad);
    } catch (e) {
      assert.equal((e as Error).name, "UserError", `byte ${i}: ${(e as Error).message}`);
      refused++;
      continue;
    }
    // a bit deflate does not use (an unused code length, padding) leaves the data as it was
    assert.deepEqual(v.data, volume.data, `flip at byte ${i} was read into different voxels`);
  }
  assert.ok(refused > 20);
});

Deno.test("a size trailer that overstates or understates the data is refused (no zero-padded slices)", () => {
  const gz = writeNifti(volume);
  for (const delta of [+1024, -4]) {
    const bad = gz.slice();
    const view = new DataView(bad.buffer);
    view.setUint32(bad.length - 4, view.getUint32(bad.length - 4, true) + delta, true);
    rejects(
      () => readNifti(bad, { name: "t.nii.gz" }),
      /t\.nii\.gz: the gzip trailer says \d+ bytes but the data inflate to/,
    );
  }
});

Deno.test("a header with no data is truncated, not an all-zero volume", () => {
  const raw = writeNifti(volume, { gzip: false });
  rejects(
    () => readNifti(gzipSync(raw.slice(0, 352)), { name: "h.nii.gz" }),
    /h\.nii\.gz: file is truncated/,
  );
});

Deno.test("a small file that inflates far past its header's promise stops early; a promise over budget is refused first", () => {
  const raw = writeNifti(volume, { gzip: false });
  // the header promises 6x16x16 float32 (6 KB); the stream carries 64 MB of zeros after it
  const bomb = new Uint8Array(raw.length + 64 * 2 ** 20);
  bomb.set(raw);
  const gz = gzipSync(bomb, { level: 9 });
  assert.ok(gz.length < 200_000, `the bomb is small (${gz.length} B)`);
  const t0 = performance.now();
  rejects(
    () => readNifti(gz, { name: "b.nii.gz" }),
    /inflates to more than the \d+ bytes its header promises/,
  );
  assert.ok(performance.now() - t0 < 5000, "refused early, not after inflating everything");
  // a header promising 20000 x 20000 x 2000 int16 voxels (1.6 TB): refused before inflating the data
  const huge = raw.slice();
  const v = new DataView(huge.buffer);
  v.setInt16(42, 20000, true);
  v.setInt16(44, 20000, true);
  v.setInt16(46, 2000, true);
  rejects(
    () => gunzipChecked(gzipSync(huge), { name: "huge.nii.gz", promise: () => 1.6e12, maxBytes: 2 ** 30 }),
    /promises 1490\.1 GiB of data, more than this machine's memory budget of 1\.0 GiB/,
  );
  rejects(
    () => readNifti(gzipSync(huge), { name: "huge.nii.gz" }),
    /huge\.nii\.gz: its header promises .* memory budget/,
  );
});

Deno.test("multi-member gzip (concatenated members, as bgzip writes) is read and each member checked", () => {
  const raw = writeNifti(volume, { gzip: false });
  const cut = 1000;
  const a = gzipSync(raw.slice(0, cut)), b = gzipSync(raw.slice(cut));
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  assert.deepEqual(readNifti(both).data, volume.data);
  const bad = both.slice();
  bad[a.length - 6] ^= 1; // the first member's CRC
  rejects(() => readNifti(bad, { name: "m.nii.gz" }), /CRC-32 does not match/);
});
