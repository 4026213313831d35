/**
 * Sizes and physics that cannot be right are refused (or noted) before anything is allocated or written.
 */
import assert from "node:assert/strict";
import { writeNpy } from "../lib/io/npy.ts";
import { writeNifti } from "../lib/io/nifti.ts";
import { makeVolume } from "../lib/volume.ts";
import { sheppLogan3d } from "../lib/ct/phantom.ts";
import { runTaskFile } from "./helpers.ts";

async function setup(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "blendct-sanity-" });
  const v = sheppLogan3d([3, 32, 32]);
  await Deno.writeFile(`${dir}/p.npy`, writeNpy(makeVolume(v.data, [3, 32, 32])));
  return dir;
}
const oneLine = (r: { code: number; stderr: string }, re: RegExp, what: string) => {
  assert.equal(r.code, 2, `${what}: ${r.stderr}`);
  assert.match(r.stderr, re, what);
  assert.equal(r.stderr.trim().split("\n").filter((l) => !l.startsWith("note:")).length, 1, r.stderr);
};

Deno.test("absurd sizes, one-angle geometries and a noise fraction are one line, exit 2, nothing written", async () => {
  const dir = await setup();
  try {
    const base = ["--input", "p.npy", "--unit", "image", "--method", "fbp"];
    const t0 = performance.now();
    oneLine(
      await runTaskFile("reconstruct", [...base, "--views", "1000000000"], dir),
      /--views 1000000000: at most 100000 views/,
      "views",
    );
    assert.ok(performance.now() - t0 < 20000, "refused before allocating");
    const geometry = (g: Record<string, unknown>) =>
      JSON.stringify({ type: "parallel", detectorSpacing: 1, ...g });
    await Deno.writeTextFile(`${dir}/wide.json`, geometry({ angles: [0, 1], detectorCount: 1_000_000_000 }));
    oneLine(
      await runTaskFile("reconstruct", [...base, "--geometry", "wide.json"], dir),
      /1000000000 detector bins: at most 100000/,
      "bins",
    );
    await Deno.writeTextFile(
      `${dir}/same.json`,
      geometry({ angles: [0.5, 0.5, 0.5, 0.5], detectorCount: 46 }),
    );
    oneLine(
      await runTaskFile("reconstruct", [...base, "--geometry", "same.json"], dir),
      /4 views all have the same angle/,
      "angles",
    );
    oneLine(
      await runTaskFile("simulate", [
        "--input",
        "p.npy",
        "--unit",
        "image",
        "--views",
        "8",
        "--geometry",
        "same.json",
        "--output",
        "s.nii.gz",
      ], dir),
      /--views.*does not apply|same angle/,
      "simulate",
    );
    oneLine(
      await runTaskFile("reconstruct", [...base, "--views", "8", "--noise", "0.05"], dir),
      /--noise.*photon count per ray .* not a fraction/,
      "noise",
    );
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(left, ["p.npy", "same.json", "wide.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a NIfTI with pixel size 0 and no affine is read as 1 mm with a notice that says so", async () => {
  const dir = await setup();
  try {
    const v = sheppLogan3d([3, 32, 32]);
    const bytes = writeNifti(makeVolume(v.data, [3, 32, 32], { unit: "image" }), { gzip: false });
    const view = new DataView(bytes.buffer);
    for (let i = 1; i <= 3; i++) view.setFloat32(76 + 4 * i, 0, true); // pixdim[1..3]
    view.setInt16(252, 0, true); // qform_code
    view.setInt16(254, 0, true); // sform_code
    await Deno.writeFile(`${dir}/z.nii`, bytes);
    const r = await runTaskFile("reconstruct", ["--input", "z.nii", "--method", "fbp", "--views", "8"], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /note: z\.nii states no voxel size \(pixdim 0 x 0 x 0, no affine\): read as 1 mm voxels/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("flags a classical method would ignore are refused (--steps, --eta, --jump-every with fbp/tv/cgls)", async () => {
  const dir = await setup();
  try {
    const base = ["--input", "p.npy", "--unit", "image", "--views", "8"];
    for (
      const [method, flag] of [["fbp", ["--steps", "4"]], ["tv", ["--jump-every", "3"]], ["cgls", [
        "--eta",
        "0.5",
      ]]] as const
    ) {
      const r = await runTaskFile("reconstruct", [...base, "--method", method, ...flag], dir);
      oneLine(r, new RegExp(`${flag[0]}: applies to diffusion methods .* not --method ${method}`), flag[0]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--resample with a classical method puts it on the prior's grid (not ignored)", async () => {
  const dir = await setup();
  try {
    const r = await runTaskFile(
      "reconstruct",
      [
        "--input",
        "p.npy",
        "--unit",
        "image",
        "--views",
        "8",
        "--method",
        "fbp",
        "--resample",
        "--output",
        "r.nii.gz",
      ],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /resampled 32x32 slices to 256x256/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
