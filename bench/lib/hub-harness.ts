/**
 * The systems under test for the hub benches: one server child per system (raw ws, Socket.IO,
 * the Kefu hub...) and a shared set of load-generator children, each bound to its own
 * 127.0.0.x source address. Several systems can be up at once so that their measurements can
 * be interleaved in time: on a shared, noisy machine that is fairer than one after the other.
 * `withBench` guarantees every child is stopped afterwards, even when a step throws.
 */
import { decodeFromCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { Child, stopAll } from './child.js';
import type { Kind } from './drivers.js';
import type { ConnectParams, ConnectResult, RunParams, RunResult } from './load-generator.js';
import { newHistogram } from './histogram.js';
import { round } from './report.js';
import type { CpuWindow, MemSample } from './server-stats.js';

export interface SystemSpec {
  /** Key in the results, e.g. "raw_ws". */
  key: string;
  /** Client protocol the generators speak. */
  kind: Kind;
  /** Row label, e.g. "kefu (level)". */
  label: string;
  /** Server script, run as a child. */
  script: URL;
  args?: string[];
  execArgv?: string[];
  /** Server processes of this system (a cluster sharing Redis); pairs span two nodes. @defaultValue 1 */
  nodes?: number;
  /**
   * Kefu clients send each socket an application `ping` a minute, as a live client does against
   * the hub's idle timeout; false when the servers run without one (idleTimeoutMs 0): at 100,000
   * sockets those pings are 1,667 frames/s that the peers do not carry. @defaultValue true
   */
  appPings?: boolean;
}

export interface ServerReady { port: number; path: string; [k: string]: unknown }

export interface StepResult {
  offered_per_s: number;
  achieved_per_s: number;
  sent: number;
  received: number;
  lost: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  ack_p50_ms: number | null;
  ack_p99_ms: number | null;
  /** How late the generators sent, p99: large values mean the generators, not the server, fell behind. */
  send_lag_p99_ms: number;
  generator_cpu_pct: number;
  /** The busiest generator's event-loop utilisation, %. */
  generator_elu_pct: number;
  /** The longest event-loop stall of any generator during the step, ms. */
  generator_stall_max_ms: number;
  server_cpu_pct: number;
  /** The server's main-thread event-loop utilisation in the window, % (max over a cluster's nodes). */
  server_elu_pct: number;
  /**
   * Server CPU time per message offered in the window, µs: what one relayed message costs,
   * and much less sensitive to other load on the machine than latency is.
   */
  server_cpu_us_per_msg: number;
  server_rss_mb: number;
  /** Main-thread scavenge pauses in the window, ms (summed over a cluster's nodes). */
  server_gc_minor_ms: number;
  /** Main-thread mark-compact pauses and incremental marking steps in the window, ms. */
  server_gc_major_ms: number;
  /** The longest single GC pause in the window, ms. */
  server_gc_max_ms: number;
  /** The longest the server's event loop ran late in the window (sampled every 10 ms), ms. */
  server_loop_delay_max_ms: number;
  /** The machine's CPU time stolen by the hypervisor in the window, % (null: unknown). */
  host_steal_pct: number | null;
  /** Unexpected closes and error frames seen by the clients during the step. */
  trouble: Record<string, number>;
  /** The merged latency histogram (µs), for merging steps. */
  histogram: Histogram;
}

/** Called around a step's measured window (e.g. to read a shared Redis's CPU). */
export interface StepHooks { onWindowStart?: () => unknown; onWindowEnd?: () => unknown }

const ms = (us: number): number => Math.round(us) / 1000;
const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

interface Running { spec: SystemSpec; children: Array<Child<ServerReady>> }

export class Bench {
  /**
   * Source addresses of this run's generators: 127.a.b.11, .12, ... with a, b random. A socket
   * bound to a source address before connecting takes its port from that address's ephemeral
   * range (about 28,000 ports) whatever the destination, shared by every process on the machine:
   * another bench using the same 127.0.0.x would exhaust it.
   */
  readonly sourceNet = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}`;

  private constructor(readonly servers: Map<string, Running>, readonly gens: Child[]) {}

  /** Starts one server per spec and `generators` load generators. Stops what it started if any start fails. */
  static async start(specs: SystemSpec[], generators: number): Promise<Bench> {
    const servers = new Map<string, Running>();
    const gens: Child[] = [];
    try {
      for (const spec of specs) {
        const running: Running = { spec, children: [] };
        servers.set(spec.key, running);
        for (let n = 0; n < (spec.nodes ?? 1); n++) {
          running.children.push(await Child.start<ServerReady>(spec.script, spec.args ?? [], { name: `${spec.label} server ${n}`, execArgv: spec.execArgv ?? [] }));
        }
      }
      for (let g = 0; g < generators; g++) {
        // --expose-gc: each run starts from a collected heap (load-generator.ts), so that a generator's
        // own major GC, with thousands of client sockets on its heap, does not land in a window.
        gens.push(await Child.start(new URL('./load-generator.ts', import.meta.url), [], { name: `generator ${g}`, execArgv: ['--expose-gc'] }));
      }
    } catch (err) {
      await stopAll([...gens, ...[...servers.values()].flatMap((s) => s.children)]);
      throw err;
    }
    return new Bench(servers, gens);
  }

  private server(key: string): Running {
    const s = this.servers.get(key);
    if (!s) throw new Error(`no system ${key}`);
    return s;
  }

  label(key: string): string { return this.server(key).spec.label; }

  /** Opens `total` pairs or idle connections to one system, split evenly over the generators. */
  async connect(key: string, mode: 'pairs' | 'idle', total: number, concurrency: number, timeoutMs = 240_000): Promise<{ connected: number; ms: number }> {
    const { spec, children } = this.server(key);
    const hosts = children.map((c) => `ws://127.0.0.1:${c.ready.port}`);
    const t0 = performance.now();
    const per = Math.ceil(total / this.gens.length);
    const results = await Promise.all(this.gens.map((g, gi) => {
      const count = Math.max(0, Math.min(per, total - gi * per));
      const params: ConnectParams = {
        system: key, kind: spec.kind, host: hosts[0]!, path: children[0]!.ready.path, mode, count, offset: gi * per, concurrency,
        localAddress: `${this.sourceNet}.${11 + gi}`,
        ...(hosts.length > 1 ? { hosts } : {}),
        ...(spec.appPings === false ? { appPings: false } : {}),
      };
      return g.call<ConnectResult>('connect', params, timeoutMs);
    }));
    const connected = results.reduce((s, r) => s + r.connected, 0);
    const failed = results.reduce((s, r) => s + r.failed, 0);
    const retried = results.reduce((s, r) => s + (r.retried ?? 0), 0);
    if (retried > 0) process.stderr.write(`${spec.label}: ${retried} ${mode} needed a second attempt to connect\n`);
    if (failed > 0) throw new Error(`${spec.label}: ${failed} of ${total} ${mode} failed to connect; first error: ${results.find((r) => r.firstError)?.firstError}`);
    return { connected, ms: performance.now() - t0 };
  }

  /** Closes one system's client connections (its server keeps running). */
  async disconnect(key: string): Promise<void> {
    await Promise.all(this.gens.map((g) => g.call('disconnect', { system: key })));
  }

  /** One open-loop step at `rate` msg/s in total against one system. */
  async step(key: string, rate: number, warmupMs: number, durationMs: number, drainMs = 3_000, hooks?: StepHooks): Promise<StepResult> {
    const nodes = this.server(key).children;
    const per: RunParams = { system: key, rate: rate / this.gens.length, warmupMs, durationMs, drainMs };
    const running = Promise.all(this.gens.map((g) => g.call<RunResult>('run', per, warmupMs + durationMs + drainMs + 30_000)));
    // The server's CPU is read over the measured window only (the parent's timers are close enough).
    await sleep(warmupMs);
    await Promise.all(nodes.map((n) => n.call('cpu-start')));
    await hooks?.onWindowStart?.();
    await sleep(durationMs);
    const cpus = await Promise.all(nodes.map((n) => n.call<CpuWindow>('cpu-stop')));
    await hooks?.onWindowEnd?.();
    // A cluster's CPU is the sum over its nodes (% of one core), its RSS the total.
    const cpu = { cpu_pct: cpus.reduce((a, c) => a + c.cpu_pct, 0), cpu_us: cpus.reduce((a, c) => a + c.cpu_us, 0), rss_mb: cpus.reduce((a, c) => a + c.rss_mb, 0) };
    const runs = await running;
    const lat = newHistogram();
    const ack = newHistogram();
    const lag = newHistogram();
    for (const r of runs) {
      lat.add(decodeFromCompressedBase64(r.latency));
      ack.add(decodeFromCompressedBase64(r.ack));
      lag.add(decodeFromCompressedBase64(r.lag));
    }
    const trouble: Record<string, number> = {};
    for (const r of runs) for (const [k, v] of Object.entries(r.trouble)) trouble[k] = (trouble[k] ?? 0) + v;
    const sent = runs.reduce((s, r) => s + r.sent, 0);
    const received = runs.reduce((s, r) => s + r.received, 0);
    return {
      offered_per_s: rate,
      achieved_per_s: Math.round(received / (durationMs / 1000)),
      sent,
      received,
      lost: sent - received,
      p50_ms: ms(lat.getValueAtPercentile(50)),
      p99_ms: ms(lat.getValueAtPercentile(99)),
      p999_ms: ms(lat.getValueAtPercentile(99.9)),
      max_ms: ms(lat.maxValue),
      ack_p50_ms: ack.totalCount > 0 ? ms(ack.getValueAtPercentile(50)) : null,
      ack_p99_ms: ack.totalCount > 0 ? ms(ack.getValueAtPercentile(99)) : null,
      send_lag_p99_ms: ms(lag.getValueAtPercentile(99)),
      generator_cpu_pct: Math.round(runs.reduce((s, r) => s + r.generator_cpu_pct, 0) / runs.length),
      generator_elu_pct: Math.round(Math.max(...runs.map((r) => r.generator_elu_pct))),
      generator_stall_max_ms: Math.round(Math.max(...runs.map((r) => r.generator_stall_max_ms))),
      server_cpu_pct: Math.round(cpu.cpu_pct),
      server_elu_pct: Math.round(Math.max(...cpus.map((c) => c.elu_pct))),
      server_cpu_us_per_msg: Math.round((cpu.cpu_us / (rate * (durationMs / 1000))) * 10) / 10,
      server_rss_mb: Math.round(cpu.rss_mb),
      // GC pauses summed over a cluster's nodes; the longest pause and loop delay of any node.
      server_gc_minor_ms: round(cpus.reduce((a, c) => a + c.gc_minor_ms, 0), 1),
      server_gc_major_ms: round(cpus.reduce((a, c) => a + c.gc_major_ms, 0), 1),
      server_gc_max_ms: Math.max(...cpus.map((c) => c.gc_max_ms)),
      server_loop_delay_max_ms: Math.max(...cpus.map((c) => c.loop_delay_max_ms)),
      // One machine: every node reads the same counters.
      host_steal_pct: cpus.find((c) => c.steal_pct !== null)?.steal_pct ?? null,
      trouble,
      histogram: lat,
    };
  }

  /** The server's memory after a forced GC (the server must run with --expose-gc); a cluster's summed over its nodes. */
  async serverMem(key: string): Promise<MemSample> {
    const all = await Promise.all(this.server(key).children.map((c) => c.call<MemSample>('mem', {}, 60_000)));
    return {
      rss: all.reduce((a, m) => a + m.rss, 0),
      heapUsed: all.reduce((a, m) => a + m.heapUsed, 0),
      external: all.reduce((a, m) => a + m.external, 0),
      arrayBuffers: all.reduce((a, m) => a + m.arrayBuffers, 0),
      gc: all.every((m) => m.gc),
    };
  }

  async stop(): Promise<void> {
    await stopAll([...this.gens, ...[...this.servers.values()].flatMap((s) => s.children)]);
  }
}

/** Starts the servers and generators, runs `fn`, and always stops them all. */
export async function withBench<T>(specs: SystemSpec[], generators: number, fn: (bench: Bench) => Promise<T>): Promise<T> {
  const bench = await Bench.start(specs, generators);
  try {
    return await fn(bench);
  } finally {
    await bench.stop();
  }
}
