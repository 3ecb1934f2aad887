/** State transitions shared by the two local stores (memory and LevelDB), on a LocalIndex. */
import { KefuError } from '@kefu/protocol';
import { DELAYED, F_EXPIRED, LEASED, type LocalIndex } from './local-index.js';
import type { TickOutcome } from './types.js';

/** Checks that `id` holds the lease `attempt` (or any current lease) at `now`; returns its slot. */
export function checkLease(index: LocalIndex, id: string, attempt: number | undefined, now: number): number {
  const slot = index.lookup(id);
  if (slot < 0) throw new KefuError('KEFU_ERR_QUEUE_UNKNOWN_LEASE', `no item ${JSON.stringify(id)} is in the queue`, { details: { id } });
  const current = index.attempts[slot]!;
  if (index.state[slot] === LEASED) {
    if (attempt === undefined || attempt === current) {
      if (index.dueOf(slot) > now) return slot;
      throw expired(id, current);
    }
    if (attempt < current) throw expired(id, attempt);
    throw new KefuError('KEFU_ERR_QUEUE_UNKNOWN_LEASE', `item ${JSON.stringify(id)} has no lease with attempt ${attempt}`, { details: { id, attempt } });
  }
  if ((index.flags[slot]! & F_EXPIRED) !== 0 && (attempt === undefined || attempt <= current)) throw expired(id, attempt ?? current);
  throw new KefuError('KEFU_ERR_QUEUE_UNKNOWN_LEASE', `item ${JSON.stringify(id)} is not leased`, { details: { id } });
}

function expired(id: string, attempt: number): KefuError {
  return new KefuError('KEFU_ERR_QUEUE_LEASE_EXPIRED', `the lease of ${JSON.stringify(id)} (attempt ${attempt}) expired; the item went back to the queue`, { details: { id, attempt } });
}

/**
 * Expires due leases (back to ready, or dead once attempts reach maxAttempts) and promotes due
 * delayed items, in the index only: stores that persist state need no write here, since their
 * recovery reaches the same result from a leased marker (see level-queue-store.ts).
 */
export function sweep(index: LocalIndex, now: number): TickOutcome {
  const out: TickOutcome = { expired: [], promoted: 0 };
  for (;;) {
    const slot = index.dueHeap.peek();
    if (slot < 0 || index.dueHeap.peekDue() > now) break;
    if (index.state[slot] === DELAYED) {
      index.toReady(slot);
      out.promoted++;
      continue;
    }
    // LEASED: the attempt was counted when the lease was taken.
    const attempt = index.attempts[slot]!;
    const dead = attempt >= index.maxAttempts[slot]!;
    index.flags[slot] = index.flags[slot]! | F_EXPIRED;
    if (dead) index.toDead(slot);
    else index.toReady(slot);
    out.expired.push({ id: index.ids.idOf(slot), attempt, dead });
  }
  return out;
}
