/**
 * cluster (issue 8): many connections on this machine through several Kefu hub processes that
 * share one redis-server (RedisBus + RedisConversationStore), visitor and agent of every pair on
 * different nodes, so that every message crosses nodes through Redis. Beside it, in the same run,
 * Socket.IO 4 nodes sharing rooms through @socket.io/redis-adapter on the same topology.
 *
 *   npm run bench -- cluster [--quick] [--conns 100000] [--rate 10000] [--only kefu,socket_io_redis]
 *
 * Each hub node stays under 20,000 open files (at most 17,000 clients each), each load generator
 * holds at most 15,000 client sockets and binds its own 127.0.0.x source address. `--quick`:
 * 20,000 connections. Redis CPU is read from /proc for the measured window.
 */
import { readFileSync } from 'node:fs';
import { startRedisServer } from '@kefu/core/testing';
import { arg, quick, ratio, report, round } from './lib/report.js';
import { withBench, type Bench, type StepResult, type SystemSpec } from './lib/hub-harness.js';
import { newHistogram } from './lib/histogram.js';

const conns = Number(arg('conns', quick ? '20000' : '100000'));
const rate = Number(arg('rate', '10000'));
const only = new Set(arg('only', 'kefu,socket_io_redis').split(','));
const PER_NODE = 17_000;
const PER_GENERATOR = 15_000;
const pairs = Math.floor(conns / 2);
const nodes = Math.max(2, Math.ceil(conns / PER_NODE));
const generators = Math.max(2, Math.ceil(conns / PER_GENERATOR));
if (!(conns >= 4 && rate > 0)) throw new RangeError('--conns must be at least 4 and --rate positive');
if (generators > 200) throw new RangeError('too many generators: 127.0.0.11 .. 127.0.0.210 are the source addresses');

const cfg = quick
  ? { warmupMs: 1_000, windows: 1, windowMs: 3_000, drainMs: 3_000, concurrency: 100 }
  : { warmupMs: 3_000, windows: 3, windowMs: 5_000, drainMs: 5_000, concurrency: 100 };

/** CPU seconds (user + system) used so far by a process, from /proc (clock ticks at 100 Hz). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

interface ClusterResult {
  connections: number;
  nodes: number;
  connect_per_s: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  achieved_per_s: number;
  lost: number;
  p99_windows_ms: number[];
  rss_kib_per_conn: number;
  rss_total_mb: number;
  nodes_cpu_pct: number;
  redis_cpu_pct: number;
  trouble: Record<string, number>;
}

const redis = await startRedisServer();
const rows: Array<Record<string, unknown>> = [];
const results: Record<string, ClusterResult | { failed: string }> = {};
try {
  const server = (name: string): URL => new URL(`./servers/${name}.ts`, import.meta.url);
  const specs: SystemSpec[] = [
    { key: 'kefu', kind: 'kefu', label: 'kefu cluster', script: server('kefu-hub'), args: ['--store', 'redis', '--redis', redis.url], execArgv: ['--expose-gc'], nodes },
    { key: 'socket_io_redis', kind: 'socket_io', label: 'socket.io + redis adapter', script: server('socket-io'), args: ['--redis', redis.url], execArgv: ['--expose-gc'], nodes },
  ];
  // One system at a time: two clusters of 100,000 connections would not fit one machine's files.
  for (const spec of specs) {
    if (!only.has(spec.key)) continue;
    try {
      results[spec.key] = await withBench([spec], generators, (b) => measure(b, spec));
    } catch (err) {
      results[spec.key] = { failed: err instanceof Error ? err.message : String(err) };
      process.stderr.write(`${spec.label}: ${results[spec.key] && (results[spec.key] as { failed: string }).failed}\n`);
    }
  }
} finally {
  await redis.stop();
}

async function measure(b: Bench, spec: SystemSpec): Promise<ClusterResult> {
  const before = await b.serverMem(spec.key);
  const c = await b.connect(spec.key, 'pairs', pairs, cfg.concurrency, 900_000);
  const n = c.connected * 2;
  process.stderr.write(`${spec.label}: ${n} connections on ${nodes} nodes in ${(c.ms / 1000).toFixed(1)} s\n`);
  await new Promise((r) => setTimeout(r, 2_000));
  const after = await b.serverMem(spec.key);
  const merged = newHistogram();
  const ws: StepResult[] = [];
  const redisPct: number[] = [];
  for (let w = 0; w < cfg.windows; w++) {
    let r0 = 0;
    let t0 = 0;
    const s = await b.step(spec.key, rate, w === 0 ? cfg.warmupMs : 1_000, cfg.windowMs, cfg.drainMs, {
      onWindowStart: () => { r0 = cpuSeconds(redis.process.pid!); t0 = performance.now(); },
      onWindowEnd: () => { redisPct.push(((cpuSeconds(redis.process.pid!) - r0) / ((performance.now() - t0) / 1000)) * 100); },
    });
    merged.add(s.histogram);
    ws.push(s);
    const { histogram: _h, ...row } = s;
    rows.push({ system: spec.label, window: w + 1, ...row, trouble: JSON.stringify(row.trouble), redis_cpu_pct: Math.round(redisPct[w]!) });
  }
  const trouble: Record<string, number> = {};
  for (const s of ws) for (const [k, v] of Object.entries(s.trouble)) trouble[k] = (trouble[k] ?? 0) + v;
  return {
    connections: n,
    nodes,
    connect_per_s: Math.round(n / (c.ms / 1000)),
    p50_ms: round(merged.getValueAtPercentile(50) / 1000),
    p99_ms: round(merged.getValueAtPercentile(99) / 1000),
    p999_ms: round(merged.getValueAtPercentile(99.9) / 1000),
    achieved_per_s: Math.round(ws.reduce((a, s) => a + s.received, 0) / ((ws.length * cfg.windowMs) / 1000)),
    lost: ws.reduce((a, s) => a + s.lost, 0),
    p99_windows_ms: ws.map((s) => s.p99_ms),
    rss_kib_per_conn: round((after.rss - before.rss) / 1024 / n, 2),
    rss_total_mb: round(after.rss / 2 ** 20, 1),
    nodes_cpu_pct: Math.round(ws.reduce((a, s) => a + s.server_cpu_pct, 0) / ws.length),
    redis_cpu_pct: Math.round(redisPct.reduce((a, x) => a + x, 0) / redisPct.length),
    trouble,
  };
}

const k = results.kefu && 'p99_ms' in results.kefu ? results.kefu : undefined;
const sio = results.socket_io_redis && 'p99_ms' in results.socket_io_redis ? results.socket_io_redis : undefined;
report({
  bench: 'cluster',
  config: {
    connections: conns, pairs, nodes, generators, rate_per_s: rate, windows: cfg.windows, window_ms: cfg.windowMs,
    topology: 'N server processes on 127.0.0.1 sharing one redis-server 7 (appendonly everysec); pair i: visitor on node i % N, agent on node (i + 1) % N',
    kefu: 'Hub + RedisBus + RedisConversationStore, jwtAuthenticator HS256, acks on',
    socket_io_redis: 'Socket.IO 4.8 + @socket.io/redis-adapter, websocket transport, room per conversation, ack callback',
  },
  kefu: results.kefu ? { ...results.kefu } : {},
  peers: { socket_io_redis: results.socket_io_redis ? { ...results.socket_io_redis } : {} },
  ratios: {
    p99_vs_socket_io_redis: ratio(k?.p99_ms, sio?.p99_ms),
    rss_vs_socket_io_redis: ratio(k?.rss_kib_per_conn, sio?.rss_kib_per_conn),
  },
}, rows);
