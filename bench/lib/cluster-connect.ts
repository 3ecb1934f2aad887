/**
 * Opening a cluster's pairs in chunks under a time budget (cluster bench). The hub harness's
 * `connect` opens everything in one call, which on a loaded 2-core machine can take longer
 * than a session has; in chunks, the bench stops at the budget and reports the count it
 * reached, which is what "the largest connection count it holds within the time budget" means.
 *
 * Pair ids stay unique across chunks and generators (offset = pairs already opened + the
 * generator's share), so Socket.IO rooms `c<i>` never hold two pairs.
 */
import type { Bench } from './hub-harness.js';
import type { ConnectParams, ConnectResult } from './load-generator.js';

export interface StagedConnectOptions {
  /** Pairs wanted in total. */
  pairs: number;
  /** Pairs opened per chunk, over all generators. */
  chunkPairs: number;
  /** Connections being set up at once per generator. */
  concurrency: number;
  /** No new chunk starts after this much time; a running chunk finishes. */
  budgetMs: number;
  /** Called after each chunk with the pairs open so far. */
  onChunk?: (pairsOpen: number, elapsedMs: number) => void;
}

export interface StagedConnectResult {
  pairs: number;
  ms: number;
  /** Why the ramp stopped before `pairs`, if it did. */
  stopped?: string;
}

export async function connectStaged(b: Bench, key: string, o: StagedConnectOptions): Promise<StagedConnectResult> {
  const system = b.servers.get(key);
  if (!system) throw new Error(`no system ${key}`);
  const { spec, children } = system;
  const hosts = children.map((c) => `ws://127.0.0.1:${c.ready.port}`);
  const gens = b.gens;
  // The generator reports the pairs it holds in total, not those of this call.
  const heldBefore = gens.map(() => 0);
  const t0 = performance.now();
  let open = 0;
  while (open < o.pairs) {
    const elapsed = performance.now() - t0;
    if (elapsed >= o.budgetMs) return { pairs: open, ms: elapsed, stopped: `time budget of ${Math.round(o.budgetMs / 1000)} s reached` };
    const n = Math.min(o.chunkPairs, o.pairs - open);
    const per = Math.ceil(n / gens.length);
    // A chunk may run past the budget; it still has to end within the remaining time plus a margin.
    const timeoutMs = Math.max(120_000, o.budgetMs - elapsed + 300_000);
    const results = await Promise.all(gens.map((g, gi) => {
      const count = Math.max(0, Math.min(per, n - gi * per));
      const params: ConnectParams = {
        system: key, kind: spec.kind, host: hosts[0]!, path: children[0]!.ready.path, mode: 'pairs', count,
        offset: open + gi * per, concurrency: o.concurrency, localAddress: `127.0.0.${11 + gi}`,
        ...(hosts.length > 1 ? { hosts } : {}),
        ...(spec.appPings === false ? { appPings: false } : {}),
      };
      return count === 0 ? Promise.resolve<ConnectResult>({ connected: heldBefore[gi]!, failed: 0, ms: 0 }) : g.call<ConnectResult>('connect', params, timeoutMs);
    }));
    let added = 0;
    results.forEach((r, gi) => { added += r.connected - heldBefore[gi]!; heldBefore[gi] = r.connected; });
    open += added;
    o.onChunk?.(open, performance.now() - t0);
    const failed = results.reduce((s, r) => s + r.failed, 0);
    if (failed > 0) {
      return { pairs: open, ms: performance.now() - t0, stopped: `${failed} pairs failed to connect; first error: ${results.find((r) => r.firstError)?.firstError ?? '?'}` };
    }
  }
  return { pairs: open, ms: performance.now() - t0 };
}
