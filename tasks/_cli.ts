/**
 * What every task shares: flag parsing with node:util's parseArgs validated by a zod schema, `--help`, and
 * turning a {@linkcode UserError} into one line on stderr with exit code 2.
 * @module
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { z } from "../lib/deps.ts";
import { UserError } from "../lib/errors.ts";

/**
 * One flag, declared once: its parseArgs type, its help text and the default `--help` shows, and its
 * validation (`schema`), from which {@linkcode flagSchema} makes the task's zod object.
 */
export interface FlagSpec {
  type: "string" | "boolean";
  help: string;
  default?: string | boolean;
  short?: string;
  schema: z.ZodType;
}

/**
 * The zod object of a flag set, from each flag's own `schema` (combinations are refined on top of it).
 *
 * @example
 * ```ts
 * import { flagSchema } from "./_cli.ts";
 * import { z } from "../lib/deps.ts";
 * const FLAGS = { force: { type: "boolean", help: "Replace", schema: z.boolean().default(false) } } as const;
 * console.log(flagSchema(FLAGS).parse({})); // { force: false }
 * ```
 */
export function flagSchema<const F extends Readonly<Record<string, { readonly schema: z.ZodType }>>>(
  flags: F,
): z.ZodObject<{ -readonly [K in keyof F]: F[K]["schema"] }> {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, f] of Object.entries(flags)) shape[name] = f.schema;
  return z.object(shape) as unknown as z.ZodObject<{ -readonly [K in keyof F]: F[K]["schema"] }>;
}

/** Parses `args` against `flags`, prints help and exits on `--help`, then validates with `schema`. */
export function parseFlags<S extends z.ZodType>(
  args: string[],
  usage: string,
  flags: Record<string, FlagSpec>,
  schema: S,
): z.infer<S> {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, f] of Object.entries(flags)) {
    // parseArgs rejects an explicit `short: undefined`
    options[name] = f.short ? { type: f.type, short: f.short } : { type: f.type };
  }
  // parseArgs keeps the last of a repeated flag; a repeated flag is almost always a mistake (which wins?)
  const shorts = Object.fromEntries(
    Object.entries(flags).filter(([, f]) => f.short).map(([n, f]) => [f.short, n]),
  );
  const seen = new Set<string>();
  for (const a of args) {
    const m = /^--([^=]+)/.exec(a) ?? /^-([a-zA-Z])$/.exec(a);
    const name = m ? (a.startsWith("--") ? m[1] : shorts[m[1]]) : undefined;
    if (!name || !(name in flags)) continue;
    if (seen.has(name)) throw new UserError(`--${name} is given more than once; give it once`);
    seen.add(name);
  }
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: joinNegativeValues(args, flags),
      options,
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UserError(`${(e as Error).message.split("\n")[0]} (see --help)`);
  }
  if (values.help) {
    console.log(helpText(usage, flags));
    Deno.exit(0);
  }
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const flag = issue.path.length ? `--${String(issue.path[0])}` : "flags";
    const given = issue.path.length ? values[String(issue.path[0])] : undefined;
    const shown = given === undefined ? "" : ` (got ${JSON.stringify(given)})`;
    throw new UserError(`${flag}: ${plainIssue(issue)}${shown}`);
  }
  return parsed.data;
}

/**
 * A zod issue in blendct's words: the schema's own message where it has one, else zod's default rewritten
 * ("Too small: expected number to be >=1" → "must be at least 1").
 */
export function plainIssue(issue: z.core.$ZodIssue): string {
  const i = issue as z.core.$ZodIssue & {
    minimum?: number | bigint;
    maximum?: number | bigint;
    inclusive?: boolean;
  };
  if (!/^(Too small|Too big|Invalid input|Invalid option)/.test(issue.message)) return issue.message;
  if (issue.code === "too_small" && i.minimum !== undefined) {
    return i.inclusive === false ? `must be greater than ${i.minimum}` : `must be at least ${i.minimum}`;
  }
  if (issue.code === "too_big" && i.maximum !== undefined) {
    return i.inclusive === false ? `must be less than ${i.maximum}` : `must be at most ${i.maximum}`;
  }
  if (issue.code === "invalid_value" && "values" in issue) {
    return `must be one of ${(issue.values as unknown[]).map(String).join(", ")}`;
  }
  if (issue.code === "invalid_type") return `must be a ${issue.expected}`;
  return issue.message;
}

/**
 * `--flag -160,240` → `--flag=-160,240`: parseArgs takes a value that starts with "-" for a flag, so string
 * flags followed by a negative number (or a LO,HI pair) are joined first.
 */
export function joinNegativeValues(args: string[], flags: Record<string, FlagSpec>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const m = /^--([^=]+)$/.exec(args[i]);
    const next = args[i + 1];
    if (m && flags[m[1]]?.type === "string" && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${args[i]}=${next}`);
      i++;
    } else {
      out.push(args[i]);
    }
  }
  return out;
}

/** The `--help` text: usage line, then one line per flag. */
export function helpText(usage: string, flags: Record<string, FlagSpec>): string {
  const lines = [usage, "", "Flags:"];
  for (const [name, f] of Object.entries(flags)) {
    const arg = f.type === "string" ? ` <value>` : "";
    const def = f.default === undefined ? "" : ` (default: ${f.default})`;
    lines.push(`  --${name}${arg}`.padEnd(28) + f.help + def);
  }
  lines.push("  --help".padEnd(28) + "Show this help");
  return lines.join("\n");
}

/** A zod string flag holding a number, e.g. `--views 8`. */
export const numberFlag = (name: string) =>
  z.string().trim().regex(/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i, `${name} must be a number`).transform(
    Number,
  );

/** A zod string flag holding a whole number. */
export const intFlag = (name: string) =>
  z.string().trim().regex(/^[-+]?\d+$/, `${name} must be a whole number`).transform(Number);

/**
 * Runs a task's main function: a {@linkcode UserError} (or a zod failure) becomes one line on stderr and
 * exit code 2; anything else is a bug, reported with its stack and exit code 1.
 */
export async function runTask(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (e instanceof UserError) {
      console.error(`error: ${e.message}`);
      Deno.exit(2);
    }
    console.error(e);
    Deno.exit(1);
  }
}

/** A `LO,HI` flag (e.g. `--metric-range -1024,3071`): two numbers, LO < HI. */
export const rangeFlag = (name: string) =>
  z.string().trim().regex(
    /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*,\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i,
    `${name} must be two numbers LO,HI`,
  ).transform((s) => s.split(",").map(Number) as [number, number]).refine(
    ([lo, hi]) => hi > lo,
    "HI must exceed LO",
  );

/** `--unit hu|mu|image` → blendct's unit names. */
export const unitFlag = z.enum(["hu", "mu", "image", "HU", "attenuation"], {
  error: "must be hu, mu (attenuation in 1/mm) or image",
}).transform((u) =>
  (u === "hu" || u === "HU" ? "HU" : u === "mu" || u === "attenuation" ? "attenuation" : "image") as
    | "HU"
    | "attenuation"
    | "image"
);

/** `--display-window soft|brain|bone|lung` or `LO,HI` in the volume's unit. */
export const displayFlag = z.union([
  z.enum(["soft", "brain", "bone", "lung"]),
  rangeFlag("display-window"),
], { error: "must be soft, brain, bone, lung or LO,HI with LO < HI" });

/** The folder of a path ("." for a bare file name). */
export function dirname(path: string): string {
  const i = path.replace(/\\/g, "/").lastIndexOf("/");
  return i < 0 ? "." : path.slice(0, i) || "/";
}

/**
 * The output path of a run from `--output` and `--out-dir`: the run's other files are written beside the
 * output (`lib/report/sidecars.ts`), so the two flags must agree when both are given.
 */
export function outputPath(f: { output?: string; "out-dir"?: string }, name: string): string {
  const dir = f["out-dir"]?.replace(/\/+$/, "");
  if (f.output && dir !== undefined && resolve(dirname(f.output)) !== resolve(dir || "/")) {
    throw new UserError(
      `--output ${f.output} is not in --out-dir ${dir}: a run's files are written beside its --output; give one of the two`,
    );
  }
  return f.output ?? `${dir ?? "out"}/${name}`;
}

/** Makes the output's folder (an explicit `--out-dir` may not exist yet); a file in its place is one line. */
export async function makeOutputFolder(output: string): Promise<void> {
  const dir = dirname(output);
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists || e instanceof Deno.errors.NotADirectory) {
      throw new UserError(
        `output folder ${dir} cannot be made: a file is in its way; choose another --out-dir`,
      );
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new UserError(`output folder ${dir} cannot be made: permission denied`);
    }
    throw e;
  }
}
