/**
 * bench/bus.ts: which Redis transport should RedisBus use? Measures the cross-node path the
 * hub needs (node A publishes a frame, nodes B and C receive it) over a real redis-server:
 *   - pub/sub: PUBLISH / SUBSCRIBE (what RedisBus uses),
 *   - streams: XADD (MAXLEN ~ trimmed) / one blocking XREAD loop per node.
 * Open loop at a fixed offered rate; latency from publish to receipt on one clock (all nodes
 * are ioredis clients in this process, so the numbers include Redis and loopback, not the hub).
 * Sharded pub/sub only differs on a Redis Cluster, so it is not measured on one server.
 */
import { Redis } from 'ioredis';
import { findBinary, startRedisServer } from '@kefu/core/testing';
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

try {
  const pubsub = await run('pubsub');
  const streams = await run('streams');
  report(
    {
      bench: 'bus',
      offered_per_s: rate,
      seconds,
      kefu: { transport: 'pubsub', ...pubsub },
      peers: { streams },
      ratios: { p99_streams_vs_pubsub: ratio(streams.p99_ms, pubsub.p99_ms), redis_cpu_streams_vs_pubsub: ratio(streams.redis_cpu_pct, pubsub.redis_cpu_pct) },
    },
    [{ transport: 'pub/sub', ...pubsub }, { transport: 'streams', ...streams }],
  );
} finally {
  await redis.stop();
}
