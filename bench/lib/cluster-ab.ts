/**
 * `cluster --ab`: node CPU per cross-node message, the linked Redis path against the session-3
 * path, in one run. Both Kefu clusters are up at once (same redis-server, same generators) with a
 * few connections each, and take turns: A, B, A, B... at a rate neither saturates at, so that the
 * CPU figure is the cost of a message and not of a backlog. CPU is divided by messages delivered
 * in the window. On a shared machine the alternation spreads other engineers' load over both.
 */
import type { Bench } from './hub-harness.js';
import { connectStaged } from './cluster-connect.js';

export interface AbOptions { pairs: number; rate: number; rounds: number; windowMs: number; keys: string[] }
interface Io { syscr: number; syscw: number }
interface Cpu { user: number; system: number }
export interface AbRow { system: string; round: number; node_syscalls_per_delivered: number; node_user_us: number; node_sys_us: number; offered_per_s: number; achieved_per_s: number; lost: number; p50_ms: number; p99_ms: number; nodes_cpu_us_per_delivered: number; generators_cpu_us_per_msg: number; nodes_cpu_pct: number }

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function runAb(b: Bench, o: AbOptions): Promise<{ rows: AbRow[]; summary: Record<string, Record<string, number>> }> {
  for (const key of o.keys) {
    const c = await connectStaged(b, key, { pairs: o.pairs, chunkPairs: o.pairs, concurrency: 50, budgetMs: 60_000 });
    if (c.pairs < o.pairs) throw new Error(`${key}: only ${c.pairs} of ${o.pairs} pairs connected`);
  }
  const rows: AbRow[] = [];
  const gens = b.gens.length;
  for (let round = 1; round <= o.rounds; round++) {
    // Alternate which variant goes first, so neither always follows the other.
    const order = round % 2 ? o.keys : [...o.keys].reverse();
    for (const key of order) {
      const nodes = b.servers.get(key)!.children;
      const sample = async (): Promise<number> => (await Promise.all(nodes.map((n) => n.call<Io>('io')))).reduce((a, x) => a + x.syscr + x.syscw, 0);
      const cpuNow = async (): Promise<Cpu> => (await Promise.all(nodes.map((n) => n.call<Cpu>('cpu')))).reduce((a, x) => ({ user: a.user + x.user, system: a.system + x.system }), { user: 0, system: 0 });
      let io0 = 0;
      let io1 = 0;
      let c0: Cpu = { user: 0, system: 0 };
      let c1: Cpu = { user: 0, system: 0 };
      const s = await b.step(key, o.rate, 500, o.windowMs, 1_000, {
        onWindowStart: async () => { [io0, c0] = await Promise.all([sample(), cpuNow()]); },
        onWindowEnd: async () => { [io1, c1] = await Promise.all([sample(), cpuNow()]); },
      });
      const per = (us: number): number => Math.round((us / Math.max(1, s.received)) * 10) / 10;
      const cpuUs = s.server_cpu_us_per_msg * o.rate * (o.windowMs / 1000);
      const row: AbRow = {
        system: key, round, node_user_us: per(c1.user - c0.user), node_sys_us: per(c1.system - c0.system), node_syscalls_per_delivered: Math.round(((io1 - io0) / Math.max(1, s.received)) * 100) / 100, offered_per_s: o.rate, achieved_per_s: s.achieved_per_s, lost: s.lost, p50_ms: s.p50_ms, p99_ms: s.p99_ms,
        nodes_cpu_us_per_delivered: Math.round((cpuUs / Math.max(1, s.received)) * 10) / 10,
        generators_cpu_us_per_msg: Math.round(((s.generator_cpu_pct / 100) * gens * 1e6 / o.rate) * 10) / 10,
        nodes_cpu_pct: s.server_cpu_pct,
      };
      rows.push(row);
      process.stderr.write(`${key} round ${round}: ${row.nodes_cpu_us_per_delivered} µs node CPU and ${row.node_syscalls_per_delivered} node syscalls per delivered message, ${row.achieved_per_s}/s, p99 ${row.p99_ms} ms\n`);
    }
  }
  const summary: Record<string, Record<string, number>> = {};
  for (const key of o.keys) {
    const mine = rows.filter((r) => r.system === key);
    summary[key] = {
      node_user_us_per_msg_median: Math.round(median(mine.map((r) => r.node_user_us)) * 10) / 10,
      node_sys_us_per_msg_median: Math.round(median(mine.map((r) => r.node_sys_us)) * 10) / 10,
      node_syscalls_per_msg_median: Math.round(median(mine.map((r) => r.node_syscalls_per_delivered)) * 100) / 100,
      nodes_cpu_us_per_msg_median: Math.round(median(mine.map((r) => r.nodes_cpu_us_per_delivered)) * 10) / 10,
      generators_cpu_us_per_msg_median: Math.round(median(mine.map((r) => r.generators_cpu_us_per_msg)) * 10) / 10,
      p99_ms_median: Math.round(median(mine.map((r) => r.p99_ms)) * 1000) / 1000,
      lost: mine.reduce((a, r) => a + r.lost, 0),
    };
  }
  return { rows, summary };
}
