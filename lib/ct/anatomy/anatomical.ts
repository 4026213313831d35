/**
 * Seeded anatomical phantoms of a head, chest or abdomen in Hounsfield units (convert with `toU` of
 * `lib/units.ts`).
 *
 * The anatomical phantoms are blendct's unlimited training and test data: every random choice comes from
 * {@linkcode Rng} forks, so a seed fixes the volume bit for bit, and the anatomy is defined in millimetres,
 * so the same seed at another resolution shows the same patient.
 *
 * Conventions of the anatomical phantoms: voxel `[k][j][i]` sits at x = (i − (X−1)/2)·dx (patient left to
 * the image right, radiological display), y = (j − (Y−1)/2)·dy (anterior at row 0, the image top),
 * z = (k − (Z−1)/2)·dz (superior at the last slice).
 *
 * @module
 */
import { makeVolume, type Volume } from "../../volume.ts";
import { Rng } from "../../random.ts";
import { checkShape } from "../shepp_logan.ts";
import { type Grid, paintEllipsoid, paintSegment, Scene, ValueNoise, type Vec3 } from "./_scene.ts";
import { buildChest } from "./_chest.ts";
import { buildAbdomen } from "./_abdomen.ts";
import { buildHead } from "./_head.ts";

/** The body regions the anatomical phantoms draw. */
export type Anatomy = "head" | "chest" | "abdomen";

const ANATOMY = {
  head: { build: buildHead, fov: 240, zExtent: 200 },
  chest: { build: buildChest, fov: 360, zExtent: 300 },
  abdomen: { build: buildAbdomen, fov: 360, zExtent: 260 },
} as const;

/** Options for {@linkcode anatomicalPhantom}. */
export interface AnatomicalPhantomOptions {
  /** Seed of every random choice (shape jitter, vessel trees, bowel loops, texture). Default 0. */
  seed?: number | string;
  /** Body region. Default `"chest"`. */
  anatomy?: Anatomy;
  /** In-plane field of view in mm, setting dx = fov/X, dy = fov/Y. Default 240 (head) or 360 (chest, abdomen). */
  fovMm?: number;
  /** Length covered along z in mm, setting dz = extent/Z. Default 200 (head), 300 (chest), 260 (abdomen). */
  zExtentMm?: number;
  /** Multiplier on the correlated texture amplitude; 0 gives piecewise-constant tissues. Default 1. */
  texture?: number;
}

/** What {@linkcode anatomicalPhantomLabels} returns: the HU volume and the tissue label of every voxel. */
export interface LabelledPhantom {
  /** The phantom in HU. */
  volume: Volume;
  /** Tissue index per voxel, same layout as `volume.data`. */
  labels: Uint8Array;
  /** Tissue names and base HU, indexed by label (0 is air). */
  tissues: { name: string; hu: number }[];
}

/**
 * A seeded anatomical CT phantom in Hounsfield units (see {@linkcode anatomicalPhantom}), with the tissue
 * label of each voxel, for tests and segmentation-aware metrics.
 *
 * @example
 * ```ts
 * import { anatomicalPhantomLabels } from "./anatomical.ts";
 * const { labels, tissues } = anatomicalPhantomLabels([8, 32, 32], { anatomy: "chest", seed: 1 });
 * const names = new Set(Array.from(labels, (l) => tissues[l].name));
 * console.log(names.has("air"), names.has("lung right")); // true true
 * ```
 */
export function anatomicalPhantomLabels(
  shape: [number, number, number],
  options: AnatomicalPhantomOptions = {},
): LabelledPhantom {
  checkShape(shape);
  const anatomy = options.anatomy ?? "chest";
  const spec = ANATOMY[anatomy];
  if (!spec) throw new RangeError(`unknown anatomy ${anatomy}; use head, chest or abdomen`);
  const [Z, Y, X] = shape;
  const fov = options.fovMm ?? spec.fov;
  const zExtent = options.zExtentMm ?? spec.zExtent;
  const spacing: Vec3 = [zExtent / Z, fov / Y, fov / X];
  const rng = new Rng(options.seed ?? 0).fork(`anatomical/${anatomy}`);
  const scene = new Scene();
  spec.build(scene, rng.fork("scene"));
  const noise = new ValueNoise(rng.fork("texture"), [fov, fov, zExtent]);
  const textureScale = options.texture ?? 1;

  const g: Grid = { X, Y, dx: spacing[2], dy: spacing[1] };
  const labels = new Uint8Array(Z * Y * X);
  const data = new Float32Array(Z * Y * X);
  const hu = Float64Array.from(scene.tissues, (t) => t.hu);
  const tex = Float64Array.from(scene.tissues, (t) => t.texture * textureScale);
  const grad = Float64Array.from(scene.tissues, (t) => t.gradY);
  const tn = new Float32Array(Y * X);
  for (let k = 0; k < Z; k++) {
    const z = (k - (Z - 1) / 2) * spacing[0];
    const sl = labels.subarray(k * Y * X, (k + 1) * Y * X);
    for (const p of scene.prims) {
      if (z < p.zmin || z > p.zmax) continue;
      if (p.kind === "ellipsoid") paintEllipsoid(sl, z, p, g);
      else paintSegment(sl, z, p, g);
    }
    if (textureScale !== 0) noise.slice(z, g, tn);
    const out = data.subarray(k * Y * X, (k + 1) * Y * X);
    for (let j = 0; j < Y; j++) {
      const y = (j - (Y - 1) / 2) * spacing[1];
      for (let i = 0; i < X; i++) {
        const q = j * X + i;
        const l = sl[q];
        out[q] = hu[l] + grad[l] * y + tex[l] * tn[q];
      }
    }
  }
  const volume = makeVolume(data, [Z, Y, X], { spacing, unit: "HU" });
  return { volume, labels, tissues: scene.tissues.map(({ name, hu }) => ({ name, hu })) };
}

/**
 * A seeded anatomical CT phantom of a head, chest or abdomen, in Hounsfield units, as a {@linkcode Volume}
 * whose spacing follows `fovMm` and `zExtentMm`.
 *
 * Built from labelled primitives painted in anatomical order: a body outline that changes with z, organs as
 * smoothly deformed ellipsoids (low-order radial harmonics that twist along z), ribs, spine, sternum,
 * scapulae or skull, vessel and airway trees as random branching tubes, bowel loops as random walks. Tissue
 * values: air −1000, lung −850…−700 (denser posteriorly, with vessels), fat −100, soft tissue 20–60, blood
 * 40, liver 60, kidney 30, cortical bone 850–1400 and cancellous 200–400 (drawn per bone), grey/white
 * matter 40/25, CSF 10. On top, a smooth correlated texture (three octaves of value noise) of a few HU in
 * soft tissue and tens of HU in lung and bone. Air is noise-free.
 *
 * The same seed and options give the same bytes; the anatomy is defined in mm, so changing the shape
 * resamples the same patient.
 *
 * @example
 * ```ts
 * import { anatomicalPhantom } from "./anatomical.ts";
 * import { toU } from "../../units.ts";
 * const ct = anatomicalPhantom([8, 48, 48], { anatomy: "head", seed: 3 });
 * const [lo, hi] = ct.data.reduce(([a, b], v) => [Math.min(a, v), Math.max(b, v)], [Infinity, -Infinity]);
 * console.log(ct.unit, lo, hi > 700); // HU -1000 true
 * const u = toU(ct.data, { unit: "HU", muWater: 0.0193 }); // air 0, water 1
 * ```
 */
export function anatomicalPhantom(
  shape: [number, number, number],
  options: AnatomicalPhantomOptions = {},
): Volume {
  return anatomicalPhantomLabels(shape, options).volume;
}
