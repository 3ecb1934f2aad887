/**
 * The one heartbeat sweep over all sockets (no timer per socket): ping every socket once per
 * heartbeat interval, and close the ones that missed the previous ping, sent nothing for
 * `idleTicks` intervals, or whose credential expired. A socket Kefu already closed that is still
 * there an interval later (its peer ignores the close handshake) is destroyed.
 *
 * A socket that sent a frame since the sweep last visited it is not pinged: the frame proves the
 * connection alive as a pong would. Busy sockets, and clients whose own keep-alive `ping` frames
 * come at least once per interval (@kefu/client's do), then cost no ws pings. Measured with
 * 10,000 sockets at 250-1,000 msg/s (hub-latency, session 7): with every socket pinged, the hub's
 * step p99 was 4-6 ms, against 1.2-2 ms for the same hub with no heartbeat; with this rule,
 * 2.1-4 ms. A peer that vanishes is still closed within two intervals of its last sign of life
 * when it was idle, three when it had just spoken (one skipped ping).
 *
 * One interval's sweep is spread over `sweepSlices(heartbeatMs)` turns of one shared timer: a ping
 * to every socket at once is a burst of one socket write each, and their pongs come back together
 * (16,700 of each every 30 s on a cluster-bench node, every client woken at the same moment; the
 * bench's multi-second windows went away with this and another change, docs/benchmarks.md).
 */
import type { Connection } from './connection.js';

export interface SweepActions {
  /** No pong since the previous sweep. */
  timeout(c: Connection): void;
  /** No frame for `idleTicks` sweeps. */
  idle(c: Connection): void;
  /** `identity.expiresAt` passed. */
  expired(c: Connection): void;
}

/** Timer turns per heartbeat interval: one every 100 ms, at most 300, at least 1 (short test intervals sweep whole). */
export function sweepSlices(heartbeatMs: number): number {
  return Math.max(1, Math.min(300, Math.floor(heartbeatMs / 100)));
}

/**
 * Visits at most `quota` sockets from `it` (a live iterator over the hub's socket set: sockets
 * added during the interval are visited at its end, removed ones skipped). `done` once `it` is
 * exhausted.
 */
export function sweep(it: Iterator<Connection>, quota: number, tick: number, idleTicks: number, now: number, act: SweepActions): { visited: number; done: boolean } {
  let visited = 0;
  for (; visited < quota; visited++) {
    const next = it.next();
    if (next.done === true) return { visited, done: true };
    const c = next.value;
    if (c.closed) { c.ws.terminate(); continue; }
    // Paused by back-pressure: its pongs and frames wait unread in the kernel, so neither the
    // heartbeat nor the idle clock can judge it until the hub reads it again.
    if (c.paused) continue;
    if (!c.alive && !c.heard) { act.timeout(c); continue; }
    if (idleTicks > 0 && tick - c.lastTick >= idleTicks) { act.idle(c); continue; }
    if (c.identity.expiresAt !== undefined && now >= c.identity.expiresAt) { act.expired(c); continue; }
    if (c.heard) { c.heard = false; c.alive = true; continue; }
    c.alive = false;
    c.ws.ping();
  }
  return { visited, done: false };
}
