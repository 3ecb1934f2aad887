/**
 * Everything the hub writes to a socket goes through here: frames (batched per turn of the event
 * loop), error frames, closes, and the slow-consumer rule that keeps memory bounded.
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

export class SocketWriter {
  #corked: Connection[] = [];

  constructor(private readonly highWaterMark: number, private readonly counts: HubMetrics['counts']) {}

  /** Sends one encoded frame; past `highWaterMark` buffered bytes the socket is closed (4002). */
  write(conn: Connection, s: string): void {
    if (conn.closed) return;
    if (!conn.corked) this.#cork(conn);
    conn.ws.send(s);
    if (conn.ws.bufferedAmount > this.highWaterMark) this.slow(conn);
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

  /**
   * Frames written to one socket in one turn of the event loop leave in one write (a resume page,
   * a heal, several bus messages parsed from one Redis read) instead of one syscall each. The
   * socket is uncorked on the next tick; `bufferedAmount` counts corked bytes, so the slow-consumer
   * check is unchanged, and `end()`/`destroy()` flush or drop them as usual.
   */
  #cork(conn: Connection): void {
    const sock = rawSocket(conn);
    if (!sock || sock.destroyed) return;
    sock.cork();
    conn.corked = true;
    if (this.#corked.push(conn) === 1) process.nextTick(this.#uncorkAll);
  }

  readonly #uncorkAll = (): void => {
    const list = this.#corked;
    this.#corked = [];
    for (const c of list) {
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
