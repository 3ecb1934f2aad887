/**
 * How a step search judges one rate from its windows (hub-latency, cluster): the median of the
 * windows' p99s against the limit, so that one window in which a generator stalled or the VM
 * paused does not decide it, and at most 0.1% of the messages sent in all windows missing.
 */
import { median } from './report.js';
import type { StepResult } from './hub-harness.js';

type Window = Pick<StepResult, 'p50_ms' | 'p99_ms' | 'p999_ms' | 'achieved_per_s' | 'lost' | 'sent' | 'server_cpu_pct' | 'host_steal_pct'>;

export interface JudgedStep {
  rate: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  achieved_per_s: number;
  /** Missing after the drain, summed over the windows. */
  lost: number;
  /** Server (a cluster's nodes summed) CPU, % of one core, median of the windows. */
  cpu_pct: number;
  pass: boolean;
  p99_windows_ms: number[];
  /** Each window's machine-wide CPU time stolen by the hypervisor, % (null: unknown). */
  steal_pct_windows: Array<number | null>;
}

export function judgeStep(rate: number, windows: Window[], p99LimitMs: number): JudgedStep {
  const mid = (f: (w: Window) => number): number => median(windows.map(f));
  const lost = windows.reduce((a, w) => a + w.lost, 0);
  const p99 = mid((w) => w.p99_ms);
  return {
    rate, p50_ms: mid((w) => w.p50_ms), p99_ms: p99, p999_ms: mid((w) => w.p999_ms), achieved_per_s: mid((w) => w.achieved_per_s),
    lost, cpu_pct: mid((w) => w.server_cpu_pct),
    pass: p99 <= p99LimitMs && lost <= windows.reduce((a, w) => a + w.sent, 0) * 0.001,
    p99_windows_ms: windows.map((w) => w.p99_ms),
    steal_pct_windows: windows.map((w) => w.host_steal_pct),
  };
}
