/**
 * The one place where blendct's third-party versions are pinned. Every module imports its npm packages from
 * here with full `npm:name@x.y.z` specifiers, because a script importing blendct by URL never sees this
 * repository's deno.json import map.
 * @module
 */
export { z } from "npm:zod@4.6.7";
export * as nifti from "npm:nifti-reader-js@0.8.0";
export { Gunzip, gunzipSync, gzipSync, unzipSync } from "npm:fflate@0.8.3";
export { default as dicomParser } from "npm:dicom-parser@1.8.21";
export { encode as encodePng } from "npm:fast-png@8.0.0";
export { zipSync } from "npm:fflate@0.8.3";
export { decode as decodePng } from "npm:fast-png@8.0.0";
/**
 * onnxruntime-web's WebGPU + wasm build, loaded on first use (the bare specifier lacks WebGPU).
 *
 * @example
 * ```ts
 * import { importOrtWeb } from "./deps.ts";
 * const ort = () => importOrtWeb(); // deferred: only the denoiser's web back end needs it
 * console.log(typeof ort); // function
 * ```
 */
export const importOrtWeb = () => import("npm:onnxruntime-web@1.30.0/webgpu");
/**
 * onnxruntime-node, loaded on first use: its native addon needs --allow-ffi and is absent in browsers.
 *
 * @example
 * ```ts
 * import { importOrtNode } from "./deps.ts";
 * const ort = () => importOrtNode(); // deferred: a static import would demand --allow-ffi of every user
 * console.log(typeof ort); // function
 * ```
 */
export const importOrtNode = () => import("npm:onnxruntime-node@1.30.0");
export const ORT_VERSION = "1.30.0";
/** CharLS (JPEG-LS) as WebAssembly, loaded only for JPEG-LS DICOM series. */
export const CHARLS_SPECIFIER = "npm:@cornerstonejs/codec-charls@1.2.7";
/** OpenJPEG (JPEG 2000) as WebAssembly, loaded only for JPEG 2000 DICOM series. */
export const OPENJPEG_SPECIFIER = "npm:@cornerstonejs/codec-openjpeg@1.3.6";
export { decode as decodeTiff } from "npm:tiff@7.1.3";
