#!/usr/bin/env node
// What a heap snapshot from scripts/heap-sample-preload.cjs (KEFU_HEAP_SAMPLE_KEEP=snapshot) holds that was allocated after the
// tracking began (ids above the one in <snapshot>.from), grouped by the object and the path from
// the nearest older object that holds it: per-socket or per-conversation state that a message
// replaces shows up as N new objects under a long-lived holder (each is garbage once the next
// message replaces it, and promoted first if it lived through two scavenges). From the repository root:
//   KEFU_HEAP_SAMPLE_KEEP=snapshot KEFU_HEAP_SAMPLE_FROM_S=24 KEFU_HEAP_SAMPLE_TO_S=32 \
//   KEFU_HEAP_SAMPLE_OUT=/tmp/hub-%p.heapsnapshot KEFU_BENCH_RESULTS=/tmp/snap node bench/run.mjs hub-latency \
//     --only kefu --ladder 1500,1500,1500 --rounds 1 --rate 1500 --server-node-args --require,$PWD/scripts/heap-sample-preload.cjs
//   node --max-old-space-size=12000 scripts/heap-snapshot-new.mjs <file.heapsnapshot> [top=40] [all]
// Without `all`, chains of new objects (in-flight work: promises, contexts) are left out.
import { readFileSync } from 'node:fs';

const [file, topArg, allArg] = process.argv.slice(2);
if (!file) { console.error('usage: heap-snapshot-new.mjs <file.heapsnapshot> [top] [all]'); process.exit(1); }
const from = Number(readFileSync(`${file}.from`, 'utf8'));
const snap = JSON.parse(readFileSync(file, 'utf8'));
const meta = snap.snapshot.meta;
const nf = meta.node_fields;
const [W, T, N, I, S, E] = [nf.length, nf.indexOf('type'), nf.indexOf('name'), nf.indexOf('id'), nf.indexOf('self_size'), nf.indexOf('edge_count')];
const ef = meta.edge_fields;
const [EW, ET, EN, EX] = [ef.length, ef.indexOf('type'), ef.indexOf('name_or_index'), ef.indexOf('to_node')];
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const { nodes, edges, strings } = snap;
const count = snap.snapshot.node_count;

// One holder per node: the first strong edge to it, preferring named edges over internal ones.
const parent = new Int32Array(count).fill(-1);
const via = new Array(count);
for (let ni = 0, e = 0; ni < count; ni++) {
  for (let j = nodes[ni * W + E]; j > 0; j--, e += EW) {
    const type = edgeTypes[edges[e + ET]];
    if (type === 'weak' || type === 'shortcut') continue;
    const to = edges[e + EX] / W;
    const label = type === 'element' || type === 'hidden' ? `[${edges[e + EN]}]` : type === 'internal' ? '(i)' : strings[edges[e + EN]];
    if (parent[to] === -1 || (via[to] === '(i)' && type !== 'internal')) { parent[to] = ni; via[to] = label; }
  }
}
const name = (ni) => {
  const type = nodeTypes[nodes[ni * W + T]];
  const n = type.includes('string') || type === 'number' ? '' : strings[nodes[ni * W + N]].slice(0, 40);
  return `${type}:${n}`;
};
const isNew = (ni) => nodes[ni * W + I] > from;
const groups = new Map();
let total = 0;
for (let ni = 0; ni < count; ni++) {
  if (!isNew(ni)) continue;
  const size = nodes[ni * W + S];
  total += size;
  const path = [];
  let p = ni;
  for (let d = 0; d < 8 && parent[p] !== -1; d++) { path.push(via[p]); p = parent[p]; if (!isNew(p)) break; }
  if (isNew(p) && allArg !== 'all') continue;
  const key = `${name(ni)}  <- ${path.reverse().join('.')} of ${name(p)}${isNew(p) ? ' (new)' : ''}`;
  const g = groups.get(key) ?? [0, 0];
  g[0]++; g[1] += size;
  groups.set(key, g);
}
console.log(`objects newer than id ${from}: ${(total / 1e6).toFixed(2)} MB alive`);
for (const [key, [n, size]] of [...groups].sort((a, b) => b[1][1] - a[1][1]).slice(0, Number(topArg ?? 40))) {
  console.log(`${String(n).padStart(7)} ${String(size).padStart(9)} B  ${key}`);
}
