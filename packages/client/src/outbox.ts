import { KefuError, type AckFrame, type JsonObject } from '@kefu/protocol';

export interface OutboxEntry {
  conv: string;
  cid: string;
  body: string;
  data: JsonObject | undefined;
  /** Written to the current socket (reset on every reconnect). */
  sent: boolean;
  resolve: (ack: AckFrame) => void;
  reject: (err: unknown) => void;
}

/**
 * Unacknowledged sends, in the order they were written, keyed by cid. An entry leaves only on
 * its ack or a definitive error: after a reconnect every entry is written again with the same
 * cid, and the hub stores a cid once (a retried one gets the original ack with `dup`).
 */
export class Outbox {
  readonly #entries = new Map<string, OutboxEntry>();
  constructor(readonly limit: number) {}

  get size(): number { return this.#entries.size; }

  add(entry: OutboxEntry): void {
    if (this.#entries.size >= this.limit) {
      throw new KefuError('KEFU_ERR_CLIENT_OUTBOX_FULL', `outbox holds ${this.limit} unacknowledged messages (maxOutbox)`, { details: { limit: this.limit } });
    }
    this.#entries.set(entry.cid, entry);
  }

  get(cid: string): OutboxEntry | undefined { return this.#entries.get(cid); }

  /** True while a message of `conv` waits for its ack (written or not). */
  has(conv: string): boolean {
    for (const e of this.#entries.values()) if (e.conv === conv) return true;
    return false;
  }

  /** Removes and returns the entry, if any. */
  take(cid: string): OutboxEntry | undefined {
    const e = this.#entries.get(cid);
    if (e) this.#entries.delete(cid);
    return e;
  }

  /** Entries of one conversation (or all) not yet written to the current socket, oldest first. */
  *unsent(conv?: string): Generator<OutboxEntry> {
    for (const e of this.#entries.values()) if (!e.sent && (conv === undefined || e.conv === conv)) yield e;
  }

  /** Marks written entries unwritten again; returns their conversations. */
  markSentUnsent(): Set<string> {
    const convs = new Set<string>();
    for (const e of this.#entries.values()) if (e.sent) { e.sent = false; convs.add(e.conv); }
    return convs;
  }

  markAllUnsent(): void {
    for (const e of this.#entries.values()) e.sent = false;
  }

  /** Rejects and removes the entries of one conversation (or all). */
  rejectAll(err: unknown, conv?: string): void {
    for (const [cid, e] of this.#entries) {
      if (conv !== undefined && e.conv !== conv) continue;
      this.#entries.delete(cid);
      e.reject(err);
    }
  }

  /** Snapshot for UIs (pending bubbles). */
  list(conv?: string): Array<{ conv: string; cid: string; body: string; data: JsonObject | undefined }> {
    const out = [];
    for (const e of this.#entries.values()) if (conv === undefined || e.conv === conv) out.push({ conv: e.conv, cid: e.cid, body: e.body, data: e.data });
    return out;
  }
}
