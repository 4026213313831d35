// Cone beam: the engine against its float64 reference, FDK of ellipsoids whose projections are chord
// lengths along ASTRA's rays (tests/cone_fixture.ts, not blendct's projector), orientation errors caught,
// the spellings of one geometry (cone, cone_vec, ASTRA's dictionaries, TIGRE's fields) giving one operator,
// TV on 16 views against FDK, and the bad geometries refused in one line.
import assert from "node:assert/strict";
import { ConeProjector } from "../lib/ct/cone.ts";
import { coneAdjointRef, coneForwardRef } from "../lib/ct/cone_ref.ts";
import { type ConeGeometry, coneVectors, fromTigre, toConeVec, withAngles } from "../lib/ct/cone_geometry.ts";
import { checkConeGeometry } from "../lib/ct/cone_plan.ts";
import { fromAstra } from "../lib/ct/astra.ts";
import { fdk } from "../lib/ct/fdk.ts";
import { parseGeometry } from "../lib/io/geometry_file.ts";
import { GpuContext } from "../lib/gpu/context.ts";
import { reconstructWith } from "../lib/jobs/reconstruct.ts";
import { UserError } from "../lib/errors.ts";
import { relErr, seededArray } from "./helpers.ts";
import { type Ellipsoid, phantom, projectEllipsoids, voxelize } from "./cone_fixture.ts";

const shape = { Z: 24, H: 48, W: 48 };
const unit: [number, number, number] = [1, 1, 1];
const circle = (n: number, degrees = 360, start = 0) =>
  Array.from({ length: n }, (_, i) => start + (i * degrees * Math.PI) / 180 / n);
const geometry = (angles: number[], extra: Partial<ConeGeometry> = {}): ConeGeometry => ({
  type: "cone",
  angles,
  detectorCount: 80,
  detectorRows: 48,
  detectorSpacing: 1.6,
  detectorSpacingV: 1.6,
  sourceOrigin: 150,
  originDetector: 100,
  detectorOffset: 0,
  detectorOffsetV: 0,
  ...extra,
});
const es: Ellipsoid[] = phantom(24, 12);
const truth = voxelize(es, shape, unit);

/** PSNR over the phantom's range (−0.4 … 1.8 spans 2.2; 1.8 is the peak used throughout). */
function psnr(x: Float32Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m += (x[i] - truth[i]) ** 2;
  return 10 * Math.log10(1.8 ** 2 / (m / x.length));
}

function analytic(g: ConeGeometry): Float32Array {
  return projectEllipsoids(es, coneVectors(g), g.detectorCount, g.detectorRows, 1);
}

Deno.test("cone engine equals its float64 reference (offsets, thick slices, off-centre volume)", async () => {
  const g: ConeGeometry = {
    ...geometry(circle(5, 300, 0.3), {
      detectorCount: 30,
      detectorRows: 14,
      sourceOrigin: 60,
      originDetector: 40,
    }),
    detectorOffset: 1.3,
    detectorOffsetV: -2,
    volumeCenter: [0.7, -1, 2],
  };
  const x = seededArray(7 * 12 * 13, 3);
  const outs: Float32Array[] = [];
  for (const threads of [1, 2]) {
    const A = await ConeProjector.create(null, g, { Z: 7, H: 12, W: 13 }, [1.2, 1, 1], { threads });
    const y = seededArray(A.rangeSize, 4);
    const ax = await A.forwardHost(x), aty = await A.adjointHost(y);
    assert.ok(relErr(ax, coneForwardRef(x, A.plan)) < 1e-6);
    assert.ok(relErr(aty, coneAdjointRef(y, A.plan)) < 1e-6);
    outs.push(ax, aty);
    A.dispose();
  }
  // the views are split into the same parts on one thread or two: the same bytes
  assert.deepEqual(outs[0], outs[2]);
  assert.deepEqual(outs[1], outs[3]);
});

Deno.test("cone WGSL kernels equal the float64 reference (the GPU engine a real GPU gets)", async () => {
  const gpu = await GpuContext.create();
  try {
    const g: ConeGeometry = {
      ...geometry(circle(5, 300, 0.3), {
        detectorCount: 30,
        detectorRows: 14,
        sourceOrigin: 60,
        originDetector: 40,
      }),
      detectorOffset: 1.3,
      detectorOffsetV: -2,
      volumeCenter: [0.7, -1, 2],
    };
    const A = await ConeProjector.create(gpu, g, { Z: 7, H: 12, W: 13 }, [1.2, 1, 1], { engine: "wgsl" });
    assert.equal(A.engine, "wgsl");
    assert.equal(A.hostProducts, null);
    const x = seededArray(A.domainSize, 3), y = seededArray(A.rangeSize, 4);
    assert.ok(relErr(await A.forwardHost(x), coneForwardRef(x, A.plan)) < 1e-5);
    assert.ok(relErr(await A.adjointHost(y), coneAdjointRef(y, A.plan)) < 1e-5);
    A.dispose();
    // auto keeps the CPU engine on a software adapter (this machine's llvmpipe) and without a GPU context
    const B = await ConeProjector.create(null, g, { Z: 7, H: 12, W: 13 }, [1.2, 1, 1]);
    assert.equal(B.engine, "sparse");
    B.dispose();
  } finally {
    gpu.dispose();
  }
});

Deno.test("cone projector matches analytic chord lengths of ellipsoids", async () => {
  const g = geometry(circle(8));
  const A = await ConeProjector.create(null, g, shape, unit);
  // the voxelised phantom's edges cost a few percent; a wrong axis or scale costs tens of percent
  const e = relErr(await A.forwardHost(truth), analytic(g));
  A.dispose();
  assert.ok(e < 0.05, `relative error ${e}`);
});

Deno.test("FDK recovers the ellipsoids: full scan and short scan with Parker weights", () => {
  const full = geometry(circle(90));
  const pFull = psnr(fdk(analytic(full), full, shape, unit));
  assert.ok(pFull > 31, `full scan ${pFull.toFixed(2)} dB`);
  // π plus the fan angle (2·atan(40/150) ≈ 30°): 210°
  const short = geometry(circle(105, 210));
  const pShort = psnr(fdk(analytic(short), short, shape, unit));
  assert.ok(pShort > 28.5, `short scan ${pShort.toFixed(2)} dB`);
});

Deno.test("FDK with an offset detector (u and v) recovers the phantom as well", () => {
  const g = geometry(circle(90), {
    detectorOffset: 6.4,
    detectorOffsetV: -4.8,
    detectorCount: 96,
    detectorRows: 56,
  });
  const p = psnr(fdk(analytic(g), g, shape, unit));
  assert.ok(p > 31, `${p.toFixed(2)} dB`);
});

Deno.test("a flipped detector axis or swapped rows and views is caught by FDK's PSNR", () => {
  const g = geometry(circle(90));
  const y = analytic(g), U = g.detectorCount, V = g.detectorRows, A = g.angles.length;
  const good = psnr(fdk(y, g, shape, unit));
  const remap = (f: (r: number, a: number, c: number) => number) => {
    const out = new Float32Array(y.length);
    for (let r = 0; r < V; r++) {
      for (let a = 0; a < A; a++) for (let c = 0; c < U; c++) out[(r * A + a) * U + c] = y[f(r, a, c)];
    }
    return out;
  };
  const flippedU = remap((r, a, c) => (r * A + a) * U + (U - 1 - c));
  const flippedV = remap((r, a, c) => ((V - 1 - r) * A + a) * U + c);
  // TIGRE's (views, rows, columns) read as ASTRA's (rows, views, columns)
  const swapped = new Float32Array(y.length);
  for (let r = 0; r < V; r++) {
    for (let a = 0; a < A; a++) {
      for (let c = 0; c < U; c++) swapped[(a * V + r) * U + c] = y[(r * A + a) * U + c];
    }
  }
  for (
    const [name, bad] of [["u flipped", flippedU], ["v flipped", flippedV], [
      "rows/views swapped",
      swapped,
    ]] as const
  ) {
    const p = psnr(fdk(bad, g, shape, unit));
    assert.ok(p < good - 3, `${name}: ${p.toFixed(2)} dB vs ${good.toFixed(2)}`);
  }
});

Deno.test("cone_vec made from cone, ASTRA's dictionaries and TIGRE's fields give one operator", async () => {
  const angles = circle(6, 360, 0.1);
  const g = geometry(angles, { detectorOffset: 3.2, detectorOffsetV: 1.6 });
  const x = seededArray(shape.Z * shape.H * shape.W, 9).map(Math.abs);
  const project = async (geo: Parameters<typeof ConeProjector.create>[1], sp: [number, number, number]) => {
    const A = await ConeProjector.create(null, geo, shape, sp, { threads: 1 });
    try {
      return await A.forwardHost(x);
    } finally {
      A.dispose();
    }
  };
  const ref = await project(g, unit);
  const vec = await project(toConeVec(g), unit);
  assert.equal(relErr(vec, ref), 0);
  // ASTRA's cone_vec rows written here from its documented formulas, and its vol_geom window
  const rows = angles.map((t) => [
    150 * Math.sin(t),
    -150 * Math.cos(t),
    0,
    -100 * Math.sin(t) + 3.2 * Math.cos(t),
    100 * Math.cos(t) + 3.2 * Math.sin(t),
    1.6,
    1.6 * Math.cos(t),
    1.6 * Math.sin(t),
    0,
    0,
    0,
    1.6,
  ]);
  const astra = fromAstra({
    vol_geom: { GridRowCount: 48, GridColCount: 48, GridSliceCount: 24 },
    proj_geom: { type: "cone_vec", DetectorRowCount: 48, DetectorColCount: 80, Vectors: rows },
  });
  assert.deepEqual([astra.slices, ...astra.grid], [24, 48, 48]);
  const viaAstra = await project(astra.geometry as ConeGeometry, [9, 9, 9]);
  assert.ok(relErr(viaAstra, ref) < 1e-6, `astra ${relErr(viaAstra, ref)}`);
  // TIGRE: source at DSO(cos α, sin α), so α = θ − π/2; offsets (v, u); image and voxel order (z, y, x)
  const tigre = fromTigre({
    DSD: 250,
    DSO: 150,
    nDetector: [48, 80],
    dDetector: [1.6, 1.6],
    nVoxel: [24, 48, 48],
    dVoxel: [1, 1, 1],
    offDetector: [1.6, 3.2],
    angles: angles.map((t) => t - Math.PI / 2),
  });
  const viaTigre = await project(tigre.geometry, [9, 9, 9]);
  assert.ok(relErr(viaTigre, ref) < 1e-5, `tigre ${relErr(viaTigre, ref)}`);
  // and through a geometry file
  const file = parseGeometry(JSON.stringify({ ...g, angles }), "g.json");
  assert.equal(file.geometry.type, "cone");
});

Deno.test("cone beam on the library path: TV at 16 views is far above FDK", async () => {
  const gpu = await GpuContext.create();
  try {
    const g = geometry(circle(16));
    const y = analytic(g);
    const A = await ConeProjector.create(gpu, g, shape, unit);
    const pF = psnr(await reconstructWith(A, y, { method: "fbp" }, { gpu }));
    const pT = psnr(await reconstructWith(A, y, { method: "tv", tvLambda: 0.5, iterations: 200 }, { gpu }));
    assert.ok(pT > pF + 5, `tv ${pT.toFixed(2)} dB, fdk ${pF.toFixed(2)} dB`);
    A.dispose();
  } finally {
    gpu.dispose();
  }
});

Deno.test("bad cone geometries are refused in one line, partial coverage is a warning", () => {
  const g = geometry(circle(8));
  const refuses = (f: () => unknown, re: RegExp) => {
    assert.throws(
      f,
      (e: unknown) => e instanceof UserError && re.test(e.message) && !e.message.includes("\n"),
    );
  };
  refuses(
    () => checkConeGeometry({ ...g, sourceOrigin: 20 }, shape, unit),
    /source .* lies inside the volume/,
  );
  refuses(() => checkConeGeometry({ ...g, detectorOffset: 5000 }, shape, unit), /no ray meets the volume/);
  const warn = checkConeGeometry({ ...g, detectorCount: 30 }, shape, unit);
  assert.match(
    warn ?? "",
    /^warning: .* \d+\.\d% of its voxels lie outside some view .*% outside every view/,
  );
  assert.equal(checkConeGeometry(g, shape, unit), null);
  const row = coneVectors(g)[0];
  refuses(() => withAngles([[...row.slice(0, 6), 0, 0, 0, ...row.slice(9)]], 4, 4), /u vector is zero/);
  refuses(() => withAngles([[...row.slice(0, 9), ...row.slice(6, 9)]], 4, 4), /u and v are parallel/);
  const tilted = [...row.slice(0, 9), 0, 0.2, 1.6];
  refuses(() => checkConeGeometry(withAngles([tilted], 48, 80), shape, unit), /tilted by 7\.1/);
  refuses(
    () =>
      parseGeometry('{"type":"cone_vec","vectors":[[1,2,3]],"detectorCount":4,"detectorRows":4}', "g.json"),
    /12 numbers/,
  );
  refuses(
    () =>
      fromTigre({
        DSD: 100,
        DSO: 150,
        nDetector: [4, 4],
        dDetector: [1, 1],
        nVoxel: [2, 4, 4],
        dVoxel: [1, 1, 1],
        angles: [0],
      }),
    /DSD .* must exceed DSO/,
  );
});
