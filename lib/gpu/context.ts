/**
 * One object per GPU device: acquisition, buffers, WGSL pipelines (loaded relative to this module, so it
 * works imported from `file:` and `https:` alike) and dispatch. Everything it creates is released by
 * {@linkcode GpuContext.dispose}.
 * @module
 */
import { UserError } from "../errors.ts";

/** What a run manifest records about the adapter. */
export interface AdapterSummary {
  /** The adapter in words: its description, else its device name, else `"unknown adapter"`. */
  description: string;
  /** GPU vendor as the adapter reports it (may be empty). */
  vendor: string;
  /** GPU architecture as the adapter reports it (may be empty). */
  architecture: string;
  /** Whether the adapter is a fallback (typically a software rasterizer). */
  isFallbackAdapter: boolean;
  /** Largest storage-buffer binding, in bytes. */
  maxStorageBufferBindingSize: number;
  /** Largest buffer, in bytes. */
  maxBufferSize: number;
}

/** Options for {@linkcode GpuContext.create}. */
export interface GpuContextOptions {
  /** Use this device (e.g. the one onnxruntime-web created) instead of requesting a new one. */
  device?: GPUDevice;
  /** Adapter preference passed to `navigator.gpu.requestAdapter`. Default `"high-performance"`. */
  powerPreference?: GPUPowerPreference;
}

/** A binding for {@linkcode GpuContext.run}: a storage buffer (read-only or read-write). */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** Workgroup size shared by all 1D kernels (`@workgroup_size(64)`). */
export const WG = 64;

const fileCache = new Map<string, Promise<string>>();

/** Reads one file `shaders/<name>.wgsl` relative to this module (file: or http(s): alike), as written. */
function readShaderFile(name: string): Promise<string> {
  let text = fileCache.get(name);
  if (!text) {
    const url = new URL(`../../shaders/${name}.wgsl`, import.meta.url);
    text = fetch(url).then(async (r) => {
      if (!r.ok) throw new Error(`cannot load shader ${url}: HTTP ${r.status}`);
      return await r.text();
    });
    fileCache.set(name, text);
  }
  return text;
}

const INCLUDE = /^\/\/ #include ([a-z0-9_]+)\s*$/;

/**
 * Pastes, in place of each line `// #include NAME`, the text `read(NAME)` gives, itself expanded.
 * WGSL has no include of its own; kernels of two modules that must agree (the Joseph march of the
 * parallel and the fan projector) live in one file this way. A name is pasted once per module (WGSL
 * refuses a function declared twice), and a cycle is an error.
 *
 * @example
 * ```ts
 * import { expandIncludes } from "./context.ts";
 * const files: Record<string, string> = { one: "fn one() -> f32 { return 1.0; }" };
 * const code = await expandIncludes("// #include one\nfn two() -> f32 { return 2.0 * one(); }", (n) =>
 *   Promise.resolve(files[n]));
 * console.log(code.startsWith("fn one()")); // true
 * ```
 */
export async function expandIncludes(
  text: string,
  read: (name: string) => Promise<string>,
  done: Set<string> = new Set(),
  stack: string[] = [],
): Promise<string> {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = INCLUDE.exec(line);
    if (!m) {
      out.push(line);
      continue;
    }
    const name = m[1];
    if (stack.includes(name)) throw new Error(`shader include cycle: ${[...stack, name].join(" → ")}`);
    if (done.has(name)) continue;
    done.add(name);
    out.push(await expandIncludes(await read(name), read, done, [...stack, name]));
  }
  return out.join("\n");
}

const shaderCache = new Map<string, Promise<string>>();

/** The WGSL of module `shaders/<name>.wgsl` with its `// #include` lines expanded (see {@linkcode expandIncludes}). */
export function loadShader(name: string): Promise<string> {
  let text = shaderCache.get(name);
  if (!text) {
    text = readShaderFile(name).then((t) => expandIncludes(t, readShaderFile, new Set(), [name]));
    shaderCache.set(name, text);
  }
  return text;
}

/**
 * Owns a `GPUDevice` and everything allocated on it.
 *
 * @example
 * ```ts
 * import { GpuContext } from "./context.ts";
 * const gpu = await GpuContext.create();
 * const buf = gpu.upload(new Float32Array([1, 2, 3, 4]));
 * console.log(await gpu.download(buf, 4)); // Float32Array [1, 2, 3, 4]
 * gpu.dispose();
 * ```
 */
export class GpuContext {
  /** The device every buffer and pipeline of this context lives on. */
  readonly device: GPUDevice;
  /** What run manifests record about the adapter. */
  readonly adapter: AdapterSummary;
  #pipelines = new Map<string, Promise<GPUComputePipeline>>();
  #owned = new Set<GPUBuffer>();
  #ownsDevice: boolean;
  #encoder: GPUCommandEncoder | null = null;
  #pendingUniforms: GPUBuffer[] = [];

  private constructor(device: GPUDevice, adapter: AdapterSummary, ownsDevice: boolean) {
    this.device = device;
    this.adapter = adapter;
    this.#ownsDevice = ownsDevice;
    // WebGPU reports validation errors asynchronously; keep the first and raise it at the next read-back
    device.addEventListener("uncapturederror", (e) => {
      this.#error ??= new Error(`WebGPU: ${(e as GPUUncapturedErrorEvent).error.message}`);
    });
  }

  #error: Error | null = null;

  /** Throws the first WebGPU error seen since the last check. */
  checkErrors(): void {
    const e = this.#error;
    if (e) {
      this.#error = null;
      throw e;
    }
  }

  /** Gets an adapter and device, or fails with a one-line explanation when WebGPU is unavailable. */
  static async create(options: GpuContextOptions = {}): Promise<GpuContext> {
    // typed structurally: the same module is type-checked in worker threads, whose navigator has no name
    const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
    if (!gpu) {
      throw new UserError(
        "WebGPU is not available in this runtime (navigator.gpu is missing): run blendct with Deno 2 (`deno run -A`)",
      );
    }
    if (options.device) {
      const d = options.device;
      return new GpuContext(d, summarize(d.adapterInfo, d.limits), false);
    }
    quietMesa();
    const adapter = await gpu.requestAdapter({
      powerPreference: options.powerPreference ?? "high-performance",
    });
    if (!adapter) {
      throw new UserError(
        "no WebGPU adapter found: install a GPU driver or Mesa's software rasterizer (apt-get install mesa-vulkan-drivers)",
      );
    }
    const l = adapter.limits;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxStorageBuffersPerShaderStage: Math.min(l.maxStorageBuffersPerShaderStage, 10),
        maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      },
    });
    return new GpuContext(device, summarize(adapter.info, device.limits), true);
  }

  /** Largest buffer a single binding may cover, in bytes. */
  get maxBinding(): number {
    return this.device.limits.maxStorageBufferBindingSize;
  }

  /** A storage buffer of `bytes` (rounded up to 4), owned by this context. */
  buffer(bytes: number, label = "blendct"): GPUBuffer {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    if (size > this.device.limits.maxBufferSize) {
      throw new UserError(
        `a GPU buffer of ${size} bytes exceeds this device's maxBufferSize (${this.device.limits.maxBufferSize}): use a smaller volume or crop it`,
      );
    }
    const b = this.device.createBuffer({
      size,
      label,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.#owned.add(b);
    return b;
  }

  /** A new buffer holding `data`. */
  upload(data: Float32Array | Uint32Array | Int32Array, label = "blendct"): GPUBuffer {
    const b = this.buffer(data.byteLength, label);
    this.write(b, data);
    return b;
  }

  /** Copies host data into an existing buffer at a byte offset. */
  write(buffer: GPUBuffer, data: Float32Array | Uint32Array | Int32Array, byteOffset = 0): void {
    // Deno's WebGPU panics on a zero-byte write (an operator with an empty range uploads nothing)
    if (data.byteLength === 0) return;
    this.device.queue.writeBuffer(
      buffer,
      byteOffset,
      data.buffer as ArrayBuffer,
      data.byteOffset,
      data.byteLength,
    );
  }

  /** Reads `count` floats from `buffer` (starting at float `offset`) back to the host. */
  async download(buffer: GPUBuffer, count: number, offset = 0): Promise<Float32Array> {
    this.flush();
    const bytes = count * 4;
    const staging = this.device.createBuffer({
      size: Math.max(4, bytes),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(buffer, offset * 4, staging, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    this.checkErrors();
    return out;
  }

  /** Copies `bytes` bytes between buffers, queued in order with the kernels. */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    this.encoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Releases buffers made by this context (after submitting queued work that may still use them). */
  release(...buffers: (GPUBuffer | undefined)[]): void {
    this.flush();
    for (const b of buffers) {
      if (b && this.#owned.delete(b)) b.destroy();
    }
  }

  /** The compute pipeline for entry point `entry` of `shaders/<shader>.wgsl`, compiled once. */
  pipeline(shader: string, entry: string): Promise<GPUComputePipeline> {
    const key = `${shader}:${entry}`;
    let p = this.#pipelines.get(key);
    if (!p) {
      p = loadShader(shader).then((code) =>
        this.device.createComputePipelineAsync({
          layout: "auto",
          compute: { module: this.device.createShaderModule({ code, label: shader }), entryPoint: entry },
        })
      );
      this.#pipelines.set(key, p);
    }
    return p;
  }

  /**
   * Queues one dispatch of `shader:entry`. Binding 0 of group 0 is a uniform buffer holding `params`
   * (u32/f32 words as the kernel declares them); bindings 1.. are `buffers` in order.
   */
  async run(
    shader: string,
    entry: string,
    params: ArrayBuffer,
    buffers: Binding[],
    workgroups: [number, number?, number?],
  ): Promise<void> {
    const pipe = await this.pipeline(shader, entry);
    const ubuf = this.device.createBuffer({
      size: Math.max(16, Math.ceil(params.byteLength / 16) * 16),
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.device.queue.writeBuffer(ubuf, 0, params);
    this.#pendingUniforms.push(ubuf);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: ubuf } }];
    buffers.forEach((b, i) => {
      const r = b instanceof GPUBuffer ? { buffer: b } : b;
      entries.push({ binding: i + 1, resource: r });
    });
    const group = this.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries });
    const pass = this.encoder().beginComputePass();
    pass.setPipeline(pipe);
    pass.setBindGroup(0, group);
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    const [x, y = 1, z = 1] = workgroups;
    if (x > max || y > max || z > max) {
      throw new Error(`dispatch ${x}x${y}x${z} exceeds maxComputeWorkgroupsPerDimension ${max}`);
    }
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    pass.end();
    if (this.#pendingUniforms.length >= 64) this.flush();
  }

  /** Submits everything queued so far. */
  flush(): void {
    if (this.#encoder) {
      this.device.queue.submit([this.#encoder.finish()]);
      this.#encoder = null;
    }
    for (const u of this.#pendingUniforms) u.destroy();
    this.#pendingUniforms = [];
  }

  /** Waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.checkErrors();
  }

  /** Destroys every buffer this context made, and the device if it created it. */
  dispose(): void {
    this.flush();
    for (const b of this.#owned) b.destroy();
    this.#owned.clear();
    if (this.#ownsDevice) this.device.destroy();
  }

  /** The encoder that queued work goes into until the next {@linkcode GpuContext.flush}; made on demand. */
  private encoder(): GPUCommandEncoder {
    if (!this.#encoder) this.#encoder = this.device.createCommandEncoder();
    return this.#encoder;
  }
}

function summarize(info: GPUAdapterInfo, limits: GPUSupportedLimits): AdapterSummary {
  return {
    description: info.description || info.device || "unknown adapter",
    vendor: info.vendor,
    architecture: info.architecture,
    isFallbackAdapter: Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter),
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    maxBufferSize: limits.maxBufferSize,
  };
}

/** Packs kernel parameters: integers as u32 words, `{f: x}` as f32 words, in order. */
export function params(...words: (number | { f: number })[]): ArrayBuffer {
  // every kernel declares at least 8 words; 64 bytes covers all of them
  const buf = new ArrayBuffer(Math.max(64, Math.ceil(words.length / 4) * 16));
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  words.forEach((w, i) => {
    if (typeof w === "number") u[i] = w >>> 0;
    else f[i] = w.f;
  });
  return buf;
}

/** Workgroup count covering `n` invocations of a `@workgroup_size(WG)` kernel. */
export function groups(n: number): number {
  return Math.ceil(n / WG);
}

/**
 * Mesa's Vulkan driver prints "error: XDG_RUNTIME_DIR is invalid or not set" on a headless server where the
 * variable is unset, which reads as blendct's own error: give it a private runtime folder before the first
 * adapter request (only where the variable is unset and the process may set it).
 *
 * @example
 * ```ts
 * import { quietMesa } from "./context.ts";
 * quietMesa();
 * console.log(typeof Deno.env.get("XDG_RUNTIME_DIR")); // string
 * ```
 */
export function quietMesa(): void {
  try {
    if (Deno.build.os !== "linux" || Deno.env.get("XDG_RUNTIME_DIR")) return;
    const dir = `/tmp/blendct-xdg-${Deno.uid() ?? "user"}`;
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    Deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch {
    // no permission to read or set the environment, or to make the folder: Mesa may print its line
  }
}
