/**
 * The evaluation table: its rows, its Markdown, the case list of a `--manifest`, and the merge of shards.
 * @module
 */
import { writeFileAtomic, writeJsonAtomic } from "../lib/io/files.ts";
import { UserError } from "../lib/errors.ts";
import type { MethodMetrics } from "../lib/metrics/index.ts";
import { linePlotPng, type PlotSeries } from "../lib/report/plot.ts";

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

/** The worst plane's PSNR of a row (NaN reads back from results.json as null and is left out). */
export function worstPsnr(r: Pick<Row, "psnr">): number {
  const v = [r.psnr.axial, r.psnr.coronal, r.psnr.sagittal].filter((x) =>
    typeof x === "number" && isFinite(x)
  );
  return v.length ? Math.min(...v) : NaN;
}

/** A case or setting as part of a file name: `sample:lidc@48:84` → `sample_lidc_48_84`. */
export function fileStem(s: string): string {
  return s.replace(/[^a-z0-9]+/gi, "_");
}

/**
 * One plot per case evaluated at two or more view counts (full-angle settings): the worst plane's PSNR
 * against views, a line per method. Returns the case, the file name and the PNG of each.
 */
export function viewsPlots(rows: Row[]): { case: string; name: string; png: Uint8Array }[] {
  const out: { case: string; name: string; png: Uint8Array }[] = [];
  for (const c of [...new Set(rows.map((r) => r.case))]) {
    const sparse = rows.filter((r) => r.case === c && /^\d+ views$/.test(r.setting));
    if (new Set(sparse.map((r) => r.setting)).size < 2) continue;
    const series: PlotSeries[] = [...new Set(sparse.map((r) => r.method))].map((m) => ({
      label: m,
      points: sparse.filter((r) => r.method === m).map((r) =>
        [parseInt(r.setting), worstPsnr(r)] as [number, number]
      )
        .sort((a, b) => a[0] - b[0]),
    }));
    const png = linePlotPng(series, { title: c, xLabel: "views", yLabel: "PSNR (dB), worst plane" });
    out.push({ case: c, name: `${fileStem(c)}_psnr_vs_views.png`, png });
  }
  return out;
}

/** What a reader must know about a case's numbers (the README's caveats), or nothing for a case of yours. */
export function caseCaveat(c: string): string {
  if (/^sample:lidc\b/.test(c)) return "LIDC-IDRI as vtk.js ships it: an 8-bit mediastinal window";
  if (/^sample:headsq\b/.test(c)) return "the VTK head CT: 64×64 slices resampled to 256×256";
  if (/plastimatch/i.test(c)) return "held out from the shipped prior's training";
  return "";
}

/**
 * The evaluation as a Markdown page: the command that made it, the table, each case's caveat, picture and
 * PSNR-against-views plot. Written beside the table, so tables and figures are regenerated together.
 */
export function reportMarkdown(
  rows: Row[],
  o: {
    command: string;
    machine: string;
    date: string;
    pictures: Record<string, string[]>;
    plots: { case: string; name: string }[];
  },
): string {
  const lines = [
    "# blendct evaluation",
    "",
    `Made by \`${o.command}\` on ${o.date} (${o.machine}). PSNR in dB over the unit's metric range, worst plane`,
    "plotted; a row's note says the settings and the reference each method follows.",
    "",
    markdownTable(rows),
    "",
  ];
  for (const c of [...new Set(rows.map((r) => r.case))]) {
    const caveat = caseCaveat(c);
    lines.push(`## ${c}`, "");
    if (caveat) lines.push(`Caveat: ${caveat}.`, "");
    for (const pic of o.pictures[c] ?? []) lines.push(`![${c}, ${pic.replace(/\.png$/, "")}](${pic})`, "");
    const plot = o.plots.find((p) => p.case === c);
    if (plot) lines.push(`![PSNR against views, ${c}](${plot.name})`, "");
  }
  return lines.join("\n");
}

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
  await writeTables(out, rows, {
    command: `deno task evaluate --merge ${parts.join(",")} --out ${out}`,
    machine: machineLine(),
    pictures: {},
  });
  await writeJsonAtomic(`${out}/shard.json`, {
    shard: [0, 1],
    complete: true,
    fingerprint: infos[0].fingerprint,
    mergedFrom: parts,
  });
  console.log(markdownTable(rows));
  console.log(`merged ${parts.length} shards into ${out}/results.json, ${out}/results.md`);
}

/**
 * Writes an evaluation's tables and figures to `out` — results.json, results.md, the PSNR-against-views
 * plots and report.md (dated today) — and returns their paths: one writer for a run and for a merge of
 * shards, so the two folders cannot differ in what they hold.
 */
export async function writeTables(
  out: string,
  rows: Row[],
  o: { command: string; machine: string; pictures: Record<string, string[]> },
): Promise<string[]> {
  await writeJsonAtomic(`${out}/results.json`, rows);
  await writeFileAtomic(`${out}/results.md`, new TextEncoder().encode(markdownTable(rows) + "\n"));
  const plots = viewsPlots(rows);
  for (const p of plots) await writeFileAtomic(`${out}/${p.name}`, p.png);
  const date = new Date().toISOString().slice(0, 10);
  const report = reportMarkdown(rows, { ...o, date, plots });
  await writeFileAtomic(`${out}/report.md`, new TextEncoder().encode(report + "\n"));
  return [
    `${out}/results.json`,
    `${out}/results.md`,
    `${out}/report.md`,
    ...plots.map((p) => `${out}/${p.name}`),
  ];
}

/** This machine in a few words, for a report's header. */
export function machineLine(): string {
  return `${navigator.hardwareConcurrency} CPU threads, ${Deno.build.os} ${Deno.build.arch}, Deno ${Deno.version.deno}`;
}
