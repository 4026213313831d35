/**
 * The parts of `reconstruct`'s run around the method: reading the state of an interrupted run, the number
 * each sampler step is plotted by, and the metrics line printed at the end.
 * @module
 */
import { decodeState } from "../lib/diffusion/state.ts";
import { UserError } from "../lib/errors.ts";
import type { Case } from "../lib/jobs/case.ts";
import type { LinearOperator } from "../lib/ct/operator.ts";
import type { GpuContext } from "../lib/gpu/context.ts";
import { DataTerm } from "../lib/solve/data_term.ts";
import { caseVolume } from "../lib/jobs/case.ts";
import { toUnitRange } from "../lib/metrics/index.ts";
import { psnr2d } from "../lib/metrics/psnr.ts";

/** The saved state of an interrupted run, checked against this run's configuration. */
export async function readResume(
  statePath: string,
  fingerprint: Record<string, unknown>,
  diffusion: boolean,
  method: string,
) {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(statePath);
  } catch {
    throw new UserError(`--resume: no saved state at ${statePath}; run without --resume`);
  }
  if (!diffusion) throw new UserError(`--resume applies to diffusion methods only (got --method ${method})`);
  const steps = Number(fingerprint.steps);
  const state = decodeState(bytes, fingerprint, statePath, Number.isInteger(steps) ? steps : undefined);
  console.error(`resuming at step ${state.step} from ${statePath}`);
  return state;
}

/** One line per metrics set (recon, fbp): PSNR and SSIM per plane. */
export function printMetrics(
  metrics: Record<string, { psnr: Record<string, number>; ssim: Record<string, number> }>,
): void {
  let undefinedSsim = false;
  const ssim = (v: number) => {
    if (Number.isFinite(v)) return v.toFixed(3);
    undefinedSsim = true;
    return "n/a";
  };
  for (const [name, m] of Object.entries(metrics)) {
    const p = m.psnr, s = m.ssim;
    console.log(
      `${name.padEnd(8)} PSNR axial/coronal/sagittal ${p.axial.toFixed(2)}/${p.coronal.toFixed(2)}/${
        p.sagittal.toFixed(2)
      } dB  SSIM ${ssim(s.axial)}/${ssim(s.coronal)}/${ssim(s.sagittal)}`,
    );
  }
  if (undefinedSsim) {
    console.log(
      "n/a: SSIM's 7x7 window does not fit a plane with fewer than 7 pixels on a side (too few slices)",
    );
  }
}

/**
 * What a step's estimate (in u) is scored by: with a reference, the whole volume's PSNR on the metrics'
 * range (clipped as the metrics clip); without one, the relative data residual ‖A x − y‖ / ‖y‖, one
 * forward projection per step on buffers kept for the run (`dispose` releases them).
 */
export function stepScore(
  gpu: GpuContext,
  c: Case,
  A: LinearOperator,
  range: [number, number],
): { metric: "psnr" | "residual"; score: (u: Float32Array) => Promise<number>; dispose: () => void } {
  if (c.truthU) {
    const truth = toUnitRange(caseVolume(c, c.truthU), { range }).data;
    return {
      metric: "psnr",
      score: (u) => Promise.resolve(psnr2d(toUnitRange(caseVolume(c, u), { range }).data, truth)),
      dispose: () => {},
    };
  }
  const term = new DataTerm(gpu, A, c.y);
  return { metric: "residual", score: (u) => term.residual(u), dispose: () => term.dispose() };
}
