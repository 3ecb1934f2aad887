/**
 * The benchmark contract (GUIDE.md): a human table, then as the very last line one JSON object
 * {"bench","machine","kefu","peers","ratios",...}, also written to bench/results/<bench>.json.
 */
import { cpus, totalmem, release } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export const quick = process.argv.includes('--quick');

/** Value of `--name value` on the command line, or the fallback. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** One line describing this machine, for every result. */
export function machine(): string {
  const c = cpus();
  return `${c.length} vCPU ${c[0]?.model.trim() ?? 'unknown'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, Linux ${release()}`;
}

/** a / b rounded to 3 significant decimals; null when b is 0 or either is missing. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || b === 0 || !Number.isFinite(a) || !Number.isFinite(b)) return null;
  return Math.round((a / b) * 1000) / 1000;
}

/** Median of numbers (for repeated runs). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Rounds to `d` decimals (for display and JSON; never rounds a ratio up past its value's meaning). */
export function round(x: number, d = 3): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

export interface BenchResult {
  bench: string;
  kefu: Record<string, unknown>;
  peers: Record<string, unknown>;
  ratios: Record<string, number | null>;
  [extra: string]: unknown;
}

/**
 * Prints `rows` as a table, then the JSON line; writes bench/results/<bench>.json, or into the
 * directory named by KEFU_BENCH_RESULTS (A/B and partial runs must not replace the committed file).
 */
export function report(result: BenchResult, rows: Array<Record<string, unknown>> = []): void {
  if (rows.length > 0) console.table(rows);
  const { bench, ...rest } = result;
  const full = { bench, machine: machine(), date: new Date().toISOString(), quick, ...rest };
  const dir = process.env.KEFU_BENCH_RESULTS ? pathToFileURL(`${process.env.KEFU_BENCH_RESULTS}/`) : new URL('../results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`${result.bench}${quick ? '.quick' : ''}.json`, dir);
  writeFileSync(file, JSON.stringify(full, null, 2) + '\n');
  console.log(JSON.stringify(full));
}
