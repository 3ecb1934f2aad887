/**
 * queue: durable push -> lease -> ack throughput of PriorityQueue on LevelDB (group commit,
 * sync: true) beside BullMQ 6 on a local redis-server (appendonly, appendfsync everysec) in the
 * same run, the memory store's push+pop rate, and a backlog of 1,000,000 waiting items: RSS and
 * position() cost, measured in a child process with --expose-gc that loads only the queue module
 * (64-byte payloads, ids 'conv-<n>', LevelDB sync: false to fill it quickly).
 *
 *   npm run bench -- queue [--quick] [--items 100000] [--runs 3] [--backlog 1000000] [--backlog-only]
 *     [--producers 256] [--consumers 16] [--lease-batch 64] [--bullmq-adds 100] [--bullmq-concurrency 50]
 *     [--hold-max-s 90]
 *
 * Every item carries a 1 KB payload and one of 5 priorities. Kefu: 256 producers each awaiting
 * its push (resolved only once durable), 16 consumers each leasing up to 64 and acking every
 * item (each ack durable before it resolves). BullMQ: 100 adds in flight, a Worker with
 * concurrency 50, removeOnComplete (as ANCHORS.md measured it). Runs alternate between the two.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { LevelQueueStore, MemoryQueueStore, PriorityQueue } from '@kefu/core';
import { findBinary, startRedisServer } from '@kefu/core/testing';
import { arg, median, quick, ratio, report, round } from './lib/report.js';

const ITEMS = Number(arg('items', quick ? '10000' : '60000'));
const RUNS = Number(arg('runs', quick ? '1' : '3'));
const BACKLOG = Number(arg('backlog', quick ? '100000' : '1000000'));
const MEMORY_ITEMS = Number(arg('memory-items', quick ? '200000' : '1000000'));
/**
 * Longest the filling and floor processes hold their backlog lightly loaded before RSS is taken
 * (see BACKLOG_CHILD); 0 skips the hold. V8 shrank its young generation after about 30 s here.
 */
const HOLD_MAX_S = Number(arg('hold-max-s', quick ? '10' : '90'));
const PRODUCERS = Number(arg('producers', '256'));
const CONSUMERS = Number(arg('consumers', '16'));
const LEASE_BATCH = Number(arg('lease-batch', '64'));
/** ANCHORS.md measured BullMQ with 100 adds in flight and worker concurrency 50. */
const BULL_ADDS = Number(arg('bullmq-adds', '100'));
const BULL_CONCURRENCY = Number(arg('bullmq-concurrency', '50'));
const PAYLOAD = 'x'.repeat(1024);

interface CycleResult { per_s: number; p50_ms: number; p99_ms: number }

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Kefu on LevelDB: every push and every ack durable (sync: true) before it resolves. */
async function kefuLevel(): Promise<CycleResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kefu-bench-queue-'));
  const q = new PriorityQueue<string>({ store: new LevelQueueStore<string>({ location: dir }), visibilityMs: 60_000 });
  await q.open();
  let pushed = 0;
  let done = 0;
  const lat: number[] = [];
  const t0 = performance.now();
  const deadline = Date.now() + (quick ? 20_000 : 60_000);
  const producers = Array.from({ length: PRODUCERS }, async () => {
    while (pushed < ITEMS && Date.now() < deadline) {
      const n = pushed++;
      await q.push(PAYLOAD, { priority: 1 + (n % 5) });
    }
  });
  const consumers = Array.from({ length: CONSUMERS }, async () => {
    while (done < ITEMS && Date.now() < deadline) {
      const got = await q.lease(LEASE_BATCH);
      if (got.length === 0) { await new Promise((r) => setTimeout(r, 1)); continue; }
      await Promise.all(got.map(async (l) => {
        await q.ack(l);
        lat.push(Date.now() - l.enqueuedAt);
      }));
      done += got.length;
    }
  });
  await Promise.all([...producers, ...consumers]);
  const s = (performance.now() - t0) / 1000;
  await q.close();
  rmSync(dir, { recursive: true, force: true });
  return { per_s: Math.round(done / s), p50_ms: pct(lat, 50), p99_ms: pct(lat, 99) };
}

/** BullMQ 6: BULL_ADDS adds in flight, Worker concurrency BULL_CONCURRENCY, jobs removed on completion. */
async function bullmq(port: number, run: number): Promise<CycleResult> {
  const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
  const name = `bench-${run}`;
  const queue = new Queue(name, { connection });
  let done = 0;
  const lat: number[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((r) => { finish = r; });
  const worker = new Worker(name, async (job) => { lat.push(Date.now() - job.timestamp); }, { connection, concurrency: BULL_CONCURRENCY });
  worker.on('completed', () => { if (++done >= ITEMS) finish(); });
  await worker.waitUntilReady();
  const t0 = performance.now();
  let added = 0;
  const deadline = Date.now() + (quick ? 20_000 : 60_000);
  const adders = Array.from({ length: BULL_ADDS }, async () => {
    while (added < ITEMS && Date.now() < deadline) {
      const n = added++;
      await queue.add('job', { p: PAYLOAD }, { priority: 1 + (n % 5), removeOnComplete: true, removeOnFail: true });
    }
  });
  await Promise.all(adders);
  await Promise.race([finished, new Promise((r) => setTimeout(r, Math.max(1000, deadline - Date.now())))]);
  const s = (performance.now() - t0) / 1000;
  await worker.close();
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  return { per_s: Math.round(done / s), p50_ms: pct(lat, 50), p99_ms: pct(lat, 99) };
}

/** The memory store: push 256, lease 256, ack each; items per second through the whole cycle. */
async function memoryOps(): Promise<number> {
  const q = new PriorityQueue<string>({ store: new MemoryQueueStore<string>() });
  await q.open();
  const batch = Array.from({ length: 256 }, (_, i) => ({ payload: PAYLOAD, priority: 1 + (i % 5) }));
  const t0 = performance.now();
  let n = 0;
  while (n < MEMORY_ITEMS) {
    await q.pushMany(batch);
    const got = await q.lease(256);
    for (const l of got) await q.ack(l);
    n += got.length;
  }
  const s = (performance.now() - t0) / 1000;
  await q.close();
  return Math.round(n / s);
}

/**
 * Backlog children (plain node, --expose-gc, only the queue module loaded): `fill` pushes the
 * items and reports RSS after forced GCs; `recover` is a fresh process that opens the same
 * database (the state of a restarted desk), then times position() on ids spread over the backlog.
 */
const BACKLOG_CHILD = `
const [mode, dir, countArg, queueModule, holdMaxArg] = process.argv.slice(1);
const { LevelQueueStore, PriorityQueue } = await import(queueModule);
const { getHeapSpaceStatistics } = await import('node:v8');
const { readFileSync } = await import('node:fs');
/** RSS backed by files (node's own binary, LevelDB's memory-mapped tables), Linux only. */
const statusMb = (field) => { try { const m = new RegExp(field + ':\\\\s+(\\\\d+) kB').exec(readFileSync('/proc/self/status', 'utf8')); return m ? Math.round(Number(m[1]) / 102.4) / 10 : null; } catch { return null; } };
const rssFileMb = () => statusMb('RssFile');
/** RSS of LevelDB's memory-mapped table files (.ldb), Linux only. */
const tablesMb = () => { try { let kb = 0, inTable = false; for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\\n')) { if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inTable = line.endsWith('.ldb'); else if (inTable && line.startsWith('Rss:')) kb += Number(/(\\d+)/.exec(line)[1]); } return Math.round(kb / 102.4) / 10; } catch { return null; } };
const count = Number(countArg);
const mb = (b) => Math.round(b / 2 ** 20 * 10) / 10;
const settle = () => { for (let i = 0; i < 3; i++) global.gc(); };
settle();
const base = process.memoryUsage().rss;
let t = performance.now();
// 'floor': the same items written as the same rows by plain \`level\` batches, no queue and no index.
const floor = mode === 'floor';
const q = floor ? undefined : new PriorityQueue({ store: new LevelQueueStore({ location: dir, sync: false, initialCapacity: mode === 'fill' ? count : 1024 }) });
const db = floor ? new (await import('level')).Level(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' }) : undefined;
await (q ? q.open() : db.open());
const openS = (performance.now() - t) / 1000;
const out = { mode, base_rss_mb: mb(base) };
if (mode === 'fill' || floor) {
  const payload = 'y'.repeat(64);
  t = performance.now();
  for (let i = 0; i < count; i += 1000) {
    const items = [];
    for (let j = i; j < Math.min(count, i + 1000); j++) items.push({ id: 'conv-' + j, payload, priority: 1 + (j % 5) });
    if (q) { await q.pushMany(items); continue; }
    const b = db.batch();
    const now = Date.now();
    let j = i;
    for (const it of items) b.put('i!' + (0x80000000 - it.priority).toString(16).padStart(16, '0') + (j++).toString(16).padStart(12, '0') + '0005' + it.id, 's' + JSON.stringify([it.id, it.priority, now, 5]) + '\\n' + it.payload);
    await b.write();
  }
  out.push_s = Math.round((performance.now() - t) / 100) / 10;
} else {
  out.recover_s = Math.round(openS * 10) / 10;
  const ids = Array.from({ length: 2000 }, (_, i) => 'conv-' + ((i * 7919 * 104729) % count));
  t = performance.now();
  let sum = 0;
  for (const id of ids) sum += (await q.position(id)) ?? 0;
  out.position_us = Math.round((performance.now() - t) * 10000 / ids.length) / 10;
  if (!(sum > 0)) throw new Error('position() found nothing');
}
settle();
const m = process.memoryUsage();
// (the store is closed below, after the figures are taken: closed_rss_mb shows what LevelDB held)
const newSpaceMb = () => mb(getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0);
Object.assign(out, { size: q ? q.size : count, rss_mb: mb(m.rss), heap_total_mb: mb(m.heapTotal), heap_used_mb: mb(m.heapUsed), new_space_mb: newSpaceMb(), array_buffers_mb: mb(m.arrayBuffers), rss_file_mb: rssFileMb(), rss_anon_mb: statusMb('RssAnon'), tables_mapped_mb: tablesMb(), peak_rss_mb: statusMb('VmHWM') });
// Holding the backlog: the process goes on lightly loaded (about 0.5 MB/s of short-lived objects,
// like a server answering a few requests; no forced GC) for at least 5 s, by which LevelDB has
// finished the compactions the fill started, and until V8 has shrunk its young generation by
// itself (it does so at a scavenge once allocation is below about 1 MB/s), at most holdMax s.
// RSS is taken then, before any forced GC. A process that stays busy keeps the young generation
// (up to 32 MB, queue or not: the floor process shows it too); one left fully idle runs no GC at all.
const holdMax = Number(holdMaxArg ?? 0);
if (mode !== 'recover' && holdMax > 0) {
  const t0 = Date.now();
  let sink = 0;
  while (Date.now() - t0 < holdMax * 1000 && (Date.now() - t0 < 5000 || newSpaceMb() > 2)) {
    for (let i = 0; i < 1000; i++) sink += ({ n: i, s: 'r' + i }).s.length;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!(sink > 0)) throw new Error('hold loop did nothing');
  const h = process.memoryUsage();
  Object.assign(out, { held_s: Math.round((Date.now() - t0) / 100) / 10, held_rss_mb: mb(h.rss), held_new_space_mb: newSpaceMb(), held_rss_anon_mb: statusMb('RssAnon'), held_rss_file_mb: rssFileMb(), held_tables_mapped_mb: tablesMb() });
}
await (q ? q.close() : db.close());
settle();
out.closed_rss_mb = mb(process.memoryUsage().rss);
console.log(JSON.stringify(out));
`;

async function backlogChild(mode: 'fill' | 'recover' | 'floor', dir: string, count: number, nodeFlags: string[] = [], holdMaxS = 0): Promise<Record<string, number>> {
  const cwd = fileURLToPath(new URL('.', import.meta.url));
  const queueModule = fileURLToPath(new URL('../packages/core/dist/queue/index.js', import.meta.url));
  const child = spawn(process.execPath, ['--expose-gc', ...nodeFlags, '--input-type=module', '-e', BACKLOG_CHILD, mode, dir, String(count), queueModule, String(holdMaxS)], { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`backlog ${mode} child exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
}

/**
 * The restarted process is measured twice: with Node's defaults (the headline), and with
 * --max-semi-space-size=1, an operator's flag that caps V8's young generation, which otherwise
 * grows to 32 MB in any process that allocates steadily (here: loading a million keys).
 */
async function backlog(count: number): Promise<{ fill: Record<string, number>; recover: Record<string, number>; recoverSemi1: Record<string, number>; fillSemi1: Record<string, number>; floor: Record<string, number> }> {
  const dir = mkdtempSync(join(tmpdir(), 'kefu-bench-backlog-'));
  try {
    const fill = await backlogChild('fill', dir, count, [], HOLD_MAX_S);
    const recover = await backlogChild('recover', dir, count);
    const recoverSemi1 = await backlogChild('recover', dir, count, ['--max-semi-space-size=1']);
    if (fill.size !== count || recover.size !== count || recoverSemi1.size !== count) throw new Error(`backlog holds ${fill.size}/${recover.size}/${recoverSemi1.size} of ${count}`);
    // The same fill under the operator's flag, in a fresh database: what V8's young generation
    // (which any process pushing steadily grows to 16 + 16 MB) costs the filling process.
    const dir2 = mkdtempSync(join(tmpdir(), 'kefu-bench-backlog-'));
    try {
      const fillSemi1 = await backlogChild('fill', dir2, count, ['--max-semi-space-size=1']);
      if (fillSemi1.size !== count) throw new Error(`backlog holds ${fillSemi1.size} of ${count}`);
      rmSync(dir2, { recursive: true, force: true });
      // The floor: what the same fill costs a process that only writes the rows to LevelDB.
      const floor = await backlogChild('floor', dir2, count, [], HOLD_MAX_S);
      return { fill, recover, recoverSemi1, fillSemi1, floor };
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `--backlog-only`: only the backlog children (memory work); reported as bench `queue-backlog`. */
const BACKLOG_ONLY = process.argv.includes('--backlog-only');
const redisBin = findBinary('redis-server');
const kefuRuns: CycleResult[] = [];
const bullRuns: CycleResult[] = [];
const redis = !BACKLOG_ONLY && 'path' in redisBin ? await startRedisServer({ appendonly: true, appendfsync: 'everysec' }) : undefined;
try {
  for (let r = 0; r < (BACKLOG_ONLY ? 0 : RUNS); r++) {
    kefuRuns.push(await kefuLevel());
    if (redis) bullRuns.push(await bullmq(redis.port, r));
    console.error(`run ${r + 1}/${RUNS}: kefu level ${kefuRuns[r]!.per_s}/s${redis ? `, bullmq ${bullRuns[r]!.per_s}/s` : ''}`);
  }
} finally {
  await redis?.stop();
  if (redis) rmSync(redis.dir, { recursive: true, force: true });
}
const memRuns: number[] = [];
for (let r = 0; r < (BACKLOG_ONLY ? 0 : RUNS); r++) memRuns.push(await memoryOps());
const bl = await backlog(BACKLOG);

const level = kefuRuns.length > 0 ? median(kefuRuns.map((x) => x.per_s)) : null;
const bull = bullRuns.length > 0 ? median(bullRuns.map((x) => x.per_s)) : null;
const memory = memRuns.length > 0 ? median(memRuns) : null;
const backlogKey = BACKLOG === 1_000_000 ? 'backlog_1m_rss_mb' : `backlog_${BACKLOG}_rss_mb`;
const rows = [
  { system: 'kefu LevelDB (sync, group commit)', cycles_per_s: level, p50_ms: median(kefuRuns.map((x) => x.p50_ms)), p99_ms: median(kefuRuns.map((x) => x.p99_ms)), runs: kefuRuns.map((x) => x.per_s).join(' ') },
  { system: 'BullMQ 6 (redis appendonly everysec)', cycles_per_s: bull, p50_ms: bullRuns.length ? median(bullRuns.map((x) => x.p50_ms)) : null, p99_ms: bullRuns.length ? median(bullRuns.map((x) => x.p99_ms)) : null, runs: bullRuns.map((x) => x.per_s).join(' ') },
  { system: 'kefu memory store', cycles_per_s: memory, p50_ms: null, p99_ms: null, runs: memRuns.join(' ') },
  { system: `backlog ${BACKLOG} items, filling process holding it (lightly loaded, ${bl.fill.held_s ?? '-'} s after the fill)`, cycles_per_s: null, p50_ms: null, p99_ms: null, runs: `rss ${bl.fill.held_rss_mb ?? '-'} MB (V8 young gen ${bl.fill.held_new_space_mb ?? '-'}, anonymous ${bl.fill.held_rss_anon_mb ?? '-'}, file-backed ${bl.fill.held_rss_file_mb ?? '-'} of which LevelDB tables ${bl.fill.held_tables_mapped_mb ?? '-'}; no forced GC)` },
  { system: `backlog ${BACKLOG} items, filling process at the end of the fill`, cycles_per_s: null, p50_ms: null, p99_ms: null, runs: `rss ${bl.fill.rss_mb} MB (base ${bl.fill.base_rss_mb}, heap ${bl.fill.heap_total_mb} of which V8 young gen ${bl.fill.new_space_mb}, typed arrays ${bl.fill.array_buffers_mb}, anonymous ${bl.fill.rss_anon_mb}, file-backed ${bl.fill.rss_file_mb} of which LevelDB tables ${bl.fill.tables_mapped_mb}; peak ${bl.fill.peak_rss_mb}), fill ${bl.fill.push_s} s` },
  { system: `backlog ${BACKLOG} items, restarted process`, cycles_per_s: null, p50_ms: null, p99_ms: null, runs: `rss ${bl.recover.rss_mb} MB (base ${bl.recover.base_rss_mb}, V8 young gen ${bl.recover.new_space_mb}, typed arrays ${bl.recover.array_buffers_mb}, file-backed ${bl.recover.rss_file_mb}, after close ${bl.recover.closed_rss_mb}), recovery ${bl.recover.recover_s} s, position() ${bl.recover.position_us} us` },
  { system: `backlog ${BACKLOG} items, floor: same rows by plain level batches, no queue`, cycles_per_s: null, p50_ms: null, p99_ms: null, runs: `rss ${bl.floor.rss_mb} MB (base ${bl.floor.base_rss_mb}, V8 young gen ${bl.floor.new_space_mb}, heap ${bl.floor.heap_total_mb}, typed arrays ${bl.floor.array_buffers_mb}, anonymous ${bl.floor.rss_anon_mb}, file-backed ${bl.floor.rss_file_mb} of which LevelDB tables ${bl.floor.tables_mapped_mb}), fill ${bl.floor.push_s} s; held ${bl.floor.held_s ?? '-'} s: rss ${bl.floor.held_rss_mb ?? '-'} MB (young gen ${bl.floor.held_new_space_mb ?? '-'}, tables ${bl.floor.held_tables_mapped_mb ?? '-'})` },
  { system: `backlog ${BACKLOG} items, filling, --max-semi-space-size=1 (operator flag, not the headline)`, cycles_per_s: null, p50_ms: null, p99_ms: null, runs: `rss ${bl.fillSemi1.rss_mb} MB (V8 young gen ${bl.fillSemi1.new_space_mb}, typed arrays ${bl.fillSemi1.array_buffers_mb}, file-backed ${bl.fillSemi1.rss_file_mb} of which LevelDB tables ${bl.fillSemi1.tables_mapped_mb}), fill ${bl.fillSemi1.push_s} s` },
  { system: `backlog ${BACKLOG} items, restarted, --max-semi-space-size=1`, cycles_per_s: null, p50_ms: null, p99_ms: null, runs: `rss ${bl.recoverSemi1.rss_mb} MB (V8 young gen ${bl.recoverSemi1.new_space_mb}, after close ${bl.recoverSemi1.closed_rss_mb})` },
];
report({
  bench: BACKLOG_ONLY ? 'queue-backlog' : 'queue',
  kefu: {
    level_cycle_per_s: level,
    level_p50_ms: rows[0]!.p50_ms,
    level_p99_ms: rows[0]!.p99_ms,
    memory_ops_per_s: memory,
    // The process holding the backlog: the filling one once held lightly loaded (when the hold
    // ran), and the one restarted on it. The end-of-fill figure is backlog_fill_rss_mb.
    [backlogKey]: Math.max(bl.fill.held_rss_mb ?? bl.fill.rss_mb!, bl.recover.rss_mb!),
    backlog_items: BACKLOG,
    backlog_fill_rss_mb: bl.fill.rss_mb,
    backlog_fill_held_rss_mb: bl.fill.held_rss_mb ?? null,
    backlog_fill_held_s: bl.fill.held_s ?? null,
    backlog_fill_held_new_space_mb: bl.fill.held_new_space_mb ?? null,
    backlog_fill_held_rss_anon_mb: bl.fill.held_rss_anon_mb ?? null,
    backlog_fill_held_tables_mapped_mb: bl.fill.held_tables_mapped_mb ?? null,
    backlog_floor_held_rss_mb: bl.floor.held_rss_mb ?? null,
    backlog_floor_held_new_space_mb: bl.floor.held_new_space_mb ?? null,
    backlog_fill_base_rss_mb: bl.fill.base_rss_mb,
    backlog_fill_heap_total_mb: bl.fill.heap_total_mb,
    backlog_fill_typed_arrays_mb: bl.fill.array_buffers_mb,
    backlog_fill_new_space_mb: bl.fill.new_space_mb,
    backlog_fill_rss_file_mb: bl.fill.rss_file_mb,
    backlog_fill_rss_anon_mb: bl.fill.rss_anon_mb,
    backlog_fill_tables_mapped_mb: bl.fill.tables_mapped_mb,
    backlog_fill_peak_rss_mb: bl.fill.peak_rss_mb,
    backlog_fill_s: bl.fill.push_s,
    backlog_restarted_rss_mb: bl.recover.rss_mb,
    backlog_restarted_typed_arrays_mb: bl.recover.array_buffers_mb,
    backlog_restarted_new_space_mb: bl.recover.new_space_mb,
    backlog_restarted_rss_file_mb: bl.recover.rss_file_mb,
    backlog_restarted_closed_rss_mb: bl.recover.closed_rss_mb,
    backlog_restarted_semi1_rss_mb: bl.recoverSemi1.rss_mb,
    backlog_fill_semi1_rss_mb: bl.fillSemi1.rss_mb,
    backlog_fill_semi1_tables_mapped_mb: bl.fillSemi1.tables_mapped_mb,
    backlog_floor_rss_mb: bl.floor.rss_mb,
    backlog_floor_new_space_mb: bl.floor.new_space_mb,
    backlog_floor_tables_mapped_mb: bl.floor.tables_mapped_mb,
    backlog_fill_over_floor_mb: Math.round((bl.fill.rss_mb! - bl.floor.rss_mb!) * 10) / 10,
    backlog_held_over_floor_mb: bl.fill.held_rss_mb !== undefined && bl.floor.held_rss_mb !== undefined ? Math.round((bl.fill.held_rss_mb - bl.floor.held_rss_mb) * 10) / 10 : null,
    backlog_recover_s: bl.recover.recover_s,
    position_us: bl.recover.position_us,
    runs: { level: kefuRuns.map((x) => x.per_s), memory: memRuns },
  },
  peers: { bullmq: { cycle_per_s: bull, p50_ms: rows[1]!.p50_ms, p99_ms: rows[1]!.p99_ms, runs: bullRuns.map((x) => x.per_s) } },
  ratios: { level_vs_bullmq: ratio(level, bull), memory_vs_bullmq: ratio(memory, bull) },
  settings: { items: ITEMS, runs: RUNS, producers: PRODUCERS, consumers: CONSUMERS, lease_batch: LEASE_BATCH, payload_bytes: 1024, priorities: 5, bullmq: { adds_in_flight: BULL_ADDS, concurrency: BULL_CONCURRENCY }, backlog_payload_bytes: 64, backlog_hold_max_s: HOLD_MAX_S, note: 'machine shared with other engineers\' builds and benchmarks' },
}, rows);
void round;
