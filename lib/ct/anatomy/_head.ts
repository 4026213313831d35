/** The head phantom's anatomy, in mm. Private to `lib/ct/anatomy/`. @module */
import { Rng } from "../../random.ts";
import { type EllipsoidSpec, Scene, type Vec3 } from "./_scene.ts";
import { boneTissues, commonTissues, harmonics, jit, unit } from "./_parts.ts";

export function buildHead(scene: Scene, rng: Rng): void {
  const t = commonTissues(scene);
  const r = (l: string) => rng.fork(l);
  const scalp = scene.tissue("scalp", 30, 6);
  const skull = boneTissues(scene, r("skull"), "skull");
  const csf = scene.tissue("CSF", 10, 3);
  const grey = scene.tissue("grey matter", 40, 3);
  const white = scene.tissue("white matter", 25, 3);
  const deepGrey = scene.tissue("deep grey matter", 38, 3);
  const vitreous = scene.tissue("vitreous", 8, 2);
  const sinusAir = scene.tissue("sinus air", -1000, 0);

  const rh = r("head");
  const head: EllipsoidSpec = {
    c: [0, 5, -25],
    r: [jit(rh, 72, 0.06), jit(rh, 92, 0.05), 125],
    profile: "dome",
    harmonics: harmonics(rh, [2, 3, 4], 0.025, 1),
  };
  const brainH = [...head.harmonics!, ...harmonics(rh, [9, 12, 15, 18], 0.02, 8)];
  // Nose first, so the scalp and skull are painted around it.
  scene.ellipsoid({ c: [0, -98, -85], r: [12, 16, 26] }, scalp);
  scene.ellipsoid(head, scalp);
  scene.ellipsoid({ ...head, inset: 5 }, skull.cortical);
  scene.ellipsoid({ ...head, inset: 7 }, skull.cancellous);
  scene.ellipsoid({ ...head, inset: 10 }, skull.cortical);
  scene.ellipsoid({ ...head, inset: 12 }, csf);
  scene.ellipsoid({ ...head, harmonics: brainH, inset: 14 }, grey, [csf]);
  scene.ellipsoid({ ...head, harmonics: [...brainH, ...harmonics(rh, [7, 11], 0.03, 6)], inset: 21 }, white, [
    grey,
  ]);
  // Interhemispheric fissure.
  scene.ellipsoid({ c: [0, 0, 40], r: [1.5, 88, 110], profile: "dome" }, csf, [grey, white]);

  // Deep structures.
  const rv = r("ventricles");
  const vs = jit(rv, 1, 0.25);
  for (const side of [-1, 1]) {
    scene.ellipsoid({ c: [side * 20, -2, 0], r: [8, 16, 12] }, deepGrey, [white]);
    scene.ellipsoid({ c: [side * 10, 16, -6], r: [9, 12, 10] }, deepGrey, [white]);
    scene.ellipsoid(
      { c: [side * 12, -8, 18], r: [6 * vs, 32, 16], rot: side * 0.12, bend: [side * 4, 6] },
      csf,
      [
        white,
        deepGrey,
      ],
    );
    scene.ellipsoid({ c: [side * 18, 38, 8], r: [6 * vs, 18, 11], rot: side * -0.3 }, csf, [white, deepGrey]);
  }
  scene.ellipsoid({ c: [0, 8, -8], r: [2.5 * vs, 14, 9] }, csf, [white, deepGrey]);

  // Posterior fossa: cerebellum and brainstem.
  const rc = r("cerebellum");
  scene.ellipsoid(
    {
      c: [0, 52, -78],
      r: [jit(rc, 50, 0.05), 30, 24],
      harmonics: harmonics(rc, [10, 14, 20], 0.03, 4),
    },
    grey,
    [grey, white, csf],
  );
  scene.tube([[0, 18, -20], [0, 24, -60], [0, 28, -110]], 12, white, [grey, white, csf, deepGrey]);

  // Skull base: a bony floor, orbits with globes, ethmoid air, petrous bones, frontal sinus.
  const base = boneTissues(scene, r("skull base"), "skull base");
  scene.ellipsoid({ c: [0, 0, -112], r: [62, 82, 14] }, base.cortical, [grey, white, csf, deepGrey]);
  scene.ellipsoid({ c: [0, 0, -112], r: [62, 82, 14], inset: 3 }, base.cancellous, [base.cortical]);
  for (const side of [-1, 1]) {
    scene.ellipsoid({ c: [side * 32, -56, -72], r: [20, 26, 18] }, t.fat);
    scene.ellipsoid({ c: [side * 32, -64, -72], r: [12, 12, 12] }, vitreous);
    const pet = boneTissues(scene, r(`petrous${side}`), "petrous");
    scene.ellipsoid({ c: [side * 45, 15, -92], r: [28, 11, 11], rot: side * 0.7 }, pet.cortical);
  }
  scene.ellipsoid({ c: [0, -72, -92], r: [9, 16, 14] }, sinusAir);
  scene.ellipsoid({ c: [0, -84, -35], r: [15, 5, 11] }, sinusAir, [skull.cortical, skull.cancellous]);

  // Vessels: carotids, basilar artery, and a few random cortical vessels.
  for (const side of [-1, 1]) {
    scene.tube([[side * 20, -5, -110], [side * 18, -8, -70], [side * 22, -15, -40]], 3, t.blood);
  }
  scene.tube([[0, 8, -110], [0, 6, -50]], 2, t.blood);
  const rvs = r("vessels");
  for (let n = 0; n < 12; n++) {
    const pts: Vec3[] = [];
    let p: Vec3 = [rvs.between(-55, 55), rvs.between(-70, 70), rvs.between(-40, 70)];
    let d = unit([rvs.normal(), rvs.normal(), rvs.normal()]);
    for (let s = 0; s < 7; s++) {
      pts.push(p);
      d = unit([d[0] + 0.7 * rvs.normal(), d[1] + 0.7 * rvs.normal(), d[2] + 0.7 * rvs.normal()]);
      p = [p[0] + 10 * d[0], p[1] + 10 * d[1], p[2] + 10 * d[2]];
    }
    scene.tube(pts, rvs.between(1, 2), t.blood, [grey, white, csf]);
  }
}

/** Which body region {@linkcode anatomicalPhantom} builds. */
