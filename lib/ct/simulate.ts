/**
 * Simulated measurements: `y = A u` for a volume in blendct's attenuation unit u (water 1), optionally with
 * transmission (Poisson) noise on the physical line integrals `μ_water · pixel · y`.
 * @module
 */
import { Rng } from "../random.ts";

/** Options for {@linkcode addPoissonNoise}. */
export interface NoiseOptions {
  /** Incident photons per ray, I0. */
  photons: number;
  /**
   * Physical line integral per unit of `y`: μ_water (1/mm) times the pixel size (mm), turning line
   * integrals of u in pixel lengths into −ln(I/I₀). Default 0.0193 (water at 70 keV, 1 mm pixels).
   */
  attenuation?: number;
  /** Seed of the noise. Default 0. */
  seed?: number;
}

/**
 * Adds transmission noise to line integrals: counts ~ Poisson(I0·exp(−μ·y)) (normal approximation above 50
 * expected counts), then the log transform back, with at least one count per ray.
 *
 * @example
 * ```ts
 * import { addPoissonNoise } from "./simulate.ts";
 * const y = addPoissonNoise(new Float32Array([0, 10, 100]), { photons: 1e5, seed: 1 });
 * console.log(y.length); // 3
 * ```
 */
export function addPoissonNoise(y: Float32Array, options: NoiseOptions): Float32Array {
  const mu = options.attenuation ?? 0.0193;
  const rng = new Rng(`poisson:${options.seed ?? 0}`);
  const out = new Float32Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const lam = options.photons * Math.exp(-mu * y[i]);
    let counts: number;
    if (lam > 50) {
      counts = Math.round(lam + Math.sqrt(lam) * rng.normal());
    } else {
      // Knuth's product of uniforms: exact for small means
      const limit = Math.exp(-lam);
      let k = 0, p = rng.uniform();
      while (p > limit) {
        k++;
        p *= rng.uniform();
      }
      counts = k;
    }
    out[i] = -Math.log(Math.max(counts, 1) / options.photons) / mu;
  }
  return out;
}
