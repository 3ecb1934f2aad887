/**
 * Gap healing for this node's conversation rooms.
 *
 * Every conversation frame bound for a room's local sockets passes through `frame()`. For `msg`
 * frames the healer keeps the highest seq fanned out per room: the next one goes straight out, an
 * older one is a duplicate (already delivered by a heal) and is dropped, and a newer one means
 * the bus lost something (pub/sub drops what is published while a subscriber is disconnected,
 * and publishers on different nodes can race). Then the room's live frames are held, the
 * missing range is read from the store page by page and fanned out in order, and the held
 * frames follow, minus those already delivered. `heal()` does the same on demand (the hub calls
 * it for every room when the bus reports `recovered`, since a lost tail has no later frame to
 * reveal it).
 *
 * Why this is sound: a node publishes a message only after the store has resolved its append,
 * and appends to one conversation resolve in seq order, so any seq seen on the bus proves that
 * every lower seq is readable from the store.
 */
import { encodeFrame, type MessageFrame } from '@kefu/protocol';
import type { ConversationStore } from '../conversation/conversation-store.js';
import type { Connection } from './connection.js';

/** What the healer needs from the hub. */
export interface HealerHost {
  readonly store: ConversationStore;
  /** Messages per store read. */
  readonly pageSize: number;
  /** Bytes of live frames held per healing room; beyond it msg frames are dropped and re-read from the store. */
  readonly maxHeldBytes: number;
  hasRoom(conv: string): boolean;
  /** Writes one encoded frame to the room's local sockets (except one). */
  fanout(conv: string, s: string, except?: Connection): void;
  /** A heal delivered `count` messages from the store. */
  healed(conv: string, count: number): void;
  /** Non-msg frames dropped because a healing room's hold was full. */
  dropped(count: number): void;
  error(err: Error): void;
}

interface HeldFrame { s: string; except: Connection | undefined }

interface Hold {
  frames: HeldFrame[];
  bytes: number;
  /** Msg frames were dropped (hold full), or another heal was asked for: read the store again. */
  again: boolean;
}

const MSG_PREFIX = '{"t":"msg"';

/**
 * The seq of an encoded `msg` frame, or -1 for any other frame. No JSON parse: encodeFrame puts
 * `t`, `conv`, `seq` first, and a conv id cannot contain `"seq":` (JSON escapes its quotes).
 */
export function msgSeq(s: string): number {
  if (!s.startsWith(MSG_PREFIX)) return -1;
  const at = s.indexOf('"seq":', MSG_PREFIX.length);
  if (at < 0) return -1;
  let n = 0;
  let i = at + 6;
  const start = i;
  for (let c = s.charCodeAt(i); c >= 48 && c <= 57; c = s.charCodeAt(++i)) n = n * 10 + (c - 48);
  return i === start ? -1 : n;
}

/** Seq -> sending socket of the held local msg frames (undefined when there are none). */
function sendersOf(h: Hold): Map<number, Connection> | undefined {
  let out: Map<number, Connection> | undefined;
  for (const f of h.frames) if (f.except) (out ??= new Map()).set(msgSeq(f.s), f.except);
  return out;
}

/** How many rooms heal at once after a bus recovery (each heal is a few store reads). */
const HEAL_CONCURRENCY = 8;

export class GapHealer {
  readonly #host: HealerHost;
  /** conv -> highest msg seq fanned out to the room (only rooms that exist on this node). */
  readonly #last = new Map<string, number>();
  readonly #holds = new Map<string, Hold>();
  #sweeps = 0;

  constructor(host: HealerHost) {
    this.#host = host;
  }

  /** Rooms being healed now, plus pending recovery sweeps. */
  get healing(): number {
    return this.#holds.size + this.#sweeps;
  }

  /** Highest seq fanned out to a room (undefined until known). */
  lastSeq(conv: string): number | undefined {
    return this.#last.get(conv);
  }

  /** What the room's sockets were told the conversation is at (joined/resumed), when nothing is known yet. */
  baseline(conv: string, seq: number): void {
    if (!this.#last.has(conv) && this.#host.hasRoom(conv)) this.#last.set(conv, seq);
  }

  /** The room is gone from this node. */
  forget(conv: string): void {
    this.#last.delete(conv);
    this.#holds.delete(conv);
  }

  /** One frame for a room's sockets, in the order the hub produced or received it. */
  frame(conv: string, s: string, except?: Connection): void {
    const hold = this.#holds.get(conv);
    const seq = msgSeq(s);
    if (hold) return this.#hold(hold, s, except, seq);
    if (seq < 0) return this.#host.fanout(conv, s, except);
    if (!this.#host.hasRoom(conv)) return;
    const last = this.#last.get(conv);
    if (last === undefined || seq === last + 1) {
      this.#last.set(conv, seq);
      return this.#host.fanout(conv, s, except);
    }
    if (seq <= last) return;
    const h: Hold = { frames: [], bytes: 0, again: false };
    this.#holds.set(conv, h);
    this.#hold(h, s, except, seq);
    void this.#run(conv, h);
  }

  /** Reads whatever the store has past the room's last seq and delivers it (no-op for unknown rooms). */
  heal(conv: string): Promise<void> {
    if (!this.#last.has(conv) || !this.#host.hasRoom(conv)) return Promise.resolve();
    const hold = this.#holds.get(conv);
    if (hold) { hold.again = true; return Promise.resolve(); }
    const h: Hold = { frames: [], bytes: 0, again: false };
    this.#holds.set(conv, h);
    return this.#run(conv, h);
  }

  /** Heals every known room, a few at a time. */
  async healAll(): Promise<void> {
    const convs = [...this.#last.keys()];
    this.#sweeps++;
    try {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < convs.length) await this.heal(convs[next++]!);
      };
      await Promise.all(Array.from({ length: Math.min(HEAL_CONCURRENCY, convs.length) }, worker));
    } finally {
      this.#sweeps--;
    }
  }

  #hold(h: Hold, s: string, except: Connection | undefined, seq: number): void {
    if (h.bytes + s.length > this.#host.maxHeldBytes) {
      // Messages can be read again from the store; other frames (typing, receipts) are lost.
      if (seq >= 0) h.again = true;
      else this.#host.dropped(1);
      return;
    }
    h.frames.push({ s, except });
    h.bytes += s.length;
  }

  async #run(conv: string, h: Hold): Promise<void> {
    const host = this.#host;
    let count = 0;
    try {
      for (;;) {
        h.again = false;
        let last = this.#last.get(conv) ?? 0;
        for (;;) {
          const page = await host.store.range(conv, { after: last, limit: host.pageSize });
          if (this.#holds.get(conv) !== h) return;
          const senders = sendersOf(h);
          for (const m of page) {
            if (m.seq <= last) continue;
            const mf: MessageFrame = { t: 'msg', conv, seq: m.seq, cid: m.cid, from: m.from, body: m.body, ts: m.ts };
            if (m.data !== undefined) mf.data = m.data;
            // A local send held behind the gap: its sender got an ack, not the msg, as usual.
            host.fanout(conv, encodeFrame(mf), senders?.get(m.seq));
            last = m.seq;
            count++;
          }
          this.#last.set(conv, last);
          if (page.length < host.pageSize) break;
        }
        if (!this.#flush(conv, h) && !h.again) break;
      }
      this.#holds.delete(conv);
    } catch (err) {
      // Store unreachable: release what is held rather than stall the room; the gap stays open
      // until the next frame past it or the next recovery.
      if (this.#holds.get(conv) === h) {
        this.#holds.delete(conv);
        this.#release(conv, h);
      }
      host.error(err instanceof Error ? err : new Error(String(err)));
    } finally {
      if (count > 0) host.healed(conv, count);
    }
  }

  /** Delivers held frames in order; true when a msg past a new gap stopped it (read the store again). */
  #flush(conv: string, h: Hold): boolean {
    const frames = h.frames;
    let last = this.#last.get(conv) ?? 0;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      const seq = msgSeq(f.s);
      if (seq >= 0) {
        if (seq <= last) continue;
        if (seq > last + 1) {
          h.frames = frames.slice(i);
          h.bytes = h.frames.reduce((n, x) => n + x.s.length, 0);
          this.#last.set(conv, last);
          return true;
        }
        last = seq;
      }
      this.#host.fanout(conv, f.s, f.except);
    }
    h.frames = [];
    h.bytes = 0;
    this.#last.set(conv, last);
    return false;
  }

  #release(conv: string, h: Hold): void {
    let last = this.#last.get(conv) ?? 0;
    for (const f of h.frames) {
      const seq = msgSeq(f.s);
      if (seq >= 0) {
        if (seq <= last) continue;
        last = seq;
      }
      this.#host.fanout(conv, f.s, f.except);
    }
    this.#last.set(conv, last);
  }
}
