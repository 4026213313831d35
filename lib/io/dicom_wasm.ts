/**
 * JPEG-LS and JPEG 2000 pixel data through Cornerstone's WebAssembly builds of CharLS and OpenJPEG
 * (`@cornerstonejs/codec-charls`, `@cornerstonejs/codec-openjpeg`): the reference libraries themselves,
 * kept up to date by the project that most DICOM web viewers use, loading in Deno and by URL import as npm
 * specifiers. They are loaded only when a series needs them ({@linkcode prepareDicomCodecs}), because the
 * DICOM reader itself is synchronous.
 * @module
 */
import { CHARLS_SPECIFIER, OPENJPEG_SPECIFIER } from "../deps.ts";

/** Transfer syntaxes decoded here, by codec. */
export const WASM_SYNTAXES: Record<string, "charls" | "openjpeg"> = {
  "1.2.840.10008.1.2.4.80": "charls", // JPEG-LS lossless
  "1.2.840.10008.1.2.4.81": "charls", // JPEG-LS near-lossless
  "1.2.840.10008.1.2.4.90": "openjpeg", // JPEG 2000 lossless
  "1.2.840.10008.1.2.4.91": "openjpeg", // JPEG 2000
};

interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): {
    width: number;
    height: number;
    bitsPerSample: number;
    componentCount: number;
    isSigned?: boolean;
  };
  getDecodedBuffer(): Uint8Array;
  delete(): void;
}

type CodecModule = Record<string, new () => WasmDecoder>;

const loaded = new Map<string, CodecModule>();

/** Loads the codecs that `syntaxes` need (once per process). */
export async function prepareDicomCodecs(syntaxes: Iterable<string>): Promise<void> {
  for (const s of new Set(syntaxes)) {
    const which = WASM_SYNTAXES[s];
    if (!which || loaded.has(which)) continue;
    const mod = await import(which === "charls" ? CHARLS_SPECIFIER : OPENJPEG_SPECIFIER);
    loaded.set(which, await (mod.default as () => Promise<CodecModule>)());
  }
}

/** The decoded samples of one frame of transfer syntax `syntax`, as unsigned stored values. */
export function decodeWasmFrame(
  syntax: string,
  frame: Uint8Array,
): { data: Uint32Array; width: number; height: number } {
  const which = WASM_SYNTAXES[syntax];
  const codec = which && loaded.get(which);
  if (!codec) throw new Error(`the ${which ?? "?"} codec is not loaded (prepareDicomCodecs was not called)`);
  const decoder = new codec[which === "charls" ? "JpegLSDecoder" : "J2KDecoder"]();
  try {
    decoder.getEncodedBuffer(frame.length).set(frame);
    decoder.decode();
    const info = decoder.getFrameInfo();
    if (info.componentCount !== 1) throw new Error(`${info.componentCount} components; blendct reads 1`);
    const bytes = decoder.getDecodedBuffer();
    const n = info.width * info.height, data = new Uint32Array(n);
    if (info.bitsPerSample > 8) {
      const view = new DataView(bytes.buffer, bytes.byteOffset, n * 2);
      for (let i = 0; i < n; i++) data[i] = view.getUint16(2 * i, true);
    } else {
      for (let i = 0; i < n; i++) data[i] = bytes[i];
    }
    return { data, width: info.width, height: info.height };
  } finally {
    decoder.delete();
  }
}
