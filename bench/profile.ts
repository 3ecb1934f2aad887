/**
 * bench profile: the profile aggregator behind HTTP, under open-loop load at rising QPS with
 * distinct uids (cold profiles), side by side with the peers in the same run:
 *
 *   sequential  three undici Pool calls one after another
 *   fetch_all   Promise.all with global fetch
 *   pool_floor  hand-tuned Promise.all with an undici Pool per service (256 connections): the floor
 *   kefu        ProfileAggregator, per-uid HttpProfileSources (one HTTP call per source per request)
 *   kefu_batch  ProfileAggregator, batch-capable HttpProfileSources (DataLoader-style, default
 *               window: at most one batch per source per 1 ms, none waiting when the source is quiet)
 *   kefu_batch_turn  (full runs, or --only) the same with a window of one event-loop turn (0)
 *   kefu_batch_nocache  (full runs, or --only) kefu_batch with the cache off
 *   kefu_batch_2ms, kefu_batch_4ms  (--only) paced windows of 2 and 4 ms
 *   timer_floor a canned profile after 15 ms, no back-end call: an aggregator costing nothing,
 *               the bound this machine sets for every variant
 *   kefu_nocache  (full runs) kefu with the cache off: on cold profiles the cache only costs, and
 *               this says how much of kefu's distance to the floor is the cache
 *   pool_floor_split, kefu_split  (--only) pool_floor and kefu against the three services run one
 *               per process (three more back-end children), for an A/B of the back ends' topology
 *
 * Three processes: this one (load generator and orchestration), the back ends (CRM, orders,
 * membership at 5/10/15 ms, one child) and the aggregator server (one child, every variant on
 * its own path). Then, in this process, the cache-hit path: closed-loop ProfileAggregator.get()
 * on warm uids.
 *
 * Since session 5 the generator sends its load over raw keep-alive sockets (lib/http-load.ts)
 * rather than an undici Pool: in one run (timer_floor against timer_floor@undici, machine shared)
 * it cost 0.38-0.63x the CPU per request, and at 5,000 req/s the undici generator was itself the
 * queue (event loop 96% busy, send lag p99 445 ms). Each step now also prints every process's
 * event-loop utilisation against its on-CPU share (busy but off the CPU: waiting for a core), how
 * late a 10 ms timer fired in the generator and the server, the machine's CPU pressure (PSI), and
 * p50/p99 timed from the actual send beside the judged ones timed from the due time.
 *
 * Since session 6 no measured step opens a connection: the generator's 1,024 are opened before
 * each step (HttpLoad.warm) and the server never closes an idle one; every Pool and source keeps
 * idle connections 10 minutes and the back ends never close them; listen queues are 4,096 long.
 * Before, a server stalled for a moment made the generator open hundreds of connections at once,
 * the accept queue overflowed, and each dropped SYN came back 1 s later: a p99 of 1,000+ ms.
 * Each step prints the connections accepted and the kernel's listen overflows and SYN retransmits.
 *
 * Latency is measured from each request's scheduled send time (no coordinated omission). Each
 * step also says where the time went (server, back-end calls, back-end lateness, GC per process,
 * calls per profile: see Hops), and the JSON compares Kefu with the floor at equal offered load,
 * which stays meaningful when no step passes.
 * A step passes when p99 <= 20 ms and at least 95% of the offered load was answered in time.
 * Every variant runs its whole ladder (see ramp), so the highest passing rate is judged wherever it is.
 *
 * The aggregator is imported from its source (packages/core/src/profile, run by tsx), so this
 * bench measures the profile code alone and does not depend on the rest of @kefu/core's build.
 *
 * Usage: npm run bench -- profile [--quick] [--only v1,v2] [--per-uid-rates r1,r2] [--batch-rates r1,r2] [--profile]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { Pool } from 'undici';
import { arg, median, quick, ratio, report, round } from './lib/report.js';
import { HttpLoad } from './lib/http-load.js';

const role = arg('role', 'main');
const P99_LIMIT_MS = 20;
const latencies = { crm: 5, orders: 10, membership: 15 } as const;
type Kind = keyof typeof latencies;
const kinds: Kind[] = ['crm', 'orders', 'membership'];

/** A child exits when told to or when its parent goes away (its stdin pipe closes), never lingers. */
function exitWithParent(cleanup: () => Promise<unknown>): void {
  let done = false;
  const bye = (): void => {
    if (done) return;
    done = true;
    const hard = setTimeout(() => process.exit(0), 2000);
    hard.unref();
    void cleanup().finally(() => process.exit(0));
  };
  process.on('SIGTERM', bye);
  process.stdin.on('end', bye);
  process.stdin.on('close', bye);
  process.stdin.resume();
}

/**
 * Per-hop timings of one process over one step, kept as plain arrays (bounded) and summarised on
 * demand: where a request's time goes is the question this bench must answer before any tuning.
 */
class Samples {
  private xs: number[] = [];
  add(x: number): void {
    if (this.xs.length < 200_000) this.xs.push(x);
  }
  /** p50/p99/max in ms and the count, then starts afresh. */
  take(): { n: number; p50: number; p99: number; max: number } {
    const xs = this.xs.sort((a, b) => a - b);
    this.xs = [];
    return { n: xs.length, p50: round(pct(xs, 50), 2), p99: round(pct(xs, 99), 2), max: round(xs[xs.length - 1] ?? NaN, 2) };
  }
}

/** GC pauses of this process (count, total and longest, in ms) since the last take(). */
function gcWatch(): { take(): { count: number; major: number; total_ms: number; max_ms: number } } {
  let count = 0;
  let major = 0;
  let total = 0;
  let max = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      count++;
      // kind 1 is a scavenge (young generation); anything else marks the old generation.
      if (((e as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind !== 1) major++;
      total += e.duration;
      if (e.duration > max) max = e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  return {
    take() {
      const out = { count, major, total_ms: round(total, 1), max_ms: round(max, 2) };
      count = 0;
      major = 0;
      total = 0;
      max = 0;
      return out;
    },
  };
}

/**
 * This process's event loop since the last take(): utilisation (%, near 100 means the process
 * itself is the queue) and how late a 10 ms timer fired (p99 and max, ms: busy turns, GC and
 * time off the CPU alike; with the utilisation low, lateness is the OS not running us).
 */
function loopWatch(): { take(): { elu_pct: number; delay_p99_ms: number; delay_max_ms: number } } {
  let elu0 = performance.eventLoopUtilization();
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  return {
    take() {
      const elu = performance.eventLoopUtilization(elu0);
      elu0 = performance.eventLoopUtilization();
      // The histogram counts the whole interval, the 10 ms sampling period included: subtract it.
      const out = { elu_pct: round(elu.utilization * 100, 1), delay_p99_ms: round(Math.max(0, h.percentile(99) / 1e6 - 10), 2), delay_max_ms: round(Math.max(0, h.max / 1e6 - 10), 2) };
      h.reset();
      return out;
    },
  };
}

/** Machine-wide CPU pressure (Linux PSI): µs during which some runnable task waited for a CPU; null elsewhere. */
function cpuPressureUs(): number | null {
  try {
    const m = /some [^\n]*total=(\d+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * The kernel's TCP counters (Linux /proc/net/netstat, all sockets of the machine): SYNs dropped
 * because a listen queue was full, and SYNs sent again (the first retransmission waits 1 s, so
 * one dropped SYN puts a request past any 20 ms budget). Null elsewhere.
 */
function tcpCounters(): { listen_overflows: number; syn_retrans: number } | null {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
    const names = lines[0]!.split(' ');
    const values = lines[1]!.split(' ').map(Number);
    const get = (k: string): number => values[names.indexOf(k)] ?? NaN;
    return { listen_overflows: get('ListenOverflows'), syn_retrans: get('TCPSynRetrans') };
  } catch {
    return null;
  }
}

/** A full GC between steps (children run with --expose-gc), so no step inherits the last one's garbage. */
function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

// ---------------------------------------------------------------------------------------------
// role: back ends (child)
// ---------------------------------------------------------------------------------------------
async function runBackends(): Promise<void> {
  const { startProfileService } = await import('@kefu/mock-backends');
  // The services this process runs: all three (the default), or one (`--kinds membership`) for the
  // `_split` variants, which put each service in a process of its own.
  const mine = arg('kinds', kinds.join(',')).split(',') as Kind[];
  // How late the services answered past their stated latency, measured inside the back ends.
  const late = new Samples();
  const gc = gcWatch();
  // Idle connections stay open (keepAliveTimeoutMs 0) and the accept queue is long: the
  // aggregator's Pools idle during the other variants' steps, and a connection closed then is
  // reopened inside a measured step (see lib/http-load.ts warm()).
  const services = await Promise.all(
    mine.map((k) => startProfileService(k, { uidFaults: false, maxTalliedUids: 0, keepAliveTimeoutMs: 0, backlog: 4096, latencyMs: latencies[k], onAnswered: (a) => late.add(a.elapsedMs - a.latencyMs) })),
  );
  // A control endpoint of its own, so that reading the back ends' stats is not a profile request.
  // TCP connections the services accepted since the last read: a connection opened inside a
  // measured step costs a handshake in both processes and, in a burst, a full accept queue.
  let connsSeen = 0;
  const connsSince = (): number => {
    const now = services.reduce((a, x) => a + x.stats.totalConnections, 0);
    const d = now - connsSeen;
    connsSeen = now;
    return d;
  };
  const control = createServer((req, res) => {
    if (req.url === '/gc') collect();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ late: late.take(), gc: gc.take(), conns: connsSince() }));
  });
  await new Promise<void>((r) => control.listen(0, '127.0.0.1', r));
  const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;
  process.stdout.write(`READY ${JSON.stringify({ ...Object.fromEntries(services.map((x) => [x.kind, x.url])), control: controlUrl })}\n`);
  exitWithParent(async () => {
    control.close();
    await Promise.all(services.map((x) => x.close()));
  });
}

/** Resolves `value` at `due` (performance.now() time), re-arming a timer that fired early. */
function answerAfter<T>(due: number, value: T): Promise<T> {
  return new Promise((resolve) => {
    const fire = (): void => {
      const left = due - performance.now();
      if (left > 0) setTimeout(fire, Math.ceil(left));
      else resolve(value);
    };
    fire();
  });
}

// ---------------------------------------------------------------------------------------------
// role: aggregator server (child)
// ---------------------------------------------------------------------------------------------
type Handler = (uid: string) => Promise<unknown>;

async function runServer(): Promise<void> {
  const urls = JSON.parse(arg('urls', '{}')) as Record<Kind, string>;
  // The `_split` variants' services, each in a process of its own (absent unless named in --only).
  const splitUrls = JSON.parse(arg('split-urls', '{}')) as Partial<Record<Kind, string>>;
  const hasSplit = kinds.every((k) => splitUrls[k] !== undefined);
  const { ProfileAggregator, HttpProfileSource } = await import('../packages/core/src/profile/index.js');

  // timer_floor's answer: a profile of the peers' shape and size, built once.
  const { crmRecord, ordersRecord, membershipRecord } = await import('@kefu/mock-backends');
  const canned = { crm: crmRecord('canned'), orders: ordersRecord('canned'), membership: membershipRecord('canned') };

  // Peers, hand-written as a host application would.
  // Idle connections are kept 10 minutes, by the peers' Pools and by Kefu's sources alike: with the
  // variants interleaved, a variant idles during the others' steps (tens of seconds in a full
  // run), and undici's default of 4 s made each step reopen its connections while measured.
  const keepAliveMs = 600_000;
  const pools = Object.fromEntries(kinds.map((k) => [k, new Pool(urls[k], { connections: 256, pipelining: 1, keepAliveTimeout: keepAliveMs, keepAliveMaxTimeout: keepAliveMs })])) as Record<Kind, Pool>;
  const splitPools = hasSplit ? (Object.fromEntries(kinds.map((k) => [k, new Pool(splitUrls[k]!, { connections: 256, pipelining: 1, keepAliveTimeout: keepAliveMs, keepAliveMaxTimeout: keepAliveMs })])) as Record<Kind, Pool>) : null;
  const viaPool = async (k: Kind, uid: string, from: Record<Kind, Pool> = pools): Promise<unknown> => {
    const { statusCode, body } = await from[k].request({ method: 'GET', path: `/users/${encodeURIComponent(uid)}` });
    if (statusCode !== 200) {
      await body.dump();
      throw new Error(`HTTP ${statusCode}`);
    }
    return body.json();
  };
  const viaFetch = async (k: Kind, uid: string): Promise<unknown> => {
    const r = await fetch(`${urls[k]}/users/${encodeURIComponent(uid)}`);
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
    return r.json();
  };

  // A breaker opened by an overloaded step must not spill into the next step (the pause after a
  // failed step is 1 s), so it re-probes after 1 s here; everything else is the default.
  const breaker = { openMs: 1000 };
  const perUid = new ProfileAggregator({
    breaker,
    sources: [
      new HttpProfileSource({ name: 'crm', url: urls.crm, connections: 256, keepAliveTimeoutMs: keepAliveMs }),
      new HttpProfileSource({ name: 'orders', url: urls.orders, connections: 256, keepAliveTimeoutMs: keepAliveMs }),
      new HttpProfileSource({ name: 'membership', url: urls.membership, connections: 256, keepAliveTimeoutMs: keepAliveMs }),
    ],
  });
  const perUidSplit = hasSplit
    ? new ProfileAggregator({ breaker, sources: kinds.map((k) => new HttpProfileSource({ name: k, url: splitUrls[k]!, connections: 256, keepAliveTimeoutMs: keepAliveMs })) })
    : null;
  const perUidNoCache = new ProfileAggregator({
    breaker,
    cache: false,
    sources: [
      new HttpProfileSource({ name: 'crm', url: urls.crm, connections: 256, keepAliveTimeoutMs: keepAliveMs }),
      new HttpProfileSource({ name: 'orders', url: urls.orders, connections: 256, keepAliveTimeoutMs: keepAliveMs }),
      new HttpProfileSource({ name: 'membership', url: urls.membership, connections: 256, keepAliveTimeoutMs: keepAliveMs }),
    ],
  });
  // Batch sources: kefu_batch with the default window, the others for A/B runs (--only) of the
  // batch window: 0 sends the lookups of one event-loop turn; n > 0 sends at most one batch per
  // n ms, a lookup after a quiet spell going out at once (see profile/batcher.ts).
  // kefu_batch_nocache: the default window with the cache off (what the cache costs on cold profiles).
  const batchWindows = { kefu_batch: undefined, kefu_batch_turn: 0, kefu_batch_2ms: 2, kefu_batch_4ms: 4, kefu_batch_nocache: undefined } as const;
  const batchAggs = Object.fromEntries(
    Object.entries(batchWindows).map(([variant, windowMs]) => [
      variant,
      new ProfileAggregator({
        breaker,
        ...(variant === 'kefu_batch_nocache' ? { cache: false as const } : {}),
        ...(windowMs === undefined ? {} : { batch: { windowMs } }),
        sources: [
          new HttpProfileSource({ name: 'crm', url: urls.crm, connections: 64, keepAliveTimeoutMs: keepAliveMs, batch: {} }),
          new HttpProfileSource({ name: 'orders', url: urls.orders, connections: 64, keepAliveTimeoutMs: keepAliveMs, batch: {} }),
          new HttpProfileSource({ name: 'membership', url: urls.membership, connections: 64, keepAliveTimeoutMs: keepAliveMs, batch: {} }),
        ],
      }),
    ]),
  );

  // HTTP calls to the back ends per variant since the last /__hops: calls per profile is what
  // batching changes (the peers make three by construction).
  const aggregators = { kefu: perUid, kefu_nocache: perUidNoCache, ...batchAggs, ...(perUidSplit ? { kefu_split: perUidSplit } : {}) };
  const callsSeen: Record<string, number> = {};
  const callsSince = (): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [name, agg] of Object.entries(aggregators)) {
      const now = Object.values(agg.stats()).reduce((a, c) => a + c.calls, 0);
      out[name] = now - (callsSeen[name] ?? 0);
      callsSeen[name] = now;
    }
    return out;
  };

  const complete = <P extends { complete: boolean; sources: object }>(p: P): P => {
    if (!p.complete) throw new Error(`incomplete profile: ${JSON.stringify(p.sources)}`);
    return p;
  };
  const handlers: Record<string, Handler> = {
    sequential: async (uid) => ({ crm: await viaPool('crm', uid), orders: await viaPool('orders', uid), membership: await viaPool('membership', uid) }),
    fetch_all: async (uid) => {
      const [crm, orders, membership] = await Promise.all(kinds.map((k) => viaFetch(k, uid)));
      return { crm, orders, membership };
    },
    pool_floor: async (uid) => {
      const [crm, orders, membership] = await Promise.all(kinds.map((k) => viaPool(k, uid)));
      return { crm, orders, membership };
    },
    // Like the peers, an incomplete profile counts as a failed request (else a breaker opened by an
    // overload would make fast, empty answers look like successes).
    kefu: async (uid) => complete(await perUid.get(uid)),
    ...Object.fromEntries(Object.entries(batchAggs).map(([v, agg]): [string, Handler] => [v, async (uid) => complete(await agg.get(uid))])),
    // No back-end call at all: a canned profile after the slowest source's latency (15 ms from the
    // request's arrival, never early, as the services time it). What an aggregator costing nothing
    // would reach behind this HTTP front with this generator on this machine: the bound for both
    // targets, and what tells the machine's limit from Kefu's.
    timer_floor: () => answerAfter(performance.now() + latencies.membership, canned),
    kefu_nocache: async (uid) => complete(await perUidNoCache.get(uid)),
    // The same as pool_floor and kefu, against the services run one per process.
    ...(splitPools && perUidSplit
      ? {
          pool_floor_split: async (uid: string) => {
            const [crm, orders, membership] = await Promise.all(kinds.map((k) => viaPool(k, uid, splitPools)));
            return { crm, orders, membership };
          },
          kefu_split: async (uid: string) => complete(await perUidSplit.get(uid)),
        }
      : {}),
  };

  // Per request: arrival -> answer written (the server's whole share) and the handler alone
  // (the back-end calls, plus the aggregator's own work for the Kefu variants).
  const inServer = new Samples();
  const inHandler = new Samples();
  // The Kefu variants' calls to the slowest source (membership), from the aggregator's `fetch`
  // events: from the call's start (after any batch wait) to its answer. handler minus this is the
  // batch wait plus Kefu's own work.
  const inCall = new Samples();
  for (const agg of Object.values(aggregators)) agg.on('fetch', (e) => e.source === 'membership' && inCall.add(e.ms));
  const gc = gcWatch();
  const loop = loopWatch();
  // Connections the aggregator server accepted (from the generator) since the last /__hops.
  let accepted = 0;
  const acceptedSince = (): number => {
    const d = accepted;
    accepted = 0;
    return d;
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const arrived = performance.now();
    const url = req.url ?? '/';
    if (url === '/__cpu') {
      const c = process.cpuUsage();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ us: c.user + c.system }));
      return;
    }
    if (url === '/__gc') {
      collect();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    if (url === '/__hops') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ server: inServer.take(), handler: inHandler.take(), call: inCall.take(), gc: gc.take(), loop: loop.take(), calls: callsSince(), conns: acceptedSince() }));
      return;
    }
    const slash = url.indexOf('/', 1);
    const h = handlers[url.slice(1, slash)];
    if (!h || slash < 0) {
      res.writeHead(404).end();
      return;
    }
    const called = performance.now();
    h(url.slice(slash + 1)).then(
      (body) => {
        inHandler.add(performance.now() - called);
        const text = JSON.stringify(body);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
        inServer.add(performance.now() - arrived);
      },
      (err: unknown) => {
        res.writeHead(502, { 'content-type': 'text/plain' }).end(String(err));
      },
    );
  });
  // The generator's connections are opened before the steps (HttpLoad.warm) and never closed by
  // the server (0: no idle timeout), so no measured step pays for connecting; a long accept queue
  // for any that still open in a burst.
  server.keepAliveTimeout = 0;
  server.on('connection', () => accepted++);
  await new Promise<void>((r) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, r));
  process.stdout.write(`READY ${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
  const stop = async (): Promise<void> => {
    server.closeAllConnections();
    server.close();
    await Promise.all([perUid.close(), perUidNoCache.close(), perUidSplit?.close(), ...Object.values(batchAggs).map((a) => a.close()), ...kinds.map((k) => pools[k].destroy()), ...(splitPools ? kinds.map((k) => splitPools[k].destroy()) : [])]);
  };
  exitWithParent(async () => stop());
}

// ---------------------------------------------------------------------------------------------
// role: main (load generator + orchestration)
// ---------------------------------------------------------------------------------------------
function startChild(childRole: string, extra: string[] = []): Promise<{ child: ChildProcess; ready: Record<string, string> }> {
  const file = fileURLToPath(import.meta.url);
  // --profile: the aggregator server writes a CPU profile at exit (summarise it with
  // bench/lib/cpuprofile-summary.ts); use it with --only to see one variant.
  const prof = childRole === 'server' && process.argv.includes('--profile') ? ['--cpu-prof', '--cpu-prof-dir', fileURLToPath(new URL('./.tmp/profile-cpu/', import.meta.url))] : [];
  const child = spawn(process.execPath, ['--expose-gc', ...prof, '--import', 'tsx', file, '--role', childRole, ...extra], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${childRole} did not start in 30 s`)), 30_000);
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      if (line.startsWith('READY ')) {
        clearTimeout(timer);
        resolve({ child, ready: JSON.parse(line.slice(6)) as Record<string, string> });
      }
    });
    child.once('exit', (code) => reject(new Error(`${childRole} exited with ${code}`)));
  });
}

interface Step {
  variant: string;
  offered: number;
  achieved: number;
  p50: number;
  p99: number;
  mean: number;
  errors: number;
  late: number;
  pass: boolean;
  /** CPU time the aggregator server spent per answered request during the step, in µs. */
  server_cpu_us_per_req: number;
  /** The same for the back ends' process (three services), per answered request (null off Linux). */
  backends_cpu_us_per_req: number | null;
  /** The same for this process (the load generator). */
  gen_cpu_us_per_req: number;
  /** How late the generator sent, p99 in ms: a starved generator shows here, not as server latency. */
  send_lag_p99_ms: number;
  /**
   * p50/p99 of the same answers timed from their actual send instead of their due time (not
   * judged: p50/p99 are). The difference is what the generator's own lateness adds.
   */
  p50_from_send: number;
  p99_from_send: number;
  /** Where the time went (p50/p99 in ms), see Hops. */
  hops: Hops;
}

/**
 * Per-hop timings of a step. total = the generator's latency; server = the aggregator server from
 * a request's arrival to its answer being written; handler = the back-end calls inside that (and
 * the aggregator's own work); backend_late = how far past their stated latency the services
 * answered, measured inside the back ends; gc = the longest GC pause in each process.
 */
interface Hops {
  server_p50: number;
  server_p99: number;
  handler_p50: number;
  handler_p99: number;
  /** Kefu variants: the call to membership (the slowest source), without any batch wait. */
  membership_call_p50: number | null;
  membership_call_p99: number | null;
  backend_late_p50: number | null;
  backend_late_p99: number | null;
  gc_max_ms: { generator: number; server: number; backends: number | null };
  /** HTTP calls to the back ends per answered profile (3 for the peers; fewer when batching). */
  calls_per_profile: number;
  /** Old-generation (mark-compact) GCs during the step, per process. */
  gc_major: { generator: number; server: number; backends: number | null };
  /** Event-loop utilisation over the step, %: near 100, that process is the queue. */
  elu_pct: { generator: number; server: number };
  /**
   * CPU time over the step's wall time, % of one core. Busy (elu_pct) well above this means the
   * process was inside a callback but off the CPU: descheduled, waiting for a core.
   */
  cpu_pct: { generator: number; server: number };
  /** How late a 10 ms timer fired in each process, p99 and max in ms (busy turns, GC, time off the CPU). */
  loop_delay_p99_ms: { generator: number; server: number };
  loop_delay_max_ms: { generator: number; server: number };
  /** Share of the step's wall time during which some runnable task on the machine waited for a CPU (Linux PSI), %. */
  cpu_pressure_pct: number | null;
  /** TCP connections accepted during the step (touch requests excluded): by the aggregator server, by the back ends. */
  new_conns: { server: number; backends: number | null };
  /** Machine-wide during the step: SYNs dropped on a full listen queue, SYN retransmissions (1 s each). */
  listen_overflows: number | null;
  syn_retrans: number | null;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

let uidSeq = 0;

/**
 * One GET from the load generator, its body dropped as it arrives; `done` gets the status, or 0
 * for a failure. undici's dispatch() with a bare handler, not request(): the generator shares the
 * two cores with the system under test, and request() builds a Readable body stream per answer
 * that the generator would only drain. The server sees the same HTTP either way.
 */
function send(gen: Pool, path: string, done: (status: number) => void): void {
  let status = 0;
  let called = false;
  const end = (s: number): void => {
    if (called) return;
    called = true;
    done(s);
  };
  gen.dispatch(
    { method: 'GET', path, headersTimeout: 3000, bodyTimeout: 3000 },
    {
      onConnect() {},
      onHeaders(code) {
        if (code >= 200) status = code;
        return true;
      },
      onData() {
        return true;
      },
      onComplete() {
        end(status);
      },
      onError() {
        end(0);
      },
    },
  );
}

/** Offers `rate` req/s for `durationMs` on an open-loop schedule; latency from scheduled time. */
async function serverCpuUs(gen: Pool): Promise<number> {
  const { body } = await gen.request({ method: 'GET', path: '/__cpu' });
  return ((await body.json()) as { us: number }).us;
}

/** CPU time of another process of ours, in µs, read from /proc (Linux); null elsewhere. */
function procCpuUs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * (1e6 / 100);
  } catch {
    return null;
  }
}

/** The generator's load client (raw keep-alive sockets, see lib/http-load.ts); set in main(). */
let load: HttpLoad;
/** Its connections, all opened before each step. */
const GEN_CONNECTIONS = 1024;

/**
 * How a step sends: `<variant>@undici` offers the same load to `<variant>` through the undici Pool
 * the generator used before session 5, for an A/B of the generator itself in one run.
 */
function senderFor(gen: Pool, variant: string): { path: string; fire: (path: string, done: (status: number) => void) => void } {
  const [path, client] = variant.split('@') as [string, string | undefined];
  return { path, fire: client === 'undici' ? (p, d) => send(gen, p, d) : (p, d) => load.get(p, d) };
}

/** Every back-end process (one, or four with the `_split` variants): CPU and hops are summed over them. */
const backendsPids: number[] = [];
const backendsControls: Pool[] = [];
const genGc = gcWatch();
const genLoop = loopWatch();

type LoopReply = ReturnType<ReturnType<typeof loopWatch>['take']>;
type HopsReply = { server: ReturnType<Samples['take']>; handler: ReturnType<Samples['take']>; call: ReturnType<Samples['take']>; gc: ReturnType<ReturnType<typeof gcWatch>['take']>; loop: LoopReply; calls: Record<string, number>; conns: number };
type BackendsReply = { late: ReturnType<Samples['take']>; gc: ReturnType<ReturnType<typeof gcWatch>['take']>; conns: number };

async function getJson<T>(pool: Pool, path: string): Promise<T> {
  const { body } = await pool.request({ method: 'GET', path });
  return (await body.json()) as T;
}

/** CPU time of every back-end process together, µs (null off Linux). */
function backendsCpuUs(): number | null {
  let sum = 0;
  for (const pid of backendsPids) {
    const us = procCpuUs(pid);
    if (us === null) return null;
    sum += us;
  }
  return sum;
}

/**
 * The back-end processes' replies as one: lateness from the processes that answered anything
 * (the highest p50 and p99: with one service per process, the slowest service's), GC and new
 * connections summed, the longest pause kept.
 */
function mergeBackends(rs: BackendsReply[]): BackendsReply {
  const busy = rs.filter((r) => r.late.n > 0);
  const max = (xs: number[]): number => (xs.length ? Math.max(...xs) : NaN);
  return {
    late: { n: busy.reduce((a, r) => a + r.late.n, 0), p50: max(busy.map((r) => r.late.p50)), p99: max(busy.map((r) => r.late.p99)), max: max(busy.map((r) => r.late.max)) },
    gc: {
      count: rs.reduce((a, r) => a + r.gc.count, 0),
      major: rs.reduce((a, r) => a + r.gc.major, 0),
      total_ms: round(rs.reduce((a, r) => a + r.gc.total_ms, 0), 1),
      max_ms: max(rs.map((r) => r.gc.max_ms)),
    },
    conns: rs.reduce((a, r) => a + r.conns, 0),
  };
}

/** Reads (and so restarts) every process's hop timings. */
async function takeHops(gen: Pool): Promise<{ server: HopsReply; backends: BackendsReply | null; generatorGc: ReturnType<ReturnType<typeof gcWatch>['take']>; generatorLoop: LoopReply }> {
  const [server, backends] = await Promise.all([
    getJson<HopsReply>(gen, '/__hops'),
    backendsControls.length ? Promise.all(backendsControls.map((c) => getJson<BackendsReply>(c, '/'))).then(mergeBackends) : Promise.resolve(null),
  ]);
  return { server, backends, generatorGc: genGc.take(), generatorLoop: genLoop.take() };
}

async function step(gen: Pool, variant: string, rate: number, durationMs: number): Promise<Step> {
  // A few unmeasured requests first: with the variants interleaved, a variant's Pools idle for
  // the other variants' steps (8 s and more in a full run), past the back ends' keep-alive, and
  // its first measured requests would pay for new connections.
  const touch = Math.min(64, Math.max(4, Math.ceil(rate * 0.02)));
  const { path, fire } = senderFor(gen, variant);
  // Every generator connection open before the step (any the server dropped is reopened here).
  await load.warm(GEN_CONNECTIONS);
  await Promise.all(Array.from({ length: touch }, (_, i) => new Promise<void>((resolve) => fire(`/${path}/touch-${uidSeq}-${i}`, () => resolve()))));
  // Every process starts the step with a collected heap; the GCs the step itself causes still count.
  await Promise.all([getJson<unknown>(gen, '/__gc').catch(() => null), ...backendsControls.map((c) => getJson<unknown>(c, '/gc'))]);
  collect();
  await takeHops(gen);
  const cpu0 = await serverCpuUs(gen);
  const b0 = backendsCpuUs();
  const g0 = process.cpuUsage();
  const psi0 = cpuPressureUs();
  const tcp0 = tcpCounters();
  const t0 = performance.now();
  const lag: number[] = [];
  const total = Math.round((rate * durationMs) / 1000);
  const lat: number[] = [];
  // The same answers timed from their actual send: lat minus this is the generator's own lateness.
  const latSent: number[] = [];
  let errors = 0;
  let done = 0;
  const start = performance.now() + 5;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const finish = (): void => {
      if (++done === total) resolve();
    };
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
      while (sent < due) {
        const scheduled = start + (sent * 1000) / rate;
        lag.push(now - scheduled);
        sent++;
        const uid = `u${variant.length}-${++uidSeq}`;
        const sentAt = performance.now();
        fire(`/${path}/${uid}`, (status) => {
          const t = performance.now();
          if (status === 200) {
            lat.push(t - scheduled);
            latSent.push(t - sentAt);
          } else errors++;
          finish();
        });
      }
      // Sleep until the next request is due rather than waking every millisecond: a wake-up
      // costs about 60 µs of CPU on this VM, and at low rates most 1 ms wakes sent nothing.
      if (sent < total) setTimeout(tick, Math.max(0, Math.floor(start + (sent * 1000) / rate - performance.now())));
    };
    if (total === 0) resolve();
    else setTimeout(tick, 5);
  });
  const g = process.cpuUsage(g0);
  const psi1 = cpuPressureUs();
  const tcp1 = tcpCounters();
  const stepMs = performance.now() - t0;
  const b1 = backendsCpuUs();
  const cpuUs = (await serverCpuUs(gen)) - cpu0;
  const h = await takeHops(gen);
  const hops: Hops = {
    server_p50: h.server.server.p50,
    server_p99: h.server.server.p99,
    handler_p50: h.server.handler.p50,
    handler_p99: h.server.handler.p99,
    membership_call_p50: h.server.call.n > 0 ? h.server.call.p50 : null,
    membership_call_p99: h.server.call.n > 0 ? h.server.call.p99 : null,
    backend_late_p50: h.backends?.late.p50 ?? null,
    backend_late_p99: h.backends?.late.p99 ?? null,
    gc_max_ms: { generator: h.generatorGc.max_ms, server: h.server.gc.max_ms, backends: h.backends?.gc.max_ms ?? null },
    calls_per_profile: path.startsWith('kefu') ? round((h.server.calls[path] ?? 0) / Math.max(1, lat.length + errors), 2) : path === 'sequential' || path === 'fetch_all' || path.startsWith('pool_floor') ? 3 : NaN,
    gc_major: { generator: h.generatorGc.major, server: h.server.gc.major, backends: h.backends?.gc.major ?? null },
    elu_pct: { generator: h.generatorLoop.elu_pct, server: h.server.loop.elu_pct },
    cpu_pct: { generator: round(((g.user + g.system) / 1000 / stepMs) * 100, 1), server: round((cpuUs / 1000 / stepMs) * 100, 1) },
    loop_delay_p99_ms: { generator: h.generatorLoop.delay_p99_ms, server: h.server.loop.delay_p99_ms },
    loop_delay_max_ms: { generator: h.generatorLoop.delay_max_ms, server: h.server.loop.delay_max_ms },
    cpu_pressure_pct: psi0 === null || psi1 === null ? null : round(((psi1 - psi0) / 1000 / stepMs) * 100, 1),
    new_conns: { server: h.server.conns, backends: h.backends?.conns ?? null },
    listen_overflows: tcp0 && tcp1 ? tcp1.listen_overflows - tcp0.listen_overflows : null,
    syn_retrans: tcp0 && tcp1 ? tcp1.syn_retrans - tcp0.syn_retrans : null,
  };
  lat.sort((a, b) => a - b);
  latSent.sort((a, b) => a - b);
  lag.sort((a, b) => a - b);
  const answered = Math.max(1, lat.length);
  // Answered within the step plus a grace of one p99 budget: a server falling behind shows here.
  const windowMs = durationMs + P99_LIMIT_MS;
  const inTime = lat.filter((l) => l <= windowMs).length;
  const achieved = (inTime * 1000) / durationMs;
  const mean = lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length);
  const p99 = pct(lat, 99);
  const late = total - inTime - errors;
  return {
    variant,
    offered: rate,
    achieved: round(achieved, 0),
    p50: round(pct(lat, 50), 2),
    p99: round(p99, 2),
    mean: round(mean, 2),
    errors,
    late,
    pass: errors === 0 && p99 <= P99_LIMIT_MS && achieved >= 0.95 * rate,
    server_cpu_us_per_req: round(cpuUs / answered, 0),
    backends_cpu_us_per_req: b0 === null || b1 === null ? null : round((b1 - b0) / answered, 0),
    gen_cpu_us_per_req: round((g.user + g.system) / answered, 0),
    send_lag_p99_ms: round(pct(lag, 99), 2),
    p50_from_send: round(pct(latSent, 50), 2),
    p99_from_send: round(pct(latSent, 99), 2),
    hops,
  };
}

/** Quick runs must end within a minute even on a loaded machine: later steps are skipped past this. */
const benchStart = performance.now();
const deadline = benchStart + (quick ? 44_000 : 1_200_000);
const elapsed = (): string => `${((performance.now() - benchStart) / 1000).toFixed(1)} s`;

/** Which rates each variant runs, in one ramp. */
type Plan = Array<[variant: string, rates: number[]]>;

/**
 * Rising rates, the variants interleaved at each rate (A at r, B at r, A at r2, ...) so that a
 * change in the machine's load hits them alike. Every variant runs its whole ladder, failed steps
 * or not: on this VM an idle process wakes slowly, so a low rate can have a worse tail than a
 * moderate one, and the judged figure is the highest passing rate, wherever it lies. A variant
 * stops only when it collapses (answers under 70% of the offered load in time: past its capacity,
 * every higher rate only queues more) or when the time budget is spent.
 */
async function ramp(gen: Pool, plan: Plan, durationMs: number): Promise<Record<string, Step[]>> {
  const variants = plan.map(([v]) => v);
  const ratesOf = new Map(plan);
  const out: Record<string, Step[]> = Object.fromEntries(variants.map((v) => [v, []]));
  const live = new Set(variants);
  const rates = [...new Set(plan.flatMap(([, r]) => r))].sort((a, b) => a - b);
  if (rates.length === 0) return out;
  // Let the previous variants' leftovers (calls still out to the back ends) drain first.
  await new Promise((r) => setTimeout(r, quick ? 300 : 2000));
  // Warm-up: connections, JIT.
  for (const v of variants) await step(gen, v, Math.min(200, ratesOf.get(v)![0] ?? 200), quick ? 400 : 1000);
  for (const rate of rates) {
    for (const variant of variants) {
      if (!live.has(variant) || !ratesOf.get(variant)!.includes(rate)) continue;
      if (performance.now() > deadline) {
        console.error(`${variant}: time budget spent, higher rates skipped`);
        live.delete(variant);
        continue;
      }
      const s = await step(gen, variant, rate, durationMs);
      out[variant]!.push(s);
      console.error(
        `${variant.padEnd(14)} offered ${String(rate).padStart(6)}/s  achieved ${String(s.achieved).padStart(6)}/s  p50 ${s.p50.toFixed(2).padStart(7)}  p99 ${s.p99.toFixed(2).padStart(7)} ms  mean ${s.mean.toFixed(2)}  errors ${s.errors}  ` +
          `cpu µs/req server ${s.server_cpu_us_per_req} back ends ${s.backends_cpu_us_per_req ?? '-'} generator ${s.gen_cpu_us_per_req}  send lag p99 ${s.send_lag_p99_ms} ms (p50/p99 from send ${s.p50_from_send}/${s.p99_from_send})  ${s.pass ? 'pass' : 'FAIL'}`,
      );
      const hp = s.hops;
      console.error(
        `${''.padEnd(14)} calls/profile ${hp.calls_per_profile}  hops p50/p99 ms: server ${hp.server_p50}/${hp.server_p99}  handler ${hp.handler_p50}/${hp.handler_p99}  membership call ${hp.membership_call_p50 ?? '-'}/${hp.membership_call_p99 ?? '-'}  ` +
          `back-end late ${hp.backend_late_p50 ?? '-'}/${hp.backend_late_p99 ?? '-'}  gc max (major count) gen ${hp.gc_max_ms.generator} (${hp.gc_major.generator}) server ${hp.gc_max_ms.server} (${hp.gc_major.server}) back ends ${hp.gc_max_ms.backends ?? '-'} (${hp.gc_major.backends ?? '-'})`,
      );
      console.error(
        `${''.padEnd(14)} event loop busy % (on cpu %) gen ${hp.elu_pct.generator} (${hp.cpu_pct.generator}) server ${hp.elu_pct.server} (${hp.cpu_pct.server})  timer late p99/max ms gen ${hp.loop_delay_p99_ms.generator}/${hp.loop_delay_max_ms.generator} server ${hp.loop_delay_p99_ms.server}/${hp.loop_delay_max_ms.server}  machine cpu pressure ${hp.cpu_pressure_pct ?? '-'}%  ` +
          `new conns server ${hp.new_conns.server} back ends ${hp.new_conns.backends ?? '-'}  listen overflows ${hp.listen_overflows ?? '-'} syn retrans ${hp.syn_retrans ?? '-'}`,
      );
      if (s.achieved < 0.7 * rate) {
        console.error(`${variant}: collapsed at ${rate}/s, higher rates skipped`);
        live.delete(variant);
      }
      // A failed step leaves work behind in the server; give it time to drain.
      await new Promise((r) => setTimeout(r, s.pass ? 200 : quick ? 400 : 1000));
    }
    if (live.size === 0) break;
  }
  return out;
}

/**
 * `a` against `b` at equal offered load: for every rate both variants ran (both answering at least
 * 95% in time, so that a collapsed step does not compare queueing), field(a) / field(b); and the
 * median of those ratios. This stays meaningful when no step passes the 20 ms rule.
 */
function atEqualLoad(a: Step[] | undefined, b: Step[] | undefined, field: (s: Step) => number): { by_rate: Record<string, number | null>; median: number | null } {
  const by_rate: Record<string, number | null> = {};
  const rs: number[] = [];
  for (const x of a ?? []) {
    const y = (b ?? []).find((s) => s.offered === x.offered);
    if (!y || x.achieved < 0.95 * x.offered || y.achieved < 0.95 * y.offered) continue;
    const r = ratio(field(x), field(y));
    by_rate[String(x.offered)] = r;
    if (r !== null) rs.push(r);
  }
  return { by_rate, median: rs.length ? round(median(rs), 3) : null };
}

function maxRate(steps: Step[]): number | null {
  let best: number | null = null;
  for (const s of steps) if (s.pass && (best === null || s.offered > best)) best = s.offered;
  return best;
}

/** Closed-loop cache hits in this process: `workers` loops of awaited get() on warm uids. */
async function cacheHits(urls: Record<Kind, string>, durationMs: number): Promise<{ per_s: number; all_cached: boolean }> {
  const { ProfileAggregator, HttpProfileSource } = await import('../packages/core/src/profile/index.js');
  const agg = new ProfileAggregator({
    sources: kinds.map((k) => new HttpProfileSource({ name: k, url: urls[k], batch: {} })),
    cache: { max: 10_000, ttlMs: 600_000 },
    // Warming must not fail on a busy machine: a generous timeout, and again for any gap.
    timeoutMs: 10_000,
  });
  // Fewer warm uids in a quick run: warming is not measured, and on a loaded machine it is slow.
  const uids = Array.from({ length: quick ? 2_000 : 5_000 }, (_, i) => `warm-${i}`);
  for (let round = 0; round < 3; round++) {
    let gaps = 0;
    for (let i = 0; i < uids.length; i += 500) {
      const ps = await Promise.all(uids.slice(i, i + 500).map((u) => agg.get(u)));
      gaps += ps.filter((p) => !p.complete).length;
    }
    if (gaps === 0) break;
  }
  const before = agg.stats().crm?.cacheHits ?? 0;
  let n = 0;
  let allCached = true;
  const end = performance.now() + durationMs;
  const worker = async (w: number): Promise<void> => {
    let i = w * 97;
    while (performance.now() < end) {
      for (let k = 0; k < 256; k++) {
        const p = await agg.get(uids[i++ % uids.length]!);
        if (!p.complete) allCached = false;
        n++;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
  const per_s = (n * 1000) / (performance.now() - t0);
  const s = agg.stats();
  allCached &&= (s.crm?.cacheHits ?? 0) - before >= n;
  await agg.close();
  return { per_s: Math.round(per_s), all_cached: allCached };
}

async function main(): Promise<void> {
  const durationMs = quick ? 1000 : 4000;
  // Each variant's ladder (see ramp): the per-uid variants up to past the floor's capacity, the
  // batch variants up to past the 5,000 req/s target. timer_floor (no back-end call) runs every
  // rate of both ladders, interleaved with the variants it bounds.
  const list = (name: string, fallback: number[]): number[] => {
    const v = arg(name, '');
    return v === '' ? fallback : v.split(',').map(Number);
  };
  const perUidRates = list('per-uid-rates', quick ? [250, 500, 1000, 2000] : [250, 500, 750, 1000, 1500, 2000, 2500, 3000, 4000]);
  const batchRates = list('batch-rates', quick ? [1000, 3000, 5000, 7000] : [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 10000, 12000]);
  const aboveUid = batchRates.filter((r) => r > Math.max(...perUidRates));
  // --only a,b keeps those variants (for A/B runs); every judged key of a skipped variant is null.
  const only = arg('only', '');
  const keep = (plan: Plan): Plan => (only === '' ? plan : plan.filter(([v]) => only.split(',').includes(v)));
  const perUidPlan = keep([
    ['pool_floor', perUidRates],
    ['kefu', perUidRates],
    ...(quick && only === '' ? [] : ([['kefu_nocache', perUidRates]] as Plan)),
    ['timer_floor', perUidRates],
    ...(only.split(',').includes('timer_floor@undici') ? ([['timer_floor@undici', perUidRates]] as Plan) : []),
    // --only: the per-uid peers against the services run one per process (see runBackends).
    ...(only === '' ? [] : ([['pool_floor_split', perUidRates], ['kefu_split', perUidRates]] as Plan)),
  ]);
  const batchPlan = keep([
    ['kefu_batch', batchRates],
    ...(quick && only === '' ? [] : ([['kefu_batch_turn', batchRates], ['kefu_batch_nocache', batchRates]] as Plan)),
    ...(only === '' ? [] : ([['kefu_batch_2ms', batchRates], ['kefu_batch_4ms', batchRates]] as Plan)),
    ['timer_floor', aboveUid],
    ...(only.split(',').includes('timer_floor@undici') ? ([['timer_floor@undici', aboveUid]] as Plan) : []),
  ]);
  const peersPlan = keep([
    ['fetch_all', quick ? [250] : [250, 500, 1000, 1500, 2000]],
    ['sequential', quick ? [250] : [250, 500]],
  ]);

  const backends = await startChild('backends');
  const { control: _control, ...urls } = backends.ready as Record<Kind | 'control', string>;
  // The `_split` variants' back ends: each service in a process of its own (same latencies).
  const split = only.split(',').some((v) => v.endsWith('_split'));
  const splitBackends = split ? await Promise.all(kinds.map((k) => startChild('backends', ['--kinds', k]))) : [];
  const splitUrls = Object.fromEntries(splitBackends.map((b, i) => [kinds[i]!, b.ready[kinds[i]!]!]));
  for (const b of [backends, ...splitBackends]) {
    if (b.child.pid !== undefined) backendsPids.push(b.child.pid);
    backendsControls.push(new Pool(b.ready.control!, { connections: 1 }));
  }
  const server = await startChild('server', ['--urls', JSON.stringify(urls), ...(split ? ['--split-urls', JSON.stringify(splitUrls)] : [])]);
  // gen: the control requests (CPU, hops, GC) and the `@undici` A/B variants; load: the load itself.
  const gen = new Pool(server.ready.url!, { connections: 1024, pipelining: 1 });
  const serverUrl = new URL(server.ready.url!);
  load = new HttpLoad({ host: serverUrl.hostname, port: Number(serverUrl.port), connections: GEN_CONNECTIONS, timeoutMs: 3000 });
  const children = [server.child, backends.child, ...splitBackends.map((b) => b.child)];
  const killAll = (): void => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  process.on('exit', killAll);

  try {
    // The judged variants first, so that a --quick run on a loaded machine still measures them.
    const results: Record<string, Step[]> = {};
    for (const plan of [perUidPlan, batchPlan, peersPlan]) {
      for (const [v, st] of Object.entries(await ramp(gen, plan, durationMs))) (results[v] ??= []).push(...st);
    }
    for (const v of ['pool_floor', 'kefu', 'kefu_batch', 'kefu_batch_turn', 'timer_floor', 'fetch_all', 'sequential']) results[v] ??= [];
    await gen.destroy();
    load.close();
    await Promise.all(backendsControls.map((c) => c.destroy()));
    // The server goes; the back ends stay for the cache phase (it warms its cache from them).
    server.child.kill('SIGTERM');

    console.error(`load steps done at ${elapsed()}`);
    const cache = await cacheHits(urls, quick ? 1000 : 3000);
    console.error(`cache hits: ${cache.per_s}/s in one process (all served from cache: ${cache.all_cached}); elapsed ${elapsed()}`);

    const at2000 = results.kefu!.find((s) => s.offered === 2000);
    const floor = maxRate(results.pool_floor!);
    const perUid = maxRate(results.kefu!);
    const batch = maxRate(results.kefu_batch!);
    const batchTurn = maxRate(results.kefu_batch_turn!);
    const timerFloor = maxRate(results.timer_floor!);
    const at = (v: string, rate: number): Record<string, number> | null => {
      const x = results[v]?.find((s) => s.offered === rate);
      return x ? { mean_ms: x.mean, p50_ms: x.p50, p99_ms: x.p99, achieved_per_s: x.achieved, calls_per_profile: x.hops.calls_per_profile } : null;
    };
    const p99Of = (x: Step): number => x.p99;
    const cpuPerReq = (x: Step): number => x.server_cpu_us_per_req;
    const perUidP99 = atEqualLoad(results.kefu, results.pool_floor, p99Of);
    const perUidCpu = atEqualLoad(results.kefu, results.pool_floor, cpuPerReq);
    const batchP99 = atEqualLoad(results.kefu_batch, results.pool_floor, p99Of);
    const batchCpu = atEqualLoad(results.kefu_batch, results.pool_floor, cpuPerReq);
    const turnP99 = atEqualLoad(results.kefu_batch_turn, results.kefu_batch, p99Of);
    const batchVsTimer = atEqualLoad(results.kefu_batch, results.timer_floor, p99Of);
    const perUidVsTimer = atEqualLoad(results.kefu, results.timer_floor, p99Of);
    const floorVsTimer = atEqualLoad(results.pool_floor, results.timer_floor, p99Of);
    const lowest = (v: string): Step | undefined => results[v]?.[0];
    const BATCH_TARGET = 5000;
    const CACHE_TARGET = 100_000;
    // CPU per request is far less sensitive to the machine's load than latency: the median over a
    // variant's passing steps (all steps when none passed).
    const cpuOf = (v: string): number | null => {
      const st = results[v] ?? [];
      const use = st.some((x) => x.pass) ? st.filter((x) => x.pass) : st;
      return use.length ? median(use.map((x) => x.server_cpu_us_per_req)) : null;
    };
    const rows = Object.values(results).flat().map(({ hops, ...s }) => ({
      ...s,
      pass: s.pass ? 'yes' : 'no',
      srv_p99: hops.server_p99,
      handler_p99: hops.handler_p99,
      late_p99: hops.backend_late_p99,
      calls: hops.calls_per_profile,
    }));
    report(
      {
        bench: 'profile',
        kefu: {
          per_uid_max_rate_p99_le_20ms: perUid,
          batch_max_rate_p99_le_20ms: batch,
          batch_turn_max_rate_p99_le_20ms: batchTurn,
          // On cold profiles the cache only costs (records retained, promoted, evicted: GC pauses).
          batch_nocache_max_rate_p99_le_20ms: results.kefu_batch_nocache ? maxRate(results.kefu_batch_nocache) : null,
          batch_nocache_at_5000: at('kefu_batch_nocache', 5000),
          batch_at_2000: at('kefu_batch', 2000),
          batch_at_5000: at('kefu_batch', 5000),
          per_uid_lowest_rate: lowest('kefu') ? { offered: lowest('kefu')!.offered, p50_ms: lowest('kefu')!.p50, p99_ms: lowest('kefu')!.p99 } : null,
          cache_hits_per_s: cache.per_s,
          server_cpu_us_per_req: cpuOf('kefu'),
          batch_server_cpu_us_per_req: cpuOf('kefu_batch'),
          per_uid_nocache_max_rate_p99_le_20ms: results.kefu_nocache ? maxRate(results.kefu_nocache) : null,
          nocache_server_cpu_us_per_req: results.kefu_nocache ? cpuOf('kefu_nocache') : null,
          per_uid_at_2000: at2000 ? { mean_ms: at2000.mean, p50_ms: at2000.p50, p99_ms: at2000.p99, achieved_per_s: at2000.achieved } : null,
        },
        peers: {
          sequential: { max_rate_p99_le_20ms: maxRate(results.sequential!) },
          fetch_all: { max_rate_p99_le_20ms: maxRate(results.fetch_all!), server_cpu_us_per_req: cpuOf('fetch_all') },
          pool_floor: {
            max_rate_p99_le_20ms: floor,
            server_cpu_us_per_req: cpuOf('pool_floor'),
            lowest_rate: lowest('pool_floor') ? { offered: lowest('pool_floor')!.offered, p50_ms: lowest('pool_floor')!.p50, p99_ms: lowest('pool_floor')!.p99 } : null,
          },
          timer_floor: { max_rate_p99_le_20ms: timerFloor, server_cpu_us_per_req: cpuOf('timer_floor') },
          seed: { mean_ms_at_2000: 17 },
        },
        // The issue's targets: per_uid_vs_floor >= 0.9; batch_vs_target >= 1 (5,000 req/s);
        // cache_vs_target >= 1 (100,000 hits/s). When no step passes (p99 over 20 ms even for the
        // floor), the max-rate ratios are null and the *_at_equal_load ratios still compare.
        ratios: {
          per_uid_vs_floor: ratio(perUid, floor),
          batch_vs_floor: ratio(batch, floor),
          batch_vs_target: ratio(batch, BATCH_TARGET),
          cache_vs_target: ratio(cache.per_s, CACHE_TARGET),
          per_uid_p99_vs_floor_at_equal_load: perUidP99.median,
          per_uid_cpu_vs_floor_at_equal_load: perUidCpu.median,
          batch_p99_vs_floor_at_equal_load: batchP99.median,
          batch_cpu_vs_floor_at_equal_load: batchCpu.median,
          batch_turn_p99_vs_batch_at_equal_load: turnP99.median,
          // Against an aggregator that costs nothing (timer_floor): what is Kefu's and what is the machine's.
          batch_vs_timer_floor: ratio(batch, timerFloor),
          per_uid_vs_timer_floor: ratio(perUid, timerFloor),
          batch_p99_vs_timer_floor_at_equal_load: batchVsTimer.median,
          per_uid_p99_vs_timer_floor_at_equal_load: perUidVsTimer.median,
          floor_p99_vs_timer_floor_at_equal_load: floorVsTimer.median,
          // At equal offered load (CPU per request falls as load rises, so medians over different
          // sets of steps compare unlike things); the old all-steps median only when no rate compares.
          cpu_per_req_vs_floor: perUidCpu.median ?? ratio(cpuOf('kefu'), cpuOf('pool_floor')),
          cpu_per_req_nocache_vs_floor: results.kefu_nocache ? ratio(cpuOf('kefu_nocache'), cpuOf('pool_floor')) : null,
        },
        at_equal_load: {
          per_uid_p99_vs_floor: perUidP99.by_rate,
          per_uid_cpu_vs_floor: perUidCpu.by_rate,
          batch_p99_vs_floor: batchP99.by_rate,
          batch_cpu_vs_floor: batchCpu.by_rate,
          batch_turn_p99_vs_batch: turnP99.by_rate,
          batch_p99_vs_timer_floor: batchVsTimer.by_rate,
          per_uid_p99_vs_timer_floor: perUidVsTimer.by_rate,
          floor_p99_vs_timer_floor: floorVsTimer.by_rate,
        },
        setup: {
          service_latency_ms: latencies,
          step_ms: durationMs,
          pass_rule: 'p99 <= 20 ms, no errors, >= 95% of offered answered within the step',
          processes: 'load generator + orchestration | back ends (3 services) | aggregator server',
          shared_machine: true,
          ladders: Object.fromEntries([...perUidPlan, ...batchPlan, ...peersPlan].map(([v, r]) => [v, r])),
          ladder_rule: 'every variant runs every rate of its ladder; it stops only when it answers < 70% of the offered load in time',
        },
        steps: Object.values(results).flat(),
      },
      rows,
    );
  } finally {
    killAll();
  }
}

if (role === 'backends') await runBackends();
else if (role === 'server') await runServer();
else {
  await main();
  process.exit(0);
}
