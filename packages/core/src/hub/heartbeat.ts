/**
 * The one heartbeat sweep over all sockets (no timer per socket): ping every socket, and close
 * the ones that missed the previous ping, sent nothing for `idleTicks` sweeps, or whose
 * credential expired. A socket Kefu already closed that is still there a sweep later (its peer
 * ignores the close handshake) is destroyed.
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

export function sweep(conns: Iterable<Connection>, tick: number, idleTicks: number, now: number, act: SweepActions): void {
  for (const c of conns) {
    if (c.closed) { c.ws.terminate(); continue; }
    // Paused by back-pressure: its pongs and frames wait unread in the kernel, so neither the
    // heartbeat nor the idle clock can judge it until the hub reads it again.
    if (c.paused) continue;
    if (!c.alive) { act.timeout(c); continue; }
    if (idleTicks > 0 && tick - c.lastTick >= idleTicks) { act.idle(c); continue; }
    if (c.identity.expiresAt !== undefined && now >= c.identity.expiresAt) { act.expired(c); continue; }
    c.alive = false;
    c.ws.ping();
  }
}
