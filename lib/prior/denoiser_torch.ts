/**
 * The PyTorch back end: the card's training checkpoint (`NAME.ckpt.pt` beside `NAME.json`) run by a
 * Python worker (`train/worker.py`) that this module starts and stops. It is the only back end with
 * gradients, so test-time adaptation (`--adapt`) runs on it; its {@linkcode Adapter} trains low-rank or
 * norm adapters on a gradient that blendct's own operator computed.
 *
 * The channel is the worker's stdin and stdout, one frame per message: a little-endian u32 header length, a
 * JSON header whose `bytes` is the payload length, then the payload as little-endian float32 (the worker's
 * docstring lists the requests). The worker's stderr is kept for the one-line error when it dies.
 *
 * @example
 * ```ts ignore
 * import { loadModel } from "./card.ts";
 * import { createTorchEngine } from "./denoiser_torch.ts";
 * const engine = await createTorchEngine(await loadModel(), { device: "cpu" });
 * const eps = await engine.run(new Float32Array(3 * 64 * 64), new Float32Array([200]), new Float32Array([1]), [1, 3, 64, 64]);
 * await engine.release();
 * ```
 * @module
 */
import { UserError } from "../errors.ts";
import { findPython } from "../python.ts";
import type { LoadedModel } from "./card.ts";
import type { DenoiserEngine, TripletShape } from "./engine.ts";

/** Where the PyTorch worker runs: CUDA when present (`auto`), or where asked. */
export type TorchDevice = "auto" | "cpu" | "cuda";

/** Every accepted {@linkcode TorchDevice}, in the order messages list them. */
export const TORCH_DEVICES: readonly TorchDevice[] = ["auto", "cpu", "cuda"];

/** Options for {@linkcode createTorchEngine}. */
export interface TorchEngineOptions {
  /** @default {"auto"} */
  device?: TorchDevice;
  /** Triplets per call. @default {4} at 256², scaled by area (at most 64) */
  maxBatch?: number;
  /** torch's intra-op threads; default: torch's own choice (all cores). */
  threads?: number;
  /** bf16 autocast where it pays (CUDA, or a CPU with AMX): `auto`; `off` keeps fp32. @default {"auto"} */
  amp?: "auto" | "off";
}

/** Which layers carry adapters: LoRA on every convolution, or a scale and shift after every GroupNorm. */
export type AdapterKind = "lora" | "norm";

/** Every accepted {@linkcode AdapterKind}. */
export const ADAPTER_KINDS: readonly AdapterKind[] = ["lora", "norm"];

/** An adapter's trained tensors and Adam's moments, as the worker saves them (resumable runs). */
export interface AdapterState {
  /** Shape of each adapter tensor, in the worker's fixed order. */
  shapes: number[][];
  /** Per tensor: its values, Adam's two moments, the step count. */
  data: Float32Array;
}

/**
 * Test-time adaptation on a back end that has gradients: adapters that start as the identity (the network
 * is exactly the trained one until a step moves them), a forward pass that keeps its graph, and a backward
 * pass from a gradient with respect to the forward's eps followed by one Adam step.
 */
export interface Adapter {
  /** Fresh adapters (identity) and a fresh Adam; returns their parameter count. */
  reset(options: { kind: AdapterKind; rank: number; lr: number; seed: number }): Promise<number>;
  /** Removes the adapters: the network is the trained one again (a run ends with this). */
  clear(): Promise<void>;
  /** eps for a batch, keeping the graph for {@linkcode Adapter.backward}. */
  forward(x: Float32Array, t: Float32Array, k: Float32Array, shape: TripletShape): Promise<Float32Array>;
  /** Back-propagates dL/d eps of the last forward and takes one Adam step on the adapters. */
  backward(gradEps: Float32Array): Promise<void>;
  /** The adapters and optimiser state. */
  save(): Promise<AdapterState>;
  /** Restores {@linkcode Adapter.save}'s state into adapters made by `reset` with the same settings. */
  load(state: AdapterState): Promise<void>;
}

interface Frame {
  header: Record<string, unknown>;
  payload: Uint8Array;
}

/** Reads exact byte counts from a stream, across chunk boundaries. */
class ByteReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunks: Uint8Array[] = [];
  #have = 0;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Exactly `n` bytes, or null at the end of the stream. */
  async read(n: number): Promise<Uint8Array | null> {
    while (this.#have < n) {
      const { value, done } = await this.#reader.read();
      if (done) return null;
      this.#chunks.push(value);
      this.#have += value.length;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.#chunks[0];
      const take = Math.min(c.length, n - at);
      out.set(c.subarray(0, take), at);
      at += take;
      if (take === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(take);
    }
    this.#have -= n;
    return out;
  }

  cancel(): Promise<void> {
    return this.#reader.cancel().catch(() => {});
  }
}

function floatBytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function bytesFloats(b: Uint8Array): Float32Array {
  // a fresh, aligned copy: the frame's bytes may sit at any offset
  return new Float32Array(b.slice().buffer);
}

/** A file: path for a URL, fetching it into `dir` first when it is not a local file. */
async function localPath(url: URL, dir: () => Promise<string>): Promise<string> {
  if (url.protocol === "file:") {
    const path = decodeURIComponent(url.pathname);
    await Deno.stat(path);
    return path;
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url.href}: HTTP ${res.status}`);
  const path = `${await dir()}/${url.pathname.split("/").pop()}`;
  await Deno.writeFile(path, new Uint8Array(await res.arrayBuffer()));
  return path;
}

/** One worker process and its channel; requests run one at a time, in order. */
export class TorchWorker {
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #stdout: ByteReader;
  #stderr: string[] = [];
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #tmp?: string;
  readonly info: Record<string, unknown> = {};

  private constructor(child: Deno.ChildProcess, tmp?: string) {
    this.#child = child;
    this.#tmp = tmp;
    this.#stdin = child.stdin.getWriter();
    this.#stdout = new ByteReader(child.stdout);
    // keep the last lines of stderr for the error message, and keep the pipe drained
    (async () => {
      const dec = new TextDecoder();
      let rest = "";
      for await (const chunk of child.stderr) {
        const lines = (rest + dec.decode(chunk, { stream: true })).split("\n");
        rest = lines.pop() ?? "";
        for (const l of lines) if (l.trim()) this.#stderr.push(l.trim());
        if (this.#stderr.length > 50) this.#stderr.splice(0, this.#stderr.length - 50);
      }
      if (rest.trim()) this.#stderr.push(rest.trim());
    })().catch(() => {});
  }

  /**
   * Starts `train/worker.py` (fetched beside a URL-imported blendct into a temporary folder) with the
   * Python that has torch, and loads `checkpoint` on `device`.
   */
  static async start(
    checkpoint: string,
    options: TorchEngineOptions = {},
    trusted = true,
  ): Promise<TorchWorker> {
    const python = await findPython(["torch", "numpy"], "--backend torch");
    let tmp: string | undefined;
    const dir = async () => tmp ??= await Deno.makeTempDir({ prefix: "blendct-torch-" });
    const base = new URL("../../train/", import.meta.url);
    let script: string;
    try {
      script = await localPath(new URL("worker.py", base), dir);
      if (base.protocol !== "file:") {
        for (const f of ["model.py", "adapt.py"]) await localPath(new URL(f, base), dir);
      }
    } catch (e) {
      throw new UserError(`--backend torch: the worker script could not be read (${(e as Error).message})`);
    }
    const child = new Deno.Command(python, {
      args: ["-u", script],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { PYTHONDONTWRITEBYTECODE: "1" },
    }).spawn();
    const w = new TorchWorker(child, tmp);
    try {
      const { header } = await w.request("hello", {
        ckpt: checkpoint,
        trusted,
        device: options.device ?? "auto",
        threads: options.threads ?? navigator.hardwareConcurrency ?? 0,
        amp: options.amp ?? "auto",
      });
      Object.assign(w.info, header);
    } catch (e) {
      await w.close();
      throw e;
    }
    return w;
  }

  /** Sends one request and waits for its answer; an `error` answer or a dead worker is a UserError. */
  request(op: string, header: Record<string, unknown> = {}, payload?: Float32Array): Promise<Frame> {
    if (this.#closed) return Promise.reject(new Error("torch worker used after close()"));
    const next = this.#queue.then(() => this.#roundTrip(op, header, payload));
    this.#queue = next.catch(() => {});
    return next;
  }

  async #roundTrip(op: string, header: Record<string, unknown>, payload?: Float32Array): Promise<Frame> {
    const body = payload ? floatBytes(payload) : new Uint8Array(0);
    const head = new TextEncoder().encode(JSON.stringify({ ...header, op, bytes: body.length }));
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, head.length, true);
    try {
      await this.#stdin.write(len);
      await this.#stdin.write(head);
      if (body.length) await this.#stdin.write(body);
    } catch {
      throw await this.#died(op);
    }
    const n = await this.#stdout.read(4);
    if (!n) throw await this.#died(op);
    const hlen = new DataView(n.buffer, n.byteOffset, 4).getUint32(0, true);
    if (hlen > 1 << 20) throw await this.#broken(op, `a header of ${hlen} bytes`);
    const hb = await this.#stdout.read(hlen);
    if (!hb) throw await this.#died(op);
    let answer: Record<string, unknown>;
    try {
      answer = JSON.parse(new TextDecoder().decode(hb));
    } catch {
      throw await this.#broken(op, "a header that is not JSON");
    }
    const bytes = Number(answer.bytes ?? 0);
    const pb = bytes ? await this.#stdout.read(bytes) : new Uint8Array(0);
    if (!pb) throw await this.#died(op);
    if (typeof answer.error === "string") {
      throw new UserError(`the PyTorch worker refused ${op}: ${answer.error}`);
    }
    return { header: answer, payload: pb };
  }

  /** The channel is out of step (something else wrote to it): the worker is ended, the run stops. */
  async #broken(op: string, what: string): Promise<UserError> {
    this.#closed = true;
    try {
      this.#child.kill("SIGKILL");
    } catch { /* already gone */ }
    await this.#stdout.cancel();
    return new UserError(
      `the PyTorch worker's channel broke during ${op} (${what}); rerun, with --resume if a state was saved`,
    );
  }

  async #died(op: string): Promise<UserError> {
    const status = await Promise.race([
      this.#child.status,
      new Promise<null>((r) => setTimeout(() => r(null), 2000)),
    ]);
    await new Promise((r) => setTimeout(r, 50));
    const last = this.#stderr.filter((l) => !/^\s*(File |Traceback|\^)/.test(l)).pop() ?? "no message";
    const how = status
      ? (status.signal ? `signal ${status.signal}` : `exit code ${status.code}`)
      : "no answer";
    return new UserError(`the PyTorch worker stopped during ${op} (${how}): ${last}`);
  }

  /** Asks the worker to exit (kills it if it does not) and removes any fetched scripts. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue.catch(() => {});
    try {
      await Promise.race([
        this.#roundTrip("bye", {}),
        new Promise((_, rej) => setTimeout(() => rej(new Error("timeout")), 5000)),
      ]);
    } catch {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    this.#closed = true;
    await this.#stdin.close().catch(() => {});
    await this.#stdout.cancel();
    await this.#child.status;
    if (this.#tmp) await Deno.remove(this.#tmp, { recursive: true }).catch(() => {});
  }
}

/**
 * The checkpoint a card ships beside it (`NAME.ckpt.pt`), as a local path (fetched into a temporary
 * folder when the card is not a local file), or a UserError naming the fix.
 */
export async function cardCheckpoint(model: LoadedModel): Promise<{ path: string; tmp?: string }> {
  const url = new URL(model.cardUrl.href.replace(/\.json$/, ".ckpt.pt"));
  let tmp: string | undefined;
  try {
    const path = await localPath(
      url,
      async () => tmp ??= await Deno.makeTempDir({ prefix: "blendct-ckpt-" }),
    );
    return { path, tmp };
  } catch {
    throw new UserError(
      `--backend torch: the model ${model.card.name} ships no PyTorch checkpoint (${url.href}); ` +
        "use --backend native, or a card exported with its .ckpt.pt (train/export.py --ckpt-copy)",
    );
  }
}

/** The torch back end as a {@linkcode DenoiserEngine}, with its {@linkcode Adapter}. */
export interface TorchEngine extends DenoiserEngine {
  /** Test-time adaptation on this worker. */
  readonly adapter: Adapter;
}

/**
 * Starts a worker for the card's checkpoint and wraps it as a denoiser engine.
 */
export async function createTorchEngine(
  model: LoadedModel,
  options: TorchEngineOptions = {},
): Promise<TorchEngine> {
  const device = options.device ?? "auto";
  if (!TORCH_DEVICES.includes(device)) {
    throw new UserError(`unknown --device "${device}": choose one of ${TORCH_DEVICES.join(", ")}`);
  }
  const ckpt = await cardCheckpoint(model);
  let worker: TorchWorker;
  try {
    // a checkpoint fetched from elsewhere (a remote card) is read as tensors only
    worker = await TorchWorker.start(ckpt.path, options, !ckpt.tmp);
  } catch (e) {
    if (ckpt.tmp) await Deno.remove(ckpt.tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  const size = model.card.imageSize;
  const batchFor = (h: number, w: number) =>
    options.maxBatch ?? Math.max(1, Math.min(64, Math.floor(4 * size * size / (h * w))));
  const info = worker.info;
  const floats = async (op: string, h: Record<string, unknown>, x?: Float32Array) =>
    bytesFloats((await worker.request(op, h, x)).payload);
  const call = (t: Float32Array, k: Float32Array, shape: TripletShape) => ({
    shape: [...shape],
    t: Array.from(t),
    k: Array.from(k),
  });
  return {
    backend: "torch",
    description: `PyTorch ${info.torch} on ${info.device} (${info.threads} threads, ${
      info.amp === "bf16" ? "bf16 autocast" : "fp32"
    }), ${model.card.name} checkpoint`,
    batchFor,
    run: (x, t, k, shape) => floats("eps", call(t, k, shape), x),
    adapter: {
      reset: async (o) => Number((await worker.request("adapt", { ...o })).header.parameters),
      clear: async () => {
        await worker.request("plain");
      },
      forward: (x, t, k, shape) => floats("forward", call(t, k, shape), x),
      backward: async (g) => {
        await worker.request("backward", {}, g);
      },
      save: async () => {
        const f = await worker.request("save");
        return { shapes: f.header.shapes as number[][], data: bytesFloats(f.payload) };
      },
      load: async (s) => {
        await worker.request("load", { shapes: s.shapes }, s.data);
      },
    },
    release: async () => {
      await worker.close();
      if (ckpt.tmp) await Deno.remove(ckpt.tmp, { recursive: true }).catch(() => {});
    },
  };
}
