/**
 * Load generator child process (spawned by bench/hub-latency.ts and bench/hub-memory.ts).
 *
 * `connect` opens visitor/agent pairs (or idle connections) to one server; `run` offers an
 * open-loop schedule: message k is due at start + k/rate, whether or not earlier ones have
 * arrived, and a 1 ms timer sends whatever is due. Latency is measured from the visitor's
 * send to the agent's receipt, both in this process, on performance.now(). How far sends ran
 * behind the schedule is recorded separately (`lag`), so that a generator starved of CPU shows
 * up as such instead of silently lowering the offered load.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { newHistogram } from './histogram.js';
import { serve } from './child-rpc.js';
import { driverFor, type Kind, type Pair, type Idle } from './drivers.js';

export interface ConnectParams {
  /** Name of the system under test: a generator can hold connections to several at once. */
  system: string;
  kind: Kind;
  host: string;
  /** Nodes of a cluster (see DriverOptions.hosts). */
  hosts?: string[];
  path: string;
  localAddress?: string;
  mode: 'pairs' | 'idle';
  /** Pairs (mode pairs) or connections (mode idle) to open. */
  count: number;
  /** First pair / connection index, so that ids are unique across generators. */
  offset: number;
  /** Connections being set up at once. */
  concurrency: number;
  /** Setup timeout per pair / connection; a timed-out one is retried once. @defaultValue 120,000 ms */
  timeoutMs?: number;
  /** See SystemSpec.appPings. @defaultValue true */
  appPings?: boolean;
}
export interface ConnectResult { connected: number; failed: number; retried?: number; ms: number; firstError?: string }

export interface RunParams { system: string; rate: number; warmupMs: number; durationMs: number; drainMs: number }
export interface RunResult {
  offered_per_s: number;
  sent: number;
  received: number;
  acks: number;
  durationMs: number;
  /** hdr histograms (µs), compressed base64. */
  latency: string;
  ack: string;
  lag: string;
  generator_cpu_pct: number;
  /** The generator's event-loop utilisation over the run, % (near 100: it, not the server, is the queue). */
  generator_elu_pct: number;
  /** Longest stall of the generator's event loop during the run, ms (GC pauses show here). */
  generator_stall_max_ms: number;
  /** Unexpected closes and error frames during this run, by kind (at most 20 kinds). */
  trouble: Record<string, number>;
}

const PAD = 'x'.repeat(48);
const MAX_PER_TICK = 5_000;

interface Held { pairs: Pair[]; idles: Idle[]; trouble: Record<string, number> }
const systems = new Map<string, Held>();
const held = (name: string): Held => {
  let h = systems.get(name);
  if (!h) systems.set(name, (h = { pairs: [], idles: [], trouble: {} }));
  return h;
};

// Measurement window, in performance.now() ms: only messages sent inside it count.
let winStart = Infinity;
let winEnd = -Infinity;
let received = 0;
let acks = 0;
let latency = newHistogram();
let ackHist = newHistogram();

function onMessage(body: string): void {
  const now = performance.now();
  const t = parseFloat(body);
  if (t < winStart || t >= winEnd) return;
  received++;
  latency.recordValue(Math.max(1, Math.round((now - t) * 1000)));
}

/** Troubles are counted per system: a close on one system's sockets must not be blamed on the one being measured. */
function troubleCounter(h: Held): (what: string) => void {
  return (what) => {
    if (h.trouble[what] !== undefined || Object.keys(h.trouble).length < 20) h.trouble[what] = (h.trouble[what] ?? 0) + 1;
  };
}

function onAck(cid: string): void {
  const now = performance.now();
  const t = parseFloat(cid);
  if (t < winStart || t >= winEnd) return;
  acks++;
  ackHist.recordValue(Math.max(1, Math.round((now - t) * 1000)));
}

async function connect(p: ConnectParams): Promise<ConnectResult> {
  const t0 = performance.now();
  const h = held(p.system);
  const { pairs, idles } = h;
  const onTrouble = troubleCounter(h);
  const driver = driverFor(p.kind, { host: p.host, path: p.path, onMessage, onAck, onTrouble, timeoutMs: p.timeoutMs ?? 120_000, ...(p.hosts ? { hosts: p.hosts } : {}), ...(p.localAddress ? { localAddress: p.localAddress } : {}), ...(p.appPings === false ? { appPings: false } : {}) });
  let next = 0;
  let failed = 0;
  let retried = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < p.count) {
      const i = p.offset + next++;
      // One retry: on a machine shared with other benchmarks a handshake can stall for a while.
      for (let attempt = 1; attempt <= 2; attempt++) {
        try {
          if (p.mode === 'pairs') pairs.push(await driver.pair(i));
          else idles.push(await driver.idle(i));
          if (attempt > 1) retried++;
          break;
        } catch (err) {
          if (attempt < 2) continue;
          failed++;
          firstError ??= err instanceof Error ? err.message : String(err);
          // A failing server fails every connection: stop early instead of waiting out each timeout.
          if (failed >= 20) next = p.count;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(p.concurrency, p.count) }, worker));
  return { connected: p.mode === 'pairs' ? pairs.length : idles.length, failed, retried, ms: performance.now() - t0, ...(firstError ? { firstError } : {}) };
}

async function run(p: RunParams): Promise<RunResult> {
  const h = systems.get(p.system);
  const pairs = h?.pairs ?? [];
  if (!h || pairs.length === 0) throw new Error(`run before connect (${p.system})`);
  // A generator holds thousands of client sockets: a major GC takes it off the CPU for hundreds of
  // ms, which shows as latency of whichever system is being measured. Collect before each run
  // (the parent starts generators with --expose-gc), so that its windows rarely contain one.
  (globalThis as { gc?: () => void }).gc?.();
  latency = newHistogram();
  ackHist = newHistogram();
  const lag = newHistogram();
  received = 0;
  acks = 0;
  // Whatever happened to this system since its last run (e.g. closes while others were measured) is reported with this run.
  const troubleBefore = { ...h.trouble };
  const start = performance.now();
  winStart = start + p.warmupMs;
  winEnd = winStart + p.durationMs;
  const end = winEnd;
  const perMs = p.rate / 1000;
  let k = 0;
  let sent = 0;
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const stalls = monitorEventLoopDelay({ resolution: 10 });
  stalls.enable();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const due = Math.floor((Math.min(now, end) - start) * perMs);
      let n = 0;
      while (k < due && n++ < MAX_PER_TICK) {
        const scheduled = start + k / perMs;
        const t = performance.now();
        const ts = t.toFixed(3);
        pairs[k % pairs.length]!.send(`${ts}.${k}`, `${ts} ${PAD}`);
        // The window is judged on the actual send time, exactly as onMessage judges it.
        if (t >= winStart && t < winEnd) sent++;
        if (scheduled >= winStart) lag.recordValue(Math.max(1, Math.round((t - scheduled) * 1000)));
        k++;
      }
      if (now >= end && k >= due) { clearInterval(timer); resolve(); }
    };
    const timer = setInterval(tick, 1);
  });
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0).utilization * 100;
  stalls.disable();
  const cpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - start)) * 100;
  const drainUntil = performance.now() + p.drainMs;
  while (received < sent && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 20));
  winStart = Infinity;
  winEnd = -Infinity;
  return {
    offered_per_s: p.rate,
    sent,
    received,
    acks,
    durationMs: p.durationMs,
    latency: encodeIntoCompressedBase64(latency),
    ack: encodeIntoCompressedBase64(ackHist),
    lag: encodeIntoCompressedBase64(lag),
    generator_cpu_pct: cpuPct,
    generator_elu_pct: elu,
    generator_stall_max_ms: stalls.max / 1e6,
    trouble: Object.fromEntries(Object.entries(h.trouble).map(([k, v]) => [k, v - (troubleBefore[k] ?? 0)]).filter(([, v]) => (v as number) > 0)),
  };
}

function close(name: string): void {
  const h = systems.get(name);
  if (!h) return;
  for (const p of h.pairs) p.close();
  for (const c of h.idles) c.close();
  systems.delete(name);
}

function closeAll(): void {
  for (const name of [...systems.keys()]) close(name);
}

serve(
  {
    connect: (p: ConnectParams) => connect(p),
    run: (p: RunParams) => run(p),
    disconnect: (p: { system: string }) => { close(p.system); return null; },
  },
  { pid: process.pid },
  () => closeAll(),
);
