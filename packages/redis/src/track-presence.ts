/**
 * Feeds a hub's agent presence into a RedisAgentLedger, so that every node can ask who is online
 * anywhere in the cluster (`ledger.onlineAgents`, `ledger.isOnline`). The hub's own `isOnline`
 * stays node-local by design; this is the cluster-wide view.
 */
import type { Hub } from '@kefu/core';
import type { RedisAgentLedger } from './redis-agent-ledger.js';

/**
 * An agent is announced when its first socket on this node opens (it stays announced while away:
 * it is connected) and withdrawn when its last socket here closes. Ledger failures (Redis down) go
 * to `onError`; the ledger's refresh timer restores fresh entries once Redis is back, and a node
 * that dies simply stops refreshing. Returns a function that stops tracking.
 */
export function trackPresence(hub: Hub, ledger: RedisAgentLedger, onError: (err: Error) => void = (err) => hub.emit('error', err)): () => void {
  const listener = ({ tenant, user, status }: { tenant: string; user: { id: string }; status: string }): void => {
    const call = status === 'offline' ? ledger.offline(tenant, user.id) : ledger.online(tenant, user.id);
    call.catch((err: unknown) => onError(err instanceof Error ? err : new Error(String(err))));
  };
  hub.on('presence', listener);
  return () => { hub.off('presence', listener); };
}
