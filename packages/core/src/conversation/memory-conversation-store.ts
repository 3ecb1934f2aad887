/**
 * In-process conversation store: the zero-config default of the Hub, and the reference the
 * conformance suite is checked against. Holds everything in memory (nothing survives a restart):
 * for development, tests and single-node deployments that accept losing history on restart.
 */
import { KefuError, type Sender, type Member } from '@kefu/protocol';
import { ConversationStore, closedConversation, notFound, notMember } from './conversation-store.js';
import type { AddMemberResult, AppendInput, AppendResult, ConversationRecord, ConversationStoreSupports, StoredMessage } from './types.js';

interface Entry {
  record: ConversationRecord;
  messages: StoredMessage[];
  cids: Map<string, StoredMessage>;
  members: Map<string, Member>;
}

export class MemoryConversationStore extends ConversationStore {
  readonly supports: ConversationStoreSupports = { persistent: false, shared: true };
  #convs = new Map<string, Entry>();

  protected async _open(): Promise<void> {}
  protected async _close(): Promise<void> {
    this.#convs.clear();
  }

  #entry(id: string): Entry {
    const e = this.#convs.get(id);
    if (!e) throw notFound(id);
    return e;
  }

  protected async _create(record: ConversationRecord): Promise<ConversationRecord> {
    if (this.#convs.has(record.id)) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `conversation "${record.id}" already exists`);
    const members = new Map<string, Member>([[record.visitor.id, { ...record.visitor, readSeq: 0 }]]);
    this.#convs.set(record.id, { record, messages: [], cids: new Map(), members });
    return { ...record };
  }

  protected async _get(id: string): Promise<ConversationRecord | undefined> {
    const e = this.#convs.get(id);
    return e ? { ...e.record } : undefined;
  }

  protected async _closeConversation(id: string, reason: string | undefined): Promise<ConversationRecord> {
    const e = this.#entry(id);
    e.record.closed = true;
    if (reason !== undefined) e.record.closedReason = reason;
    return { ...e.record };
  }

  protected async _append(conv: string, input: AppendInput): Promise<AppendResult> {
    const e = this.#entry(conv);
    const prior = e.cids.get(input.cid);
    if (prior) return { seq: prior.seq, ts: prior.ts, dup: true };
    if (e.record.closed) throw closedConversation(conv);
    const m: StoredMessage = { seq: e.messages.length + 1, cid: input.cid, from: input.from, body: input.body, ts: Date.now() };
    if (input.data !== undefined) m.data = input.data;
    e.messages.push(m);
    e.cids.set(m.cid, m);
    return { seq: m.seq, ts: m.ts, dup: false };
  }

  protected async _range(conv: string, after: number, limit: number): Promise<StoredMessage[]> {
    const e = this.#entry(conv);
    // seq n lives at index n - 1: a slice, no scan.
    return e.messages.slice(after, after + limit);
  }

  protected async _lastSeq(conv: string): Promise<number> {
    return this.#entry(conv).messages.length;
  }

  protected async _addMember(conv: string, sender: Sender): Promise<AddMemberResult> {
    const e = this.#entry(conv);
    const existing = e.members.get(sender.id);
    if (existing) return { added: false, member: { ...existing } };
    const member: Member = { ...sender, readSeq: 0 };
    e.members.set(sender.id, member);
    return { added: true, member: { ...member } };
  }

  protected async _removeMember(conv: string, userId: string): Promise<boolean> {
    return this.#entry(conv).members.delete(userId);
  }

  protected async _members(conv: string): Promise<Member[]> {
    return [...this.#entry(conv).members.values()].map((m) => ({ ...m }));
  }

  protected async _isMember(conv: string, userId: string): Promise<boolean> {
    return this.#entry(conv).members.has(userId);
  }

  protected async _markRead(conv: string, userId: string, seq: number): Promise<number> {
    const e = this.#entry(conv);
    const m = e.members.get(userId);
    if (!m) throw notMember(conv, userId);
    // A read mark past the last message would hide messages stored later.
    const s = Math.min(seq, e.messages.length);
    if (s > m.readSeq) m.readSeq = s;
    return m.readSeq;
  }
}
