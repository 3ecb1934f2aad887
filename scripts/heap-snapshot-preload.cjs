// Preload for a server child: from SNAP_FROM_S seconds after start V8 tracks object ids (so that
// an id is never given to two objects, and objects allocated later get higher ids), and at
// SNAP_AT_S it writes a heap snapshot to SNAP_OUT (%p: the process id) and the first id seen after
// tracking began to SNAP_OUT.from. scripts/heap-snapshot-new.mjs then lists what was allocated
// after SNAP_FROM_S and is still alive, by what holds it: docs/benchmarks.md (hub-latency,
// session 10) quotes it. Example, from the repository root:
//   SNAP_FROM_S=24 SNAP_AT_S=32 SNAP_OUT=/tmp/hub-%p.heapsnapshot KEFU_BENCH_RESULTS=/tmp/snap \
//   node bench/run.mjs hub-latency --only kefu --ladder 1500,1500,1500 --rounds 1 --rate 1500 \
//     --server-node-args --require,$PWD/scripts/heap-snapshot-preload.cjs
'use strict';
// Node 20 runs `--import` loader hooks (tsx) in a worker thread, which gets this preload too: only
// the main thread samples, or the hooks thread's small output would overwrite the server's (the
// cause of the empty profiles that session 9 saw with KEFU_HEAP_SAMPLE_KEEP=old).
if (!require('node:worker_threads').isMainThread) return;
const inspector = require('node:inspector');
const { writeFileSync, openSync, writeSync, closeSync } = require('node:fs');

const fromMs = Number(process.env.SNAP_FROM_S ?? 24) * 1000;
const atMs = Number(process.env.SNAP_AT_S ?? 32) * 1000;
const out = (process.env.SNAP_OUT ?? 'kefu.heapsnapshot').replace('%p', String(process.pid));
if (!(fromMs >= 0 && atMs > fromMs)) throw new RangeError('SNAP_FROM_S must be >= 0 and below SNAP_AT_S');

const session = new inspector.Session();
session.connect();
setTimeout(() => {
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
      console.error(err ? `heap-snapshot: ${err.message}` : `heap-snapshot: wrote ${out} (objects newer than id ${first})`);
    });
  }, atMs - fromMs).unref();
}, fromMs).unref();
