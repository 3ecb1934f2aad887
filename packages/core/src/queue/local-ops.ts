/** State transitions shared by the two local stores (memory and LevelDB), on a LocalIndex. */
import { KefuError } from '@kefu/protocol';
import { DEAD, DELAYED, F_EXPIRED, LEASED, READY, type LocalIndex } from './local-index.js';
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

/** 1-based place of a ready item in lease order, or undefined when it is not ready. */
export function readyPosition(index: LocalIndex, id: string): number | undefined {
  const slot = index.lookup(id);
  if (slot < 0 || index.state[slot] !== READY) return undefined;
  return index.ready.rank(slot) + 1;
}

/** The slot of a dead item, or -1 when `id` is unknown or not dead. */
export function deadSlot(index: LocalIndex, id: string): number {
  const slot = index.lookup(id);
  return slot < 0 || index.state[slot] !== DEAD ? -1 : slot;
}

/** A requeued dead item starts over: no attempts counted, no flags (a persisted marker is gone). */
export function revive(index: LocalIndex, slot: number): void {
  index.attempts[slot] = 0;
  index.flags[slot] = 0;
  index.toReady(slot);
}

/**
 * Takes the next ready item under a lease until `expiresAt`, counting the attempt; `flags` are
 * set beside clearing the expired flag. Returns the slot, or -1 when nothing is ready.
 */
export function leaseNext(index: LocalIndex, expiresAt: number, flags = 0): number {
  const slot = index.shiftReady();
  if (slot < 0) return -1;
  index.attempts[slot] = index.attempts[slot]! + 1;
  index.flags[slot] = (index.flags[slot]! & ~F_EXPIRED) | flags;
  index.toLeased(slot, expiresAt);
  return slot;
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
