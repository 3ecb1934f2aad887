/**
 * hub-memory: the server-side memory cost of idle, authenticated connections: 19,000 to one
 * server process (2,000 with --quick), clients in separate load-generator processes, for the
 * Kefu hub, a raw `ws` server and Socket.IO 4 at the same count.
 *
 *   npm run bench -- hub-memory [--quick] [--conns 19000] [--only raw_ws,socket_io,kefu,kefu_in_conversation]
 *
 * Each system gets a fresh server child started with --expose-gc. Its RSS and heap are read
 * after forced GCs before any connection and again once every connection is open and idle;
 * the difference divided by the count is the per-connection cost. Every client authenticates
 * with the same HS256 JWT (Kefu: jwtAuthenticator; raw ws and Socket.IO: the same check by
 * hand) and, for Kefu, has received its `welcome`. `kefu_in_conversation` (full runs) holds the
 * same count as visitor/agent pairs, each pair in one conversation, on the LevelDB store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arg, quick, ratio, report, round } from './lib/report.js';
import { withBench, type SystemSpec } from './lib/hub-harness.js';
import type { MemSample } from './lib/server-stats.js';

const conns = Number(arg('conns', quick ? '2000' : '19000'));
const only = new Set(arg('only', quick ? 'raw_ws,socket_io,kefu' : 'raw_ws,socket_io,kefu,kefu_in_conversation').split(','));
/** Client connections per generator process (20,000 open files per process here). */
const PER_GENERATOR = 10_000;
const generators = Math.max(2, Math.ceil(conns / PER_GENERATOR));
if (!(conns > 0 && conns <= 19_500)) throw new RangeError('--conns must be between 1 and 19,500 (the server holds them all, 20,000 open files per process)');

const server = (name: string): URL => new URL(`./servers/${name}.ts`, import.meta.url);
const dataDir = mkdtempSync(join(tmpdir(), 'kefu-bench-mem-'));
const gc = ['--expose-gc'];
const specs: Array<SystemSpec & { mode: 'idle' | 'pairs' }> = [
  { key: 'raw_ws', kind: 'raw_ws', label: 'raw ws', script: server('raw-ws'), execArgv: gc, mode: 'idle' },
  { key: 'socket_io', kind: 'socket_io', label: 'socket.io', script: server('socket-io'), execArgv: gc, mode: 'idle' },
  { key: 'kefu', kind: 'kefu', label: 'kefu', script: server('kefu-hub'), args: ['--store', 'level', '--dir', join(dataDir, 'idle')], execArgv: gc, mode: 'idle' },
  { key: 'kefu_in_conversation', kind: 'kefu', label: 'kefu (pairs in conversations)', script: server('kefu-hub'), args: ['--store', 'level', '--dir', join(dataDir, 'pairs')], execArgv: gc, mode: 'pairs' },
];

interface MemResult {
  conns: number;
  rss_kib_per_conn: number;
  heap_kib_per_conn: number;
  external_kib_per_conn: number;
  baseline_rss_mb: number;
  rss_mb: number;
  heap_mb: number;
  connect_s: number;
}

const results: Record<string, MemResult> = {};
const rows: Array<Record<string, unknown>> = [];
const kib = (bytes: number): number => round(bytes / 1024 / conns, 2);
const mb = (bytes: number): number => round(bytes / 2 ** 20, 1);
try {
  for (const spec of specs) {
    if (!only.has(spec.key)) continue;
    results[spec.key] = await withBench([spec], generators, async (b) => {
      const before: MemSample = await b.serverMem(spec.key);
      if (!before.gc) throw new Error(`${spec.label}: the server has no global gc (needs --expose-gc)`);
      const c = spec.mode === 'pairs'
        ? await b.connect(spec.key, 'pairs', Math.floor(conns / 2), 100)
        : await b.connect(spec.key, 'idle', conns, 100);
      // Let handshakes, timers and first heartbeats settle before measuring.
      await new Promise((r) => setTimeout(r, 3_000));
      const after = await b.serverMem(spec.key);
      const n = spec.mode === 'pairs' ? c.connected * 2 : c.connected;
      process.stderr.write(`${spec.label}: ${n} connections in ${(c.ms / 1000).toFixed(1)} s\n`);
      const r: MemResult = {
        conns: n,
        rss_kib_per_conn: kib(after.rss - before.rss),
        heap_kib_per_conn: kib(after.heapUsed - before.heapUsed),
        external_kib_per_conn: kib(after.external - before.external),
        baseline_rss_mb: mb(before.rss),
        rss_mb: mb(after.rss),
        heap_mb: mb(after.heapUsed),
        connect_s: round(c.ms / 1000, 1),
      };
      rows.push({ system: spec.label, ...r });
      return r;
    });
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

const k = results.kefu;
report({
  bench: 'hub-memory',
  config: {
    conns, generators,
    method: 'server child with --expose-gc; (RSS, heapUsed) after 4 forced GCs with all connections open and idle, minus the same before any connection, divided by conns',
    auth: 'every connection carries an HS256 JWT: Kefu jwtAuthenticator, raw ws and Socket.IO verify it by hand; Kefu clients have received welcome',
    kefu: 'Hub with LevelConversationStore (temp dir), default options',
  },
  kefu: k ? { ...k } : {},
  peers: { raw_ws: results.raw_ws ? { ...results.raw_ws } : {}, socket_io: results.socket_io ? { ...results.socket_io } : {} },
  ratios: {
    rss_vs_raw_ws: ratio(k?.rss_kib_per_conn, results.raw_ws?.rss_kib_per_conn),
    rss_vs_socket_io: ratio(k?.rss_kib_per_conn, results.socket_io?.rss_kib_per_conn),
    heap_vs_raw_ws: ratio(k?.heap_kib_per_conn, results.raw_ws?.heap_kib_per_conn),
  },
  variants: { kefu_in_conversation: results.kefu_in_conversation ? { ...results.kefu_in_conversation } : {} },
}, rows);
