#!/usr/bin/env node
// Allocation per function and per file of a sampling heap profile (scripts/heap-sample-preload.cjs):
//   node scripts/heap-sample-summary.mjs <file> [operations=1] [top=30]
// With `operations` (e.g. messages relayed in the sampled window) it also prints bytes per operation.
import { readFileSync } from 'node:fs';

const [file, opsArg, topArg] = process.argv.slice(2);
if (!file) { console.error('usage: heap-sample-summary.mjs <file> [operations] [top]'); process.exit(1); }
const ops = Number(opsArg ?? 1);
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const short = (url) => url.replace(/.*node_modules\//, '~/').replace(/^file:\/\//, '').replace(process.cwd() + '/', '');
const byFunction = new Map();
const byFile = new Map();
let total = 0;
const stack = [profile.head];
while (stack.length > 0) {
  const n = stack.pop();
  const f = n.callFrame;
  const url = short(f.url);
  const fn = `${f.functionName || '(anonymous)'} ${url || '(native)'}:${f.lineNumber + 1}`;
  const dir = url ? url.split('/').slice(0, 3).join('/') : '(native)';
  total += n.selfSize;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + n.selfSize);
  byFile.set(dir, (byFile.get(dir) ?? 0) + n.selfSize);
  stack.push(...n.children);
}
const line = ([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)}% ${(v / ops).toFixed(0).padStart(8)} B/op  ${k}`;
console.log(`sampled ${(total / 1e6).toFixed(1)} MB${ops > 1 ? `, ${(total / ops / 1024).toFixed(2)} KB per operation` : ''}`);
console.log('-- by file or package --');
for (const e of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(line(e));
console.log('-- by function --');
for (const e of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(line(e));
