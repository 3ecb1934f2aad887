/**
 * The desk's one periodic sweep: closes idle conversations, evicts closed ones from memory
 * after closedRetentionMs, repairs queues that missed a write, closes queues left empty (for
 * queueIdleCloseMs), and dispatches again where
 * someone waits (decline cooldowns end with time, not with an event).
 */
import type { Conversations } from './conversations.js';
import type { DeskRuntime } from './runtime.js';

export function sweep(rt: DeskRuntime, conversations: Conversations): void {
  if (rt.status !== 'open') return;
  const now = Date.now();
  const idle = rt.o.idleCloseMs;
  for (const conv of rt.convs.values()) {
    if (conv.state === 'closed') {
      if (now - (conv.closedAt ?? now) >= rt.o.closedRetentionMs) rt.convs.delete(conv.id);
    } else if (idle > 0 && (conv.state === 'assigned' || conv.state === 'bot') && now - conv.lastActivityAt >= idle) {
      conversations.close(conv, 'idle', 'idle timeout').catch((err: unknown) => rt.error(err));
    }
  }
  rt.queues.repair();
  if (rt.o.queueIdleCloseMs > 0) rt.queues.closeIdle(now, rt.o.queueIdleCloseMs);
  for (const tenant of rt.queues.tenants()) if (rt.queues.size(tenant) > 0) rt.scheduler.markDispatch(tenant);
  rt.scheduler.runDispatch();
}
