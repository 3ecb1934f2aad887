/** PriorityQueue's typed events (eventemitter3). */
import type { KefuError } from '@kefu/protocol';
import type { Lease } from './priority-queue.js';

export interface PriorityQueueEvents<T> {
  /** An item was added (not emitted for a duplicate id). */
  pushed: (item: { id: string; priority: number; delayed: boolean }) => void;
  /** An item was leased to a consumer. */
  leased: (lease: Lease<T>) => void;
  /** A lease was acked: the item left the queue. */
  acked: (id: string, attempt: number) => void;
  /** A lease was nacked: the item is ready again at `availableAt` (epoch ms). */
  nacked: (id: string, attempt: number, availableAt: number) => void;
  /** A lease expired without ack; the item went back to the queue (or to dead-letter, see `dead`). */
  expired: (id: string, attempt: number) => void;
  /** An item went to dead-letter after `attempts` leases. */
  dead: (id: string, attempts: number, reason: 'nack' | 'expired') => void;
  /** A dead-letter item went back to the queue. */
  requeued: (id: string) => void;
  /** An item was removed by remove(). */
  removed: (id: string) => void;
  /** Nothing is ready, delayed or leased any more (emitted after the last item left). */
  drained: () => void;
  paused: () => void;
  resumed: () => void;
  /** A store I/O error (the call that hit it rejects with the same error). */
  error: (err: KefuError) => void;
  closed: () => void;
}
