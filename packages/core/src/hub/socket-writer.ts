/**
 * Everything the hub writes to a socket goes through here: frames (built once per fan-out, batched
 * per turn of the event loop), error frames, closes, and the slow-consumer rule that keeps memory
 * bounded.
 */
import type { Socket } from 'node:net';
import { encodeFrame, CloseCode, type KefuErrorCode, type ServerFrame } from '@kefu/protocol';
import type { Connection } from './connection.js';
import type { HubMetrics } from './metrics.js';

/** Fields of the inbound frame an error frame echoes, so the client can match it. */
export interface Echo { ref?: string; conv?: string; cid?: string }

function rawSocket(conn: Connection): Socket | undefined {
  return (conn.ws as unknown as { _socket?: Socket })._socket;
}

/**
 * One unmasked, unfragmented text frame (RFC 6455 section 5.2: FIN + opcode 1, then the payload
 * length in 7, 16 or 64 bits), header and payload in one buffer. Why not `ws.send()`: it converts
 * the string for each socket and writes header and payload as two chunks, which Node buffers and
 * hands to writev with an array and a callback per write. Per relayed message (an `ack` and a `msg`)
 * that was about 3 KB of the hub's 15.5 KB of garbage (--trace-gc-nvp at 2,000 msg/s, session 8),
 * and garbage collection is the hub's largest source of delay at moderate rates (docs/benchmarks.md,
 * hub-latency).
 * ws keeps no state about data frames it did not send (no permessage-deflate here, no fragments),
 * so frames written this way and its own (pings, closes) go out in call order.
 */
export function textFrame(s: string): Buffer {
  const n = Buffer.byteLength(s);
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const b = Buffer.allocUnsafe(head + n);
  b[0] = 0x81;
  if (head === 2) b[1] = n;
  else if (head === 4) { b[1] = 126; b.writeUInt16BE(n, 2); }
  else { b[1] = 127; b.writeUInt32BE(Math.floor(n / 2 ** 32), 2); b.writeUInt32BE(n >>> 0, 6); }
  b.write(s, head, n, 'utf8');
  return b;
}

export class SocketWriter {
  /** Sockets written to in this tick; the next tick clears their flags and uncorks them. */
  #touched: Connection[] = [];
  /** The last frame built and its text: a fan-out writes one message to many sockets. */
  #lastText = '';
  #lastFrame: Buffer | undefined;

  constructor(private readonly highWaterMark: number, private readonly counts: HubMetrics['counts']) {}

  /** Sends one encoded frame; past `highWaterMark` buffered bytes the socket is closed (4002). */
  write(conn: Connection, s: string): void {
    if (conn.closed) return;
    const sock = rawSocket(conn);
    // Not OPEN: a close handshake has begun (ws sends no data frames after a close frame either).
    if (!sock || sock.destroyed || conn.ws.readyState !== conn.ws.OPEN) return;
    let frame = this.#lastFrame;
    if (frame === undefined || s !== this.#lastText) {
      frame = textFrame(s);
      this.#lastFrame = frame;
      this.#lastText = s;
    }
    if (!conn.wrote) {
      // The first frame of the tick goes straight to the kernel (no buffering in Node's stream).
      conn.wrote = true;
      if (this.#touched.push(conn) === 1) process.nextTick(this.#endTick);
    } else if (!conn.corked) {
      // More in the same tick (a resume page, a heal, several bus messages parsed from one Redis
      // read): cork, so that they leave together in one writev instead of one syscall each.
      // `writableLength` counts corked bytes, so the slow-consumer check below is unchanged, and
      // `end()`/`destroy()` flush or drop them as usual.
      sock.cork();
      conn.corked = true;
    }
    sock.write(frame);
    if (sock.writableLength > this.highWaterMark) this.slow(conn);
  }

  error(conn: Connection, code: KefuErrorCode, message: string, echo?: Echo): void {
    this.counts.errorsSent++;
    const f: ServerFrame = { t: 'error', code, message };
    if (echo?.ref !== undefined) f.ref = echo.ref;
    if (echo?.conv !== undefined) f.conv = echo.conv;
    if (echo?.cid !== undefined) f.cid = echo.cid;
    this.write(conn, encodeFrame(f));
  }

  notMember(conn: Connection, conv: string, cid?: string): void {
    this.error(conn, 'KEFU_ERR_NOT_MEMBER', `not a member of "${conv}"`, cid === undefined ? { conv } : { conv, cid });
  }

  /** Starts the close handshake with Kefu's code; nothing more is sent or handled for the socket. */
  close(conn: Connection, code: number, reason: string): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.closeCode = code;
    conn.replay = undefined;
    conn.ws.close(code, reason);
  }

  readonly #endTick = (): void => {
    const list = this.#touched;
    this.#touched = [];
    // Drop the last frame: a large one must not stay referenced after its fan-out.
    this.#lastFrame = undefined;
    this.#lastText = '';
    for (const c of list) {
      c.wrote = false;
      if (!c.corked) continue;
      c.corked = false;
      const sock = rawSocket(c);
      if (sock && !sock.destroyed) sock.uncork();
    }
  };

  /** Closes a consumer that cannot keep up (4002) and frees its buffer soon. */
  slow(conn: Connection): void {
    if (conn.closed) return;
    this.counts.slowConsumers++;
    this.close(conn, CloseCode.SLOW_CONSUMER, 'slow consumer');
    // The close frame waits behind the unread buffer; a reader that is stalled never gets it, so
    // free the buffer soon instead of after ws's 30 s close timeout. Rare path: a timer is fine.
    setTimeout(() => conn.ws.terminate(), 1000).unref();
  }
}
