/**
 * Training's Python (torch, onnx, scipy, nibabel: see lib/python.ts) and its checkpoints.
 * @module
 */
import { UserError } from "../lib/errors.ts";
import { findPython as findPythonWith } from "../lib/python.ts";

const MODULES = ["torch", "onnx", "scipy", "nibabel"];

/** The first candidate Python with every module training needs, or a UserError naming what is missing. */
export function findPython(): Promise<string> {
  return findPythonWith(MODULES, "training");
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
