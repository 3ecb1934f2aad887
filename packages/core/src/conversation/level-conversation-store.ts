/**
 * LevelDB conversation store. Appends go through the shared GroupCommitWriter, so concurrent
 * appends (any conversation) share one synced batch: an ack never precedes the fsync.
 *
 * Key layout (one `level` database, string keys, \x00 separators so that a conversation's keys
 * sort together and never interleave with another id that shares a prefix):
 *   c\0<conv>               conversation record (JSON)
 *   m\0<conv>\0<seq:16>     message (JSON), seq zero-padded to 16 digits so keys sort by seq
 *   i\0<conv>\0<cid>        cid index: "<seq>,<ts>"
 *   u\0<conv>\0<userId>     member (JSON)
 *
 * Seq assignment is atomic within this process (one writer per database: LevelDB is
 * single-process), so `supports.shared` is false: several hub nodes need a shared store
 * (@kefu/redis). Memory is bounded: records and per-conversation seq state live in LRU caches;
 * a conversation with appends in flight is pinned outside the LRU until they settle.
 */
import { Level } from 'level';
import { LRUCache } from 'lru-cache';
import { KefuError, type Sender, type Member } from '@kefu/protocol';
import { chainedBatchTarget, GroupCommitWriter, type BatchOp } from '../storage/index.js';
import { ConversationStore, closedConversation, notFound, notMember } from './conversation-store.js';
import type { AddMemberResult, AppendInput, AppendResult, ConversationRecord, ConversationStoreSupports, StoredMessage } from './types.js';

export interface LevelConversationStoreOptions {
  /** Directory of the LevelDB database. */
  location: string;
  /**
   * fsync each batch before acking its appends.
   * @defaultValue true
   */
  sync?: boolean;
  /**
   * Conversations whose record and last seq are cached in memory.
   * @defaultValue 10000
   */
  cacheSize?: number;
  /**
   * cids kept in memory per cached conversation. While a conversation has at most this many
   * messages, its whole cid index is in memory and a new cid needs no disk read; past it, only
   * the most recent are, and a cid not among them is looked up on disk (one read per append).
   * @defaultValue 1024
   */
  recentCids?: number;
  /**
   * Most cids held in memory over all cached conversations (about 60 bytes each); past it the
   * least recently used conversations leave the cache. Bounds memory whatever `cacheSize` and
   * `recentCids` allow together.
   * @defaultValue 500000
   */
  maxCachedCids?: number;
  /**
   * LevelDB's write buffer (memtable and log) in bytes. Larger than LevelDB's 4 MiB default so that a
   * busy hub turns its log into sorted tables, and compacts them, less often: each compaction
   * competes with the hub for the CPU, and a backlog of level-0 tables makes LevelDB slow every
   * write down. Costs up to twice this in memory while a full buffer is being written out.
   * @defaultValue 16777216 (16 MiB)
   */
  writeBufferSize?: number;
}

interface SeqState {
  last: number;
  /** cid -> seq of stored messages (the most recent `recentCids`); a duplicate's ts is read from its message. */
  cids: Map<string, number>;
  /** True while `cids` holds every cid of the conversation: a miss then means a new cid. */
  complete: boolean;
  /** Appends assigned a seq but not yet durable. */
  pending: number;
  /** cid -> the in-flight append, so a retry racing its original gets the same answer. */
  inflight: Map<string, Promise<AppendResult>> | undefined;
}

const SEP = '\x00';
const pad = (seq: number): string => String(seq).padStart(16, '0');
const convKey = (c: string): string => `c${SEP}${c}`;
const msgPrefix = (c: string): string => `m${SEP}${c}${SEP}`;
const cidKey = (c: string, cid: string): string => `i${SEP}${c}${SEP}${cid}`;
const memberPrefix = (c: string): string => `u${SEP}${c}${SEP}`;

export class LevelConversationStore extends ConversationStore {
  readonly supports: ConversationStoreSupports = { persistent: true, shared: false };
  readonly location: string;
  readonly #db: Level<string, string>;
  readonly #writer: GroupCommitWriter;
  readonly #records: LRUCache<string, ConversationRecord>;
  readonly #seqs: LRUCache<string, SeqState>;
  readonly #pinned = new Map<string, SeqState>();
  readonly #recentCids: number;
  /** Loads of a conversation's last seq in progress, so concurrent first appends share one. */
  readonly #loading = new Map<string, Promise<SeqState>>();
  /** Tail of each conversation's append queue (present only while appends wait). */
  readonly #locks = new Map<string, Promise<void>>();

  constructor(options: LevelConversationStoreOptions) {
    super();
    if (typeof options !== 'object' || options === null || typeof options.location !== 'string' || options.location === '') {
      throw new TypeError('options.location must be a non-empty string');
    }
    const o = { sync: true, cacheSize: 10_000, recentCids: 1024, maxCachedCids: 500_000, writeBufferSize: 16 * 1024 * 1024, ...options };
    if (!Number.isInteger(o.cacheSize) || o.cacheSize < 1) throw new RangeError('options.cacheSize must be a positive integer');
    if (!Number.isInteger(o.recentCids) || o.recentCids < 0) throw new RangeError('options.recentCids must be a non-negative integer');
    if (!Number.isInteger(o.maxCachedCids) || o.maxCachedCids <= o.recentCids) throw new RangeError('options.maxCachedCids must be an integer greater than recentCids');
    this.#recentCids = o.recentCids;
    this.location = o.location;
    if (!Number.isInteger(o.writeBufferSize) || o.writeBufferSize < 65_536) throw new RangeError('options.writeBufferSize must be an integer >= 65536');
    this.#db = new Level<string, string>(o.location, { writeBufferSize: o.writeBufferSize });
    this.#writer = new GroupCommitWriter(chainedBatchTarget(this.#db), { sync: o.sync });
    this.#records = new LRUCache({ max: o.cacheSize });
    // Sized by cids held; an entry's size is taken when it is (re)inserted, which happens each
    // time a conversation's appends settle, so a growing conversation is re-measured.
    this.#seqs = new LRUCache({ max: o.cacheSize, maxSize: o.maxCachedCids, sizeCalculation: (st) => 1 + st.cids.size });
  }

  protected async _open(): Promise<void> {
    await this.#db.open();
  }

  protected async _close(): Promise<void> {
    await this.#writer.close();
    await this.#db.close();
    this.#records.clear();
    this.#seqs.clear();
  }

  async #record(id: string): Promise<ConversationRecord | undefined> {
    const cached = this.#records.get(id);
    if (cached) return cached;
    const raw = await this.#db.get(convKey(id));
    if (raw === undefined) return undefined;
    const rec = JSON.parse(raw) as ConversationRecord;
    this.#records.set(id, rec);
    return rec;
  }

  async #mustRecord(id: string): Promise<ConversationRecord> {
    const r = await this.#record(id);
    if (!r) throw notFound(id);
    return r;
  }

  protected async _create(record: ConversationRecord): Promise<ConversationRecord> {
    if (await this.#record(record.id)) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `conversation "${record.id}" already exists`);
    const member: Member = { ...record.visitor, readSeq: 0 };
    await this.#writer.write([
      { type: 'put', key: convKey(record.id), value: JSON.stringify(record) },
      { type: 'put', key: memberPrefix(record.id) + member.id, value: JSON.stringify(member) },
    ]);
    this.#records.set(record.id, record);
    return { ...record };
  }

  protected async _get(id: string): Promise<ConversationRecord | undefined> {
    const r = await this.#record(id);
    return r ? { ...r } : undefined;
  }

  protected async _closeConversation(id: string, reason: string | undefined): Promise<ConversationRecord> {
    const r = { ...(await this.#mustRecord(id)), closed: true };
    if (reason !== undefined) r.closedReason = reason;
    await this.#writer.write([{ type: 'put', key: convKey(id), value: JSON.stringify(r) }]);
    this.#records.set(id, r);
    return { ...r };
  }

  #seqState(conv: string): SeqState | Promise<SeqState> {
    const s = this.#pinned.get(conv) ?? this.#seqs.get(conv);
    if (s) return s;
    let p = this.#loading.get(conv);
    if (!p) {
      p = this.#loadState(conv).then(({ last, cids, complete }) => {
        this.#loading.delete(conv);
        // Another path may have created the state while the read was in flight.
        const again = this.#pinned.get(conv) ?? this.#seqs.get(conv);
        if (again) return again;
        const st: SeqState = { last, cids, complete, pending: 0, inflight: undefined };
        this.#seqs.set(conv, st);
        return st;
      }, (err: unknown) => { this.#loading.delete(conv); throw err; });
      this.#loading.set(conv, p);
    }
    return p;
  }

  /** Last seq, and the cid index when it is small enough to hold whole (one bounded read). */
  async #loadState(conv: string): Promise<{ last: number; cids: Map<string, number>; complete: boolean }> {
    const prefix = msgPrefix(conv);
    const keys = await this.#db.keys({ gte: prefix, lt: `m${SEP}${conv}\x01`, reverse: true, limit: 1 }).all();
    const k = keys[0];
    const last = k === undefined ? 0 : Number(k.slice(prefix.length));
    const cids = new Map<string, number>();
    if (last === 0) return { last, cids, complete: true };
    if (last > this.#recentCids) return { last, cids, complete: false };
    const ip = `i${SEP}${conv}${SEP}`;
    const entries = await this.#db.iterator({ gte: ip, lt: `i${SEP}${conv}\x01`, limit: this.#recentCids + 1 }).all();
    if (entries.length > this.#recentCids) return { last, cids, complete: false };
    for (const [key, value] of entries) cids.set(key.slice(ip.length), Number(value.slice(0, value.indexOf(','))));
    return { last, cids, complete: true };
  }

  protected _append(conv: string, input: AppendInput): Promise<AppendResult> {
    // Fast path, the common case: nothing queued for this conversation, its record and whole cid
    // index in memory, a new cid. Seq assignment is then synchronous (no lock, no disk read).
    if (!this.#locks.has(conv)) {
      const rec = this.#records.get(conv);
      const st = rec && (this.#pinned.get(conv) ?? this.#seqs.get(conv));
      if (st && st.complete && !st.cids.has(input.cid) && st.inflight?.has(input.cid) !== true) {
        if (rec.closed) return Promise.reject(closedConversation(conv));
        return this.#write(conv, st, input);
      }
    }
    return this.#appendLocked(conv, input);
  }

  async #appendLocked(conv: string, input: AppendInput): Promise<AppendResult> {
    // FIFO per conversation up to seq assignment, taken before any await: disk lookups finish in
    // any order, but two sends in a row from one client must get seqs in that order.
    const prev = this.#locks.get(conv);
    let release!: () => void;
    const mine = new Promise<void>((r) => { release = r; });
    this.#locks.set(conv, mine);
    let write: { done: Promise<AppendResult> } | AppendResult;
    try {
      if (prev) await prev;
      write = await this.#assign(conv, input);
    } finally {
      if (this.#locks.get(conv) === mine) this.#locks.delete(conv);
      release();
    }
    return 'done' in write ? write.done : write;
  }

  /**
   * Dedupe and seq assignment (under the conversation's lock). The pending write is returned
   * wrapped, so the lock is released before the fsync and later appends join the same batch.
   */
  async #assign(conv: string, input: AppendInput): Promise<{ done: Promise<AppendResult> } | AppendResult> {
    const rec = await this.#mustRecord(conv);
    const got = this.#seqState(conv);
    const st = got instanceof Promise ? await got : got;
    const racing = st.inflight?.get(input.cid);
    if (racing) return { done: racing.then((r): AppendResult => ({ seq: r.seq, ts: r.ts, dup: true })) };
    const known = st.cids.get(input.cid);
    if (known !== undefined) return { seq: known, ts: await this.#tsOf(conv, known), dup: true };
    const idx = st.complete ? undefined : await this.#db.get(cidKey(conv, input.cid));
    if (idx !== undefined) {
      const comma = idx.indexOf(',');
      return { seq: Number(idx.slice(0, comma)), ts: Number(idx.slice(comma + 1)), dup: true };
    }
    if (rec.closed || this.#records.get(conv)?.closed) throw closedConversation(conv);
    return { done: this.#write(conv, st, input) };
  }

  /** Assigns the next seq and queues the message and its cid for the next group commit. */
  #write(conv: string, st: SeqState, input: AppendInput): Promise<AppendResult> {
    const seq = ++st.last;
    const ts = Date.now();
    const m: StoredMessage = { seq, cid: input.cid, from: input.from, body: input.body, ts };
    if (input.data !== undefined) m.data = input.data;
    const ops: BatchOp[] = [
      { type: 'put', key: msgPrefix(conv) + pad(seq), value: JSON.stringify(m) },
      { type: 'put', key: cidKey(conv, input.cid), value: `${seq},${ts}` },
    ];
    if (st.pending++ === 0) { this.#pinned.set(conv, st); this.#seqs.delete(conv); }
    const inflight = (st.inflight ??= new Map());
    const settle = (): void => {
      inflight.delete(input.cid);
      if (inflight.size === 0 && st.inflight === inflight) st.inflight = undefined;
      if (--st.pending === 0) { this.#pinned.delete(conv); this.#seqs.set(conv, st); }
    };
    const p = this.#writer.write(ops).then((): AppendResult => {
      settle();
      st.cids.set(input.cid, seq);
      if (st.cids.size > this.#recentCids) {
        st.complete = false;
        const oldest = st.cids.keys().next().value;
        if (oldest !== undefined) st.cids.delete(oldest);
      }
      return { seq, ts, dup: false };
    }, (err: unknown) => { settle(); throw err; });
    inflight.set(input.cid, p);
    return p;
  }

  /** A stored message's timestamp (the rare duplicate path: the cid map keeps only seqs). */
  async #tsOf(conv: string, seq: number): Promise<number> {
    const raw = await this.#db.get(msgPrefix(conv) + pad(seq));
    if (raw === undefined) throw new KefuError('KEFU_ERR_STORE', `message ${seq} of "${conv}" is indexed but missing`);
    return (JSON.parse(raw) as StoredMessage).ts;
  }

  protected async _range(conv: string, after: number, limit: number): Promise<StoredMessage[]> {
    await this.#mustRecord(conv);
    const values = await this.#db.values({ gt: msgPrefix(conv) + pad(after), lt: `m${SEP}${conv}\x01`, limit }).all();
    return values.map((v) => JSON.parse(v) as StoredMessage);
  }

  protected async _lastSeq(conv: string): Promise<number> {
    await this.#mustRecord(conv);
    const got = this.#seqState(conv);
    return (got instanceof Promise ? await got : got).last;
  }

  async #member(conv: string, userId: string): Promise<Member | undefined> {
    const raw = await this.#db.get(memberPrefix(conv) + userId);
    return raw === undefined ? undefined : (JSON.parse(raw) as Member);
  }

  protected async _addMember(conv: string, sender: Sender): Promise<AddMemberResult> {
    await this.#mustRecord(conv);
    const existing = await this.#member(conv, sender.id);
    if (existing) return { added: false, member: existing };
    const member: Member = { ...sender, readSeq: 0 };
    await this.#writer.write([{ type: 'put', key: memberPrefix(conv) + sender.id, value: JSON.stringify(member) }]);
    return { added: true, member };
  }

  protected async _removeMember(conv: string, userId: string): Promise<boolean> {
    await this.#mustRecord(conv);
    if (!(await this.#member(conv, userId))) return false;
    await this.#writer.write([{ type: 'del', key: memberPrefix(conv) + userId }]);
    return true;
  }

  protected async _members(conv: string): Promise<Member[]> {
    await this.#mustRecord(conv);
    const prefix = memberPrefix(conv);
    // Bounded: a conversation's member list is small by nature, but never read more than 1,000.
    const values = await this.#db.values({ gte: prefix, lt: `u${SEP}${conv}\x01`, limit: 1000 }).all();
    return values.map((v) => JSON.parse(v) as Member);
  }

  protected async _isMember(conv: string, userId: string): Promise<boolean> {
    await this.#mustRecord(conv);
    return (await this.#member(conv, userId)) !== undefined;
  }

  protected async _markRead(conv: string, userId: string, seq: number): Promise<number> {
    await this.#mustRecord(conv);
    const m = await this.#member(conv, userId);
    if (!m) throw notMember(conv, userId);
    const last = await this._lastSeq(conv);
    const s = Math.min(seq, last);
    if (s <= m.readSeq) return m.readSeq;
    m.readSeq = s;
    await this.#writer.write([{ type: 'put', key: memberPrefix(conv) + userId, value: JSON.stringify(m) }]);
    return s;
  }
}
