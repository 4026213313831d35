/** The line plots: round ticks, and every point drawn where the frame puts it, in its series' colour. */
import assert from "node:assert/strict";
import { decodePng } from "../lib/deps.ts";
import { linePlotPng, niceTicks, plotFrame, type PlotSeries, SERIES_COLOURS } from "../lib/report/plot.ts";

Deno.test("niceTicks: steps of 1, 2 or 5 times a power of ten inside the range", () => {
  assert.deepEqual(niceTicks(21.3, 33.8, 6), [22, 24, 26, 28, 30, 32]);
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(-0.013, 0.041, 5), [-0.01, 0, 0.01, 0.02, 0.03, 0.04]);
  assert.deepEqual(niceTicks(3, 3), [3]);
});

Deno.test("linePlotPng: each point's marker centre has its series' colour; a NaN leaves a gap", () => {
  const series: PlotSeries[] = [
    { label: "tv", points: [[4, 27.1], [6, 29.0], [8, 30.2]] },
    { label: "blend++", points: [[4, 27.9], [6, NaN], [8, 31.0]] },
  ];
  const options = { xLabel: "views", yLabel: "PSNR (dB)" };
  const png = decodePng(linePlotPng(series, options));
  assert.equal(png.channels, 3);
  const f = plotFrame(series, options);
  const at = (x: number, y: number) =>
    Array.from(png.data.subarray((y * png.width + x) * 3, (y * png.width + x) * 3 + 3));
  series.forEach((s, k) => {
    for (const [x, y] of s.points) {
      if (Number.isFinite(y)) {
        assert.deepEqual(at(f.px(x), f.py(y)), [...SERIES_COLOURS[k]], `${s.label} at ${x}`);
      }
    }
  });
  // between 4 and 8 views blend++ has no line (its 6-view value is missing): the midpoint is background
  const mx = f.px(5), my = f.py((27.9 + 29.0) / 2);
  assert.notDeepEqual(at(mx, my), [...SERIES_COLOURS[1]]);
  // higher PSNR is higher up, more views further right
  assert.ok(f.py(31) < f.py(27) && f.px(8) > f.px(4));
  const [left, top, right, bottom] = f.area;
  assert.ok(left > 0 && top > 0 && right < png.width && bottom < png.height);
});
