/**
 * cluster (issue 8): many connections on this machine through several Kefu hub processes that
 * share one redis-server (RedisBus + RedisConversationStore), visitor and agent of every pair on
 * different nodes, so that every message crosses nodes through Redis. Beside it, in the same run,
 * on the same topology: Socket.IO 4 nodes sharing rooms through @socket.io/redis-adapter, and the
 * floor, raw `ws` relays sharing Redis pub/sub (bench/servers/raw-ws.ts --redis: a channel per
 * conversation, no store, no ack).
 *
 * Per system, after an unmeasured settling load at the lowest rate, first a step search: rising rates, each judged on the median p99 of its windows,
 * until p99 exceeds 50 ms (the issue's bound) or messages are lost twice in a row; the highest
 * passing rate is `max_rate_p99_le_50ms`. Then the headline windows at --rate.
 *
 *   npm run bench -- cluster [--quick] [--conns 100000] [--rate 10000] [--budget-s 300]
 *                            [--only kefu,socket_io_redis,raw_ws_redis,kefu_session3]
 *                            [--ladder 1000,2000] [--profile] [--profile-window]
 *
 * Each hub node stays under 20,000 open files (at most 17,000 clients each), each load generator
 * holds at most 15,000 client sockets and binds its own 127.0.0.x source address. Pairs are opened
 * in chunks; a system that has not reached the count when its time budget runs out is measured
 * at the count it reached (reported as `connections`, with `connect_stopped` saying why).
 * `--quick` (under 60 s): 6,000 connections, 12 s budget each. Redis CPU and memory come from INFO.
 * `--profile` writes the Kefu hub nodes' CPU profiles (node --cpu-prof, whole life) to a temp dir;
 * `--profile-window` profiles the measured windows only (node:inspector in each node).
 * `kefu_session3` (only when named in --only) is the Kefu cluster without the linked store and
 * the batched writes (bench/servers/kefu-cluster-node.ts --variant session3), for an A/B of
 * node CPU per message in one run. `--ab [--ab-pairs 500] [--rate 2000] [--ab-rounds 4]` does only
 * that: both variants up at once, alternating short windows (bench/lib/cluster-ab.ts); it
 * writes no results file.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer } from '@kefu/core/testing';
import { arg, quick, ratio, report, round } from './lib/report.js';
import { withBench, type Bench, type StepResult, type SystemSpec } from './lib/hub-harness.js';
import { newHistogram } from './lib/histogram.js';
import { connectStaged } from './lib/cluster-connect.js';
import { RedisStats, type RedisSample } from './lib/cluster-redis-stats.js';
import { runAb } from './lib/cluster-ab.js';
import { judgeStep } from './lib/step-judge.js';

const conns = Number(arg('conns', quick ? '6000' : '100000'));
const rate = Number(arg('rate', '10000'));
const budgetMs = Number(arg('budget-s', quick ? '12' : '300')) * 1000;
const only = new Set(arg('only', 'kefu,socket_io_redis,raw_ws_redis').split(','));
const profile = process.argv.includes('--profile');
const profileWindow = process.argv.includes('--profile-window');
const PER_NODE = 17_000;
const PER_GENERATOR = 15_000;
const pairs = Math.floor(conns / 2);
const nodes = Math.max(2, Math.ceil(conns / PER_NODE));
const generators = Math.max(2, Math.ceil(conns / PER_GENERATOR));
if (!(conns >= 4 && rate > 0 && budgetMs > 0)) throw new RangeError('--conns must be at least 4, --rate and --budget-s positive');
if (generators > 200) throw new RangeError('too many generators: 127.0.0.11 .. 127.0.0.210 are the source addresses');

const P99_LIMIT_MS = 50;
const cfg = quick
  ? { warmupMs: 1_000, windows: 1, windowMs: 2_000, drainMs: 2_000, concurrency: 50, chunkPairs: 1_500, ladder: [2_000], stepWindows: 1, stepWarmupMs: 500, stepMs: 1_500, settleMs: 3_000 }
  : { warmupMs: 3_000, windows: 3, windowMs: 5_000, drainMs: 5_000, concurrency: 50, chunkPairs: 5_000, ladder: [500, 1_000, 2_000, 3_000, 5_000, 10_000], stepWindows: 3, stepWarmupMs: 1_000, stepMs: 3_000, settleMs: 15_000 };
const ladderArg = arg('ladder', '');
if (ladderArg) cfg.ladder = ladderArg.split(',').map(Number);
if (cfg.ladder.some((r) => !(r > 0))) throw new RangeError('--ladder rates must be positive numbers');

interface ClusterStep { rate: number; p50_ms: number; p99_ms: number; achieved_per_s: number; lost: number; nodes_cpu_pct: number; pass: boolean; p99_windows_ms: number[] }

interface ClusterResult {
  connections: number;
  connections_wanted: number;
  connect_stopped?: string;
  /** Connections the nodes still counted after the measured windows. */
  held_after: number;
  nodes: number;
  /** Highest step rate whose median window p99 was at most 50 ms with at most 0.1% lost (0: none). */
  max_rate_p99_le_50ms: number;
  steps: ClusterStep[];
  connect_per_s: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  achieved_per_s: number;
  offered_per_s: number;
  lost: number;
  p99_windows_ms: number[];
  send_lag_p99_ms: number;
  ack_p99_ms: number | null;
  rss_kib_per_conn: number;
  rss_total_mb: number;
  nodes_cpu_pct: number;
  nodes_cpu_us_per_msg: number;
  /** The load generators' CPU per message offered, µs (summed over generators), to compare with the nodes'. */
  generators_cpu_us_per_msg: number;
  /** Kefu nodes only: RedisBus counters summed over the nodes (publishes the linked store made unnecessary, write batching). */
  bus?: Record<string, number>;
  profiles?: string[];
  redis_cpu_pct: number;
  redis_used_memory_mb: number;
  trouble: Record<string, number>;
}

if (process.argv.includes('--ab')) {
  const redisAb = await startRedisServer();
  try {
    const specsAb = (['linked', 'session3'] as const).map((variant): SystemSpec => ({
      key: variant === 'linked' ? 'kefu' : 'kefu_session3', kind: 'kefu', label: variant, script: new URL('./servers/kefu-cluster-node.ts', import.meta.url),
      args: ['--redis', redisAb.url, '--variant', variant, '--idle-timeout-ms', '0'], execArgv: ['--expose-gc'], nodes: 2,
    }));
    const o = { pairs: Number(arg('ab-pairs', '500')), rate: Number(arg('rate', '2000')), rounds: Number(arg('ab-rounds', '4')), windowMs: 2_000, keys: specsAb.map((x) => x.key) };
    const { rows: abRows, summary } = await withBench(specsAb, 2, (b) => runAb(b, o));
    console.table(abRows);
    console.log(JSON.stringify({ bench: 'cluster-ab', config: o, summary }));
  } finally {
    await redisAb.stop();
  }
  process.exit(0);
}

const profDir = profile || profileWindow ? mkdtempSync(join(tmpdir(), 'kefu-cluster-prof-')) : '';
const redis = await startRedisServer();
const stats = new RedisStats(redis.url);
const rows: Array<Record<string, unknown>> = [];
const results: Record<string, ClusterResult | { failed: string }> = {};
try {
  const server = (name: string): URL => new URL(`./servers/${name}.ts`, import.meta.url);
  const specs: SystemSpec[] = [
    ...(['linked', 'session3'] as const).map((variant): SystemSpec => ({
      key: variant === 'linked' ? 'kefu' : 'kefu_session3', kind: 'kefu', label: variant === 'linked' ? 'kefu cluster' : 'kefu (session 3 path)', script: server('kefu-cluster-node'),
      args: ['--redis', redis.url, '--variant', variant, '--idle-timeout-ms', '0', ...(profileWindow ? ['--profile-dir', profDir] : [])],
      execArgv: ['--expose-gc', ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])], nodes,
      // The nodes run with idleTimeoutMs 0: the clients' minute pings would be load only Kefu carries.
      appPings: false,
    })),
    { key: 'socket_io_redis', kind: 'socket_io', label: 'socket.io + redis adapter', script: server('socket-io'), args: ['--redis', redis.url], execArgv: ['--expose-gc'], nodes },
    { key: 'raw_ws_redis', kind: 'raw_ws', label: 'raw ws + redis pub/sub (floor)', script: server('raw-ws'), args: ['--redis', redis.url], execArgv: ['--expose-gc'], nodes },
  ];
  // One system at a time: two clusters of 100,000 connections would not fit one machine's files.
  for (const spec of specs) {
    if (!only.has(spec.key)) continue;
    try {
      results[spec.key] = await withBench([spec], generators, (b) => measure(b, spec));
    } catch (err) {
      const failed = err instanceof Error ? err.message : String(err);
      results[spec.key] = { failed };
      process.stderr.write(`${spec.label}: ${failed}\n`);
    }
    // The next system starts on an empty Redis.
    await stats.flush();
  }
} finally {
  await stats.close();
  await redis.stop();
}

async function measure(b: Bench, spec: SystemSpec): Promise<ClusterResult> {
  const before = await b.serverMem(spec.key);
  const c = await connectStaged(b, spec.key, {
    pairs, chunkPairs: cfg.chunkPairs, concurrency: cfg.concurrency, budgetMs,
    onChunk: (open, ms) => process.stderr.write(`${spec.label}: ${open * 2} connections after ${(ms / 1000).toFixed(1)} s\n`),
  });
  if (c.pairs === 0) throw new Error(`no pair connected: ${c.stopped ?? '?'}`);
  const n = c.pairs * 2;
  process.stderr.write(`${spec.label}: ${n} connections on ${nodes} nodes in ${(c.ms / 1000).toFixed(1)} s${c.stopped ? ` (stopped: ${c.stopped})` : ''}\n`);
  await new Promise((r) => setTimeout(r, 2_000));
  const after = await b.serverMem(spec.key);
  // Unmeasured load at the lowest rate first, as hub-latency does: right after the connections are
  // set up, nodes and generators still collect and compact, and the first windows would measure that.
  await b.step(spec.key, cfg.ladder[0]!, 0, cfg.settleMs, cfg.drainMs);
  const steps: ClusterStep[] = [];
  let best = 0;
  let fails = 0;
  for (const r of cfg.ladder) {
    if (fails >= 2) break;
    const sw: StepResult[] = [];
    for (let w = 0; w < cfg.stepWindows; w++) {
      const s = await b.step(spec.key, r, cfg.stepWarmupMs, cfg.stepMs, cfg.drainMs);
      sw.push(s);
      const { histogram: _h, ...row } = s;
      rows.push({ system: spec.label, conns: n, window: `step ${r}/s #${w + 1}`, ...row, trouble: JSON.stringify(row.trouble) });
    }
    const { p999_ms: _p999, cpu_pct, ...step } = judgeStep(r, sw, P99_LIMIT_MS);
    steps.push({ ...step, nodes_cpu_pct: cpu_pct });
    if (step.pass) { best = r; fails = 0; } else fails++;
  }
  const merged = newHistogram();
  const ws: StepResult[] = [];
  const redisPct: number[] = [];
  let redisMem = 0;
  const children = b.servers.get(spec.key)!.children;
  const kefu = spec.kind === 'kefu';
  const profiles: string[] = [];
  for (let w = 0; w < cfg.windows; w++) {
    let r0: RedisSample | undefined;
    const s = await b.step(spec.key, rate, w === 0 ? cfg.warmupMs : 1_000, cfg.windowMs, cfg.drainMs, {
      onWindowStart: async () => {
        if (profileWindow && kefu) await Promise.all(children.map((ch) => ch.call('profile-start')));
        r0 = await stats.sample();
      },
      onWindowEnd: async () => {
        if (profileWindow && kefu) for (const f of await Promise.all(children.map((ch) => ch.call<string | null>('profile-stop')))) if (f) profiles.push(f);
        const r1 = await stats.sample();
        if (r0) redisPct.push(RedisStats.cpuPct(r0, r1));
        redisMem = r1.usedMemory;
      },
    });
    merged.add(s.histogram);
    ws.push(s);
    const { histogram: _h, ...row } = s;
    rows.push({ system: spec.label, conns: n, window: w + 1, ...row, trouble: JSON.stringify(row.trouble), redis_cpu_pct: Math.round(redisPct[w] ?? NaN) });
  }
  const held = await Promise.all(children.map((ch) => ch.call<number>('connections')));
  const bus: Record<string, number> = {};
  if (kefu) for (const st of await Promise.all(children.map((ch) => ch.call<Record<string, number>>('bus')))) for (const [key, v] of Object.entries(st)) bus[key] = (bus[key] ?? 0) + v;
  const trouble: Record<string, number> = {};
  for (const s of ws) for (const [k, v] of Object.entries(s.trouble)) trouble[k] = (trouble[k] ?? 0) + v;
  const lag = Math.max(...ws.map((s) => s.send_lag_p99_ms));
  const acks = ws.map((s) => s.ack_p99_ms).filter((x): x is number => x !== null);
  return {
    connections: n,
    connections_wanted: pairs * 2,
    ...(c.stopped ? { connect_stopped: c.stopped } : {}),
    held_after: held.reduce((a, x) => a + x, 0),
    nodes,
    max_rate_p99_le_50ms: best,
    steps,
    connect_per_s: Math.round(n / (c.ms / 1000)),
    p50_ms: round(merged.getValueAtPercentile(50) / 1000),
    p99_ms: round(merged.getValueAtPercentile(99) / 1000),
    p999_ms: round(merged.getValueAtPercentile(99.9) / 1000),
    achieved_per_s: Math.round(ws.reduce((a, s) => a + s.received, 0) / ((ws.length * cfg.windowMs) / 1000)),
    offered_per_s: rate,
    lost: ws.reduce((a, s) => a + s.lost, 0),
    p99_windows_ms: ws.map((s) => s.p99_ms),
    send_lag_p99_ms: lag,
    ack_p99_ms: acks.length > 0 ? Math.max(...acks) : null,
    rss_kib_per_conn: round((after.rss - before.rss) / 1024 / n, 2),
    rss_total_mb: round(after.rss / 2 ** 20, 1),
    nodes_cpu_pct: Math.round(ws.reduce((a, s) => a + s.server_cpu_pct, 0) / ws.length),
    nodes_cpu_us_per_msg: round(ws.reduce((a, s) => a + s.server_cpu_us_per_msg, 0) / ws.length, 1),
    generators_cpu_us_per_msg: round(ws.reduce((a, s) => a + (s.generator_cpu_pct / 100) * generators * 1e6 / rate, 0) / ws.length, 1),
    ...(kefu ? { bus } : {}),
    ...(profiles.length > 0 ? { profiles } : {}),
    redis_cpu_pct: Math.round(redisPct.reduce((a, x) => a + x, 0) / Math.max(1, redisPct.length)),
    redis_used_memory_mb: round(redisMem / 2 ** 20, 1),
    trouble,
  };
}

const k = results.kefu && 'p99_ms' in results.kefu ? results.kefu : undefined;
const sio = results.socket_io_redis && 'p99_ms' in results.socket_io_redis ? results.socket_io_redis : undefined;
const raw = results.raw_ws_redis && 'p99_ms' in results.raw_ws_redis ? results.raw_ws_redis : undefined;
const s3 = results.kefu_session3 && 'p99_ms' in results.kefu_session3 ? results.kefu_session3 : undefined;
if (profile || profileWindow) process.stderr.write(`kefu hub CPU profiles: ${profDir} (summarise: node --import tsx bench/lib/cpuprofile-summary.ts <file>)\n`);
report({
  bench: 'cluster',
  config: {
    connections: conns, pairs, nodes, generators, rate_per_s: rate, connect_budget_s: budgetMs / 1000, chunk_pairs: cfg.chunkPairs,
    windows: cfg.windows, window_ms: cfg.windowMs,
    topology: 'N server processes on 127.0.0.1 sharing one redis-server (started by the bench); pair i: visitor on node i % N, agent on node (i + 1) % N; generators bound to 127.0.0.11+',
    kefu: 'Hub + RedisBus (pub/sub) + RedisConversationStore({ bus }): the append script publishes the frame, writes batched per event-loop turn; jwtAuthenticator HS256, acks on, idleTimeoutMs 0 (bench/servers/kefu-cluster-node.ts --variant linked)',
    ...(s3 ? { kefu_session3: 'the same nodes with --variant session3: append, then the hub publishes; one send per command' } : {}),
    socket_io_redis: 'Socket.IO 4.8 + @socket.io/redis-adapter, websocket transport, room per conversation, ack callback',
    raw_ws_redis: 'the floor: raw ws relays, same JWT at upgrade, a Redis pub/sub channel per conversation subscribed by the nodes holding a member; no store, no ack, no seq (bench/servers/raw-ws.ts --redis)',
    ladder: cfg.ladder, step_windows: cfg.stepWindows, step_ms: cfg.stepMs, p99_limit_ms: P99_LIMIT_MS,
    equal_load: k !== undefined && sio !== undefined && k.connections === sio.connections,
    equal_load_floor: k !== undefined && raw !== undefined && k.connections === raw.connections,
  },
  kefu: results.kefu ? { ...results.kefu } : {},
  peers: { socket_io_redis: results.socket_io_redis ? { ...results.socket_io_redis } : {}, raw_ws_redis: results.raw_ws_redis ? { ...results.raw_ws_redis } : {}, ...(results.kefu_session3 ? { kefu_session3: { ...results.kefu_session3 } } : {}) },
  ratios: {
    ...(s3 && k ? { nodes_cpu_us_per_msg_vs_session3: ratio(k.nodes_cpu_us_per_msg, s3.nodes_cpu_us_per_msg), p99_vs_session3: ratio(k.p99_ms, s3.p99_ms) } : {}),
    p99_vs_socket_io_redis: ratio(k?.p99_ms, sio?.p99_ms),
    rss_vs_socket_io_redis: ratio(k?.rss_kib_per_conn, sio?.rss_kib_per_conn),
    connections_vs_socket_io_redis: ratio(k?.connections, sio?.connections),
    max_rate_vs_socket_io_redis: ratio(k?.max_rate_p99_le_50ms, sio?.max_rate_p99_le_50ms),
    max_rate_vs_raw_ws_redis: ratio(k?.max_rate_p99_le_50ms, raw?.max_rate_p99_le_50ms),
    p99_vs_raw_ws_redis: ratio(k?.p99_ms, raw?.p99_ms),
    nodes_cpu_us_per_msg_vs_raw_ws_redis: ratio(k?.nodes_cpu_us_per_msg, raw?.nodes_cpu_us_per_msg),
    nodes_cpu_us_per_msg_vs_socket_io_redis: ratio(k?.nodes_cpu_us_per_msg, sio?.nodes_cpu_us_per_msg),
  },
}, rows);
