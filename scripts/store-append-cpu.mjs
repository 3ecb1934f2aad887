#!/usr/bin/env node
// CPU per append of the conversation stores, LevelDB (durable, early delivery on) against memory:
// open-loop appends at a fixed rate into 1,000 conversations for 6 s, each with an onVisible
// callback as the hub passes. Prints the whole process's CPU per append and the main thread's
// alone (Linux /proc; the rest of LevelDB's cost, the fsyncs, runs on libuv's threads).
// docs/benchmarks.md (hub-latency, session 6) quotes it. After `npm ci` and a build:
//   node scripts/store-append-cpu.mjs [rate=10000] [level|memory]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelConversationStore, MemoryConversationStore } from '../packages/core/dist/index.js';

const rate = Number(process.argv[2] ?? 10_000);
const kind = process.argv[3] ?? 'level';
if (!(rate > 0) || (kind !== 'level' && kind !== 'memory')) throw new TypeError('usage: store-append-cpu.mjs [rate] [level|memory]');

/** The main thread's CPU time in µs (utime + stime of /proc/self/task/<pid>, in 10 ms ticks). */
function mainThreadCpuUs() {
  const st = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

const dir = mkdtempSync(join(tmpdir(), 'kefu-store-append-'));
const store = kind === 'memory' ? new MemoryConversationStore() : new LevelConversationStore({ location: dir });
await store.open();
const convs = 1_000;
for (let i = 0; i < convs; i++) await store.createConversation({ id: `c${i}`, tenant: 't', visitor: { id: `v${i}`, role: 'visitor' } });
const from = { id: 'v', role: 'visitor' };
const body = 'hello '.repeat(10);
const durationMs = 6_000;
let k = 0;
const start = performance.now();
const cpu0 = process.cpuUsage();
const main0 = mainThreadCpuUs();
await new Promise((resolve) => {
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - start) * rate) / 1000);
    for (; k < due; k++) void store.append(`c${k % convs}`, { cid: `x${k}`, from, body }, { onVisible: () => {} });
    if (performance.now() - start > durationMs) { clearInterval(timer); resolve(); }
  }, 1);
});
await new Promise((r) => setTimeout(r, 500)); // the last batches become durable
const cpu = process.cpuUsage(cpu0);
const main = mainThreadCpuUs() - main0;
console.log(`${kind}, ${rate} appends/s for ${durationMs / 1000} s: ${k} appends; CPU per append ${((cpu.user + cpu.system) / k).toFixed(1)} µs (main thread ${(main / k).toFixed(1)} µs)`);
await store.close();
rmSync(dir, { recursive: true, force: true });
