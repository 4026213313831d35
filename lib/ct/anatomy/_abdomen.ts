/** The abdomen phantom's anatomy, in mm. Private to `lib/ct/anatomy/`. @module */
import { Rng } from "../../random.ts";
import { type EllipsoidSpec, Scene, type Vec3 } from "./_scene.ts";
import { commonTissues, harmonics, jit, ribs, spine, tree, unit } from "./_parts.ts";

export function buildAbdomen(scene: Scene, rng: Rng): void {
  const t = commonTissues(scene);
  const r = (l: string) => rng.fork(l);
  const visceralFat = scene.tissue("visceral fat", -100, 12);
  const liver = scene.tissue("liver", 60, 6);
  const hepaticVessel = scene.tissue("hepatic vessel", 38, 4);
  const spleen = scene.tissue("spleen", 45, 6);
  const kidney = scene.tissue("kidney", 30, 5);
  const sinusFat = scene.tissue("renal sinus fat", -80, 8);
  const pancreas = scene.tissue("pancreas", 40, 8);
  const fluid = scene.tissue("fluid", 10, 3);
  const bowelWall = scene.tissue("bowel wall", 40, 6);
  const gas = scene.tissue("bowel gas", -1000, 0);
  const lung = scene.tissue("lung base", -820, 30, 0.4);

  const rb = r("body");
  const cy = 5;
  const a = jit(rb, 155, 0.1), b = jit(rb, 120, 0.08);
  const body: EllipsoidSpec = {
    c: [0, cy, 0],
    r: [a, b, 130],
    profile: "cylinder",
    taper: 0.03,
    harmonics: harmonics(rb, [2, 3, 4, 6], 0.03, 2),
  };
  const subcut = jit(rb, 20, 0.4);
  scene.ellipsoid(body, t.fat);
  scene.ellipsoid({ ...body, inset: subcut }, t.muscle);
  scene.ellipsoid({ ...body, inset: subcut + 11 }, visceralFat);
  const cavity = [visceralFat];

  // Lung bases behind the liver at the top.
  for (const side of [-1, 1]) {
    scene.ellipsoid({ c: [side * 72, 55, 215], r: [55, 50, 95] }, lung, [visceralFat, t.muscle]);
  }

  // Solid organs.
  const rl = r("liver");
  const liverSpec: EllipsoidSpec = {
    c: [jit(rl, -55, 0.1), jit(rl, -5, 1), jit(rl, 55, 0.15)],
    r: [jit(rl, 92, 0.08), jit(rl, 88, 0.08), jit(rl, 105, 0.1)],
    rot: rl.between(-0.2, 0.2),
    drift: [rl.between(0, 15), 0],
    harmonics: harmonics(rl, [2, 3, 4], 0.07, 1.5),
  };
  scene.ellipsoid(liverSpec, liver, cavity);
  scene.branches(
    [
      ...tree(rl, [-25, 25, 10], [-1, -0.3, 0.6], { length: 30, radius: 6, depth: 5 }),
      ...tree(rl, [-20, 30, 60], [-1, -0.5, 0.2], { length: 30, radius: 5, depth: 5 }),
    ],
    hepaticVessel,
    [liver],
  );
  scene.ellipsoid({ c: [-50, -50, jit(rl, 5, 3)], r: [16, 20, 32], rot: 0.4 }, fluid, [liver, visceralFat]);
  const rsp = r("spleen");
  scene.ellipsoid(
    {
      c: [jit(rsp, 85, 0.08), jit(rsp, 48, 0.1), jit(rsp, 55, 0.2)],
      r: [jit(rsp, 32, 0.15), jit(rsp, 52, 0.1), jit(rsp, 58, 0.1)],
      rot: -0.5,
      harmonics: harmonics(rsp, [2, 3], 0.06),
    },
    spleen,
    cavity,
  );
  // Stomach with an air-fluid level (air rises anteriorly in a supine patient).
  const rst = r("stomach");
  const stomach: EllipsoidSpec = {
    c: [jit(rst, 40, 0.2), -35, jit(rst, 75, 0.1)],
    r: [jit(rst, 52, 0.1), 40, jit(rst, 50, 0.1)],
    rot: 0.3,
    harmonics: harmonics(rst, [2, 3], 0.06),
  };
  scene.ellipsoid(stomach, bowelWall, cavity);
  scene.ellipsoid({ ...stomach, inset: 5 }, fluid, [bowelWall]);
  scene.ellipsoid({ ...stomach, inset: 5, clipY: [-1000, rst.between(-55, -35)] }, gas, [fluid]);
  // Kidneys with sinus fat facing the spine.
  for (const side of [-1, 1]) {
    const rk = r(`kidney${side}`);
    const kc: Vec3 = [side * jit(rk, 72, 0.06), jit(rk, 58, 0.06), jit(rk, -15, 0.5) + (side < 0 ? -12 : 0)];
    scene.ellipsoid(
      { c: kc, r: [26, 34, 55], rot: side * -0.45, harmonics: harmonics(rk, [2], 0.04) },
      kidney,
    );
    scene.ellipsoid(
      { c: [kc[0] - side * 10, kc[1] - 4, kc[2]], r: [9, 13, 30], rot: side * -0.45 },
      sinusFat,
      [
        kidney,
      ],
    );
  }
  const rp = r("pancreas");
  scene.ellipsoid(
    { c: [rp.between(-5, 15), 12, rp.between(0, 25)], r: [70, 12, 16], rot: -0.25 },
    pancreas,
    cavity,
  );

  // Vessels and psoas muscles along the spine.
  scene.tube([[12, 24, 140], [10, 26, 0], [14, 24, -140]], 11, t.blood);
  scene.tube([[-24, 26, 140], [-22, 28, 0], [-20, 26, -140]], 12, t.blood);
  for (const side of [-1, 1]) scene.segment([10, 26, -10], [side * 62, 52, -10], 4, 3.5, t.blood, cavity);
  for (const side of [-1, 1]) {
    scene.ellipsoid(
      { c: [side * 38, 48, -130], r: [14, 14, 140], profile: "cylinder", taper: -0.5 },
      t.muscle,
    );
    scene.ellipsoid({ c: [side * 38, 100, 0], r: [28, 22, 140], profile: "cylinder" }, t.muscle);
  }

  // Bowel: random loops of tubes, gas- or fluid-filled, in the remaining fat.
  const rbw = r("bowel");
  for (let n = 0; n < 16; n++) {
    const pts: Vec3[] = [];
    let p: Vec3 = [rbw.between(-100, 100), rbw.between(-85, 10), rbw.between(-125, 40)];
    let d = unit([rbw.normal(), rbw.normal(), rbw.normal()]);
    for (let s = 0; s < 9; s++) {
      pts.push(p);
      d = unit([d[0] + 0.8 * rbw.normal(), d[1] + 0.8 * rbw.normal(), d[2] + 0.8 * rbw.normal()]);
      p = [
        Math.max(-115, Math.min(115, p[0] + 18 * d[0])),
        Math.max(-95, Math.min(30, p[1] + 18 * d[1])),
        Math.max(-140, Math.min(60, p[2] + 18 * d[2])),
      ];
    }
    const radius = rbw.between(8, 14);
    scene.tube(pts, radius, bowelWall, [visceralFat]);
    scene.tube(pts, radius - 2.5, rbw.uniform() < 0.4 ? gas : fluid, [bowelWall]);
  }
  // Colon: ascending and descending, gas-filled.
  for (const [x, y] of [[-95, 0], [98, 15]]) {
    const pts: Vec3[] = [[x, y, -140], [x + 4, y - 5, -40], [x, y, 40]];
    scene.tube(pts, 19, bowelWall, [visceralFat, bowelWall, fluid, gas]);
    scene.tube(pts, 16, gas, [bowelWall]);
  }

  spine(scene, r("spine"), { y: 45, z: [-130, 130], level: 34, body: [24, 18] });
  ribs(scene, r("ribs"), {
    cy,
    a: a - 20,
    b: b - 18,
    starts: [190, 165, 140, 115],
    drop: 50,
    boneEnd: 200,
    cartilageEnd: 215,
  });
}
