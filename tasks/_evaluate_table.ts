/**
 * The evaluation table: its rows, its Markdown, the case list of a `--manifest`, and the merge of shards.
 * @module
 */
import { writeFileAtomic } from "../lib/io/files.ts";
import { UserError } from "../lib/errors.ts";
import type { MethodMetrics } from "../lib/metrics/index.ts";

/** One row of the evaluation table. */
export interface Row extends MethodMetrics {
  /** Index of the case in the full case list (the order of the merged table). */
  caseIndex: number;
  case: string;
  setting: string;
  method: string;
  seconds: number;
  /** Sampler steps run (each is one batched network call over the slice groups). */
  calls: number;
  note: string;
}

// NaN (a metric undefined for the case) reads back from results.json as null
const num = (v: number | null, d: number) => (typeof v === "number" ? v.toFixed(d) : "NaN");
const fmt = (r: Record<string, number>, d: number) =>
  `${num(r.axial, d)} / ${num(r.coronal, d)} / ${num(r.sagittal, d)}`;

/** The Markdown table of the results. */
export function markdownTable(rows: Row[]): string {
  const lines = [
    "| case | setting | method | PSNR ax / cor / sag (dB) | SSIM ax / cor / sag | TV (GT) | z-cons. (GT) | s | steps | note |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.case} | ${r.setting} | ${r.method} | ${fmt(r.psnr, 2)} | ${fmt(r.ssim, 3)} | ${num(r.tv, 4)} (${
        num(r.tvReference, 4)
      }) | ${num(r.zConsistency, 4)} (${num(r.zConsistencyReference, 4)}) | ${
        num(r.seconds, 0)
      } | ${r.calls} | ${r.note} |`,
    );
  }
  return lines.join("\n");
}

/** The case list of a `--manifest` file: `{"cases": ["VOL@A:B", ...]}` or a bare array. */
export async function readCaseManifest(path: string): Promise<string[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch {
    throw new UserError(`--manifest ${path}: not a readable JSON file`);
  }
  const list = Array.isArray(raw) ? raw : (raw as { cases?: unknown })?.cases;
  if (
    !Array.isArray(list) || list.length === 0 || !list.every((c) => typeof c === "string" && c.length > 0)
  ) {
    throw new UserError(`--manifest ${path}: needs {"cases": ["VOLUME[@A:B]", ...]} with at least one case`);
  }
  return list as string[];
}

/**
 * Merges shard folders into one table, in the full case list's order: every shard must be complete, of the
 * same evaluation (fingerprint), and the set must cover 0..n−1 exactly once, so the merge equals one
 * unsharded run (timings aside).
 */
export async function mergeShards(parts: string[], out: string): Promise<void> {
  const infos = [];
  for (const part of parts) {
    let info;
    try {
      info = JSON.parse(await Deno.readTextFile(`${part}/shard.json`));
    } catch {
      throw new UserError(
        `--merge: ${part}/shard.json not found: is ${part} the --out of an evaluate --shard run?`,
      );
    }
    if (!info.complete) throw new UserError(`--merge: shard ${part} did not finish (rerun it)`);
    infos.push({ part, ...info });
  }
  const n = infos[0].shard[1];
  const same = JSON.stringify(infos[0].fingerprint);
  for (const i of infos) {
    if (i.shard[1] !== n) {
      throw new UserError(`--merge: ${i.part} is shard ${i.shard.join("/")}, not one of ${n}`);
    }
    if (JSON.stringify(i.fingerprint) !== same) {
      throw new UserError(`--merge: ${i.part} was evaluated with other settings than ${infos[0].part}`);
    }
  }
  const seen = infos.map((i) => i.shard[0]).sort((a, b) => a - b);
  const want = Array.from({ length: n }, (_, k) => k);
  if (seen.join() !== want.join()) {
    throw new UserError(
      `--merge: shards ${seen.join(",")} given; a table of ${n} shards needs ${want.join(",")} once each`,
    );
  }
  const rows: Row[] = [];
  for (const i of infos) rows.push(...JSON.parse(await Deno.readTextFile(`${i.part}/results.json`)));
  // stable sort: the rows of one case keep their order (settings, then methods)
  rows.sort((a, b) => a.caseIndex - b.caseIndex);
  await Deno.mkdir(out, { recursive: true });
  const write = (name: string, text: string) =>
    writeFileAtomic(`${out}/${name}`, new TextEncoder().encode(text));
  await write("results.json", JSON.stringify(rows, null, 2) + "\n");
  await write("results.md", markdownTable(rows) + "\n");
  await write(
    "shard.json",
    JSON.stringify(
      { shard: [0, 1], complete: true, fingerprint: infos[0].fingerprint, mergedFrom: parts },
      null,
      2,
    ) +
      "\n",
  );
  console.log(markdownTable(rows));
  console.log(`merged ${parts.length} shards into ${out}/results.json, ${out}/results.md`);
}
