#!/usr/bin/env node
// Who calls a function, by self time: splits one function's samples in a .cpuprofile (node
// --cpu-prof, hub-latency --profile) by its four nearest callers, e.g. the native `writeBuffer`
// into socket writes and the shown log's fs.writeSync. docs/benchmarks.md (hub-latency, session 9)
// quotes it. Shares are of all samples in the span (idle included), like cpuprofile-summary.ts:
//   node scripts/cpuprofile-callers.mjs <file.cpuprofile> <functionName> [from_s-to_s]
import { readFileSync } from 'node:fs';

const [file, fnName, span] = process.argv.slice(2);
if (!file || !fnName) { console.error('usage: cpuprofile-callers.mjs <file.cpuprofile> <functionName> [from_s-to_s]'); process.exit(1); }
const [from, to] = (span ?? '0-Infinity').split('-').map(Number);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const bySite = new Map();
let at = 0;
let total = 0;
p.samples.forEach((id, i) => {
  const dt = p.timeDeltas[i] ?? 0;
  at += dt;
  if (at < from * 1e6 || at >= to * 1e6) return;
  total += dt;
  if (byId.get(id).callFrame.functionName !== fnName) return;
  const chain = [];
  for (let cur = parent.get(id), k = 0; k < 4 && cur !== undefined; k++, cur = parent.get(cur)) {
    const c = byId.get(cur).callFrame;
    chain.push(`${c.functionName || '(anonymous)'}@${c.url.split('/').pop()}:${c.lineNumber}`);
  }
  const key = chain.join(' < ');
  bySite.set(key, (bySite.get(key) ?? 0) + dt);
});
console.log(`${(total / 1e6).toFixed(2)} s sampled in the span`);
for (const [k, v] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${(100 * v / total).toFixed(2)}%  ${(v / 1e6).toFixed(2)} s  ${k}`);
