/**
 * Finding a Python that has the modules a job needs (training: torch, onnx, scipy, nibabel; the PyTorch
 * back end: torch), from `$BLENDCT_PYTHON`, `python3` or `/usr/bin/python3`; what is missing is named with
 * the apt or pip command that installs it.
 * @module
 */
import { UserError } from "./errors.ts";

const APT: Record<string, string> = {
  torch: "python3-torch",
  onnx: "python3-onnx",
  scipy: "python3-scipy",
  nibabel: "python3-nibabel",
  numpy: "python3-numpy",
};

/** The modules that `python` cannot import, or null when `python` does not run. */
async function missing(python: string, modules: readonly string[]): Promise<string[] | null> {
  const probe = `import importlib.util as u; print(",".join(m for m in ${
    JSON.stringify(modules)
  } if u.find_spec(m) is None))`;
  try {
    const out = await new Deno.Command(python, { args: ["-c", probe], stdout: "piped", stderr: "null" })
      .output();
    if (!out.success) return null;
    return new TextDecoder().decode(out.stdout).trim().split(",").filter(Boolean);
  } catch {
    return null;
  }
}

/**
 * The first candidate Python that imports every one of `modules`, or a {@linkcode UserError} naming what
 * is missing and how to install it (`why` says what it was for).
 *
 * @example
 * ```ts ignore
 * const python = await findPython(["torch"], "--backend torch");
 * ```
 */
export async function findPython(modules: readonly string[], why = "this job"): Promise<string> {
  const env = Deno.env.get("BLENDCT_PYTHON");
  const candidates = env ? [env] : ["python3", "/usr/bin/python3"];
  let report = "";
  for (const py of candidates) {
    const gone = await missing(py, modules);
    if (gone === null) {
      report ||= `${why} needs Python: ${py} does not run`;
      continue;
    }
    if (gone.length === 0) return py;
    if (!report || report.includes("does not run")) {
      report = `${why} needs ${gone.join(", ")}, which ${py} lacks: apt-get install ${
        gone.map((m) => APT[m] ?? `python3-${m}`).join(" ")
      } (or pip install ${gone.join(" ")}), or point BLENDCT_PYTHON at a Python that has them`;
    }
  }
  throw new UserError(
    report || `${why} needs python3: apt-get install python3 ${modules.map((m) => APT[m]).join(" ")}`,
  );
}
