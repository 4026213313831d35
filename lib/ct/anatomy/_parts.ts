/**
 * Building blocks of the anatomies: jitter, harmonics, vessel trees, bone, spine and ribs. Private to
 * `lib/ct/anatomy/`.
 * @module
 */
import { Rng } from "../../random.ts";
import { type Branch, type EllipsoidSpec, type Harmonic, Scene, type Vec3 } from "./_scene.ts";

// --- building blocks -------------------------------------------------------------------------------------

/** `v` scaled by a random factor in [1 − rel, 1 + rel]. */
export function jit(rng: Rng, v: number, rel: number): number {
  return v * (1 + rel * (2 * rng.uniform() - 1));
}

export function harmonics(rng: Rng, ks: number[], amp: number, twist = 1): Harmonic[] {
  return ks.map((k) => ({
    k,
    amp: amp * (0.5 + 0.5 * rng.uniform()),
    phase: 2 * Math.PI * rng.uniform(),
    phaseZ: twist * (2 * rng.uniform() - 1),
  }));
}

export function unit(v: Vec3): Vec3 {
  const n = Math.hypot(...v) || 1;
  return [v[0] / n, v[1] / n, v[2] / n];
}

/** A random branching tree of tubes from `root` along `dir`, like lung vessels or hepatic veins. */
export function tree(
  rng: Rng,
  root: Vec3,
  dir: Vec3,
  options: { length: number; radius: number; depth: number; spread?: number },
): Branch[] {
  const out: Branch[] = [];
  const spread = options.spread ?? 0.7;
  const grow = (a: Vec3, d: Vec3, len: number, r: number, depth: number) => {
    const l = jit(rng, len, 0.25);
    const b: Vec3 = [a[0] + d[0] * l, a[1] + d[1] * l, a[2] + d[2] * l];
    const rEnd = r * 0.85;
    out.push({ a, b, ra: r, rb: rEnd });
    if (depth <= 1) return;
    for (let c = 0; c < 2; c++) {
      const nd = unit([
        d[0] + spread * (2 * rng.uniform() - 1),
        d[1] + spread * (2 * rng.uniform() - 1),
        d[2] + spread * (2 * rng.uniform() - 1),
      ]);
      grow(b, nd, len * 0.78, rEnd * 0.78, depth - 1);
    }
  };
  grow(root, unit(dir), options.length, options.radius, options.depth);
  return out;
}

/** Bone labels with per-bone HU: cortical 700–1500, cancellous 200–400. */
export function boneTissues(scene: Scene, rng: Rng, name: string): { cortical: number; cancellous: number } {
  return {
    cortical: scene.tissue(`${name} cortical`, rng.between(850, 1400), 60),
    cancellous: scene.tissue(`${name} cancellous`, rng.between(200, 400), 50),
  };
}

export interface SpineOptions {
  /** y of the vertebral bodies' centre (mm). */
  y: number;
  z: [number, number];
  /** Height of one vertebra including its disc (mm). */
  level: number;
  /** Vertebral body semi-axes (x, y) in mm. */
  body: [number, number];
}

/** Vertebral bodies with discs, posterior arches, spinous and transverse processes, and the spinal canal. */
export function spine(scene: Scene, rng: Rng, o: SpineOptions): void {
  const bone = boneTissues(scene, rng, "vertebra");
  const disc = scene.tissue("intervertebral disc", 85, 6);
  const cord = scene.tissue("spinal cord", 30, 3);
  const [bx, by] = o.body;
  const lean = rng.between(-6, 6);
  const xAt = (z: number) => lean * Math.sin(z / 90);
  const canalY = o.y + by + 10;
  for (let zc = o.z[0] - o.level; zc <= o.z[1] + o.level; zc += o.level) {
    const h = o.level / 2;
    const x = xAt(zc);
    const body: EllipsoidSpec = { c: [x, o.y, zc], r: [jit(rng, bx, 0.05), by, h], profile: "cylinder" };
    scene.ellipsoid({ ...body }, disc);
    scene.ellipsoid({ ...body, r: [body.r[0], by, h - 3.5] }, bone.cortical);
    scene.ellipsoid({ ...body, r: [body.r[0], by, h - 3.5], inset: 2.5 }, bone.cancellous);
    const arch: EllipsoidSpec = { c: [x, canalY, zc - 2], r: [16, 13, h * 0.75], profile: "cylinder" };
    scene.ellipsoid(arch, bone.cortical);
    scene.segment([x, canalY + 8, zc], [x, canalY + 38, zc - 14], 5, 3.5, bone.cortical);
    scene.segment([x, canalY + 8, zc], [x, canalY + 38, zc - 14], 3, 2, bone.cancellous);
    for (const side of [-1, 1]) {
      scene.segment([x + side * 8, canalY - 2, zc], [x + side * 32, canalY + 4, zc + 2], 5, 4, bone.cortical);
      scene.segment(
        [x + side * 8, canalY - 2, zc],
        [x + side * 32, canalY + 4, zc + 2],
        3,
        2.5,
        bone.cancellous,
      );
    }
  }
  // The canal runs through every level, so it is painted last as one continuous tube.
  const pts: Vec3[] = [];
  for (let z = o.z[0] - o.level; z <= o.z[1] + o.level; z += o.level / 2) pts.push([xAt(z), canalY, z]);
  scene.tube(pts, 8, cord);
}

export interface RibOptions {
  /** Body centre y and the ellipse the ribs follow (mm). */
  cy: number;
  a: number;
  b: number;
  /** z where each rib pair leaves the spine. */
  starts: number[];
  /** How far a rib descends from spine to front (mm). */
  drop: number;
  /** Angles (degrees, 90 = posterior midline, 270 = anterior midline) where bone ends and cartilage ends. */
  boneEnd: number;
  cartilageEnd: number;
}

/** Curved rib tubes (cortex around marrow) following the body wall, ending in costal cartilage. */
export function ribs(scene: Scene, rng: Rng, o: RibOptions): void {
  const cartilage = scene.tissue("costal cartilage", 120, 15);
  o.starts.forEach((z0, n) => {
    for (const side of [-1, 1]) {
      const r = rng.fork(`rib${n}${side}`);
      const bone = boneTissues(scene, r, `rib ${n + 1}${side < 0 ? "R" : "L"}`);
      const drop = jit(r, o.drop, 0.15);
      const rad = jit(r, 5, 0.15);
      const pts: Vec3[] = [], cpts: Vec3[] = [];
      const a0 = 100, steps = 16;
      const total = o.cartilageEnd - a0;
      for (let s = 0; s <= steps; s++) {
        const ang = a0 + (total * s) / steps;
        const f = (ang - a0) / total;
        const th = (ang * Math.PI) / 180;
        // a·cos θ is negative for θ in (90°, 270°): the patient's right (image left); mirror for the left.
        const p: Vec3 = [-side * o.a * Math.cos(th), o.cy + o.b * Math.sin(th), z0 - drop * f];
        if (ang <= o.boneEnd) pts.push(p);
        if (ang >= o.boneEnd - total / steps) cpts.push(p);
      }
      scene.tube(pts, rad, bone.cortical);
      scene.tube(pts, rad * 0.6, bone.cancellous);
      if (cpts.length > 1) scene.tube(cpts, rad * 0.9, cartilage);
    }
  });
}

// --- the three anatomies ---------------------------------------------------------------------------------

export interface Tissues {
  fat: number;
  muscle: number;
  blood: number;
  soft: number;
}

export function commonTissues(scene: Scene): Tissues {
  return {
    fat: scene.tissue("fat", -100, 10),
    muscle: scene.tissue("muscle", 50, 7),
    blood: scene.tissue("blood", 40, 4),
    soft: scene.tissue("soft tissue", 35, 6),
  };
}
