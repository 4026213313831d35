/**
 * FBP-UNet training pairs made by blendct itself: reads ground-truth slices `gt.npy` ([N, H, W] in
 * attenuation u, written by `train/fbpunet.py slices`), simulates each setting's sinogram with blendct's
 * projector and reconstructs it with blendct's FBP, so the network learns exactly the artefacts it will see.
 *
 *     deno run -A train/fbpunet_pairs.ts DIR [SETTING ...]    # settings: 4 6 8 la90 (default: all)
 *
 * Writes `DIR/fbp-SETTING.npy` atomically next to `gt.npy`.
 * @module
 */
import { GpuContext } from "../lib/gpu/context.ts";
import { measure } from "../lib/ct/measure.ts";
import { reconstruct } from "../lib/jobs/reconstruct.ts";
import { readNpy, writeNpy } from "../lib/io/npy.ts";
import { makeVolume } from "../lib/volume.ts";
import { writeFileAtomic } from "../lib/io/files.ts";
import { FBPUNET_SETTINGS, parseFbpunetSetting } from "../lib/jobs/fbpunet.ts";

const [dir, ...wanted] = Deno.args;
if (!dir) {
  console.error("usage: deno run -A train/fbpunet_pairs.ts DIR [4 6 8 la90]");
  Deno.exit(2);
}
const gt = readNpy(await Deno.readFile(`${dir}/gt.npy`), { name: "gt.npy" });
const [N, H, W] = gt.shape;
const truth = Float32Array.from(gt.data as ArrayLike<number>);
const gpu = await GpuContext.create();
const chunk = 64; // slices per GPU pass: well under the adapter's 128 MiB binding limit at 256²
try {
  for (const name of wanted.length ? wanted : FBPUNET_SETTINGS) {
    const acq = parseFbpunetSetting(name);
    const out = new Float32Array(N * H * W);
    for (let z = 0; z < N; z += chunk) {
      const Z = Math.min(chunk, N - z);
      const part = truth.subarray(z * H * W, (z + Z) * H * W);
      const { y, geometry } = await measure(gpu, part, { Z, H, W }, acq);
      out.set(await reconstruct(y, geometry, { Z, H, W }, { method: "fbp" }, { gpu }), z * H * W);
    }
    await writeFileAtomic(`${dir}/fbp-${name}.npy`, writeNpy(makeVolume(out, [N, H, W])));
    console.log(`fbp-${name}.npy: ${N} slices`);
  }
} finally {
  gpu.dispose();
}
