/**
 * What `evaluate` does per method beyond running it: TV's λ tuned on a grid against the ground truth, and
 * the note each row carries (the reference it follows, its settings and deviations).
 * @module
 */
import { METHOD_DEFAULTS } from "../lib/defaults.ts";
import type { GpuContext } from "../lib/gpu/context.ts";
import { type Case, caseVolume } from "../lib/case.ts";
import { type Method, type MethodConfig, reconstruct } from "../lib/reconstruct.ts";
import { computeMetrics } from "../lib/metrics/index.ts";
import type { Volume } from "../lib/volume.ts";

/** TV at each λ of the grid; the one with the best mean PSNR over the planes. */
export async function tunedTv(
  gpu: GpuContext,
  c: Case,
  lambdas: number[],
  iterations: number | undefined,
  truth: Volume,
  range: [number, number],
): Promise<{ x: Float32Array; lam: number; score: number }> {
  const [Z, H, W] = c.shape;
  let best: { x: Float32Array; lam: number; score: number } | null = null;
  for (const lam of lambdas) {
    const tv = { method: "tv" as const, tvLambda: lam, iterations };
    const cand = await reconstruct(c.y, c.geometry, { Z, H, W }, tv, { gpu });
    const p = computeMetrics(caseVolume(c, cand), truth, { range }).psnr;
    const score = (p.axial + p.coronal + p.sagittal) / 3;
    console.error(`  tv λ=${lam}: mean PSNR ${score.toFixed(2)} dB`);
    if (!best || score > best.score) best = { x: cand, lam, score };
  }
  return best!;
}

/** The note of a row: the reference a method follows and the settings it ran with. */
export function methodNote(
  method: Method,
  variant: Partial<MethodConfig>,
  steps: number | undefined,
): string {
  const d = METHOD_DEFAULTS;
  const ztv = variant.ztvFrom !== undefined ? `; z-TV only for t ≤ ${variant.ztvFrom} (variant)` : "";
  const opts = Object.entries(variant).map(([k, v]) => `${k} ${v}`).join(", ");
  switch (method) {
    case "fbpunet":
      return "FBP + residual 2D UNet (models/fbpunet-*.json, 6 min of CPU training each)";
    case "dds2d":
      return `${d.dds2d.steps} steps slice by slice ({z,z,z} to the 3-slice prior), CG ${d.dds2d.cgIters}, no z coupling`;
    case "dds":
      return `reference: ${d.dds.steps} steps, no clip, circular Dz, z-TV ρ=${d.dds.referenceRho} λ=${d.dds.referenceLambda} (reference units)${ztv}`;
    case "mbir":
      return `${
        variant.steps ?? d.mbir.levels
      } noise levels (reference: 2000), PC snr ${d.mbir.snr}, CG 1 + z-TV ADMM ρ=${d.mbir.referenceRho} λ=${d.mbir.referenceLambda} (reference units)${ztv}`;
    case "tpdm":
      return `${d.tpdm.steps} steps, coronal every ${
        variant.auxEvery ?? d.tpdm.auxEvery
      }, CG data step (not DPS)`;
    case "blend":
    case "blend++":
      return `${variant.steps ?? steps} steps, η=${d.blend.eta}, CG ${d.blend.cgIters}${
        opts ? `; ${opts}` : ""
      }`;
    default:
      return "";
  }
}
