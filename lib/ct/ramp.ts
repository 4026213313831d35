/**
 * The reconstruction filters of FBP and FDK: ramp-type kernels designed in float64 for a given bin width,
 * and the TypeScript reference of the row filter.
 * @module
 */

/** The reconstruction filters blendct offers. */
export const FBP_FILTERS = ["ramp", "shepp-logan", "cosine", "hann"] as const;
/** One of {@linkcode FBP_FILTERS}. */
export type FbpFilter = typeof FBP_FILTERS[number];

function windowAt(filter: FbpFilter, f: number): number {
  // f in cycles per bin, |f| <= 0.5
  switch (filter) {
    case "ramp":
      return 1;
    case "shepp-logan":
      return f === 0 ? 1 : Math.sin(Math.PI * f) / (Math.PI * f);
    case "cosine":
      return Math.cos(Math.PI * f);
    case "hann":
      return 0.5 * (1 + Math.cos(2 * Math.PI * f));
  }
}

/**
 * Spatial filter taps for `D` bins of width `ds`, index `D - 1` being offset 0. The ramp is the
 * band-limited discrete ramp (Kak & Slaney), which has no DC offset; other filters multiply its spectrum by
 * their window.
 *
 * @example
 * ```ts
 * import { filterTaps } from "./fbp.ts";
 * const k = filterTaps(5, 1, "ramp");
 * console.log(k.length, k[4]); // 9 0.25
 * ```
 */
export function filterTaps(D: number, ds: number, filter: FbpFilter): Float32Array {
  const ramp = (
    m: number,
  ) => (m === 0 ? 1 / (4 * ds) : m % 2 === 0 ? 0 : -1 / (m * m * Math.PI * Math.PI * ds));
  const taps = new Float32Array(2 * D - 1);
  if (filter === "ramp") {
    for (let m = -(D - 1); m <= D - 1; m++) taps[m + D - 1] = ramp(m);
    return taps;
  }
  let P = 1;
  while (P < 2 * D) P *= 2;
  // the kernel is real and even, so its spectrum is a cosine series
  const k = new Float64Array(P);
  for (let m = 0; m < P; m++) k[m] = ramp(m <= P / 2 ? m : m - P);
  const spec = new Float64Array(P);
  for (let f = 0; f < P; f++) {
    let acc = 0;
    for (let m = 0; m < P; m++) acc += k[m] * Math.cos((2 * Math.PI * f * m) / P);
    const freq = f <= P / 2 ? f / P : (f - P) / P;
    spec[f] = acc * windowAt(filter, freq);
  }
  for (let m = -(D - 1); m <= D - 1; m++) {
    let acc = 0;
    for (let f = 0; f < P; f++) acc += spec[f] * Math.cos((2 * Math.PI * f * m) / P);
    taps[m + D - 1] = acc / P;
  }
  return taps;
}

/** Reference of the WGSL row filter: `q[u] = Σ_v taps[u - v + D - 1] p[v]` for every row. */
export function filterRowsRef(sino: Float32Array, D: number, taps: Float32Array): Float32Array {
  const out = new Float32Array(sino.length);
  for (let r = 0; r < sino.length / D; r++) {
    for (let u = 0; u < D; u++) {
      let acc = 0;
      for (let v = 0; v < D; v++) acc += taps[u + D - 1 - v] * sino[r * D + v];
      out[r * D + u] = acc;
    }
  }
  return out;
}
