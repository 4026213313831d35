/**
 * Synthetic test volumes: the 3D Shepp-Logan phantom (`lib/ct/shepp_logan.ts`, unitless [0, 1]) and the
 * seeded anatomical phantoms of a head, chest or abdomen in HU (`lib/ct/anatomy/`).
 * @module
 */
export { sheppLogan3d, type SheppLoganOptions } from "./shepp_logan.ts";
export {
  anatomicalPhantom,
  anatomicalPhantomLabels,
  type AnatomicalPhantomOptions,
  type Anatomy,
  type LabelledPhantom,
} from "./anatomy/anatomical.ts";
