/**
 * A run's files are named after its output, BIDS-style: `--output D/NAME.nii.gz` writes `D/NAME.nii.gz`
 * and beside it `NAME.manifest.json`, `NAME.metrics.json`, `NAME.preview.png`, `NAME.steps.png`,
 * `NAME.std.nii.gz` and, while
 * it runs, `NAME.state.bin` and the lock `NAME.lock`. Two runs with different outputs in one folder never
 * touch each other's files; two runs onto the same output are kept apart by the lock; a file that exists is
 * replaced only with `--force`, and a `--force` rerun removes the earlier run's sidecars it does not write
 * again.
 * @module
 */
import { UserError } from "../errors.ts";
import { checkOutputPath } from "../io/files.ts";

/** The paths of one run's files. */
export interface Sidecars {
  /** The output volume. */
  volume: string;
  /** The run manifest. */
  manifest: string;
  /** Metrics against the ground truth. */
  metrics: string;
  /** The preview picture. */
  preview: string;
  /** PSNR (or the data residual) against sampler step. */
  steps: string;
  /** The per-voxel std of K chains. */
  std: string;
  /** The resumable sampler state. */
  state: string;
  /** The run lock. */
  lock: string;
}

/**
 * The files of a run whose output is `output`: its name without `.nii.gz`, `.nii` or `.npy`, plus a suffix.
 *
 * @example
 * ```ts
 * import { sidecarsOf } from "./sidecars.ts";
 * const s = sidecarsOf("out/chest.nii.gz");
 * console.log(s.manifest, s.state); // out/chest.manifest.json out/chest.state.bin
 * ```
 */
export function sidecarsOf(output: string): Sidecars {
  const stem = output.replace(/(\.nii\.gz|\.nii|\.npy)$/i, "");
  return {
    volume: output,
    manifest: `${stem}.manifest.json`,
    metrics: `${stem}.metrics.json`,
    preview: `${stem}.preview.png`,
    steps: `${stem}.steps.png`,
    std: `${stem}.std.nii.gz`,
    state: `${stem}.state.bin`,
    lock: `${stem}.lock`,
  };
}

/** What {@linkcode claimOutputs} hands the run. */
export interface OutputClaim {
  /** The run's paths. */
  files: Sidecars;
  /** Once the run has written `written`: removes what an earlier run left that this one did not write. */
  finish(written: string[]): Promise<void>;
  /** Releases the lock (always, success or not). */
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    return Deno.statSync(`/proc/${pid}`).isDirectory;
  } catch {
    // no /proc (not Linux): a lock is taken as held, the message says how to clear it
    return Deno.build.os !== "linux";
  }
}

/**
 * Claims the files of a run onto `output` before anything is computed: its folder must exist and be a
 * folder; the output may not be a symbolic link or a special file; another live run's lock refuses; files
 * that exist refuse unless `force` (or `resume`, which continues the run that made them).
 *
 * @example
 * ```ts ignore
 * const claim = await claimOutputs("out/recon.nii.gz", { force: false });
 * try { ...; await claim.finish(written); } finally { await claim.release(); }
 * ```
 */
export async function claimOutputs(
  output: string,
  options: { force?: boolean; resume?: boolean; inputs?: string[] },
): Promise<OutputClaim> {
  const files = sidecarsOf(output);
  // the folder, links, devices and inputs are refused by the one output check every write makes; here it
  // runs for every file of the run before the lock is taken and anything is computed
  for (const path of [files.volume, files.manifest, files.metrics, files.preview, files.steps, files.std]) {
    await checkOutputPath(path, options.inputs ?? []);
  }
  // the lock appears with its pid in it, atomically (a hard link of a written file), so no run ever reads
  // an empty lock; a lock whose process is gone is removed and the link tried once more
  const mine = `${files.lock}.${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(mine, `${Deno.pid}\n`);
  try {
    for (let attempt = 0;; attempt++) {
      try {
        await Deno.link(mine, files.lock);
        break;
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
        const pid = Number((await Deno.readTextFile(files.lock).catch(() => "")).trim());
        const held = !(Number.isInteger(pid) && pid > 0) || alive(pid);
        if (held || attempt > 0) {
          throw new UserError(
            `another run (process ${
              pid || "?"
            }) is writing ${output} (lock ${files.lock}); wait for it, choose another --output, or delete the lock if no run is going`,
          );
        }
        await Deno.remove(files.lock).catch(() => {});
      }
    }
  } finally {
    await Deno.remove(mine).catch(() => {});
  }
  const release = async () => {
    await Deno.remove(files.lock).catch(() => {});
  };
  try {
    let earlier: string[] = [];
    try {
      const m = JSON.parse(await Deno.readTextFile(files.manifest));
      if (Array.isArray(m?.outputs)) earlier = m.outputs.filter((p: unknown) => typeof p === "string");
    } catch { /* no earlier manifest, or not ours */ }
    if (!options.force && !options.resume) {
      if (await Deno.stat(files.state).catch(() => null)) {
        throw new UserError(
          `${files.state} holds an interrupted run: --resume to continue it, --force to start over`,
        );
      }
      for (
        const path of [files.volume, files.manifest, files.metrics, files.preview, files.steps, files.std]
      ) {
        if (await Deno.stat(path).catch(() => null)) {
          const ours = earlier.includes(path) || path === files.manifest;
          throw new UserError(
            `${path} exists${
              ours ? " from an earlier run" : " (not written by blendct)"
            }: pass --force to replace it, or choose another --output`,
          );
        }
      }
    }
    const ours = new Set(Object.values(files));
    return {
      files,
      release,
      finish: async (written) => {
        // only this output's own sidecars are ever removed, and only when the earlier manifest lists them
        for (const path of earlier) {
          if (ours.has(path) && !written.includes(path)) await Deno.remove(path).catch(() => {});
        }
      },
    };
  } catch (e) {
    await release();
    throw e;
  }
}
