// Preload for a server child: samples its allocations, including the objects that scavenges and
// mark-compacts collect, from KEFU_HEAP_SAMPLE_FROM_S to KEFU_HEAP_SAMPLE_TO_S seconds after start,
// and writes the V8 sampling heap profile to KEFU_HEAP_SAMPLE_OUT. docs/benchmarks.md (hub-latency,
// session 7) quotes one; summarise it with scripts/heap-sample-summary.mjs. KEFU_HEAP_SAMPLE_KEEP picks
// the objects kept in the profile: `all` (default: every allocation), `old` (those that survived
// the scavenges: promoted to the old generation, then alive or collected by a mark-compact; what
// drives mark-compacts) or `live` (only those still alive at the end of the window). Example:
//   KEFU_HEAP_SAMPLE_FROM_S=27 KEFU_HEAP_SAMPLE_TO_S=37 KEFU_HEAP_SAMPLE_OUT=/tmp/hub.heapprofile \
//   KEFU_BENCH_RESULTS=/tmp/ab node bench/run.mjs hub-latency --only kefu --ladder 1000,1000 \
//     --rounds 1 --rate 2000 --server-node-args --require,$PWD/scripts/heap-sample-preload.cjs
'use strict';
// Node 20 runs `--import` loader hooks (tsx) in a worker thread, which gets this preload too: only
// the main thread samples, or the hooks thread's small output would overwrite the server's (the
// cause of the empty profiles that session 9 saw with KEFU_HEAP_SAMPLE_KEEP=old).
if (!require('node:worker_threads').isMainThread) return;
const inspector = require('node:inspector');
const { writeFileSync } = require('node:fs');

const fromMs = Number(process.env.KEFU_HEAP_SAMPLE_FROM_S ?? 30) * 1000;
const toMs = Number(process.env.KEFU_HEAP_SAMPLE_TO_S ?? 40) * 1000;
// %p in the name becomes the process id (several server children in one run).
const out = (process.env.KEFU_HEAP_SAMPLE_OUT ?? 'kefu.heapprofile').replace('%p', String(process.pid));
if (!(fromMs >= 0 && toMs > fromMs)) throw new RangeError('KEFU_HEAP_SAMPLE_FROM_S must be >= 0 and below KEFU_HEAP_SAMPLE_TO_S');

const keep = process.env.KEFU_HEAP_SAMPLE_KEEP ?? 'all';
if (!['all', 'old', 'live'].includes(keep)) throw new RangeError('KEFU_HEAP_SAMPLE_KEEP must be all, old or live');

const session = new inspector.Session();
session.connect();
setTimeout(() => {
  session.post('HeapProfiler.enable', () => {
    session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMinorGC: keep === 'all', includeObjectsCollectedByMajorGC: keep !== 'live' }, (err) => {
      if (err) console.error('heap-sample:', err.message);
    });
  });
  setTimeout(() => {
    session.post('HeapProfiler.stopSampling', (err, r) => {
      if (err) { console.error('heap-sample:', err.message); return; }
      writeFileSync(out, JSON.stringify(r.profile));
      console.error(`heap-sample: wrote ${out}`);
    });
  }, toMs - fromMs).unref();
}, fromMs).unref();
