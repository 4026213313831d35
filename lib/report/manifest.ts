/**
 * The run manifest: everything needed to rerun a reconstruction and to trust its numbers (versions,
 * adapter, seed, full configuration, model and input checksums, per-stage timings).
 * @module
 */
import { VERSION } from "../version.ts";
import type { AdapterSummary } from "../gpu/context.ts";

/** What a caller supplies; the manifest adds versions and time. */
export interface ManifestInput {
  /** The command line that produced the run. */
  command: string[];
  /** The GPU adapter it ran on. */
  adapter: AdapterSummary;
  /** The seed of every random choice. */
  seed: number;
  /** The full configuration, resolved defaults included. */
  config: Record<string, unknown>;
  /** The prior used (name, version, ONNX sha256, back end); absent or null for classic methods. */
  model?: { name: string; version: string; sha256: string; backend: string } | null;
  /** The input files with their sha256 and, optionally, shape. */
  inputs: { path: string; sha256: string; shape?: number[] }[];
  /** Seconds per stage; the manifest stores them as `timingsSeconds`. */
  timings: Record<string, number>;
  /** Paths of the files the run wrote. */
  outputs: string[];
  /** The onnxruntime version, when a prior ran; the manifest stores null otherwise. */
  ortVersion?: string;
  /** Test-time adaptation: its settings, the adapter's parameter count and the data residual per step. */
  adaptation?: Record<string, unknown>;
  /** Raw projections: the flat/dark correction's frame counts and clamped pixels. */
  measurement?: object;
  /** Further fields (e.g. metrics), merged into the manifest's top level. */
  extra?: Record<string, unknown>;
}

/**
 * Builds the manifest object (written as `manifest.json`).
 *
 * @example
 * ```ts
 * import { buildManifest } from "./manifest.ts";
 * const m = buildManifest({ command: [], seed: 0, config: {}, inputs: [], timings: {}, outputs: [],
 *   adapter: { description: "x", vendor: "", architecture: "", isFallbackAdapter: true,
 *     maxStorageBufferBindingSize: 0, maxBufferSize: 0 } });
 * console.log(m.blendct); // 0.1.0
 * ```
 */
export function buildManifest(input: ManifestInput): Record<string, unknown> {
  return {
    blendct: VERSION,
    created: new Date().toISOString(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    onnxruntime: input.ortVersion ?? null,
    platform: { os: Deno.build.os, arch: Deno.build.arch, cpus: navigator.hardwareConcurrency },
    adapter: input.adapter,
    command: input.command,
    seed: input.seed,
    config: input.config,
    model: input.model ?? null,
    inputs: input.inputs,
    timingsSeconds: input.timings,
    outputs: input.outputs,
    ...(input.adaptation ? { adaptation: input.adaptation } : {}),
    ...(input.measurement ? { measurement: input.measurement } : {}),
    ...input.extra,
  };
}
