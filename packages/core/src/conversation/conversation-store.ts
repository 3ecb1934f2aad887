/**
 * The abstract conversation store: public methods validate their arguments, handle the
 * deferred open, then call the protected `_hooks` an implementation provides (abstract-level's
 * shape). Every store (memory, LevelDB, Redis, third-party) must pass `conversationStoreSuite`.
 *
 * Contract an implementation must keep, because the hub relies on it for "no gap, no duplicate":
 * - `_append` assigns seq atomically (also across hub nodes when `supports.shared`), starting at 1,
 *   strictly increasing per conversation, and stores the message and its cid index together.
 * - A message is readable by `_range` before its `_append` resolves, and from the moment the
 *   store calls its `onVisible` (which it may do before the message is durable).
 * - Appends to one conversation resolve in seq order; `onVisible` calls come in seq order too.
 */
import { randomUUID } from 'node:crypto';
import { KefuError, isValidId, isValidSeq, checkData, type Sender, type Member } from '@kefu/protocol';
import type { Bus } from '../bus/bus.js';
import type {
  AddMemberResult, AppendInput, AppendOptions, AppendResult, ConversationRecord, ConversationStoreSupports,
  CreateConversationInput, RangeOptions, StoredMessage, StoreStatus,
} from './types.js';

/** Largest `limit` a single range read may ask for: reads are bounded. */
export const maxRangeLimit = 1000;
const ROLES = new Set(['visitor', 'agent', 'bot', 'system']);

function invalid(message: string): KefuError {
  return new KefuError('KEFU_ERR_INVALID_ARGUMENT', message);
}

export function checkSender(s: unknown, what = 'sender'): Sender {
  if (typeof s !== 'object' || s === null) throw invalid(`${what} must be an object { id, role, name? }`);
  const o = s as Record<string, unknown>;
  if (!isValidId(o.id)) throw invalid(`${what}.id must be 1-128 printable ASCII characters`);
  if (typeof o.role !== 'string' || !ROLES.has(o.role)) throw invalid(`${what}.role must be visitor, agent, bot or system`);
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name.length > 256)) throw invalid(`${what}.name must be a string of at most 256 characters`);
  const out: Sender = { id: o.id, role: o.role as Sender['role'] };
  if (o.name !== undefined) out.name = o.name as string;
  return out;
}

function checkConvId(id: unknown): asserts id is string {
  if (!isValidId(id)) throw invalid('conversation id must be 1-128 printable ASCII characters');
}

export abstract class ConversationStore {
  /** Optional capabilities; see ConversationStoreSupports. */
  abstract readonly supports: ConversationStoreSupports;
  #status: StoreStatus = 'new';
  #opening: Promise<void> | undefined;

  get status(): StoreStatus {
    return this.#status;
  }

  /**
   * The bus on which this store publishes every message frame it appends (one command for the
   * append and the publication: RedisConversationStore with `bus`), else undefined. A Hub refuses
   * a store that publishes on another bus than its own, since it skips its own publication of
   * the frames the store published (`AppendResult.published`).
   */
  get publishesOn(): Bus | undefined {
    return undefined;
  }

  /** Opens the store. Called implicitly by the first operation (deferred open); idempotent. */
  open(): Promise<void> {
    if (this.#status === 'open') return Promise.resolve();
    if (this.#status === 'closing' || this.#status === 'closed') return Promise.reject(new KefuError('KEFU_ERR_CLOSED', 'conversation store is closed'));
    if (!this.#opening) {
      this.#status = 'opening';
      this.#opening = this._open().then(
        () => { this.#status = 'open'; },
        (err: unknown) => { this.#status = 'new'; this.#opening = undefined; throw new KefuError('KEFU_ERR_STORE', `conversation store failed to open: ${(err as Error)?.message ?? String(err)}`, { cause: err }); },
      );
    }
    return this.#opening;
  }

  /** Waits for pending writes, then closes. Later calls reject with KEFU_ERR_CLOSED. Idempotent. */
  async close(): Promise<void> {
    if (this.#status === 'closed' || this.#status === 'closing') return;
    if (this.#status === 'opening') await this.#opening?.catch(() => undefined);
    const wasOpen = this.#status === 'open';
    this.#status = 'closing';
    try {
      if (wasOpen) await this._close();
    } finally {
      this.#status = 'closed';
    }
  }

  #ready(): Promise<void> | undefined {
    if (this.#status === 'open') return undefined;
    return this.open();
  }

  async createConversation(input: CreateConversationInput): Promise<ConversationRecord> {
    if (typeof input !== 'object' || input === null) throw invalid('input must be an object');
    if (input.id !== undefined) checkConvId(input.id);
    if (!isValidId(input.tenant)) throw invalid('tenant must be 1-128 printable ASCII characters');
    const visitor = checkSender(input.visitor, 'visitor');
    if (input.data !== undefined) { const e = checkData(input.data); if (e) throw invalid(`data ${e}`); }
    await this.#ready();
    const record: ConversationRecord = { id: input.id ?? randomUUID(), tenant: input.tenant, visitor, createdAt: Date.now() };
    if (input.data !== undefined) record.data = input.data;
    return this._create(record);
  }

  /** The conversation, or undefined when there is none with that id. */
  async getConversation(id: string): Promise<ConversationRecord | undefined> {
    checkConvId(id);
    await this.#ready();
    return this._get(id);
  }

  /** Marks the conversation closed; later appends reject with KEFU_ERR_CONVERSATION_CLOSED. */
  async closeConversation(id: string, reason?: string): Promise<ConversationRecord> {
    checkConvId(id);
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > 256)) throw invalid('reason must be a string of at most 256 characters');
    await this.#ready();
    return this._closeConversation(id, reason);
  }

  /**
   * Appends a message durably and assigns its seq. A `cid` already stored in this conversation
   * returns the original seq/ts with `dup: true` and writes nothing. `options.onVisible` lets the
   * caller show the message to others as soon as the store allows (see AppendOptions).
   *
   * Not an async function, unlike the other methods: it is the hub's per-message path, and an
   * async function costs a generator, a promise and a turn of the microtask queue (the deferred
   * open's `await`) on every message. Invalid arguments still reject, never throw.
   */
  append(conv: string, input: AppendInput, options?: AppendOptions): Promise<AppendResult> {
    let clean: AppendInput;
    const onVisible = options?.onVisible;
    try {
      checkConvId(conv);
      if (typeof input !== 'object' || input === null) throw invalid('input must be an object');
      if (!isValidId(input.cid)) throw invalid('cid must be 1-128 printable ASCII characters');
      const from = checkSender(input.from, 'from');
      if (typeof input.body !== 'string') throw invalid('body must be a string');
      if (input.data !== undefined) { const e = checkData(input.data); if (e) throw invalid(`data ${e}`); }
      if (onVisible !== undefined && typeof onVisible !== 'function') throw invalid('options.onVisible must be a function');
      clean = input.data === undefined ? { cid: input.cid, from, body: input.body } : { cid: input.cid, from, body: input.body, data: input.data };
      if (this.#status === 'open') return this._append(conv, clean, onVisible);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.open().then(() => this._append(conv, clean, onVisible));
  }

  /** Messages with seq > `after`, ascending, at most `limit` (<= maxRangeLimit). */
  async range(conv: string, options: RangeOptions = {}): Promise<StoredMessage[]> {
    checkConvId(conv);
    const after = options.after ?? 0;
    const limit = options.limit ?? 100;
    if (!isValidSeq(after)) throw invalid('after must be a non-negative safe integer');
    if (!Number.isInteger(limit) || limit < 1 || limit > maxRangeLimit) throw invalid(`limit must be an integer from 1 to ${maxRangeLimit}`);
    await this.#ready();
    return this._range(conv, after, limit);
  }

  /** The highest seq stored in the conversation, 0 when empty. Rejects when it does not exist. */
  async lastSeq(conv: string): Promise<number> {
    checkConvId(conv);
    await this.#ready();
    return this._lastSeq(conv);
  }

  async addMember(conv: string, sender: Sender): Promise<AddMemberResult> {
    checkConvId(conv);
    const s = checkSender(sender, 'member');
    await this.#ready();
    return this._addMember(conv, s);
  }

  /** Removes a member; resolves false when the user was not one. */
  async removeMember(conv: string, userId: string): Promise<boolean> {
    checkConvId(conv);
    if (!isValidId(userId)) throw invalid('userId must be 1-128 printable ASCII characters');
    await this.#ready();
    return this._removeMember(conv, userId);
  }

  async members(conv: string): Promise<Member[]> {
    checkConvId(conv);
    await this.#ready();
    return this._members(conv);
  }

  async isMember(conv: string, userId: string): Promise<boolean> {
    checkConvId(conv);
    if (!isValidId(userId)) throw invalid('userId must be 1-128 printable ASCII characters');
    await this.#ready();
    return this._isMember(conv, userId);
  }

  /**
   * Records that `userId` read everything up to `seq`. Read marks only move forward: resolves
   * the member's read seq after the call (the larger of the old and the new one).
   */
  async markRead(conv: string, userId: string, seq: number): Promise<number> {
    checkConvId(conv);
    if (!isValidId(userId)) throw invalid('userId must be 1-128 printable ASCII characters');
    if (!isValidSeq(seq)) throw invalid('seq must be a non-negative safe integer');
    await this.#ready();
    return this._markRead(conv, userId, seq);
  }

  protected abstract _open(): Promise<void>;
  protected abstract _close(): Promise<void>;
  /** Stores a new record and its visitor as first member; rejects KEFU_ERR_INVALID_ARGUMENT if the id exists. */
  protected abstract _create(record: ConversationRecord): Promise<ConversationRecord>;
  protected abstract _get(id: string): Promise<ConversationRecord | undefined>;
  protected abstract _closeConversation(id: string, reason: string | undefined): Promise<ConversationRecord>;
  protected abstract _append(conv: string, input: AppendInput, onVisible?: (seq: number, ts: number) => void): Promise<AppendResult>;
  protected abstract _range(conv: string, after: number, limit: number): Promise<StoredMessage[]>;
  protected abstract _lastSeq(conv: string): Promise<number>;
  protected abstract _addMember(conv: string, sender: Sender): Promise<AddMemberResult>;
  protected abstract _removeMember(conv: string, userId: string): Promise<boolean>;
  protected abstract _members(conv: string): Promise<Member[]>;
  protected abstract _isMember(conv: string, userId: string): Promise<boolean>;
  protected abstract _markRead(conv: string, userId: string, seq: number): Promise<number>;
}

export function notFound(conv: string): KefuError {
  return new KefuError('KEFU_ERR_CONVERSATION_NOT_FOUND', `no conversation "${conv}"`, { details: { conv } });
}

export function closedConversation(conv: string): KefuError {
  return new KefuError('KEFU_ERR_CONVERSATION_CLOSED', `conversation "${conv}" is closed`, { details: { conv } });
}

export function notMember(conv: string, userId: string): KefuError {
  return new KefuError('KEFU_ERR_NOT_MEMBER', `"${userId}" is not a member of "${conv}"`, { details: { conv, userId } });
}
