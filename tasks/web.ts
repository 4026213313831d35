/**
 * `deno task web [--port P]`: builds the browser page (`web/main.ts` bundled by `deno bundle` into
 * `web/dist/app.js`, with onnxruntime-web's wasm files, the CPU projector's kernels and the default case
 * beside it; nothing of `dist/`
 * is committed), then serves the page's files (and only those) on 127.0.0.1 and prints the page's URL on its
 * first line.
 * Any other static http server started at the repository root serves the same page once `dist/` is built
 * (`--build-only`).
 * @module
 */
import { z } from "../lib/deps.ts";
import { UserError } from "../lib/errors.ts";
import { loadSample } from "../lib/io/samples.ts";
import { cropSlices, DEFAULT_CASE } from "../lib/cases.ts";
import { writeNifti } from "../lib/io/nifti.ts";
import { flagSchema, intFlag, parseFlags, runTask } from "./_cli.ts";

const FLAGS = {
  port: {
    type: "string",
    help: "Port on 127.0.0.1",
    default: "8123",
    schema: intFlag("port").pipe(z.number().int().min(1).max(65535, "must be in 1..65535")).default(8123),
  },
  "build-only": {
    type: "boolean",
    help: "Build web/dist/ and exit (for another static server)",
    schema: z.boolean().default(false),
  },
} as const;
const Schema = flagSchema(FLAGS);

const ROOT = new URL("../", import.meta.url).pathname;
const DIST = `${ROOT}web/dist`;

const MIME: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript",
  mjs: "text/javascript",
  json: "application/json",
  wasm: "application/wasm",
  wgsl: "text/plain; charset=utf-8",
  onnx: "application/octet-stream",
  gz: "application/gzip",
  png: "image/png",
};

/**
 * What the page needs and nothing else: the page, its build, the shipped models' cards and ONNX files and
 * the WGSL kernels. The repository (`.git/`, sources, checkpoints, a user's files) is never served.
 */
const SERVED = [
  /^web\/index\.html$/,
  /^web\/dist\/[\w.-]+(\/[\w.-]+)?$/,
  /^models\/[\w.-]+\.(json|onnx)$/,
  /^shaders\/[\w.-]+\.wgsl$/,
];

/**
 * Answers one request: 400 for a malformed path, 421 for a Host that is not this server (a DNS-rebinding
 * page), 404 for anything outside {@linkcode SERVED}.
 */
export async function serveFile(req: Request, port: number): Promise<Response> {
  const host = req.headers.get("host") ?? "";
  if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
    return new Response("unknown host", { status: 421 });
  }
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url).pathname).slice(1) || "web/index.html";
  } catch {
    return new Response("bad path", { status: 400 });
  }
  if (path.includes("..") || path.includes("\0") || !SERVED.some((re) => re.test(path))) {
    return new Response("not found", { status: 404 });
  }
  try {
    const body = await Deno.readFile(`${ROOT}${path}`);
    const ext = path.split(".").pop() ?? "";
    return new Response(body, { headers: { "content-type": MIME[ext] ?? "application/octet-stream" } });
  } catch {
    return new Response("not found", { status: 404 });
  }
}

/** Bundles the page, copies onnxruntime-web's wasm next to it and writes the default case. */
export async function build(): Promise<void> {
  await Deno.mkdir(DIST, { recursive: true });
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--platform",
      "browser",
      "--external",
      "npm:onnxruntime-node@1.30.0",
      "-o",
      `${DIST}/app.js`,
      `${ROOT}web/main.ts`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new UserError(
      `deno bundle failed: ${new TextDecoder().decode(out.stderr).trim().split("\n").at(-1)}`,
    );
  }
  // onnxruntime-web loads its wasm relative to the bundle
  await import("npm:onnxruntime-web@1.30.0/webgpu");
  const ortDir = new URL("./", import.meta.resolve("npm:onnxruntime-web@1.30.0/webgpu")).pathname;
  // every wasm build the version in use ships (plain, jsep, asyncify, jspi) with its loader: which one it
  // asks for depends on the browser and the execution provider, so none is listed by hand
  for await (const e of Deno.readDir(ortDir)) {
    if (/^ort-wasm[\w.-]*\.(wasm|mjs)$/.test(e.name)) {
      await Deno.copyFile(`${ortDir}${e.name}`, `${DIST}/${e.name}`);
    }
  }
  // the CPU projector's kernels load relative to the module that fetches them, here the bundle
  await Deno.mkdir(`${DIST}/wasm`, { recursive: true });
  await Deno.copyFile(`${ROOT}lib/ct/wasm/spmm.wasm`, `${DIST}/wasm/spmm.wasm`);
  const casePath = `${DIST}/default.nii.gz`;
  try {
    await Deno.stat(casePath);
  } catch {
    const v = cropSlices(await loadSample("lidc"), DEFAULT_CASE.slices);
    await Deno.writeFile(casePath, writeNifti(v));
  }
}

/** A busy port as one line; any other failure as it is. */
function portError(e: unknown, port: number): unknown {
  return e instanceof Deno.errors.AddrInUse
    ? new UserError(`port ${port} on 127.0.0.1 is in use (another server?): pass --port with a free one`)
    : e;
}

if (import.meta.main) {
  runTask(async () => {
    const f = parseFlags(Deno.args, "Usage: deno task web [--port 8123] [--build-only]", FLAGS, Schema);
    if (!f["build-only"]) {
      // a busy port is said before the build (a minute of bundling) rather than after it
      try {
        Deno.listen({ hostname: "127.0.0.1", port: f.port }).close();
      } catch (e) {
        throw portError(e, f.port);
      }
    }
    const url = `http://127.0.0.1:${f.port}/web/index.html`;
    if (!f["build-only"]) console.log(url);
    await build();
    if (f["build-only"]) {
      console.log(`built ${DIST}: serve ${ROOT} with any static server and open web/index.html`);
      return;
    }
    try {
      Deno.serve(
        { hostname: "127.0.0.1", port: f.port, onListen: () => {} },
        (req) => serveFile(req, f.port),
      );
    } catch (e) {
      // taken between the check and now
      throw portError(e, f.port);
    }
    console.error(`serving the page's files from ${ROOT} (Ctrl-C to stop)`);
  });
}
