#!/usr/bin/env node
// Per process, what V8's --trace-gc-nvp lines say about a measured stretch: allocation and promotion
// rates (MB/s), scavenges and mark-compacts, the median scavenge pause. The stretch starts after the
// bench's collect (its 4 back-to-back mark-compacts) and lasts `seconds`; an isolate with no collect
// in its trace is skipped. docs/benchmarks.md (hub-latency, session 8) quotes it. Example, from the repository root:
//   KEFU_BENCH_RESULTS=/tmp/gc node bench/run.mjs hub-latency --only kefu --ladder 2000,2000 --rounds 1 \
//     --rate 2000 --server-node-args --trace-gc,--trace-gc-nvp > /tmp/gc.out 2>&1
//   node scripts/gc-nvp-summary.mjs /tmp/gc.out [seconds=35]
import { readFileSync } from 'node:fs';

const [file, secondsArg] = process.argv.slice(2);
if (!file) { console.error('usage: gc-nvp-summary.mjs <file> [seconds=35]'); process.exit(1); }
const spanMs = Number(secondsArg ?? 35) * 1000;
if (!(spanMs > 0)) throw new RangeError('seconds must be a positive number');

const byIsolate = new Map();
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const head = /^\[(\d+:0x[0-9a-f]+)\]\s+(\d+) ms: pause=/.exec(line);
  if (!head) continue;
  const fields = Object.fromEntries([...line.matchAll(/(\S+)=(\S+)/g)].map((m) => [m[1], m[2]]));
  const list = byIsolate.get(head[1]) ?? [];
  list.push({ t: Number(head[2]), ...fields });
  byIsolate.set(head[1], list);
}

const sum = (xs, k) => xs.reduce((s, x) => s + Number(x[k] ?? 0), 0);
for (const [isolate, gcs] of byIsolate) {
  // The collect is 4 forced mark-compacts in a row (bench/lib/server-stats.ts, settle()): start
  // after the first such run. Isolates without one (a server's worker threads) are left out.
  let start = -1;
  for (let i = 0; i + 3 < gcs.length; i++) {
    if (gcs.slice(i, i + 4).every((g) => g.gc === 'mc')) {
      let end = i + 4;
      while (gcs[end]?.gc === 'mc') end++;
      start = end;
      break;
    }
  }
  const t0 = start < 0 ? undefined : gcs[start]?.t;
  if (t0 === undefined) continue;
  const stretch = gcs.slice(start).filter((g) => g.t <= t0 + spanMs);
  const span = stretch.at(-1).t - t0;
  if (span <= 0) continue;
  const scavenges = stretch.filter((g) => g.gc === 's');
  const pauses = scavenges.map((g) => Number(g.pause)).sort((a, b) => a - b);
  console.log(`${isolate} from ${t0} ms, ${(span / 1000).toFixed(1)} s: allocated ${(sum(stretch, 'allocated') / span / 1000).toFixed(1)} MB/s, ` +
    `promoted ${(sum(scavenges, 'promoted') / span / 1000).toFixed(2)} MB/s, ${scavenges.length} scavenges ` +
    `(median pause ${pauses[pauses.length >> 1] ?? '-'} ms), ${stretch.filter((g) => g.gc === 'mc').length} mark-compacts`);
}
