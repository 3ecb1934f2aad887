/**
 * RPC handlers every bench server child offers: CPU use over a window, and memory after a
 * forced GC (the server runs with --expose-gc for hub-memory).
 */
import { performance, PerformanceObserver, monitorEventLoopDelay, constants, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { round } from './report.js';

/**
 * `elu_pct`: how busy the main thread's event loop was (100 = never idle: frames queue up).
 * `gc_*`: the window's garbage-collection pauses of the main thread (`gc_minor_ms`: scavenges;
 * `gc_major_ms`: mark-compacts with the incremental marking steps that precede them), the longest one,
 * and `loop_delay_max_ms`: the longest the event loop was late (sampled every 10 ms), whatever the cause.
 * `steal_pct`: the share of the whole machine's CPU time that the hypervisor gave to other guests
 * during the window (/proc/stat's steal; null where there is no /proc/stat): a virtual CPU taken
 * away for milliseconds delays every process on it, whatever the system under test does.
 */
export interface CpuWindow {
  cpu_pct: number; cpu_us: number; elu_pct: number; rss_mb: number; heap_mb: number;
  gc_minor_ms: number; gc_major_ms: number; gc_max_ms: number; loop_delay_max_ms: number;
  steal_pct: number | null;
}
export interface MemSample { rss: number; heapUsed: number; external: number; arrayBuffers: number; gc: boolean }

let window: { usage: NodeJS.CpuUsage; at: bigint; elu: EventLoopUtilization; delay: IntervalHistogram; cpu: CpuTimes | undefined } | undefined;

/** The machine's CPU time so far, in clock ticks: all of it and the stolen part (/proc/stat's first line). */
interface CpuTimes { total: number; steal: number }
function machineCpu(): CpuTimes | undefined {
  try {
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is in user's)
    const f = readFileSync('/proc/stat', 'utf8').slice(0, 200).split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    return f.length === 8 && f.every(Number.isFinite) ? { total: f.reduce((a, b) => a + b, 0), steal: f[7]! } : undefined;
  } catch {
    return undefined;
  }
}

/** GC pauses of the current window, summed by kind (PerformanceObserver 'gc' entries). */
const gcWindow = { minor: 0, major: 0, max: 0 };
const gcObserver = new PerformanceObserver((list) => {
  if (!window) return;
  for (const e of list.getEntries()) {
    const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gcWindow.minor += e.duration;
    else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR || kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) gcWindow.major += e.duration;
    if (e.duration > gcWindow.max) gcWindow.max = e.duration;
  }
});
gcObserver.observe({ entryTypes: ['gc'] });

const gcFn = (globalThis as { gc?: () => void }).gc;

async function settle(): Promise<boolean> {
  if (!gcFn) return false;
  // Several passes with turns of the event loop between them, so weak refs and finalizers run.
  for (let i = 0; i < 4; i++) {
    gcFn();
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

export const statsHandlers = {
  'cpu-start': (): null => {
    // 10 ms: the sample timer itself wakes the server (session 8's three runs used 1 ms: 1,000
    // wakeups a second in every window). A stall shows whole in the lateness of the sample due
    // in it; only stalls shorter than the period can be missed.
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    Object.assign(gcWindow, { minor: 0, major: 0, max: 0 });
    window = { usage: process.cpuUsage(), at: process.hrtime.bigint(), elu: performance.eventLoopUtilization(), delay, cpu: machineCpu() };
    return null;
  },
  'cpu-stop': (): CpuWindow => {
    if (!window) throw new Error('cpu-stop without cpu-start');
    const u = process.cpuUsage(window.usage);
    const elapsedUs = Number(process.hrtime.bigint() - window.at) / 1000;
    const elu = performance.eventLoopUtilization(window.elu).utilization;
    window.delay.disable();
    const loopDelayMaxMs = window.delay.max / 1e6;
    const [c0, c1] = [window.cpu, machineCpu()];
    window = undefined;
    const m = process.memoryUsage();
    return {
      cpu_pct: ((u.user + u.system) / elapsedUs) * 100, cpu_us: u.user + u.system, elu_pct: elu * 100, rss_mb: m.rss / 2 ** 20, heap_mb: m.heapUsed / 2 ** 20,
      gc_minor_ms: round(gcWindow.minor, 1), gc_major_ms: round(gcWindow.major, 1), gc_max_ms: round(gcWindow.max, 1),
      loop_delay_max_ms: round(loopDelayMaxMs, 1),
      steal_pct: c0 && c1 && c1.total > c0.total ? round(((c1.steal - c0.steal) / (c1.total - c0.total)) * 100, 1) : null,
    };
  },
  mem: async (): Promise<MemSample> => {
    const gc = await settle();
    const m = process.memoryUsage();
    return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, gc };
  },
};
