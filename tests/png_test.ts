import assert from "node:assert/strict";
import { decodePng } from "../lib/deps.ts";
import { FONT_CHARACTERS, midPlanesPng, slicePng, wrapLabel } from "../lib/report/png.ts";
import { makeVolume } from "../lib/volume.ts";
import { num } from "../lib/report/format.ts";

Deno.test("slicePng encodes a windowed 8-bit greyscale image", () => {
  const png = decodePng(slicePng(Float32Array.from([0, 0.5, 1, 2, -1, NaN]), 3, 2, [0, 1]));
  assert.equal(png.width, 3);
  assert.equal(png.height, 2);
  assert.equal(png.channels, 1);
  assert.equal(png.depth, 8);
  assert.deepEqual(Array.from(png.data), [0, 128, 255, 255, 0, 0]);
  const hu = decodePng(slicePng(Float32Array.from([-1000, 0, 1000]), 3, 1, { window: [-1000, 1000] }));
  assert.deepEqual(Array.from(hu.data), [0, 128, 255]);
  assert.throws(() => slicePng(new Float32Array(3), 2, 2), RangeError);
});

Deno.test("midPlanesPng lays out planes x volumes, scales by spacing, flips z, draws labels", () => {
  const [Z, Y, X] = [8, 16, 20];
  const xRamp = new Float32Array(Z * Y * X), zRamp = new Float32Array(Z * Y * X);
  for (let p = 0; p < xRamp.length; p++) {
    xRamp[p] = (p % X) / (X - 1);
    zRamp[p] = Math.floor(p / (Y * X)) / (Z - 1);
  }
  const spacing: [number, number, number] = [2, 1, 1];
  const png = decodePng(midPlanesPng([
    { label: "x ramp", volume: makeVolume(xRamp, [Z, Y, X], { spacing }) },
    { label: "z", volume: makeVolume(zRamp, [Z, Y, X], { spacing }) },
  ], { planeLabels: false, minCellHeight: 1 }));
  // Cells: axial 20x16, coronal 20 wide x (8 slices * 2 mm) 16 high, sagittal 16x16. Gap 4, font scale 2:
  // header 7*2 + 2*4 = 22; width 4 + 20 + 4 + 20 + 4 = 52; height 22 + 3 * (16 + 4) = 82.
  assert.equal(png.width, 52);
  assert.equal(png.height, 82);
  const px = (x: number, y: number) => png.data[y * png.width + x];
  // Axial cell of column 0 starts at (4, 22): the x ramp, pixel for pixel.
  assert.equal(px(4 + 10, 22 + 5), Math.round((255 * 10) / 19));
  assert.equal(px(4, 22), 0);
  assert.equal(px(4 + 19, 22 + 15), 255);
  // Coronal cell of column 1 starts at (28, 42): superior (last z) at the top, inferior at the bottom.
  assert.equal(px(28 + 5, 42), 255);
  assert.equal(px(28 + 5, 42 + 15), 0);
  // Sagittal cell of column 1 (16 wide in a 20-wide column, so 2 px of margin) starts at (30, 62).
  assert.equal(px(30 + 3, 62), 255);
  assert.equal(px(29, 62), 0, "margin is background");
  // Labels: some white pixels in each column's header, none in the gaps.
  const headerWhite = (x0: number, x1: number) => {
    let n = 0;
    for (let y = 0; y < 22; y++) for (let x = x0; x < x1; x++) n += px(x, y) === 255 ? 1 : 0;
    return n;
  };
  assert.ok(headerWhite(4, 24) > 20);
  assert.ok(headerWhite(28, 48) > 10);
  assert.equal(headerWhite(0, 4), 0);
});

Deno.test("midPlanesPng options: window, nearest resampling, planes subset, long labels", () => {
  const v = makeVolume(new Float32Array(4 * 10 * 10).fill(500), [4, 10, 10], { spacing: [3, 1, 1] });
  const png = decodePng(
    midPlanesPng([{ label: "a very long label that cannot fit ~~~~ \u00e9", volume: v }], {
      window: [0, 1000],
      planes: ["coronal"],
      resample: "nearest",
      gap: 2,
      fontScale: 1,
      planeLabels: false,
      minCellHeight: 1,
    }),
  );
  assert.equal(png.width, 2 + 10 + 2);
  assert.equal(png.height, 7 + 4 + 12 + 2);
  assert.equal(png.data[(11 + 5) * png.width + 7], 128);
  assert.throws(() => midPlanesPng([]), RangeError);
  assert.throws(() => midPlanesPng([{ label: "", volume: v }], { window: [1, 0] }), /hi > lo/);
});

Deno.test("the font covers A-Z, a-z, 0-9 and common symbols", () => {
  for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,:;-_+=/()[]%#?!<>") {
    assert.ok(FONT_CHARACTERS.includes(ch), ch);
  }
});

Deno.test("midPlanesPng: plane names, a grey ramp with its window's ends, a scale bar in mm, a footer", () => {
  const v = makeVolume(new Float32Array(3 * 40 * 40).fill(0.5), [3, 40, 40], { spacing: [2.5, 0.5, 0.5] });
  const bare = decodePng(midPlanesPng([{ label: "a", volume: v }], { planeLabels: false, minCellHeight: 1 }));
  const full = decodePng(midPlanesPng([{ label: "a", volume: v }, { label: "err", volume: v }], {
    columnWindows: { 1: [0, 0.4] },
    rampColumns: [1],
    scaleBarMm: 10,
    footer: "window 0..1",
  }));
  assert.ok(full.width > 2 * bare.width, "plane names, a second column and its ramp widen the grid");
  // three thin slices are stretched for display: the coronal strip is at least 40 px (its width), not 15
  assert.ok(full.height > bare.height + 40);
  // the scale bar: 10 mm at 0.5 mm per pixel is a 20-pixel white run in the rows under the grid
  let longest = 0;
  for (let y = full.height - 40; y < full.height; y++) {
    let run = 0;
    for (let x = 0; x < full.width; x++) {
      run = full.data[y * full.width + x] === 255 ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
  }
  assert.ok(longest >= 20, `longest white run ${longest}`);
});

Deno.test("the preview's footer writes window bounds as a person would (no float noise)", () => {
  assert.equal(num(-160.00000000000003), "-160");
  assert.equal(num(39.999999999999986), "40");
  assert.equal(num(0.25), "0.25");
  assert.equal(num(-1024), "-1024");
});

Deno.test("column labels wrap whole instead of being cut: two variants stay told apart", () => {
  const a = wrapLabel("blend++ t0=100 steps=20 (jump 2)", 120, 2),
    b = wrapLabel("blend++ t0=300 steps=20 (jump 2)", 120, 2);
  assert.notDeepEqual(a, b);
  assert.equal(a.join(" ").replace(/\s+/g, " "), a.join(" "));
  assert.ok(a.every((l) => (l.length * 6 - 1) * 2 <= 120), a.join("|"));
  assert.equal(a.join(" "), "blend++ t0=100 steps=20 (jump 2)", "every word kept");
  assert.deepEqual(wrapLabel("tv", 120, 2), ["tv"]);
  // evaluate's variant names break after their "/" and ",", whole
  const variant = "blend++/start=tv/t0=150/steps=10/finish=tv";
  const w = wrapLabel(variant, 240, 2);
  assert.equal(w.join(""), variant);
  assert.ok(w.length > 1 && w.every((l) => (l.length * 6 - 1) * 2 <= 240), w.join("|"));
  // a grid with a long label is taller than one with short labels (the header holds every line)
  const v = makeVolume(new Float32Array(4 * 128 * 128).fill(0.5), [4, 128, 128]);
  const short = decodePng(midPlanesPng([{ label: "tv", volume: v }]));
  const long = decodePng(midPlanesPng([{ label: "blend++ t0=100 steps=20", volume: v }]));
  assert.ok(long.height > short.height, `${long.height} vs ${short.height}`);
});
