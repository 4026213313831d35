/**
 * Decoders of the lossless compressed DICOM transfer syntaxes hospital exports use most: RLE Lossless
 * (PS3.5 Annex G) and JPEG Lossless, process 14 (ITU T.81 Annex H: Huffman-coded prediction differences,
 * predictors 1–7, point transform, restart intervals). Both return the frame's samples as numbers, so the
 * caller applies BitsStored, PixelRepresentation and the rescale exactly as for uncompressed data.
 * @module
 */

/** A decoding failure; the DICOM reader names the file. */
export class CodecError extends Error {}

/**
 * RLE Lossless: a 64-byte header (segment count, 15 offsets), one PackBits segment per byte plane, most
 * significant plane first. Returns the samples (unsigned, `bitsAllocated` wide).
 *
 * @example
 * ```ts
 * import { decodeRle } from "./dicom_codecs.ts";
 * const header = new Uint8Array(64);
 * new DataView(header.buffer).setUint32(0, 1, true);
 * new DataView(header.buffer).setUint32(4, 64, true);
 * const frame = new Uint8Array([...header, 0xfe, 7, 1, 9]); // repeat 7 three times, then one literal 9
 * console.log(Array.from(decodeRle(frame, 4, 8))); // [ 7, 7, 7, 9 ]
 * ```
 */
export function decodeRle(frame: Uint8Array, count: number, bitsAllocated: number): Uint32Array {
  if (frame.length < 64) throw new CodecError("RLE frame shorter than its 64-byte header");
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segments = dv.getUint32(0, true);
  const planes = bitsAllocated / 8;
  if (segments !== planes) {
    throw new CodecError(
      `RLE frame has ${segments} segments; ${bitsAllocated}-bit single-sample data needs ${planes}`,
    );
  }
  const out = new Uint32Array(count);
  for (let s = 0; s < segments; s++) {
    const start = dv.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? dv.getUint32(8 + 4 * s, true) : frame.length;
    if (start < 64 || end > frame.length || end < start) {
      throw new CodecError(`RLE segment ${s} offsets are invalid`);
    }
    const shift = 8 * (planes - 1 - s);
    let i = start, k = 0;
    while (i < end && k < count) {
      const n = (frame[i++] << 24) >> 24; // signed header byte
      if (n >= 0) {
        for (let j = 0; j <= n && k < count && i < end; j++) out[k++] |= frame[i++] << shift;
      } else if (n !== -128) {
        const v = frame[i++] << shift;
        for (let j = 0; j < 1 - n && k < count; j++) out[k++] |= v;
      }
    }
    if (k < count) throw new CodecError(`RLE segment ${s} ends after ${k} of ${count} samples`);
  }
  return out;
}

interface Huffman {
  /** maxcode[l]: the largest code of length l (−1 when none). */
  maxcode: Int32Array;
  /** valptr[l]: index in `values` of the first code of length l. */
  valptr: Int32Array;
  mincode: Int32Array;
  values: Uint8Array;
}

function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
  const maxcode = new Int32Array(18).fill(-1), mincode = new Int32Array(17), valptr = new Int32Array(17);
  let code = 0, k = 0;
  for (let l = 1; l <= 16; l++) {
    valptr[l] = k;
    mincode[l] = code;
    code += counts[l - 1];
    k += counts[l - 1];
    maxcode[l] = counts[l - 1] ? code - 1 : -1;
    code <<= 1;
  }
  return { maxcode, mincode, valptr, values };
}

/** Reads entropy-coded bits, removing stuffed zero bytes; stops at a marker. */
class BitReader {
  #pos: number;
  #bits = 0;
  #n = 0;
  constructor(private readonly data: Uint8Array, pos: number) {
    this.#pos = pos;
  }
  get pos(): number {
    return this.#pos;
  }
  bit(): number {
    if (this.#n === 0) {
      if (this.#pos >= this.data.length) {
        throw new CodecError("JPEG data ends inside the entropy-coded segment");
      }
      const b = this.data[this.#pos];
      if (b === 0xff) {
        const next = this.data[this.#pos + 1];
        if (next === 0) this.#pos += 2;
        else throw new CodecError(`JPEG marker FF${next.toString(16)} inside the entropy-coded data`);
      } else this.#pos++;
      this.#bits = b;
      this.#n = 8;
    }
    this.#n--;
    return (this.#bits >> this.#n) & 1;
  }
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = (v << 1) | this.bit();
    return v;
  }
  /** Drops the partial byte and skips an RSTn marker (restart intervals). */
  restart(): void {
    this.#n = 0;
    if (
      this.data[this.#pos] === 0xff && this.data[this.#pos + 1] >= 0xd0 && this.data[this.#pos + 1] <= 0xd7
    ) {
      this.#pos += 2;
    } else throw new CodecError("JPEG restart marker missing");
  }
}

function decodeSymbol(r: BitReader, h: Huffman): number {
  let code = 0;
  for (let l = 1; l <= 16; l++) {
    code = (code << 1) | r.bit();
    if (h.maxcode[l] >= 0 && code <= h.maxcode[l]) return h.values[h.valptr[l] + code - h.mincode[l]];
  }
  throw new CodecError("JPEG Huffman code not in its table");
}

/** The result of {@linkcode decodeJpegLossless}. */
export interface JpegLosslessFrame {
  /** Samples row by row. */
  data: Uint32Array;
  /** Rows of the frame. */
  rows: number;
  /** Columns of the frame. */
  columns: number;
  /** Sample precision in bits. */
  precision: number;
  /** Predictor 1–7 of the scan. */
  predictor: number;
}

/**
 * JPEG Lossless (process 14, one component): Huffman-decoded differences added to the selected
 * predictor, shifted left by the point transform.
 *
 * @example
 * ```ts ignore
 * const { data, rows, columns } = decodeJpegLossless(frameBytes);
 * ```
 */
export function decodeJpegLossless(buf: Uint8Array): JpegLosslessFrame {
  if (buf[0] !== 0xff || buf[1] !== 0xd8) throw new CodecError("JPEG frame does not start with SOI");
  const tables = new Map<number, Huffman>();
  let pos = 2, rows = 0, columns = 0, precision = 0, restart = 0;
  const u16 = (p: number) => (buf[p] << 8) | buf[p + 1];
  while (pos + 4 <= buf.length) {
    if (buf[pos] !== 0xff) throw new CodecError(`JPEG marker expected at byte ${pos}`);
    const marker = buf[pos + 1];
    if (marker === 0xff) {
      pos++;
      continue;
    }
    const len = u16(pos + 2), seg = pos + 4;
    if (marker === 0xc3) {
      precision = buf[seg];
      rows = u16(seg + 1);
      columns = u16(seg + 3);
      if (buf[seg + 5] !== 1) {
        throw new CodecError(`JPEG lossless with ${buf[seg + 5]} components; blendct reads 1`);
      }
    } else if ((marker >= 0xc0 && marker <= 0xcf) && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      throw new CodecError(`JPEG process SOF${marker - 0xc0} is not lossless process 14`);
    } else if (marker === 0xc4) {
      let p = seg;
      while (p < seg + len - 2) {
        const id = buf[p];
        const counts = buf.subarray(p + 1, p + 17);
        const total = counts.reduce((a, b) => a + b, 0);
        tables.set(id & 0x0f, buildHuffman(counts, buf.subarray(p + 17, p + 17 + total)));
        p += 17 + total;
      }
    } else if (marker === 0xdd) {
      restart = u16(seg);
    } else if (marker === 0xda) {
      if (!rows || !columns) throw new CodecError("JPEG scan before its frame header");
      const table = tables.get(buf[seg + 2] >> 4);
      if (!table) throw new CodecError("JPEG scan names a Huffman table that is not defined");
      const predictor = buf[seg + 1 + 2 * buf[seg]];
      const pt = buf[seg + 3 + 2 * buf[seg]] & 0x0f;
      if (predictor < 1 || predictor > 7) {
        throw new CodecError(`JPEG lossless predictor ${predictor} is not 1..7`);
      }
      const data = decodeScan(buf, seg + len - 2, table, rows, columns, precision, predictor, pt, restart);
      return { data, rows, columns, precision, predictor };
    }
    pos = seg + len - 2;
  }
  throw new CodecError("JPEG frame has no scan");
}

function decodeScan(
  buf: Uint8Array,
  start: number,
  h: Huffman,
  rows: number,
  cols: number,
  precision: number,
  predictor: number,
  pt: number,
  restart: number,
): Uint32Array {
  const r = new BitReader(buf, start);
  const mask = (1 << (precision - pt)) - 1; // differences and samples wrap modulo 2^(P−Pt)
  const out = new Int32Array(rows * cols);
  const initial = 1 << (precision - pt - 1);
  let sinceRestart = 0, firstRow = 0; // the row where the current restart interval began
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      const i = y * cols + x;
      if (restart && sinceRestart === restart) {
        r.restart();
        sinceRestart = 0;
        firstRow = y;
      }
      const s = decodeSymbol(r, h);
      let diff = 0;
      if (s === 16) diff = 32768;
      else if (s > 0) {
        const v = r.bits(s);
        diff = v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
      }
      let pred: number;
      // T.81 H.1.2.1: the scan and each restart interval start from 2^(P−Pt−1), their first row from the left
      if (sinceRestart === 0) pred = initial;
      else if (y === firstRow) pred = out[i - 1];
      else if (x === 0) pred = out[i - cols];
      else {
        const a = out[i - 1], b = out[i - cols], c = out[i - cols - 1];
        pred = predictor === 1
          ? a
          : predictor === 2
          ? b
          : predictor === 3
          ? c
          : predictor === 4
          ? a + b - c
          : predictor === 5
          ? a + ((b - c) >> 1)
          : predictor === 6
          ? b + ((a - c) >> 1)
          : (a + b) >> 1;
      }
      out[i] = (pred + diff) & mask;
      sinceRestart++;
    }
  }
  const res = new Uint32Array(out.length);
  for (let i = 0; i < out.length; i++) res[i] = out[i] << pt;
  return res;
}
