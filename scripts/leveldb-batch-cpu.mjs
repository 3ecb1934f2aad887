#!/usr/bin/env node
// CPU cost of one LevelDB batch of two puts (a message and its cid index, as the conversation
// store writes them), synced and unsynced, one batch at a time. docs/hub.md quotes it for
// LevelConversationStore's commitIntervalMs. Run from the repository root after `npm ci`:
//   node scripts/leveldb-batch-cpu.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const { Level } = createRequire(new URL('../packages/core/package.json', import.meta.url))('level');
const dir = mkdtempSync(join(tmpdir(), 'kefu-leveldb-batch-'));
const db = new Level(dir);
await db.open();
const v = JSON.stringify({ seq: 1, cid: 'c-1234567', from: { id: 'v1', role: 'visitor' }, body: 'hello there, a message of typical size', ts: Date.now() });
const n = 2000;
for (const sync of [true, false, true, false]) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const b = db.batch();
    b.put(`m${i}`, v);
    b.put(`i${i}`, '1,2');
    await b.write({ sync });
  }
  const c = process.cpuUsage(c0);
  console.log(`sync ${sync}: ${((performance.now() - t0) * 1000 / n).toFixed(0)} µs wall, ${((c.user + c.system) / n).toFixed(0)} µs CPU (user ${(c.user / n).toFixed(0)}, system ${(c.system / n).toFixed(0)}) per batch`);
}
await db.close();
rmSync(dir, { recursive: true, force: true });
