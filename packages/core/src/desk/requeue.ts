/** Back to the queue at its head: an agent gone after the grace period, or a transfer to a team. */
import type { DeskRuntime } from './runtime.js';
import type { DeskConversation } from './types.js';

/**
 * assigned -> waiting, ahead of everyone (VIPs included: the queue priority is HEAD_PRIORITY,
 * and among requeued ones the earlier requeue goes first). Returns the queue write, which the
 * caller awaits with the conversation's own store write.
 */
export function requeueAtHead(rt: DeskRuntime, conv: DeskConversation, reason: 'requeue' | 'transfer'): Promise<void> {
  conv.state = 'waiting';
  conv.agentId = null;
  conv.queuedAt = Date.now();
  conv.declined = [];
  conv.queueReason = reason;
  return rt.queueWrite(rt.queues.enqueue(conv));
}
