/** The chest phantom's anatomy, in mm. Private to `lib/ct/anatomy/`. @module */
import { Rng } from "../../random.ts";
import { type Branch, type EllipsoidSpec, Scene, type Vec3 } from "./_scene.ts";
import { boneTissues, commonTissues, harmonics, jit, ribs, spine, tree } from "./_parts.ts";

export function buildChest(scene: Scene, rng: Rng): void {
  const t = commonTissues(scene);
  const r = (l: string) => rng.fork(l);
  const cavityFat = scene.tissue("mediastinal fat", -90, 10);
  const lungR = scene.tissue("lung right", -800, 30, 0.5);
  const lungL = scene.tissue("lung left", -800, 30, 0.5);
  const vessel = scene.tissue("lung vessel", 40, 5);
  const airway = scene.tissue("airway", -1000, 0);
  const wall = scene.tissue("airway wall", 30, 5);
  const myocardium = scene.tissue("myocardium", 45, 5);
  const liver = scene.tissue("liver", 60, 6);
  const spleen = scene.tissue("spleen", 45, 6);

  // Body: subcutaneous fat, muscle wall, then the thoracic cavity.
  const rb = r("body");
  const cy = 10;
  const a = jit(rb, 160, 0.08), b = jit(rb, 112, 0.08);
  const body: EllipsoidSpec = {
    c: [0, cy, 0],
    r: [a, b, 150],
    profile: "cylinder",
    taper: -0.04,
    bend: [0, rb.between(-6, 6)],
    harmonics: harmonics(rb, [2, 3, 4, 5], 0.03, 2),
  };
  scene.ellipsoid(body, t.fat);
  scene.ellipsoid({ ...body, inset: jit(rb, 12, 0.3) }, t.muscle);
  scene.ellipsoid({ ...body, inset: 26 }, cavityFat);
  const inside = [cavityFat];

  // Lungs: domes cut below by the diaphragm, with posterior-dependent density.
  for (const [side, label] of [[-1, lungR], [1, lungL]] as const) {
    const rl = r(`lung${side}`);
    scene.ellipsoid(
      {
        c: [side * jit(rl, 80, 0.05), jit(rl, 5, 1), -40],
        r: [jit(rl, 66, 0.06), jit(rl, 96, 0.05), jit(rl, 172, 0.05)],
        profile: "dome",
        rot: side * rl.between(0, 0.15),
        drift: [side * rl.between(-8, 0), rl.between(0, 8)],
        harmonics: harmonics(rl, [2, 3, 4], 0.05, 1.5),
      },
      label,
      inside,
    );
  }
  // Diaphragm domes: liver on the right, spleen and stomach region on the left.
  const rd = r("diaphragm");
  scene.ellipsoid({ c: [-50, 15, jit(rd, -175, 0.05)], r: [140, 105, 115] }, liver, [
    lungR,
    lungL,
    cavityFat,
  ]);
  scene.ellipsoid({ c: [60, 20, jit(rd, -200, 0.05)], r: [115, 100, 115] }, spleen, [
    lungR,
    lungL,
    cavityFat,
  ]);

  // Heart in its fat, over the left lung's medial part.
  const rh = r("heart");
  const heart: EllipsoidSpec = {
    c: [jit(rh, 22, 0.3), jit(rh, -22, 0.2), jit(rh, -45, 0.15)],
    r: [jit(rh, 62, 0.08), jit(rh, 54, 0.08), jit(rh, 62, 0.08)],
    rot: rh.between(0.4, 0.8),
    harmonics: harmonics(rh, [2, 3], 0.04),
  };
  scene.ellipsoid({ ...heart, inset: -7 }, cavityFat, [lungR, lungL, cavityFat]);
  scene.ellipsoid(heart, myocardium);
  scene.ellipsoid({ ...heart, inset: 9 }, t.blood);

  // Great vessels: aorta (ascending, arch, descending), pulmonary trunk, superior vena cava.
  const ra = r("aorta");
  const ax = ra.between(15, 28);
  scene.tube(
    [[10, -20, -40], [6, -26, 40], [8, -18, 85], [ax, 20, 95], [ax + 4, 45, 70], [ax + 2, 48, -40], [
      ax,
      46,
      -160,
    ]],
    [14, 14, 13, 12, 12, 11, 11],
    t.blood,
  );
  scene.tube([[30, -38, -35], [26, -20, 10], [-40, 2, 0]], [12, 11, 8], t.blood);
  scene.segment([26, -20, 10], [45, 5, 5], 9, 8, t.blood);
  scene.tube([[-32, -12, -30], [-30, -8, 60], [-22, -12, 160]], 9, t.blood);
  // Esophagus with a thread of air.
  scene.tube([[6, 34, 160], [10, 36, 0], [14, 30, -160]], 7, t.soft);
  scene.tube([[6, 34, 160], [10, 36, 0], [14, 30, -160]], 1.6, airway);

  // Airways: trachea to the carina, main bronchi, then small trees inside each lung.
  const rw = r("airways");
  const carina: Vec3 = [0, 2, jit(rw, 30, 0.3)];
  scene.tube([[0, -20, 160], [0, -10, 80], carina], 11, wall);
  scene.tube([[0, -20, 160], [0, -10, 80], carina], 8.5, airway);
  const vesselTrees: Branch[] = [], airwayTrees: Branch[] = [];
  for (const side of [-1, 1]) {
    const hilum: Vec3 = [side * 42, 8, carina[2] - 20];
    scene.segment(carina, hilum, 8, 6.5, wall);
    scene.segment(carina, hilum, 6, 4.5, airway);
    const rv = r(`vessels${side}`);
    // One tree per lobe-ish direction: up, lateral, anterior, posterior, down.
    const dirs: Vec3[] = [[side * 0.5, -0.2, 1], [side, -0.6, 0.1], [side, 0.1, -0.2], [
      side * 0.5,
      0.8,
      -0.3,
    ], [
      side * 0.6,
      0.2,
      -1,
    ], [side * 0.3, -0.8, -0.6]];
    for (const dir of dirs) {
      for (let n = 0; n < 2; n++) {
        vesselTrees.push(...tree(rv, hilum, dir, { length: 30, radius: 4.5, depth: 6, spread: 0.9 }));
      }
      airwayTrees.push(...tree(rv, hilum, dir, { length: 26, radius: 2.8, depth: 2, spread: 0.5 }));
    }
  }
  scene.branches(vesselTrees, vessel, [lungR, lungL]);
  scene.branches(airwayTrees, wall, [lungR, lungL, vessel], 1);
  scene.branches(airwayTrees, airway, [wall]);

  // Skeleton: thoracic spine, ribs, sternum, scapulae.
  spine(scene, r("spine"), { y: 56, z: [-150, 150], level: 27, body: [19, 14] });
  ribs(scene, r("ribs"), {
    cy,
    a: a - 18,
    b: b - 16,
    starts: Array.from({ length: 12 }, (_, n) => 170 - 24 * n),
    drop: 55,
    boneEnd: 235,
    cartilageEnd: 262,
  });
  const rs = r("sternum");
  const sternum = boneTissues(scene, rs, "sternum");
  const sy = cy - b + 24;
  scene.ellipsoid({ c: [0, sy, 20], r: [17, 7, 110], profile: "cylinder", drift: [0, -6] }, sternum.cortical);
  scene.ellipsoid(
    { c: [0, sy, 20], r: [17, 7, 110], profile: "cylinder", drift: [0, -6], inset: 2 },
    sternum.cancellous,
  );
  for (const side of [-1, 1]) {
    const rsc = r(`scapula${side}`);
    const scap = boneTissues(scene, rsc, "scapula");
    const spec: EllipsoidSpec = {
      c: [side * jit(rsc, 92, 0.05), cy + b - 38, 60],
      r: [48, 6, 75],
      rot: side * rsc.between(0.35, 0.6),
    };
    scene.ellipsoid({ ...spec, inset: -2 }, t.muscle, [t.muscle, t.fat]);
    scene.ellipsoid(spec, scap.cortical, [t.muscle, t.fat]);
    scene.ellipsoid({ ...spec, inset: 2.5 }, scap.cancellous, [scap.cortical]);
  }
}
