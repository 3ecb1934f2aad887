/**
 * Resume replay: every message with seq > after, in order, then the live frames held back
 * meanwhile, without gap or duplicate. The caller has put the socket in the conversation's room
 * and registered `held` before calling, so any message stored after the first read is either in a
 * later page or in `held` (or both: then only the first copy goes out).
 */
import { encodeFrame, type MessageFrame } from '@kefu/protocol';
import type { ConversationStore } from '../conversation/conversation-store.js';
import type { Connection } from './connection.js';

export interface ReplayContext {
  store: ConversationStore;
  pageSize: number;
  highWaterMark: number;
  write(conn: Connection, s: string): void;
}

/** Pages through the store; resolves the last seq sent and the count, or undefined if the socket closed. */
export async function replay(ctx: ReplayContext, conn: Connection, conv: string, after: number): Promise<{ last: number; count: number } | undefined> {
  let last = after;
  let count = 0;
  for (;;) {
    const page = await ctx.store.range(conv, { after: last, limit: ctx.pageSize });
    if (conn.closed) return undefined;
    for (const m of page) {
      const mf: MessageFrame = { t: 'msg', conv, seq: m.seq, cid: m.cid, from: m.from, body: m.body, ts: m.ts };
      if (m.data !== undefined) mf.data = m.data;
      ctx.write(conn, encodeFrame(mf));
      last = m.seq;
    }
    count += page.length;
    if (page.length < ctx.pageSize) return { last, count };
    await waitForDrain(conn, ctx.highWaterMark / 2);
    if (conn.closed) return undefined;
  }
}

/** Sends the held-back live frames, skipping messages the replay already sent. */
export function flushHeld(ctx: ReplayContext, conn: Connection, frames: string[], last: number, count: number): { last: number; count: number } {
  for (const s of frames) {
    if (s.startsWith('{"t":"msg"')) {
      const seq = (JSON.parse(s) as MessageFrame).seq;
      if (seq <= last) continue;
      last = seq;
      count++;
    }
    ctx.write(conn, s);
  }
  return { last, count };
}

/** Waits (at most 5 s, polling) while the socket's send buffer is above `limit` bytes. */
async function waitForDrain(conn: Connection, limit: number): Promise<void> {
  for (let i = 0; i < 500 && !conn.closed && conn.ws.bufferedAmount > limit; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
}
