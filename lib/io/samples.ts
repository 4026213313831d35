/**
 * Real CT sample volumes fetched from package registries at first use, verified by sha256 and cached:
 * {@linkcode loadSample} and the {@linkcode SAMPLES} table that run manifests cite.
 *
 * `lidc` and `headsq` ship inside the npm tarball of vtk.js@6.2.5 as `.vti` folders (a JSON index plus a
 * gzipped raw array). The tarball (27 MB) is downloaded once into the cache directory, only the two data
 * files are pulled out of it, and later loads read just those. `stent` comes from Debian's python3-imageio,
 * which must be installed (or the file given by path): blendct does not redistribute it.
 * @module
 */
import { dirname, join } from "node:path";
import { gunzipSync, z } from "../deps.ts";
import { UserError } from "../errors.ts";
import { sha256Hex } from "../hash.ts";
import type { Volume } from "../volume.ts";
import { alignedCopy, assertFinite } from "./checks.ts";
import { npyToVolume, readNpz } from "./npy.ts";

/** The names {@linkcode loadSample} accepts. */
export type SampleName = "lidc" | "headsq" | "stent";

/** Provenance and geometry of one sample, as a run manifest records it. */
export interface SampleInfo {
  /** The name {@linkcode loadSample} takes. */
  name: SampleName;
  /** Registry package and exact version the file comes from. */
  source: string;
  /** Where the package can be fetched, or how it is installed. */
  origin: string;
  /** Path of the data file inside the package. */
  path: string;
  /** The data's licence. */
  licence: string;
  /** sha256 of the data file at `path` (the gzipped raw array, or the .npz). */
  sha256: string;
  /** `[Z, Y, X]` of the loaded volume. */
  shape: [number, number, number];
  /** `[dz, dy, dx]` in mm. */
  spacing: [number, number, number];
  /** What the volume shows, and how its axes run. */
  anatomy: string;
  /** What the loaded values are. */
  values: string;
}

const VTK_VERSION = "6.2.5";
const VTK_TARBALL = `vtk.js-${VTK_VERSION}.tgz`;
/** The package, resolved by Deno's own npm resolution (which honours NPM_CONFIG_REGISTRY and .npmrc). */
const VTK_PACKAGE = `npm:vtk.js@${VTK_VERSION}/package.json`;
const VTK_TARBALL_SHA256 = "0112f2ece2a4581e967750ff8d4b39b8b82ef6644a6fc3c8fdb2f831e54088c7";
/** The HU window of the LIDC2 sample's 8-bit values (read off its histogram; see `decodeVti`). */
export const LIDC_WINDOW: [number, number] = [-160, 240];
const STENT_PATH = "/usr/lib/python3/dist-packages/imageio/resources/images/stent.npz";

/** Every sample blendct knows, keyed by name. */
export const SAMPLES: Readonly<Record<SampleName, SampleInfo>> = {
  lidc: {
    name: "lidc",
    source: `npm:vtk.js@${VTK_VERSION}`,
    origin: VTK_PACKAGE,
    path: "package/Data/volume/LIDC2.vti/data/b1ad142a1ebc80f957fcdc329e876d51.gz",
    licence: "CC BY 3.0 (LIDC-IDRI, The Cancer Imaging Archive)",
    sha256: "dcfcad573a568d8a6baf606d77bec4d6e3d5c81da3a961511bdd831d947ff28f",
    shape: [133, 256, 256],
    spacing: [2.5, 1.40625, 1.40625],
    anatomy: "chest CT (lungs, heart, upper abdomen), axial slices; axis 0 runs head to feet",
    values:
      "HU from an 8-bit mediastinal window [-160, 240]: 0 (air and lung) read as -1000 HU, bone capped at 240",
  },
  headsq: {
    name: "headsq",
    source: `npm:vtk.js@${VTK_VERSION}`,
    origin: VTK_PACKAGE,
    path: "package/Data/volume/headsq.vti/data/1839938295fe4f0839c9df8d9fa67137.gz",
    licence: "BSD-3-Clause (VTK example data, shipped with vtk.js)",
    sha256: "6ee2104a74558d9f192025244b74d0c264d706f3d2a944e8b0cc74d1cff5b01a",
    shape: [93, 64, 64],
    spacing: [1.5, 3.2, 3.2],
    anatomy: "head CT, axial slices; its direction matrix rotates x and y by 30 degrees",
    values: "HU (stored as HU + 1024, int16 0 to 3926)",
  },
  stent: {
    name: "stent",
    source: "deb:python3-imageio@2.4.1-5",
    origin: "apt-get install python3-imageio",
    path: STENT_PATH,
    licence: "BSD-2-Clause (imageio)",
    sha256: "60a83d2296b51ee6a53153e9ba96ba9020391b0c8952895d9d60a0a629ac6bb6",
    shape: [256, 128, 128],
    spacing: [1, 1, 1],
    anatomy: "CT angiogram of a stented abdominal aorta; axis 0 runs head to feet, axis 1 front to back; " +
      "voxel size unknown (1 mm nominal)",
    values: "HU clipped to [0, 2000] (fat, lung and air all read 0), quantised in steps of 62.5",
  },
};

/** Options for {@linkcode loadSample}. */
export interface LoadSampleOptions {
  /** Cache directory. Default `$BLENDCT_CACHE`, else `$HOME/.cache/blendct`. */
  cacheDir?: string;
  /**
   * A local file to read instead of the registry: `stent.npz` for `stent`, `vtk.js-6.2.5.tgz` for `lidc` and
   * `headsq`. Default: the Debian path for `stent`, the cached or downloaded tarball otherwise.
   */
  path?: string;
  /**
   * A tarball URL to download instead (a mirror without npm resolution). Default: none — the package comes
   * through Deno's npm resolution, so the registry a user has configured (NPM_CONFIG_REGISTRY, .npmrc) is used.
   */
  url?: string;
}

/**
 * Loads a sample volume. `lidc` is a chest CT scaled to [0, 1], `headsq` a small head CT in raw scanner
 * values, `stent` an abdominal CT angiogram in raw values; see {@linkcode SAMPLES} for sources, licences
 * and geometry. Throws a {@linkcode UserError} when the data cannot be fetched (offline, package missing) or
 * a file's sha256 does not match.
 *
 * @example
 * ```ts
 * import { loadSample, SAMPLES } from "./samples.ts";
 * import { UserError } from "../errors.ts";
 * console.log(SAMPLES.lidc.shape); // [133, 256, 256]
 * try {
 *   const stent = await loadSample("stent"); // needs Debian's python3-imageio
 *   console.log(stent.shape); // [256, 128, 128]
 * } catch (e) {
 *   if (!(e instanceof UserError)) throw e;
 *   console.log(e.message); // says what to install
 * }
 * ```
 */
export async function loadSample(name: SampleName, options: LoadSampleOptions = {}): Promise<Volume> {
  const info = SAMPLES[name];
  if (!info) {
    throw new UserError(`unknown sample "${name}"; choose one of ${Object.keys(SAMPLES).join(", ")}`);
  }
  return name === "stent" ? await loadStent(info, options) : await loadVtkSample(info, options);
}

async function loadStent(info: SampleInfo, options: LoadSampleOptions): Promise<Volume> {
  const path = options.path ?? info.path;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new UserError(
      `sample stent: ${path} not found; install Debian's python3-imageio (apt-get install python3-imageio) ` +
        `or give the path of stent.npz`,
    );
  }
  await verify(bytes, info.sha256, path);
  const arrays = readNpz(bytes, { name: path });
  const array = arrays.arr_0 ?? Object.values(arrays)[0];
  // its histogram: 75% of voxels at exactly 0, soft tissue 0..150, contrast 250..400: HU clipped below at 0
  return npyToVolume(array, { name: path, spacing: info.spacing, unit: "HU" });
}

// --- vtk.js samples ----------------------------------------------------------------------------------------

const tuple3 = z.tuple([z.number(), z.number(), z.number()]);
const VtiIndex = z.object({
  origin: tuple3,
  spacing: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
  extent: z.tuple([z.int(), z.int(), z.int(), z.int(), z.int(), z.int()]),
  direction: z.array(z.number()).length(9).optional(),
  pointData: z.object({
    arrays: z.array(z.object({
      data: z.object({
        dataType: z.enum(["Uint8Array", "Int16Array"]),
        numberOfComponents: z.literal(1),
        size: z.int().positive(),
        ref: z.object({ encode: z.literal("LittleEndian"), basepath: z.string(), id: z.string() }),
      }),
    })).min(1),
  }),
});
type VtiIndex = z.infer<typeof VtiIndex>;

async function loadVtkSample(info: SampleInfo, options: LoadSampleOptions): Promise<Volume> {
  const cache = join(cacheDirectory(options), "vtk");
  let files = await readCachedEntries(cache, vtiPaths(info));
  if ((!files || await sha256Hex(files[1]) !== info.sha256) && !options.path && !options.url) {
    files = await readFromPackage(info);
  }
  if (!files || await sha256Hex(files[1]) !== info.sha256) {
    // One pass over the tarball caches every vtk.js sample, so the other one never needs it again either.
    const all = Object.values(SAMPLES).filter((s) => s.source === info.source).flatMap(vtiPaths);
    const extracted = await extractVtkEntries(await vtkTarball(cache, options), cache, all);
    files = vtiPaths(info).map((p) => extracted[all.indexOf(p)]);
  }
  await verify(files[1], info.sha256, `${VTK_TARBALL}:${info.path}`);
  return decodeVti(files[0], files[1], info);
}

/**
 * The sample's files from vtk.js as Deno's npm resolution installs it (its own cache, its configured
 * registry): no host name is written here, so a mirror or proxy works as it does for every npm: import.
 */
async function readFromPackage(info: SampleInfo): Promise<Uint8Array[] | null> {
  try {
    await import(VTK_PACKAGE, { with: { type: "json" } });
    const dir = new URL("./", import.meta.resolve(VTK_PACKAGE));
    if (dir.protocol !== "file:") return null;
    return await Promise.all(
      vtiPaths(info).map((p) => Deno.readFile(new URL(p.replace(/^package\//, ""), dir))),
    );
  } catch {
    // no npm resolution here (a browser, no network, no permission): the tarball route explains what to do
    return null;
  }
}

/** The index.json and data file of a `.vti` folder inside the tarball. */
function vtiPaths(info: SampleInfo): [string, string] {
  return [info.path.replace(/\/data\/[^/]+$/, "/index.json"), info.path];
}

function cacheDirectory(options: LoadSampleOptions): string {
  if (options.cacheDir) return options.cacheDir;
  const env = Deno.env.get("BLENDCT_CACHE");
  if (env) return env;
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  if (!home) throw new UserError("cannot find a cache directory: set BLENDCT_CACHE or HOME");
  return join(home, ".cache", "blendct");
}

async function readCachedEntries(cache: string, paths: string[]): Promise<Uint8Array[] | null> {
  try {
    return await Promise.all(paths.map((p) => Deno.readFile(join(cache, p))));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** The verified tarball: `options.path`, else the cached copy, else a fresh download into the cache. */
async function vtkTarball(cache: string, options: LoadSampleOptions): Promise<Uint8Array> {
  if (options.path) {
    const bytes = await readOrExplain(options.path);
    await verify(bytes, VTK_TARBALL_SHA256, options.path);
    return bytes;
  }
  const cached = join(cache, VTK_TARBALL);
  try {
    const bytes = await Deno.readFile(cached);
    if (await sha256Hex(bytes) === VTK_TARBALL_SHA256) return bytes;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (!options.url) {
    throw new UserError(
      `cannot fetch npm:vtk.js@${VTK_VERSION} through Deno's npm resolution (offline, or no registry configured): ` +
        `run \`npm pack vtk.js@${VTK_VERSION}\` and pass the tarball (its path), or place it at ${cached}`,
    );
  }
  const bytes = await download(options.url, cached);
  await verify(bytes, VTK_TARBALL_SHA256, options.url);
  await writeAtomic(cached, bytes);
  return bytes;
}

async function readOrExplain(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UserError(`${path} not found`);
    throw e;
  }
}

async function download(url: string, destination: string): Promise<Uint8Array> {
  let response: Response;
  // a first use fetches tens of megabytes: say so before, in one line on stderr
  const size = url.endsWith(VTK_TARBALL) ? " (27 MB, once)" : "";
  console.error(`note: downloading ${url}${size} into ${destination}`);
  try {
    response = await fetch(url);
  } catch (e) {
    throw new UserError(
      `cannot download ${url} (${(e as Error).message}); are you offline? Download it by other means and ` +
        `place it at ${destination}`,
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new UserError(`cannot download ${url}: HTTP ${response.status}; place the file at ${destination}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

async function extractVtkEntries(tarball: Uint8Array, cache: string, paths: string[]): Promise<Uint8Array[]> {
  const entries = readTarEntries(gunzipSync(tarball), (p) => paths.includes(p));
  const files = paths.map((p) => {
    const bytes = entries.get(p);
    if (!bytes) throw new UserError(`${VTK_TARBALL} has no ${p}; is it really vtk.js@${VTK_VERSION}?`);
    return bytes;
  });
  for (const [i, p] of paths.entries()) await writeAtomic(join(cache, p), files[i]);
  return files;
}

function decodeVti(indexBytes: Uint8Array, gz: Uint8Array, info: SampleInfo): Volume {
  const where = `${VTK_TARBALL}:${info.path}`;
  let index: VtiIndex;
  try {
    index = VtiIndex.parse(JSON.parse(new TextDecoder().decode(indexBytes)));
  } catch (e) {
    throw new UserError(`${where}: index.json is not a vtkImageData index blendct understands (${e})`);
  }
  const [x0, x1, y0, y1, z0, z1] = index.extent;
  const shape: [number, number, number] = [z1 - z0 + 1, y1 - y0 + 1, x1 - x0 + 1];
  const array = index.pointData.arrays[0].data;
  const raw = gunzipSync(gz);
  const count = shape[0] * shape[1] * shape[2];
  const bytesPer = array.dataType === "Uint8Array" ? 1 : 2;
  if (array.size !== count || raw.length !== count * bytesPer) {
    throw new UserError(`${where}: holds ${raw.length} bytes but its index promises ${count} voxels`);
  }
  const data = new Float32Array(count);
  const [sx, sy, sz] = index.spacing;
  const geometry = { shape, spacing: [sz, sy, sx] as [number, number, number], affine: vtiAffine(index) };
  if (bytesPer === 1) {
    // LIDC2 is an 8-bit display window: fat peaks at 16..22, blood at 100..150, lung and air sit at 0 and
    // bone saturates at 255: the mediastinal window [-160, 240] HU (fat -130 HU, blood 40 HU). Read back in
    // HU, its floor stands for everything below -160 HU, air and lung, which blendct reads as air
    // (-1000 HU): a floor of -160 HU would fill the whole field of view with near-water, which no scanner
    // sees. Bone stays at the window's top (240 HU): what lies above is unknown.
    const [lo, hi] = LIDC_WINDOW;
    for (let i = 0; i < count; i++) data[i] = raw[i] === 0 ? -1000 : lo + (raw[i] / 255) * (hi - lo);
    assertFinite(data, shape, where);
    return { data, ...geometry, unit: "HU" };
  }
  // headsq stores HU + 1024 (air at 0, soft tissue near 1060, bone above 2000)
  const ints = new Int16Array(alignedCopy(raw, 0, raw.length));
  for (let i = 0; i < count; i++) data[i] = ints[i] - 1024;
  assertFinite(data, shape, where);
  return { data, ...geometry, unit: "HU" };
}

/**
 * vtk.js stores `direction` as a flat 3x3 whose first three numbers are the world direction of the i axis
 * (then j, then k), so those become the affine's columns, each scaled by its spacing.
 */
function vtiAffine(index: VtiIndex): number[][] {
  const d = index.direction ?? [1, 0, 0, 0, 1, 0, 0, 0, 1];
  return [
    ...[0, 1, 2].map((r) => [0, 1, 2].map((c) => d[c * 3 + r] * index.spacing[c]).concat(index.origin[r])),
    [0, 0, 0, 1],
  ];
}

// --- small helpers ----------------------------------------------------------------------------------------

/**
 * Returns the regular files of an uncompressed tar archive (ustar, with GNU long names and pax paths) whose
 * path passes `wanted`, keyed by path. Throws on a damaged header, which a checksum catches.
 *
 * @example
 * ```ts
 * import { readTarEntries } from "./samples.ts";
 * const empty = new Uint8Array(1024); // a tar archive ends with two zero blocks
 * console.log(readTarEntries(empty).size); // 0
 * ```
 */
export function readTarEntries(
  tar: Uint8Array,
  wanted: (path: string) => boolean = () => true,
): Map<string, Uint8Array> {
  const entries = new Map<string, Uint8Array>();
  let longName: string | undefined;
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    checkTarChecksum(header, offset);
    const size = tarNumber(header.subarray(124, 136));
    const type = String.fromCharCode(header[156]);
    const start = offset + 512;
    const content = tar.subarray(start, start + size);
    offset = start + Math.ceil(size / 512) * 512;
    if (type === "L") {
      longName = cString(content);
      continue;
    }
    if (type === "x") {
      longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(new TextDecoder().decode(content))?.[1] ?? longName;
      continue;
    }
    const prefix = cString(header.subarray(345, 500));
    const name = longName ??
      (prefix ? `${prefix}/${cString(header.subarray(0, 100))}` : cString(header.subarray(0, 100)));
    longName = undefined;
    if ((type === "0" || type === "\0") && wanted(name)) entries.set(name, content.slice());
  }
  return entries;
}

function checkTarChecksum(header: Uint8Array, offset: number): void {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i];
  if (tarNumber(header.subarray(148, 156)) !== sum) {
    throw new UserError(`the tar archive is damaged (bad header checksum at byte ${offset})`);
  }
}

/** Octal ASCII, or GNU base-256 when the high bit of the first byte is set (sizes of 8 GiB and more). */
function tarNumber(field: Uint8Array): number {
  if (field[0] & 0x80) return field.subarray(1).reduce((n, b) => n * 256 + b, field[0] & 0x7f);
  const text = cString(field).trim();
  return text ? parseInt(text, 8) : 0;
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

async function verify(bytes: Uint8Array, expected: string, what: string): Promise<void> {
  const actual = await sha256Hex(bytes);
  if (actual !== expected) {
    throw new UserError(
      `${what}: sha256 is ${actual}, expected ${expected}; the file is damaged or a different version: ` +
        `delete it and retry`,
    );
  }
}

/** Temp file in the same directory, then rename, so an interrupted run never leaves a half-written cache. */
async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeFile(temp, bytes);
    await Deno.rename(temp, path);
  } catch (e) {
    await Deno.remove(temp).catch(() => {});
    throw e;
  }
}
