/**
 * The parts of `reconstruct`'s run around the method: reading the state of an interrupted run, and the
 * metrics line printed at the end.
 * @module
 */
import { decodeState } from "../lib/diffusion/state.ts";
import { UserError } from "../lib/errors.ts";

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
