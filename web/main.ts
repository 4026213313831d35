/// <reference lib="dom" />
/**
 * The browser page of blendct: the same `lib/` modules, shaders and model files as the Deno tasks, bundled
 * by `deno task web` into `web/dist/app.js` (which sits two folders below the repository root, like
 * `lib/gpu/`, so the modules' `new URL("../../shaders/…", import.meta.url)` find the same files).
 * Query parameters preset the controls and `run=1` starts: `?method=blend++&views=8&steps=20&seed=1&run=1`;
 * `case=URL` names a NIfTI to use instead of the default case.
 * @module
 */
import { importOrtWeb } from "../lib/deps.ts";
import { GpuContext } from "../lib/gpu/context.ts";
import { measure } from "../lib/ct/measure.ts";
import { reconstructWith } from "../lib/jobs/reconstruct.ts";
import { createProjector, type CtProjector } from "../lib/ct/system.ts";
import { loadModel, modelMap } from "../lib/prior/card.ts";
import { createDenoiser, type Denoiser } from "../lib/prior/denoiser.ts";
import { readNifti, writeNifti } from "../lib/io/nifti.ts";
import { computeMetrics } from "../lib/metrics/index.ts";
import { midPlanesPng } from "../lib/report/png.ts";
import { displayOriented } from "../lib/report/orient.ts";
import { defaultMetricRange, displayWindow, fromU, toU, type UnitMap } from "../lib/units.ts";
import { makeVolume, type Volume } from "../lib/volume.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
// a literal "+" in a query means a space to URLSearchParams, which would turn ?method=blend++ into "blend  ":
// read "+" as itself (method names and numbers never hold spaces)
const params = new URLSearchParams(location.search.replace(/\+/g, "%2B"));
for (const k of ["method", "views", "steps", "seed"]) {
  const v = params.get(k);
  if (v !== null) ($(k) as HTMLInputElement).value = v;
}
let dropped: Uint8Array | null = null;

function fail(message: string): void {
  $("error").textContent = message.split("\n")[0];
  $("status").textContent = "failed";
}

async function loadCase(): Promise<Volume> {
  if (dropped) return readNifti(dropped, { name: "dropped file" });
  const url = new URL(params.get("case") ?? "dist/default.nii.gz", location.href);
  const res = await fetch(url);
  if (!res.ok) {
    throw new Error(
      `could not fetch ${url.pathname} (HTTP ${res.status}); start the page with deno task web`,
    );
  }
  return readNifti(new Uint8Array(await res.arrayBuffer()), { name: url.pathname });
}

async function run(): Promise<void> {
  $("error").textContent = "";
  $("result").textContent = "";
  const method = ($("method") as HTMLSelectElement).value as "fbp" | "tv" | "blend++";
  const views = Number(($("views") as HTMLInputElement).value);
  const steps = Number(($("steps") as HTMLInputElement).value);
  const seed = Number(($("seed") as HTMLInputElement).value);
  if (!navigator.gpu) {
    throw new Error(
      "this browser has no WebGPU: blendct's kernels need it (Chrome, Edge or Firefox Nightly)",
    );
  }
  const volume = await loadCase();
  if (volume.shape.some((n) => n < 1) || volume.shape[0] < 3) {
    throw new Error("the NIfTI is not a 3D volume of at least 3 slices");
  }
  let denoiser: Denoiser | null = null;
  let backend = "none";
  if (method === "blend++") {
    const ort = await importOrtWeb();
    ort.env.wasm.wasmPaths = new URL("./", import.meta.url).href;
    const model = await loadModel(new URL("../../models/blendct-prior.json", import.meta.url));
    try {
      denoiser = await createDenoiser(model, { backend: "webgpu" });
    } catch (e) {
      $("backend").textContent = `WebGPU denoiser unavailable (${(e as Error).message}); using wasm`;
      denoiser = await createDenoiser(model, { backend: "wasm" });
    }
    backend = denoiser.backend;
  }
  const gpu = denoiser?.device
    ? await GpuContext.create({ device: denoiser.device })
    : await GpuContext.create();
  const limit = gpu.device.limits.maxStorageBufferBindingSize;
  if (volume.data.length * 4 * 8 > limit * 16) {
    gpu.dispose();
    throw new Error(
      `the volume (${volume.shape.join("x")}) is too large for this adapter's buffers (${limit} bytes)`,
    );
  }
  let A: CtProjector | null = null, yb: GPUBuffer | undefined;
  try {
    const units: UnitMap = { unit: volume.unit ?? "image", muWater: 0.0193, imageHu: volume.imageHu };
    const [Z, H, W] = volume.shape;
    const truthU = toU(volume.data, units);
    const t0 = performance.now();
    // one problem, as in the tasks: the operator that measures reconstructs, y crosses to the device once
    const { y } = await measure(gpu, truthU, { Z, H, W }, {
      views,
      attenuationPerPixel: 0.0193 * volume.spacing[2],
      openOperator: async (g, shape) => (A = await createProjector(gpu, g, shape)),
    });
    yb = gpu.upload(y, "y");
    const fbp = await reconstructWith(A!, yb, { method: "fbp" }, { gpu });
    const x = method === "fbp" ? fbp : await reconstructWith(A!, yb, {
      method,
      steps,
      seed,
      modelMap: denoiser ? modelMap(denoiser.card) : undefined,
    }, {
      gpu,
      model: denoiser ?? undefined,
      onProgress: (done, total) => {
        const s = (performance.now() - t0) / 1000;
        ($("progress") as HTMLProgressElement).value = done / total;
        $("status").textContent = `${method} ${done}/${total}, ETA ${
          Math.round((s / done) * (total - done))
        } s`;
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    const own = (u: Float32Array) =>
      makeVolume(fromU(u, units), volume.shape, {
        spacing: volume.spacing,
        affine: volume.affine,
        unit: units.unit,
      });
    const truth = own(truthU), recon = own(x);
    const m = computeMetrics(recon, truth, { range: defaultMetricRange(units) });
    const png = midPlanesPng([
      { label: "ground truth", volume: displayOriented(truth) },
      { label: `FBP ${views} views`, volume: displayOriented(own(fbp)) },
      ...(method === "fbp" ? [] : [{ label: method, volume: displayOriented(recon) }]),
    ], { window: displayWindow(units) });
    ($("preview") as HTMLImageElement).src = URL.createObjectURL(
      new Blob([png as BlobPart], { type: "image/png" }),
    );
    const link = $("download") as HTMLAnchorElement;
    link.href = URL.createObjectURL(new Blob([writeNifti(recon) as BlobPart], { type: "application/gzip" }));
    link.download = `blendct-${method}.nii.gz`;
    link.hidden = false;
    ($("progress") as HTMLProgressElement).value = 1;
    $("status").textContent = `done in ${seconds.toFixed(1)} s`;
    $("result").textContent = JSON.stringify({
      method,
      psnr: m.psnr,
      ssim: m.ssim,
      seconds,
      backend: denoiser ? backend : "webgpu kernels",
    });
  } finally {
    gpu.release(yb);
    (A as CtProjector | null)?.dispose();
    gpu.dispose();
    await denoiser?.dispose();
  }
}

const start = () => run().catch((e) => fail(e instanceof Error ? e.message : String(e)));
$("run").addEventListener("click", start);
const drop = $("drop");
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("drop", async (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const f = e.dataTransfer?.files[0];
  if (f) dropped = new Uint8Array(await f.arrayBuffer());
});
$("file").addEventListener("change", async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) dropped = new Uint8Array(await f.arrayBuffer());
});
if (params.get("run") === "1") start();
