/**
 * Finding a Python that can train: torch, onnx, scipy and nibabel, from `$BLENDCT_PYTHON`, `python3` or
 * `/usr/bin/python3`; what is missing is named with the apt or pip command that installs it.
 * @module
 */
import { UserError } from "../lib/errors.ts";

const MODULES = ["torch", "onnx", "scipy", "nibabel"];
const APT: Record<string, string> = {
  torch: "python3-torch",
  onnx: "python3-onnx",
  scipy: "python3-scipy",
  nibabel: "python3-nibabel",
};

/** The modules of {@linkcode MODULES} that `python` cannot import, or null when `python` does not run. */
async function missing(python: string): Promise<string[] | null> {
  const probe = `import importlib.util as u; print(",".join(m for m in ${
    JSON.stringify(MODULES)
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

/** The first candidate Python with every module, or a UserError naming what is missing and how to install it. */
export async function findPython(): Promise<string> {
  const env = Deno.env.get("BLENDCT_PYTHON");
  const candidates = env ? [env] : ["python3", "/usr/bin/python3"];
  let report = "";
  for (const py of candidates) {
    const gone = await missing(py);
    if (gone === null) {
      report ||= `${py} does not run`;
      continue;
    }
    if (gone.length === 0) return py;
    if (!report || report.endsWith("does not run")) {
      report = `${py} lacks ${gone.join(", ")}: apt-get install ${gone.map((m) => APT[m]).join(" ")} ` +
        `(or pip install ${gone.join(" ")}), or point BLENDCT_PYTHON at a Python that has them`;
    }
  }
  throw new UserError(report || "no python3 found: apt-get install python3 python3-torch python3-onnx");
}

/** Runs a command with inherited output; a failure is one line naming it. */
export async function run(cmd: string, args: string[]): Promise<void> {
  const status = await new Deno.Command(cmd, { args, stdout: "inherit", stderr: "inherit" }).spawn().status;
  if (!status.success) throw new UserError(`${cmd} ${args[0] ?? ""} failed (exit ${status.code}); see above`);
}

/** The checkpoint next to a `--init` card, after checking the card is a 3-slice v-prediction prior. */
export async function initCheckpoint(init: string): Promise<string> {
  let card: { parameterisation?: { trained?: string }; slices?: number };
  try {
    card = JSON.parse(await Deno.readTextFile(init));
  } catch {
    throw new UserError(`--init ${init}: not a readable model card`);
  }
  if (card.slices !== undefined && card.slices !== 3) {
    throw new UserError(`--init ${init}: a ${card.slices}-slice model; blendct trains 3-slice priors`);
  }
  if ((card.parameterisation?.trained ?? "eps") !== "v") {
    throw new UserError(
      `--init ${init}: trained to predict ${card.parameterisation?.trained ?? "eps"}, not v`,
    );
  }
  const ckpt = init.replace(/\.json$/, ".ckpt.pt");
  try {
    await Deno.stat(ckpt);
  } catch {
    throw new UserError(`--init ${init}: its checkpoint ${ckpt} is missing`);
  }
  return ckpt;
}
