// Preload for a server child: samples its allocations, including the objects that scavenges and
// mark-compacts collect, from KEFU_HEAP_SAMPLE_FROM_S to KEFU_HEAP_SAMPLE_TO_S seconds after start,
// and writes the V8 sampling heap profile to KEFU_HEAP_SAMPLE_OUT. docs/benchmarks.md (hub-latency,
// session 7) quotes one; summarise it with scripts/heap-sample-summary.mjs. KEFU_HEAP_SAMPLE_KEEP picks
// the objects kept in the profile: `all` (default: every allocation), `old` (those that survived
// the scavenges: promoted to the old generation, then alive or collected by a mark-compact; what
// drives mark-compacts) or `live` (only those still alive at the end of the window). With
// KEFU_HEAP_SAMPLE_KEEP=snapshot it samples nothing: V8 tracks object ids from FROM_S (an id is
// then never given to two objects, and later objects get higher ids), and at TO_S it writes a heap
// snapshot to OUT and the first id seen after FROM_S to OUT.from, for
// scripts/heap-snapshot-new.mjs (what was allocated in the window and is still alive, by holder;
// docs/benchmarks.md, hub-latency, session 10). Example:
//   KEFU_HEAP_SAMPLE_FROM_S=27 KEFU_HEAP_SAMPLE_TO_S=37 KEFU_HEAP_SAMPLE_OUT=/tmp/hub.heapprofile \
//   KEFU_BENCH_RESULTS=/tmp/ab node bench/run.mjs hub-latency --only kefu --ladder 1000,1000 \
//     --rounds 1 --rate 2000 --server-node-args --require,$PWD/scripts/heap-sample-preload.cjs
'use strict';
// Node 20 runs `--import` loader hooks (tsx) in a worker thread, which gets this preload too: only
// the main thread samples, or the hooks thread's small output would overwrite the server's (the
// cause of the empty profiles that session 9 saw with KEFU_HEAP_SAMPLE_KEEP=old).
if (!require('node:worker_threads').isMainThread) return;
const inspector = require('node:inspector');
const { writeFileSync, openSync, writeSync, closeSync } = require('node:fs');

const fromMs = Number(process.env.KEFU_HEAP_SAMPLE_FROM_S ?? 30) * 1000;
const toMs = Number(process.env.KEFU_HEAP_SAMPLE_TO_S ?? 40) * 1000;
// %p in the name becomes the process id (several server children in one run).
const out = (process.env.KEFU_HEAP_SAMPLE_OUT ?? 'kefu.heapprofile').replace('%p', String(process.pid));
if (!(fromMs >= 0 && toMs > fromMs)) throw new RangeError('KEFU_HEAP_SAMPLE_FROM_S must be >= 0 and below KEFU_HEAP_SAMPLE_TO_S');

const keep = process.env.KEFU_HEAP_SAMPLE_KEEP ?? 'all';
if (!['all', 'old', 'live', 'snapshot'].includes(keep)) throw new RangeError('KEFU_HEAP_SAMPLE_KEEP must be all, old, live or snapshot');

const session = new inspector.Session();
session.connect();

function snapshotWindow() {
  let first = 0;
  // V8 reports the last id it gave out soon after tracking starts: objects with higher ids are newer.
  session.on('HeapProfiler.lastSeenObjectId', (m) => {
    if (first === 0) { first = m.params.lastSeenObjectId; writeFileSync(`${out}.from`, String(first)); }
  });
  session.post('HeapProfiler.enable', () => session.post('HeapProfiler.startTrackingHeapObjects', { trackAllocations: false }));
  setTimeout(() => {
    const fd = openSync(out, 'w');
    session.on('HeapProfiler.addHeapSnapshotChunk', (m) => writeSync(fd, m.params.chunk));
    session.post('HeapProfiler.takeHeapSnapshot', null, (err) => {
      closeSync(fd);
      console.error(err ? `heap-sample: ${err.message}` : `heap-sample: wrote ${out} (objects newer than id ${first})`);
      // Tracking keeps the process alive; disconnecting ends it (stopTrackingHeapObjects would
      // take a second snapshot).
      session.removeAllListeners('HeapProfiler.addHeapSnapshotChunk');
      session.disconnect();
    });
  }, toMs - fromMs).unref();
}

setTimeout(() => {
  if (keep === 'snapshot') return snapshotWindow();
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
