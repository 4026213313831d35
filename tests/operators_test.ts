// The operator seam: one adjointness test over every operator and geometry, the fan-beam kernels against
// their TypeScript reference, and fan-beam FBP of an analytic phantom whose sinogram is computed here from
// ASTRA's published conventions (chord lengths through ellipses), not by blendct's projector.
import assert from "node:assert/strict";
import { GpuContext } from "../lib/gpu/context.ts";
import { adjointMismatch, Compose, type LinearOperator, viewAngles } from "../lib/ct/operator.ts";
import { Projector } from "../lib/ct/projector.ts";
import { fanFbpWeights, FanProjector } from "../lib/ct/fan.ts";
import { fanAdjointRef, fanBackprojectRef, fanForwardRef } from "../lib/ct/fan_ref.ts";
import { fanBeam, type FanGeometry, limitedAngle, sparseView } from "../lib/ct/geometry.ts";
import { SliceSubsample, subsampleAdjointRef, subsampleRef } from "../lib/ct/subsample.ts";
import { ZDiff } from "../lib/solve/zdiff.ts";
import { fromAstra } from "../lib/ct/astra.ts";
import { fbp } from "../lib/ct/fbp.ts";
import { cgls } from "../lib/solve/cgls.ts";
import { createProjector } from "../lib/ct/system.ts";
import { relErr, seededArray } from "./helpers.ts";
import { UserError } from "../lib/errors.ts";
import { ConeProjector } from "../lib/ct/cone.ts";
import { type ConeGeometry, toConeVec } from "../lib/ct/cone_geometry.ts";

const gpu = await GpuContext.create();

const fanOffset: FanGeometry = {
  ...fanBeam(12, { imageSize: 20, sourceOrigin: 60, originDetector: 40 }),
  detectorOffset: 1.3,
};
const fanNoDetectorDistance: FanGeometry = {
  ...fanBeam(7, { imageSize: 18, sourceOrigin: 50, originDetector: 0 }),
};
const fanMm: FanGeometry = {
  ...fanBeam(9, { imageSize: 16, pixelSize: 0.7, sourceOrigin: 40, originDetector: 25 }),
};

const coneSmall: ConeGeometry = {
  type: "cone",
  angles: [0, 0.7, 2, 4],
  detectorCount: 30,
  detectorRows: 14,
  detectorSpacing: 2,
  detectorSpacingV: 1.5,
  sourceOrigin: 60,
  originDetector: 40,
  detectorOffset: 1.3,
  detectorOffsetV: -2,
};

const operators: [string, () => LinearOperator | Promise<LinearOperator>][] = [
  ["parallel 8 views", () => Projector.create(gpu, sparseView(8, { imageSize: 16 }), { Z: 3, H: 16, W: 16 })],
  [
    "parallel limited 90°",
    () => Projector.create(gpu, limitedAngle(90, 30, { imageSize: 15 }), { Z: 2, H: 15, W: 15 }),
  ],
  [
    "fan full scan",
    () => FanProjector.create(gpu, fanBeam(24, { imageSize: 16 }), { Z: 2, H: 16, W: 16 }),
  ],
  [
    "fan, detector offset, short DSO",
    () => FanProjector.create(gpu, fanOffset, { Z: 2, H: 20, W: 20 }),
  ],
  [
    "fan, DOD 0, rectangular",
    () => FanProjector.create(gpu, fanNoDetectorDistance, { Z: 1, H: 12, W: 18 }),
  ],
  ["fan, 0.7 mm pixels", () => FanProjector.create(gpu, fanMm, { Z: 2, H: 16, W: 16 })],
  [
    "parallel 8 views, sparse CPU engine, 5 slices",
    () =>
      createProjector(gpu, sparseView(8, { imageSize: 16 }), { Z: 5, H: 16, W: 16 }, { engine: "sparse" }),
  ],
  [
    "parallel limited 90°, sparse CPU engine",
    () =>
      createProjector(gpu, limitedAngle(90, 30, { imageSize: 15 }), { Z: 2, H: 15, W: 15 }, {
        engine: "sparse",
      }),
  ],
  [
    "fan, detector offset, sparse CPU engine",
    () => createProjector(gpu, fanOffset, { Z: 3, H: 20, W: 20 }, { engine: "sparse" }),
  ],
  [
    "cone, detector offsets, thick slices",
    () => ConeProjector.create(gpu, coneSmall, { Z: 7, H: 12, W: 13 }, [1.2, 1, 1]),
  ],
  [
    "cone_vec, off-centre volume, 3 views",
    () =>
      ConeProjector.create(
        gpu,
        {
          ...toConeVec({ ...coneSmall, angles: [0.2, 2.1, 4.4] }),
          volumeCenter: [1.5, -2, 3],
        },
        { Z: 5, H: 10, W: 10 },
        [1, 1, 1],
      ),
  ],
  [
    "cone, WGSL kernels",
    () => ConeProjector.create(gpu, coneSmall, { Z: 7, H: 12, W: 13 }, [1.2, 1, 1], { engine: "wgsl" }),
  ],
  ["z-subsampling x3 offset 1", () => new SliceSubsample(gpu, { Z: 10, H: 5, W: 4 }, 3, 1)],
  ["Dz", () => new ZDiff(gpu, { Z: 6, H: 4, W: 5 })],
  ["Dz circular", () => new ZDiff(gpu, { Z: 6, H: 4, W: 5 }, true)],
  ["parallel ∘ z-subsampling", async () => {
    const S = new SliceSubsample(gpu, { Z: 8, H: 12, W: 12 }, 2);
    return new Compose(
      gpu,
      await Projector.create(gpu, sparseView(6, { imageSize: 12 }), { Z: 4, H: 12, W: 12 }),
      S,
    );
  }],
  ["fan ∘ Dz", () => {
    const D = new ZDiff(gpu, { Z: 3, H: 14, W: 14 });
    return new Compose(
      gpu,
      FanProjector.create(gpu, fanBeam(10, { imageSize: 14 }), { Z: 3, H: 14, W: 14 }),
      D,
    );
  }],
];

for (const [name, make] of operators) {
  Deno.test(`adjointness: ${name}`, async () => {
    const A = await make();
    try {
      for (const seed of [1, 2]) {
        const m = await adjointMismatch(gpu, A, seed);
        assert.ok(m < 2e-6, `|<Ax,y> - <x,A'y>| / (|Ax||y|) = ${m}`);
      }
    } finally {
      A.dispose();
    }
  });
}

Deno.test("viewAngles: a projector's own angles, null for operators that measure no views", async () => {
  const parallel = sparseView(8, { imageSize: 16 });
  const ops: LinearOperator[] = [
    await Projector.create(gpu, parallel, { Z: 1, H: 16, W: 16 }),
    await FanProjector.create(gpu, fanBeam(24, { imageSize: 16 }), { Z: 1, H: 16, W: 16 }),
    await ConeProjector.create(gpu, coneSmall, { Z: 3, H: 12, W: 13 }, [1.2, 1, 1]),
    new SliceSubsample(gpu, { Z: 6, H: 4, W: 4 }, 3),
  ];
  try {
    assert.deepEqual(viewAngles(ops[0]), parallel.angles);
    assert.equal(viewAngles(ops[1])?.length, 24);
    assert.deepEqual(viewAngles(ops[2]), coneSmall.angles);
    assert.equal(viewAngles(ops[3]), null);
  } finally {
    for (const A of ops) A.dispose();
  }
});

Deno.test("adjointness helper catches a wrong adjoint", async () => {
  const P = await Projector.create(gpu, sparseView(5, { imageSize: 10 }), { Z: 1, H: 10, W: 10 });
  const wrong: LinearOperator = {
    shape: P.shape,
    rangeShape: P.rangeShape,
    domainSize: P.domainSize,
    rangeSize: P.rangeSize,
    forward: (x, y) => P.forward(x, y),
    adjoint: (y, x) => P.backproject(y, x, 0.5), // interpolating back-projection, not the transpose
    dispose: () => P.dispose(),
  };
  assert.ok((await adjointMismatch(gpu, wrong)) > 1e-3);
  wrong.dispose();
});

for (
  const [name, g, shape] of [
    ["full scan", fanBeam(15, { imageSize: 16 }), { Z: 2, H: 16, W: 16 }],
    ["offset detector", fanOffset, { Z: 1, H: 20, W: 20 }],
    ["0.7 mm pixels, rectangular", fanMm, { Z: 1, H: 11, W: 16 }],
  ] as const
) {
  Deno.test(`fan kernels match the TypeScript reference: ${name}`, async () => {
    const A = FanProjector.create(gpu, g, shape);
    try {
      const x = seededArray(A.domainSize, 3), y = seededArray(A.rangeSize, 4);
      // float32 in the kernel: with the source hundreds of pixels away, the crossing points lose ~3e-5 pixel
      assert.ok(relErr(await A.project(x), fanForwardRef(x, g, shape)) < 1e-4, "forward");
      assert.ok(relErr(await A.backprojectAdjoint(y), fanAdjointRef(y, g, shape)) < 1e-4, "adjoint");
      const yb = gpu.upload(y), xb = gpu.buffer(A.domainSize * 4);
      await A.backproject(yb, xb, 0.37);
      assert.ok(
        relErr(await gpu.download(xb, A.domainSize), fanBackprojectRef(y, g, shape, 0.37)) < 1e-4,
        "fbp bp",
      );
      gpu.release(yb, xb);
    } finally {
      A.dispose();
    }
  });
}

Deno.test("fan host helpers stream volumes larger than one binding in aligned slabs", async () => {
  const g = fanBeam(8, { imageSize: 16 }), shape = { Z: 10, H: 16, W: 16 };
  // 16x16 pixels (1 KiB) per slice: an 8 KiB limit leaves slabs of at most 8 slices, 256-byte aligned
  const A = FanProjector.create(gpu, g, shape, undefined, { maxBindingBytes: 8192 });
  try {
    assert.ok(A.slab < shape.Z, `slab ${A.slab}`);
    const x = seededArray(A.domainSize, 7), y = seededArray(A.rangeSize, 8);
    assert.ok(relErr(await A.project(x), fanForwardRef(x, g, shape)) < 1e-4, "forward");
    assert.ok(relErr(await A.backprojectAdjoint(y), fanAdjointRef(y, g, shape)) < 1e-4, "adjoint");
  } finally {
    A.dispose();
  }
});

Deno.test("slice subsampling kernels match the reference", async () => {
  const shape = { Z: 9, H: 3, W: 4 };
  const S = new SliceSubsample(gpu, shape, 4, 2);
  assert.deepEqual(S.kept, [2, 6]);
  const x = seededArray(S.domainSize, 5), y = seededArray(S.rangeSize, 6);
  const xb = gpu.upload(x), yb = gpu.upload(y), ob = gpu.buffer(S.domainSize * 4);
  await S.forward(xb, ob);
  assert.deepEqual(await gpu.download(ob, S.rangeSize), subsampleRef(x, shape, 4, 2));
  await S.adjoint(yb, ob);
  assert.deepEqual(await gpu.download(ob, S.domainSize), subsampleAdjointRef(y, shape, 4, 2));
  gpu.release(xb, yb, ob);
});

// --- an analytic phantom in ASTRA's world (mm, y up), its fan sinogram by chord lengths -------------------

type Ellipse = [number, number, number, number, number, number]; // value, a, b, cx, cy, rotation (rad)
// modified Shepp–Logan (Toft) scaled to a radius of 0.45 · size mm
function phantom(R: number): Ellipse[] {
  const e: Ellipse[] = [
    [1, 0.69, 0.92, 0, 0, 0],
    [-0.8, 0.6624, 0.874, 0, -0.0184, 0],
    [-0.2, 0.11, 0.31, 0.22, 0, -18],
    [-0.2, 0.16, 0.41, -0.22, 0, 18],
    [0.1, 0.21, 0.25, 0, 0.35, 0],
    [0.1, 0.046, 0.046, 0, 0.1, 0],
    [0.1, 0.046, 0.046, 0, -0.1, 0],
    [0.1, 0.046, 0.023, -0.08, -0.605, 0],
    [0.1, 0.023, 0.023, 0, -0.606, 0],
    [0.1, 0.023, 0.046, 0.06, -0.605, 0],
  ];
  return e.map(([v, a, b, x, y, deg]) => [v, a * R, b * R, x * R, y * R, (deg * Math.PI) / 180]);
}

function chord(e: Ellipse, sx: number, sy: number, dx: number, dy: number): number {
  const [, a, b, cx, cy, phi] = e;
  const c = Math.cos(phi), s = Math.sin(phi);
  const px = sx - cx, py = sy - cy;
  const qx = (c * px + s * py) / a, qy = (-s * px + c * py) / b;
  const rx = (c * dx + s * dy) / a, ry = (-s * dx + c * dy) / b;
  const A = rx * rx + ry * ry, B = 2 * (qx * rx + qy * ry), C = qx * qx + qy * qy - 1;
  const disc = B * B - 4 * A * C;
  return disc <= 0 ? 0 : Math.sqrt(disc) / A; // Δt for a unit-length direction
}

/** ASTRA fanflat conventions: source (DSO sin θ, −DSO cos θ), detector centre (−DOD sin θ, DOD cos θ), bins along (cos θ, sin θ). */
function astraFanSinogram(pg: Record<string, unknown>, ellipses: Ellipse[]): Float32Array {
  const th = pg.ProjectionAngles as number[], D = pg.DetectorCount as number, w = pg.DetectorWidth as number;
  const dso = pg.DistanceOriginSource as number, dod = pg.DistanceOriginDetector as number;
  const out = new Float32Array(th.length * D);
  th.forEach((t, a) => {
    const sx = dso * Math.sin(t), sy = -dso * Math.cos(t);
    for (let u = 0; u < D; u++) {
      const s = (u - (D - 1) / 2) * w;
      const px = -dod * Math.sin(t) + s * Math.cos(t), py = dod * Math.cos(t) + s * Math.sin(t);
      const len = Math.hypot(px - sx, py - sy);
      const dx = (px - sx) / len, dy = (py - sy) / len;
      out[a * D + u] = ellipses.reduce((acc, e) => acc + e[0] * chord(e, sx, sy, dx, dy), 0);
    }
  });
  return out;
}

/** The phantom on the image grid (row 0 at the top, y up), 4×4 samples per pixel. */
function raster(ellipses: Ellipse[], n: number, px: number): Float32Array {
  const img = new Float32Array(n * n);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let sj = 0; sj < 4; sj++) {
        for (let si = 0; si < 4; si++) {
          const x = (i + (si + 0.5) / 4 - n / 2) * px, y = (n / 2 - j - (sj + 0.5) / 4) * px;
          for (const [v, a, b, cx, cy, phi] of ellipses) {
            const c = Math.cos(phi), s = Math.sin(phi);
            const qx = (c * (x - cx) + s * (y - cy)) / a, qy = (-s * (x - cx) + c * (y - cy)) / b;
            if (qx * qx + qy * qy <= 1) acc += v;
          }
        }
      }
      img[j * n + i] = acc / 16;
    }
  }
  return img;
}

function psnr(x: Float32Array, ref: Float32Array): number {
  let mse = 0, hi = -Infinity, lo = Infinity;
  for (let i = 0; i < ref.length; i++) {
    mse += (x[i] - ref[i]) ** 2;
    hi = Math.max(hi, ref[i]);
    lo = Math.min(lo, ref[i]);
  }
  return 10 * Math.log10((hi - lo) ** 2 / (mse / ref.length));
}

function astraCase(n: number, px: number, views: number, degrees: number) {
  const half = (n * px) / 2;
  return {
    vol_geom: {
      GridRowCount: n,
      GridColCount: n,
      option: { WindowMinX: -half, WindowMaxX: half, WindowMinY: -half, WindowMaxY: half },
    },
    proj_geom: {
      type: "fanflat",
      DetectorWidth: 1.6 * px,
      DetectorCount: Math.ceil(n * 1.9),
      ProjectionAngles: Array.from({ length: views }, (_, i) => (i * degrees * Math.PI) / 180 / views),
      DistanceOriginSource: 2.2 * half * 1.2,
      DistanceOriginDetector: 1.2 * half,
    },
  };
}

Deno.test("fan-beam FBP of an analytic phantom from an ASTRA dictionary: full scan >= 30 dB", async () => {
  const n = 128, px = 0.8;
  const dict = astraCase(n, px, 360, 360);
  const { geometry, grid, pixelSize } = fromAstra(dict);
  assert.deepEqual(grid, [n, n]);
  const ellipses = phantom(0.45 * n * px);
  // ASTRA's line integrals are in world units (mm × value); blendct's in pixel lengths
  const y = astraFanSinogram(dict.proj_geom, ellipses).map((v) => v / pixelSize);
  const truth = raster(ellipses, n, px);
  const rec = await fbp(y, geometry, { Z: 1, H: n, W: n }, { gpu, filter: "shepp-logan" });
  const p = psnr(rec, truth);
  assert.ok(p >= 30, `full-scan fan FBP ${p.toFixed(2)} dB`);
});

Deno.test("fan-beam FBP, short scan with Parker weights, and CGLS on the same data", async () => {
  const n = 96, px = 1;
  const dict = astraCase(n, px, 0, 0);
  const gm = Math.atan(
    ((dict.proj_geom.DetectorCount - 1) / 2 * dict.proj_geom.DetectorWidth) /
      (dict.proj_geom.DistanceOriginSource + dict.proj_geom.DistanceOriginDetector),
  );
  const span = Math.PI + 2 * gm, views = 240;
  dict.proj_geom.ProjectionAngles = Array.from({ length: views }, (_, i) => (i * span) / views);
  const { geometry } = fromAstra(dict);
  assert.equal(fanFbpWeights(geometry as FanGeometry, px).scan, "short");
  const ellipses = phantom(0.45 * n * px);
  const y = astraFanSinogram(dict.proj_geom, ellipses).map((v) => v / px);
  const truth = raster(ellipses, n, px);
  const rec = await fbp(y, geometry, { Z: 1, H: n, W: n }, { gpu, filter: "shepp-logan" });
  const pShort = psnr(rec, truth);
  assert.ok(pShort >= 27, `short-scan fan FBP ${pShort.toFixed(2)} dB`);
  const A = FanProjector.create(gpu, geometry as FanGeometry, { Z: 1, H: n, W: n });
  const yb = gpu.upload(y), xb = gpu.buffer(A.domainSize * 4);
  const r10 = await cgls(gpu, A, xb, yb, { iterations: 10 });
  const r40 = await cgls(gpu, A, xb, yb, { iterations: 30 });
  assert.ok(r40 < 0.5 * r10, `CGLS residual ${r10} -> ${r40}`);
  const pCgls = psnr(await gpu.download(xb, A.domainSize), truth);
  // unregularised and 40 iterations: far from converged, but well above a blank image (about 8 dB)
  assert.ok(pCgls >= 18, `fan CGLS ${pCgls.toFixed(2)} dB`);
  gpu.release(yb, xb);
  A.dispose();
});

Deno.test("ASTRA dictionaries: parallel maps to blendct's angles; unsupported types and bad windows are named", async () => {
  const vol = { GridRowCount: 24, GridColCount: 24 };
  const par = fromAstra({
    vol_geom: vol,
    proj_geom: { type: "parallel", DetectorWidth: 1, DetectorCount: 35, ProjectionAngles: [0.3] },
  });
  assert.deepEqual(par.geometry.angles, [-0.3]);
  // a point at world (x, y) = (5, 3) (y up) lies on the ASTRA ray s = x cos θ + y sin θ; blendct must agree
  const img = new Float32Array(24 * 24);
  const i = Math.round(5 + 11.5), j = Math.round(11.5 - 3);
  img[j * 24 + i] = 1;
  const P = await Projector.create(gpu, par.geometry as never, { Z: 1, H: 24, W: 24 });
  const y = await P.project(img);
  const peak = y.indexOf(Math.max(...y));
  const s = (i - 11.5) * Math.cos(0.3) + (11.5 - j) * Math.sin(0.3);
  assert.ok(Math.abs(peak - (s + 17)) <= 1, `peak bin ${peak}, ASTRA bin ${s + 17}`);
  P.dispose();
  // cone is supported now: an incomplete one names its missing field
  assert.throws(
    () => fromAstra({ vol_geom: vol, proj_geom: { type: "cone" } }),
    (e: Error) => e instanceof UserError && /proj_geom\.DetectorSpacingX/.test(e.message),
  );
  assert.throws(
    () => fromAstra({ vol_geom: vol, proj_geom: { type: "fanflat_vec" } }),
    (e: Error) =>
      e instanceof UserError && /"fanflat_vec"/.test(e.message) && /not supported/.test(e.message),
  );
  assert.throws(() => fromAstra({ vol_geom: vol, proj_geom: { type: "parallel3d" } }), /not supported/);
  assert.throws(
    () =>
      fromAstra({
        vol_geom: { ...vol, option: { WindowMinX: 0, WindowMaxX: 24, WindowMinY: -12, WindowMaxY: 12 } },
        proj_geom: { type: "parallel", DetectorWidth: 1, DetectorCount: 35, ProjectionAngles: [0] },
      }),
    /not centred/,
  );
  assert.throws(
    () =>
      fromAstra({
        vol_geom: vol,
        proj_geom: {
          type: "fanflat",
          DetectorWidth: 1,
          DetectorCount: 35,
          ProjectionAngles: [0],
          DistanceOriginSource: 40,
          DistanceOriginDetector: -1,
        },
      }),
    /DistanceOriginDetector: must be >= 0/,
  );
});
