/**
 * Compressed DICOM: RLE Lossless and JPEG Lossless (process 14, every predictor, a point transform) decoded
 * by blendct, JPEG-LS and JPEG 2000 by the WebAssembly codecs, to the same values as the uncompressed
 * series. The compressed files are made here by DCMTK's and GDCM's own encoders (`dcmcrle`, `dcmcjpeg`,
 * `dcmcjpls`, `gdcmconv`), not by blendct; the test skips with a reason where they are absent.
 */
import assert from "node:assert/strict";
import { encodeDicom } from "./dicom_fixture.ts";
import { readDicomSeries, readDicomSeriesWithCodecs } from "../lib/io/dicom.ts";
import { CodecError, decodeRle } from "../lib/io/dicom_codecs.ts";

Deno.test("RLE: PackBits runs and literals across two byte planes (16-bit), in the standard's byte order", () => {
  const header = new Uint8Array(64), dv = new DataView(header.buffer);
  dv.setUint32(0, 2, true);
  const hi = [0xfd, 0x01, 0x80, 0x00, 0x02]; // repeat 0x01 4 times; no-op; 1 literal 0x02
  const lo = [0x04, 1, 2, 3, 4, 5]; // 5 literals
  dv.setUint32(4, 64, true);
  dv.setUint32(8, 64 + hi.length, true);
  const frame = new Uint8Array([...header, ...hi, ...lo]);
  assert.deepEqual(Array.from(decodeRle(frame, 5, 16)), [0x0101, 0x0102, 0x0103, 0x0104, 0x0205]);
  assert.throws(() => decodeRle(frame, 6, 16), CodecError);
  assert.throws(() => decodeRle(frame.subarray(0, 30), 5, 16), CodecError);
});

async function hasDcmtk(): Promise<boolean> {
  try {
    return (await new Deno.Command("dcmcjpeg", { args: ["--version"], stdout: "null", stderr: "null" })
      .output())
      .success;
  } catch {
    return false;
  }
}

/** A 3-slice signed 16-bit series, 37×53, with edges and noise (hard on predictors). */
function series(): { name: string; bytes: Uint8Array }[] {
  const rows = 37, columns = 53;
  let s = 99;
  return [0, 1, 2].map((z) => {
    const values = new Int16Array(rows * columns);
    for (let i = 0; i < values.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const x = i % columns, y = Math.floor(i / columns);
      const disk = (x - 26) ** 2 + (y - 18) ** 2 < 150 ? 1800 : -1000;
      values[i] = disk + ((s >>> 16) % 200) - 100 + 7 * z;
    }
    return {
      name: `s${z}.dcm`,
      bytes: encodeDicom({ rows, columns, position: [0, 0, 2.5 * z], values, intercept: 0, instance: z + 1 }),
    };
  });
}

Deno.test("RLE, JPEG lossless, JPEG-LS and JPEG 2000 series from DCMTK and GDCM decode to the uncompressed values", async (t) => {
  if (!(await hasDcmtk())) {
    console.log(
      "skipped: DCMTK not installed (apt-get install dcmtk) — its encoders make the compressed files",
    );
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "blendct-dcm-" });
  try {
    const plain = series();
    for (const f of plain) await Deno.writeFile(`${dir}/${f.name}`, f.bytes);
    const truth = readDicomSeries(plain);
    const encoders: [string, string, string[], number][] = [
      ["RLE", "dcmcrle", [], 0],
      ["JPEG lossless SV1", "dcmcjpeg", ["+e1"], 0],
      ...[1, 2, 3, 4, 5, 6, 7].map((sv) =>
        [`JPEG lossless predictor ${sv}`, "dcmcjpeg", ["+el", "+sv", `${sv}`], 0] as [
          string,
          string,
          string[],
          number,
        ]
      ),
      ["JPEG lossless, point transform 2", "dcmcjpeg", ["+e1", "+pt", "2"], 2],
    ];
    for (const [label, tool, args, pt] of encoders) {
      await t.step(label, async () => {
        const files = [];
        for (const f of plain) {
          const out = `${dir}/${label.replace(/\W+/g, "_")}_${f.name}`;
          const r = await new Deno.Command(tool, {
            args: [...args, `${dir}/${f.name}`, out],
            stderr: "piped",
          }).output();
          assert.ok(r.success, new TextDecoder().decode(r.stderr));
          files.push({ name: f.name, bytes: await Deno.readFile(out) });
        }
        const syntax = new TextDecoder().decode(files[0].bytes.subarray(0, 400));
        assert.match(
          syntax,
          tool === "dcmcrle" ? /1\.2\.840\.10008\.1\.2\.5/ : /1\.2\.840\.10008\.1\.2\.4\.(57|70)/,
        );
        const v = readDicomSeries(files);
        assert.deepEqual(v.shape, truth.shape);
        // a point transform keeps the high bits only: the stored value with its low pt bits cleared
        const want = pt
          ? truth.data.map((x) => (Math.floor((x + 32768) / 2 ** pt) * 2 ** pt) - 32768)
          : truth.data;
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(v.data[i] - want[i]));
        assert.equal(worst, 0, `${label}: largest difference ${worst}`);
      });
    }
    // JPEG-LS (DCMTK's dcmcjpls) and JPEG 2000 (GDCM's gdcmconv) through the
    // WebAssembly codecs
    const wasm: [string, string, string[], number, RegExp][] = [
      ["JPEG-LS lossless", "dcmcjpls", [], 0, /1\.2\.840\.10008\.1\.2\.4\.80/],
      ["JPEG 2000 lossless", "gdcmconv", ["--j2k"], 0, /1\.2\.840\.10008\.1\.2\.4\.90/],
    ];
    for (const [label, tool, args, tolerance, syntax] of wasm) {
      await t.step(label, async () => {
        const files = [];
        for (const f of plain) {
          const out = `${dir}/${label.replace(/\W+/g, "_")}_${f.name}`;
          let r;
          try {
            r = await new Deno.Command(tool, { args: [...args, `${dir}/${f.name}`, out], stderr: "piped" })
              .output();
          } catch {
            console.log(`skipped ${label}: ${tool} not installed (apt-get install dcmtk libgdcm-tools)`);
            return;
          }
          assert.ok(r.success, new TextDecoder().decode(r.stderr));
          files.push({ name: f.name, bytes: await Deno.readFile(out) });
        }
        assert.match(new TextDecoder().decode(files[0].bytes.subarray(0, 400)), syntax);
        const v = await readDicomSeriesWithCodecs(files);
        let worst = 0;
        for (let i = 0; i < v.data.length; i++) worst = Math.max(worst, Math.abs(v.data[i] - truth.data[i]));
        assert.ok(worst <= tolerance, `${label}: largest difference ${worst}`);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
