/**
 * bench/bus.ts: which Redis transport should RedisBus use? Measures the cross-node path the
 * hub needs (node A publishes a frame, nodes B and C receive it) over a real redis-server:
 *   - pub/sub: PUBLISH / SUBSCRIBE (what RedisBus uses),
 *   - streams: XADD (MAXLEN ~ trimmed) / one blocking XREAD loop per node.
 * Open loop at a fixed offered rate; latency from publish to receipt on one clock (all nodes
 * are ioredis clients in this process, so the numbers include Redis and loopback, not the hub).
 * Sharded pub/sub only differs on a Redis Cluster, so it is not measured on one server.
 *
 * Then the node's whole Redis side of one cross-node message, with the real classes
 * (@kefu/redis, built): node A runs what the hub does per message (store.append, then
 * bus.publish of the encoded frame), node B's RedisBus receives it. Two variants, alternating
 * rounds in one run: `session3` (an append script, then a PUBLISH; one send per command) and
 * `linked` (RedisConversationStore({ bus }): the script publishes, the append says so and the hub does not publish;
 * writes batched per event-loop turn). Both nodes are in this process: its CPU per message is
 * the Redis side of a sending plus a receiving node (no WebSockets), next to Redis's own.
 */
import { Redis } from 'ioredis';
import { findBinary, startRedisServer } from '@kefu/core/testing';
import { encodeFrame, type MessageFrame } from '@kefu/protocol';
import { RedisBus, RedisConversationStore } from '@kefu/redis';
import { newHistogram } from './lib/histogram.js';
import { quick, report, ratio, round, arg } from './lib/report.js';

const rate = Number(arg('rate', quick ? '5000' : '10000'));
const seconds = Number(arg('seconds', quick ? '4' : '10'));
const topics = 1000;

const bin = findBinary('redis-server');
if ('skip' in bin) process.exit(0);
const redis = await startRedisServer();

async function redisCpuSeconds(): Promise<number> {
  const c = new Redis(redis.url);
  const info = await c.info('cpu');
  await c.quit();
  const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return get('used_cpu_sys') + get('used_cpu_user');
}

interface Result { p50_ms: number; p99_ms: number; p999_ms: number; delivered_per_s: number; redis_cpu_pct: number; lost: number }

async function run(kind: 'pubsub' | 'streams'): Promise<Result> {
  const hist = newHistogram();
  const pub = new Redis(redis.url);
  const subs = [new Redis(redis.url, { enableReadyCheck: false }), new Redis(redis.url, { enableReadyCheck: false })];
  let received = 0;
  let running = true;
  const onPayload = (payload: string) => {
    const sent = Number(payload.slice(0, payload.indexOf('|')));
    hist.recordValue(Math.max(1, Math.round((performance.now() - sent) * 1000)));
    received++;
  };
  if (kind === 'pubsub') {
    for (const s of subs) {
      s.on('message', (_c: string, m: string) => onPayload(m));
      await s.subscribe(...Array.from({ length: topics }, (_, i) => `c:${i}`));
    }
  } else {
    // One stream per node shard would be the real design; one stream read by two nodes is the
    // cheapest streams layout, so it is the fair lower bound for streams.
    for (const s of subs) {
      void (async () => {
        let id = '$';
        while (running) {
          const r = (await s.xread('COUNT', 1000, 'BLOCK', 100, 'STREAMS', 'bus', id).catch(() => null)) as Array<[string, Array<[string, string[]]>]> | null;
          if (!r) continue;
          for (const [, entries] of r) for (const [eid, fields] of entries) { id = eid; onPayload(fields[1]!); }
        }
      })();
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const body = 'x'.repeat(200);
  const total = rate * seconds;
  const cpu0 = await redisCpuSeconds();
  const t0 = performance.now();
  let sent = 0;
  // Open loop: each 1 ms tick sends what the schedule says is due.
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      for (; sent < due; sent++) {
        const payload = `${performance.now()}|{"t":"msg","body":"${body}"}`;
        if (kind === 'pubsub') void pub.publish(`c:${sent % topics}`, payload);
        else void pub.xadd('bus', 'MAXLEN', '~', '10000', '*', 'p', payload);
      }
      if (sent >= total) { clearInterval(tick); resolve(); }
    }, 1);
  });
  const deadline = performance.now() + 5000;
  while (received < total * subs.length && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu1 = await redisCpuSeconds();
  running = false;
  await new Promise((r) => setTimeout(r, 150));
  await Promise.all([pub.quit(), ...subs.map((s) => s.quit())]);
  return {
    p50_ms: round(hist.getValueAtPercentile(50) / 1000),
    p99_ms: round(hist.getValueAtPercentile(99) / 1000),
    p999_ms: round(hist.getValueAtPercentile(99.9) / 1000),
    delivered_per_s: Math.round(received / elapsed),
    redis_cpu_pct: round(((cpu1 - cpu0) / elapsed) * 100, 1),
    lost: total * subs.length - received,
  };
}

interface PathResult { variant: string; round: number; process_cpu_us_per_msg: number; redis_cpu_us_per_msg: number; p50_ms: number; p99_ms: number; delivered: number; lost: number }

/** One round of the append path at `rate` for `ms`. */
type PathVariant = 'linked' | 'session3' | 'link_only' | 'batch_only';
async function appendPath(variant: PathVariant, roundNo: number, convs: number, ms: number): Promise<PathResult> {
  const link = variant === 'linked' || variant === 'link_only';
  const batch = variant === 'linked' || variant === 'batch_only';
  const busA = new RedisBus(redis.url, { nodeId: `a-${variant}-${roundNo}`, batchWrites: batch });
  const busB = new RedisBus(redis.url, { nodeId: `b-${variant}-${roundNo}`, batchWrites: batch });
  const store = new RedisConversationStore(redis.url, { batchWrites: batch, ...(link ? { bus: busA } : {}) });
  await store.open();
  const ids: string[] = [];
  for (let i = 0; i < convs; i++) ids.push((await store.createConversation({ tenant: 't', visitor: { id: `v${i}`, role: 'visitor' } })).id);
  for (let i = 0; i < ids.length; i += 500) await Promise.all(ids.slice(i, i + 500).map((id) => busB.subscribe(`c:${id}`)));
  const hist = newHistogram();
  let received = 0;
  busB.on('message', (_t, payload) => {
    const at = payload.indexOf('"body":"') + 8;
    hist.recordValue(Math.max(1, Math.round((performance.now() - parseFloat(payload.slice(at))) * 1000)));
    received++;
  });
  const from = { id: 'v', role: 'visitor' as const };
  const pad = 'x'.repeat(48);
  // What Hub.#append / #fanOut do per message, minus the sockets.
  const send = async (conv: string, k: number): Promise<void> => {
    const body = `${performance.now().toFixed(3)} ${pad}`;
    const r = await store.append(conv, { cid: `${roundNo}.${k}`, from, body });
    const frame: MessageFrame = { t: 'msg', conv, seq: r.seq, cid: `${roundNo}.${k}`, from, body, ts: r.ts };
    const s = encodeFrame(frame); // the hub encodes it for its local sockets either way
    if (!r.published) await busA.publish(`c:${conv}`, s);
  };
  const total = Math.round((rate * ms) / 1000);
  const cpuR0 = await redisCpuSeconds();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      for (; sent < due; sent++) void send(ids[sent % ids.length]!, sent);
      if (sent >= total) { clearInterval(tick); resolve(); }
    }, 1);
  });
  const deadline = performance.now() + 5000;
  while (received < total && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const cpu = process.cpuUsage(cpu0);
  const cpuR1 = await redisCpuSeconds();
  await Promise.all([store.close(), busA.close(), busB.close()]);
  return {
    variant, round: roundNo,
    // The tail waits of the drain loop cost next to nothing; the few redisCpuSeconds calls are in both variants.
    process_cpu_us_per_msg: round1((cpu.user + cpu.system) / Math.max(1, received)),
    redis_cpu_us_per_msg: round1(((cpuR1 - cpuR0) * 1e6) / Math.max(1, received)),
    p50_ms: round(hist.getValueAtPercentile(50) / 1000),
    p99_ms: round(hist.getValueAtPercentile(99) / 1000),
    delivered: received,
    lost: total - received,
  };
}
const round1 = (x: number): number => Math.round(x * 10) / 10;
const median = (xs: number[]): number => { const a = [...xs].sort((x, y) => x - y); const m = a.length >> 1; return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2; };

try {
  const pubsub = await run('pubsub');
  const streams = await run('streams');
  const rounds = Number(arg('path-rounds', quick ? '3' : '6'));
  // --path-variants linked,session3,link_only,batch_only separates the two changes' shares.
  const variants = arg('path-variants', 'session3,linked').split(',') as PathVariant[];
  const paths: PathResult[] = [];
  for (let r = 1; r <= rounds; r++) {
    for (const v of r % 2 ? variants : [...variants].reverse()) {
      const p = await appendPath(v, r, quick ? 500 : 1000, quick ? 1500 : 4000);
      paths.push(p);
      process.stderr.write(`append path ${v} round ${r}: ${p.process_cpu_us_per_msg} µs node-side CPU, ${p.redis_cpu_us_per_msg} µs Redis CPU per message, p99 ${p.p99_ms} ms, lost ${p.lost}\n`);
    }
  }
  const pathSummary = (v: string) => {
    const mine = paths.filter((p) => p.variant === v);
    return {
      process_cpu_us_per_msg: round1(median(mine.map((p) => p.process_cpu_us_per_msg))),
      redis_cpu_us_per_msg: round1(median(mine.map((p) => p.redis_cpu_us_per_msg))),
      p99_ms: round(median(mine.map((p) => p.p99_ms))),
      lost: mine.reduce((a, p) => a + p.lost, 0),
    };
  };
  const linkedPath = pathSummary('linked');
  const session3Path = pathSummary('session3');
  for (const v of variants) if (v !== 'linked' && v !== 'session3') process.stderr.write(`append path ${v}: ${JSON.stringify(pathSummary(v))}\n`);
  console.table(paths);
  report(
    {
      bench: 'bus',
      offered_per_s: rate,
      seconds,
      kefu: { transport: 'pubsub', ...pubsub, append_path: { variant: 'linked', ...linkedPath } },
      peers: { streams, append_path_session3: session3Path },
      ratios: {
        p99_streams_vs_pubsub: ratio(streams.p99_ms, pubsub.p99_ms), redis_cpu_streams_vs_pubsub: ratio(streams.redis_cpu_pct, pubsub.redis_cpu_pct),
        append_path_cpu_linked_vs_session3: ratio(linkedPath.process_cpu_us_per_msg, session3Path.process_cpu_us_per_msg),
        append_path_redis_cpu_linked_vs_session3: ratio(linkedPath.redis_cpu_us_per_msg, session3Path.redis_cpu_us_per_msg),
      },
    },
    [{ transport: 'pub/sub', ...pubsub }, { transport: 'streams', ...streams }],
  );
} finally {
  await redis.stop();
}
