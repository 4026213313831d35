/** A minimal uncompressed greyscale TIFF writer for the tests (one page, little-endian, 8 or 16 bits). */
export function encodeTiff(
  width: number,
  height: number,
  pixels: ArrayLike<number>,
  bits: 8 | 16 = 16,
): Uint8Array {
  const bytes = (bits / 8) * width * height, n = 9, ifd = 8, at = ifd + 2 + n * 12 + 4;
  const buf = new Uint8Array(at + bytes), dv = new DataView(buf.buffer);
  buf.set([0x49, 0x49, 42, 0]);
  dv.setUint32(4, ifd, true);
  dv.setUint16(ifd, n, true);
  const tags: [number, number, number][] = [
    [256, 3, width],
    [257, 3, height],
    [258, 3, bits],
    [259, 3, 1],
    [262, 3, 1],
    [273, 4, at],
    [277, 3, 1],
    [278, 3, height],
    [279, 4, bytes],
  ];
  tags.forEach(([tag, type, value], i) => {
    const o = ifd + 2 + i * 12;
    dv.setUint16(o, tag, true);
    dv.setUint16(o + 2, type, true);
    dv.setUint32(o + 4, 1, true);
    if (type === 3) dv.setUint16(o + 8, value, true);
    else dv.setUint32(o + 8, value, true);
  });
  for (let i = 0; i < width * height; i++) {
    const v = Math.max(0, Math.min(2 ** bits - 1, Math.round(pixels[i])));
    if (bits === 16) dv.setUint16(at + 2 * i, v, true);
    else buf[at + i] = v;
  }
  return buf;
}
