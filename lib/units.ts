/**
 * Physical units. A CT measurement is linear in attenuation, so inside blendct every volume is in one linear
 * unit, u = μ / μ_water (air 0, water 1, cortical bone about 2–3). HU, μ in 1/mm and unitless images map to
 * u and back by affine maps; nothing is windowed or clipped on the way. HU in gives HU out over the full
 * range.
 *
 * - HU: `u = 1 + HU / 1000`
 * - attenuation (μ in 1/mm): `u = μ / muWater`
 * - image (a unitless, e.g. 8-bit windowed, export): its 0 and 1 stand for the HU `imageHu = [lo, hi]`, so
 *   `u = 1 + (lo + v (hi − lo)) / 1000`.
 * @module
 */
import { UserError } from "./errors.ts";

/** What a volume's numbers mean. */
export type Unit = "HU" | "attenuation" | "image";

/** The units blendct reads and writes, as the `--unit` flag spells them. */
export const UNIT_FLAGS: Readonly<Record<string, Unit>> = { hu: "HU", mu: "attenuation", image: "image" };

/**
 * Linear attenuation of water in 1/mm used when none is given: 0.0193 mm⁻¹, water at 70 keV (NIST XCOM,
 * μ/ρ = 0.193 cm²/g), the effective energy of a 120 kVp spectrum.
 */
export const DEFAULT_MU_WATER = 0.0193;

/** The HU that an `image` volume's 0 and 1 stand for when nothing says otherwise. */
export const DEFAULT_IMAGE_HU: [number, number] = [-1000, 1000];

/** How a volume's values relate to u. */
export interface UnitMap {
  /** The volume's unit. */
  unit: Unit;
  /** μ of water in 1/mm (for `attenuation`, and for physical line integrals). Default {@linkcode DEFAULT_MU_WATER}. */
  muWater: number;
  /** `image` only: the HU its values 0 and 1 stand for. Default {@linkcode DEFAULT_IMAGE_HU}. */
  imageHu?: [number, number];
}

/** `[scale, offset]` with `u = scale · value + offset`. */
export function uAffine(m: UnitMap): [number, number] {
  switch (m.unit) {
    case "HU":
      return [1 / 1000, 1];
    case "attenuation":
      return [1 / m.muWater, 0];
    case "image": {
      const [lo, hi] = m.imageHu ?? DEFAULT_IMAGE_HU;
      return [(hi - lo) / 1000, 1 + lo / 1000];
    }
  }
}

/**
 * Values in the volume's unit → u (no clipping).
 *
 * @example
 * ```ts
 * import { fromU, toU } from "./units.ts";
 * const m = { unit: "HU" as const, muWater: 0.0193 };
 * console.log(Array.from(toU(new Float32Array([-1000, 0, 2000]), m))); // [ 0, 1, 3 ]
 * console.log(Array.from(fromU(new Float32Array([0, 1, 3]), m))); // [ -1000, 0, 2000 ]
 * ```
 */
export function toU(data: Float32Array, m: UnitMap): Float32Array {
  const [s, o] = uAffine(m);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = s * data[i] + o;
  return out;
}

/** u → values in the volume's unit (no clipping). */
export function fromU(u: Float32Array, m: UnitMap): Float32Array {
  const [s, o] = uAffine(m);
  const out = new Float32Array(u.length);
  for (let i = 0; i < u.length; i++) out[i] = (u[i] - o) / s;
  return out;
}

/** A value in HU expressed in the volume's unit (for display windows given in HU). */
export function huToUnit(hu: number, m: UnitMap): number {
  const [s, o] = uAffine(m);
  return (1 + hu / 1000 - o) / s;
}

/**
 * The data range PSNR and SSIM use by default, in the volume's own unit: HU [−1024, 3071] (the 12-bit CT
 * range), image [0, 1], attenuation the same HU range in 1/mm.
 */
export function defaultMetricRange(m: UnitMap): [number, number] {
  if (m.unit === "image") return [0, 1];
  if (m.unit === "HU") return [-1024, 3071];
  return [huToUnit(-1024, m), huToUnit(3071, m)];
}

/** Display windows in HU: `--display-window soft|brain|bone|lung` or `LO,HI` in the volume's unit. */
export const DISPLAY_PRESETS: Readonly<Record<string, [number, number]>> = {
  soft: [-160, 240],
  brain: [0, 80],
  bone: [-500, 1500],
  lung: [-1350, 150],
};

/** The preview window in the volume's unit: a preset (in HU) or an explicit pair; image data shows [0, 1]. */
export function displayWindow(m: UnitMap, window?: string | [number, number]): [number, number] {
  if (Array.isArray(window)) return window;
  if (m.unit === "image" && window === undefined) return [0, 1];
  const [lo, hi] = DISPLAY_PRESETS[window ?? "soft"];
  return [huToUnit(lo, m), huToUnit(hi, m)];
}

/** What {@linkcode inferUnit} decided, and the one line that says why. */
export interface UnitGuess {
  /** The guessed unit. */
  unit: Unit;
  /** One line naming the guess and the values it rests on. */
  notice: string;
}

/** Percentiles of a (large) array from a strided sample: enough to tell units apart. */
function summary(data: Float32Array): { min: number; max: number; p1: number; p50: number; p99: number } {
  const step = Math.max(1, Math.floor(data.length / 200_000));
  const s: number[] = [];
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
    if (i % step === 0) s.push(v);
  }
  s.sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { min, max, p1: q(0.01), p50: q(0.5), p99: q(0.99) };
}

const fmt = (v: number) => (Math.abs(v) >= 10 ? v.toFixed(0) : Number(v.toPrecision(3)).toString());

/**
 * Guesses the unit of a volume that does not state one, from its values, or throws a one-line
 * {@linkcode UserError} naming `--unit hu|mu|image`. A volume within [0, 1] is an image, never HU.
 *
 * @example
 * ```ts
 * import { inferUnit } from "./units.ts";
 * console.log(inferUnit(new Float32Array([-1000, -1000, 40, 1200]), "ct.nii").unit); // HU
 * console.log(inferUnit(new Float32Array([0, 0.2, 1]), "img.nii").unit); // image
 * ```
 */
export function inferUnit(data: Float32Array, name: string): UnitGuess {
  const { min, max, p1, p50, p99 } = summary(data);
  const values = `values ${fmt(min)}..${fmt(max)}, median ${fmt(p50)}`;
  const hint = "pass --unit hu|mu|image";
  if (min >= 0 && max <= 0.25 && p99 > 0.005) {
    return {
      unit: "attenuation",
      notice:
        `${name}: no unit stated; ${values} (water near 0.019/mm): read as attenuation in 1/mm (${hint} to override)`,
    };
  }
  if (min >= -0.02 && max <= 1.02) {
    return {
      unit: "image",
      notice:
        `${name}: no unit stated; ${values} lie in [0, 1]: read as a unitless image (${hint} to override)`,
    };
  }
  if (min >= -1200 && p1 < -300 && max < 5000 && max > 100) {
    return {
      unit: "HU",
      notice: `${name}: no unit stated; ${values}, 1st percentile ${
        fmt(p1)
      } (air near -1000): read as HU (${hint} to override)`,
    };
  }
  const extra = min >= -50 && p1 < 50 && max > 1500 && max < 5000
    ? " (it looks like HU + 1024 stored without a rescale intercept)"
    : "";
  throw new UserError(`${name}: cannot tell the unit of its ${values}${extra}; ${hint}`);
}

/**
 * Checks a unit the user asserted against the values: `--unit hu` on data within [0, 1] is refused, since
 * air would have to be −1000.
 */
export function checkStatedUnit(data: Float32Array, unit: Unit, name: string): void {
  if (unit !== "HU") return;
  const { min, max } = summary(data);
  if (min >= -0.02 && max <= 1.02) {
    throw new UserError(
      `--unit hu: ${name} holds values ${fmt(min)}..${
        fmt(max)
      }, which are not HU (air is -1000); pass --unit image`,
    );
  }
}
