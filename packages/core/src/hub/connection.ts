/**
 * Per-socket state. Kept deliberately small (the idle-connection memory target is 8 KB RSS):
 * plain fields, maps allocated only when a connection first needs them, no closures (the socket
 * listeners are shared module functions that find this object through a symbol on the socket).
 */
import type { WebSocket } from 'ws';
import type { Sender } from '@kefu/protocol';
import type { Identity } from './types.js';

export const kConn: unique symbol = Symbol('kefu.connection');

export interface SocketWithConn extends WebSocket {
  [kConn]?: Connection;
}

/** What a connection reports its socket's events to (the Hub). */
export interface ConnectionOwner {
  _frame(conn: Connection, data: import('ws').RawData, isBinary: boolean): void;
  _closed(conn: Connection, code: number, reason: Buffer): void;
}

export class Connection {
  readonly ws: SocketWithConn;
  readonly owner: ConnectionOwner;
  readonly identity: Identity;
  readonly session: number;
  /** Conversations this socket is in; allocated on first join. */
  convs: Set<string> | undefined = undefined;
  /**
   * Token bucket. The numeric fields start as numbers, not as declared-only fields: ES2022 class
   * fields are defined as `undefined` first, and V8 then keeps such a field as a tagged value, so
   * every store of a non-integer (`refillAt` is a Date.now() past the small-integer range) boxed a
   * new heap number. One per frame on a long-lived object: old-generation garbage (a heap
   * snapshot of the hub at 1,500 msg/s, session 10). A field that starts as a number is a double
   * field, written in place.
   */
  tokens = 0;
  refillAt = 0;
  strikes = 0;
  /** Cleared by each sweep that pings; set by each pong, and by a sweep that finds `heard`. */
  alive = true;
  /** A frame came in since the sweep last visited: the sweep skips its ping (heartbeat.ts). */
  heard = false;
  /** Sweep tick of the last inbound frame (the idle clock). */
  lastTick = 0;
  /** conv -> time of the last forwarded `typing on`; allocated on first typing frame. */
  typingAt: Map<string, number> | undefined = undefined;
  /** conv -> live frames held back while a resume replays that conversation. */
  replay: Map<string, { frames: string[]; bytes: number }> | undefined = undefined;
  /** Tail of this socket's beforeMessage calls: hooks run one after another, so sends keep their order. */
  hookTail: Promise<unknown> | undefined = undefined;
  /** A frame was written to it in this tick (SocketWriter: a second one corks the socket). */
  wrote = false;
  /** Its socket is corked until the next tick (the hub's write batching). */
  corked = false;
  /** Not being read: the hub's in-flight frames reached `maxInflight` (back-pressure). */
  paused = false;
  /** Close code Kefu chose for this socket (0: none yet). */
  closeCode = 0;
  /** No more frames are sent or handled once set. */
  closed = false;
  #sender: Sender | undefined;

  constructor(owner: ConnectionOwner, ws: SocketWithConn, identity: Identity, session: number, tick: number, burst: number) {
    this.owner = owner;
    this.ws = ws;
    this.identity = identity;
    this.session = session;
    this.lastTick = tick;
    this.tokens = burst;
    this.refillAt = Date.now();
  }

  /** The public sender object of this identity, built once. */
  get sender(): Sender {
    if (!this.#sender) {
      const s: Sender = { id: this.identity.id, role: this.identity.role };
      if (this.identity.name !== undefined) s.name = this.identity.name;
      this.#sender = s;
    }
    return this.#sender;
  }
}

/** Token bucket: true when a frame may pass. Refill is computed lazily, no timer. */
export function takeToken(c: Connection, now: number, perSec: number, burst: number): boolean {
  if (c.tokens < 1) {
    const add = ((now - c.refillAt) * perSec) / 1000;
    if (add > 0) {
      c.tokens = Math.min(burst, c.tokens + add);
      c.refillAt = now;
    }
    if (c.tokens < 1) return false;
  } else if (c.tokens < burst) {
    const add = ((now - c.refillAt) * perSec) / 1000;
    c.tokens = Math.min(burst, c.tokens + add);
    c.refillAt = now;
  } else {
    c.refillAt = now;
  }
  // A full bucket means the client stayed under the rate for burst / perSec seconds: the refusals
  // before were a burst it recovered from, not abuse, and stop counting toward the close.
  if (c.tokens >= burst) c.strikes = 0;
  c.tokens -= 1;
  return true;
}
