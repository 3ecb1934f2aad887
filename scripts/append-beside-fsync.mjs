#!/usr/bin/env node
// Does an appending write() on the main thread stall behind fdatasync() of another file on the same
// filesystem (ext4's journal)? The shown log (packages/core/src/conversation/shown-log.ts) appends
// with writeSync while LevelDB fsyncs its log on libuv's threads. A worker thread fsyncs a file every
// 5 ms; the main thread appends 300-byte lines at about 2,000/s for 8 s and prints the write()
// latency distribution. docs/benchmarks.md (hub-latency, session 8) quotes it. From the repository root:
//   node scripts/append-beside-fsync.mjs [append|prealloc] [dir=os.tmpdir()]
import { openSync, writeSync, fdatasyncSync, mkdtempSync, rmSync } from 'node:fs';
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

if (isMainThread) {
  const mode = process.argv[2] ?? 'append';
  if (mode !== 'append' && mode !== 'prealloc') throw new TypeError('usage: append-beside-fsync.mjs [append|prealloc] [dir]');
  const dir = mkdtempSync(join(process.argv[3] ?? tmpdir(), 'kefu-append-fsync-'));
  const worker = new Worker(new URL(import.meta.url), { workerData: { dir } });
  const fd = openSync(join(dir, 'shown.log'), mode === 'append' ? 'a' : 'w+');
  const line = Buffer.alloc(300, 'x');
  // prealloc: overwrite inside a file already written and synced (no size change, no new blocks).
  const size = 4 * 1024 * 1024;
  if (mode === 'prealloc') { writeSync(fd, Buffer.alloc(size), 0, size, 0); fdatasyncSync(fd); }
  const lat = [];
  let pos = 0;
  const t0 = performance.now();
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      for (let i = 0; i < 2; i++) {
        const a = performance.now();
        if (mode === 'prealloc') { writeSync(fd, line, 0, line.length, pos); pos = (pos + line.length) % (size - line.length); }
        else writeSync(fd, line);
        lat.push(performance.now() - a);
      }
      if (performance.now() - t0 > 8_000) { clearInterval(timer); resolve(); }
    }, 1);
  });
  await worker.terminate();
  rmSync(dir, { recursive: true, force: true });
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))].toFixed(3);
  console.log(`${mode}: ${lat.length} writes, ms p50 ${q(0.5)} p99 ${q(0.99)} p99.9 ${q(0.999)} max ${lat.at(-1).toFixed(2)}; over 1 ms: ${lat.filter((x) => x > 1).length}`);
} else {
  const fd = openSync(join(workerData.dir, 'ldb.log'), 'a');
  const chunk = Buffer.alloc(600, 'y');
  for (;;) {
    writeSync(fd, chunk);
    fdatasyncSync(fd);
    await new Promise((r) => setTimeout(r, 5));
  }
}
