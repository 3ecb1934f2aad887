/**
 * RPC handlers every bench server child offers: CPU use over a window, and memory after a
 * forced GC (the server runs with --expose-gc for hub-memory).
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** `elu_pct`: how busy the main thread's event loop was (100 = never idle: frames queue up). */
export interface CpuWindow { cpu_pct: number; cpu_us: number; elu_pct: number; rss_mb: number; heap_mb: number }
export interface MemSample { rss: number; heapUsed: number; external: number; arrayBuffers: number; gc: boolean }

let window: { usage: NodeJS.CpuUsage; at: bigint; elu: EventLoopUtilization } | undefined;

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
    window = { usage: process.cpuUsage(), at: process.hrtime.bigint(), elu: performance.eventLoopUtilization() };
    return null;
  },
  'cpu-stop': (): CpuWindow => {
    if (!window) throw new Error('cpu-stop without cpu-start');
    const u = process.cpuUsage(window.usage);
    const elapsedUs = Number(process.hrtime.bigint() - window.at) / 1000;
    const elu = performance.eventLoopUtilization(window.elu).utilization;
    window = undefined;
    const m = process.memoryUsage();
    return { cpu_pct: ((u.user + u.system) / elapsedUs) * 100, cpu_us: u.user + u.system, elu_pct: elu * 100, rss_mb: m.rss / 2 ** 20, heap_mb: m.heapUsed / 2 ** 20 };
  },
  mem: async (): Promise<MemSample> => {
    const gc = await settle();
    const m = process.memoryUsage();
    return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, gc };
  },
};
