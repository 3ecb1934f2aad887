#!/usr/bin/env node
// `npm run bench -- <name> [--quick] [more args]`: runs bench/<name>.ts with tsx.
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const [name, ...rest] = process.argv.slice(2);
const available = readdirSync(new URL('.', import.meta.url)).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, ''));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name> [--quick]\navailable: ${available.join(', ') || '(none yet)'}`);
  process.exit(name ? 1 : 0);
}
// With the scheduler's autogroup on (Linux default on desktops and this VM), CPU is shared equally
// between sessions whatever their nice values: a `nice -n 19` job started from another shell then
// takes a whole core from a benchmark run at `nice -n -10` (seen here: a Kefu cluster node waited
// 0.8-1.7 s per 2 s on the run queue). Say so, so that a run on a shared machine is read as such.
try {
  if (readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1') {
    console.error('bench: kernel.sched_autogroup_enabled=1: nice values do not rank processes of different sessions; for runs beside other work, `echo 0 > /proc/sys/kernel/sched_autogroup_enabled` (root)');
  }
} catch { /* not Linux, or no such knob */ }
const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', new URL(`./${name}.ts`, import.meta.url).pathname, ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
