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
 * Early delivery: a new message may be shown to the other members (`onVisible`) before its batch
 * is on disk, at most `deliverAhead` messages past the conversation's last durable seq; the
 * sender's ack still waits for the fsync. Before it is shown, the message is appended to the shown
 * log (shown-log.ts, one write(), no fsync), which the next open replays: a process crash loses
 * nothing anyone saw. A machine crash can, and then that seq must never be given to another
 * message. Each run records its `deliverAhead` and the kernel's boot id in a run marker (x\0run)
 * before its first append, and a clean close there. After an unclean stop under another boot
 * (or where no boot id is known), the marker gains a fence { until: this run's start, ahead }: a conversation whose last message (or, with
 * none, its creation) predates `until` continues at last + ahead + 1, a gap, never a reuse. The
 * fence is kept across clean runs, since a conversation untouched since the crash still needs it;
 * a message written after `until` lifts it for its conversation. The first message past a fence
 * is shown only once durable, which keeps "shown <= durable + deliverAhead" across another crash.
 * (Timestamps come from Date.now(): a clock set back across a crash weakens the fence.)
 *
 * Seq assignment is atomic within this process (one writer per database: LevelDB is
 * single-process), so `supports.shared` is false: several hub nodes need a shared store
 * (@kefu/redis). Memory is bounded: records and per-conversation seq state live in LRU caches;
 * a conversation with appends in flight that the LRU evicts is pinned outside it until they settle.
 */
import { readFileSync } from 'node:fs';
import { Level } from 'level';
import { LRUCache } from 'lru-cache';
import { KefuError, type Sender, type Member } from '@kefu/protocol';
import { chainedBatchTarget, GroupCommitWriter, type BatchOp } from '../storage/index.js';
import { ConversationStore, closedConversation, notFound, notMember } from './conversation-store.js';
import { ShownLog } from './shown-log.js';
import { CidSet } from './cid-set.js';
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
   * While a conversation has at most this many messages, its cids are held in memory (as 32-bit
   * hashes: CidSet, at most 8 bytes each) and a new cid needs no disk read; past it, each append
   * looks its cid up on disk (one read). A retry (or a cid whose hash another one shares) is always
   * looked up on disk.
   * @defaultValue 1024
   */
  recentCids?: number;
  /**
   * Most cids held in memory over all cached conversations (at most 8 bytes each); past it the
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
  /**
   * Messages per conversation that may be delivered to the other members before they are on disk
   * (the sender's ack always waits for the fsync). Delivery then costs no disk round trip; after a
   * crash, seqs skip ahead by this much (see above). 0 delivers only durable messages.
   * @defaultValue 64
   */
  deliverAhead?: number;
  /**
   * Least ms between the starts of two group commits (GroupCommitOptions.intervalMs): fewer,
   * larger batches under light load, for up to this much more ack latency. Each fsynced batch
   * costs about 230 µs of CPU here whatever its size, so at 1,000 messages/s a batch per message
   * spends a quarter of a core on fsyncs; 5 ms caps that at 200 batches/s. With `deliverAhead` the
   * other members do not wait for it; with `deliverAhead: 0` they do, so consider 0 there.
   * @defaultValue 5
   */
  commitIntervalMs?: number;
}

interface SeqState {
  last: number;
  /** Hashes of the stored messages' cids while `complete`; empty once the conversation has more than `recentCids`. */
  cids: CidSet;
  /** True while `cids` holds every cid of the conversation: a miss then means a new cid. */
  complete: boolean;
  /** Appends assigned a seq but not yet durable. */
  pending: number;
  /**
   * The conversation's in-flight appends by cid, so that a retry racing its original gets the
   * same answer (flightOf, addFlight, endFlight). The first one sits in two fields, others in a
   * Map made on demand and dropped once empty: one append in flight per conversation is the
   * common case, and it then allocates nothing. A Map kept for the state's life took a new
   * backing table from time to time as cids came and went, which the long-lived state held until
   * the conversation's next message, seconds later: old-generation garbage (a heap snapshot of
   * the hub at 1,500 msg/s, session 10); a Map made per append cost about 750 bytes of garbage.
   */
  flightCid: string | undefined;
  flight: Promise<AppendResult> | undefined;
  moreFlights: Map<string, Promise<AppendResult>> | undefined;
  /** Highest seq known to be on disk. */
  durable: number;
  /** Appends waiting for durability before they may be shown; none is shown early meanwhile. */
  held: number;
  /** Messages to show early, not yet written, in seq order: `_range` serves the shown ones. Undefined when none. */
  unwritten: Early[] | undefined;
}

/** A message on its way to being shown before it is durable. */
interface Early {
  conv: string;
  m: StoredMessage;
  /** queued: in the shown log's buffer; shown: logged and shown; held: the log failed, shown once durable. */
  state: 'queued' | 'shown' | 'held';
  file: 0 | 1;
  show: Shown;
}

/** What the run marker (x\0run) holds. */
interface RunMarker {
  clean: boolean;
  deliverAhead: number;
  /** Conversations last written before `until` may have shown seqs up to their last + `ahead`. */
  fence?: Fence;
  /** /proc/sys/kernel/random/boot_id of the run: the same one after a crash means the page cache, and so the shown log, survived. */
  boot?: string;
}
interface Fence { until: number; ahead: number }

const SEP = '\x00';
const pad = (seq: number): string => String(seq).padStart(16, '0');
const convKey = (c: string): string => `c${SEP}${c}`;
const msgPrefix = (c: string): string => `m${SEP}${c}${SEP}`;
const cidKey = (c: string, cid: string): string => `i${SEP}${c}${SEP}${cid}`;
const memberPrefix = (c: string): string => `u${SEP}${c}${SEP}`;
const RUN_KEY = `x${SEP}run`;

/** AppendOptions.onVisible. */
type Shown = (seq: number, ts: number) => void;

function flightOf(st: SeqState, cid: string): Promise<AppendResult> | undefined {
  return st.flightCid === cid ? st.flight : st.moreFlights?.get(cid);
}

function addFlight(st: SeqState, cid: string, p: Promise<AppendResult>): void {
  if (st.flightCid === undefined) { st.flightCid = cid; st.flight = p; }
  else (st.moreFlights ??= new Map()).set(cid, p);
}

function endFlight(st: SeqState, cid: string): void {
  if (st.flightCid === cid) { st.flightCid = undefined; st.flight = undefined; }
  else if (st.moreFlights?.delete(cid) === true && st.moreFlights.size === 0) st.moreFlights = undefined;
}

/** Takes `e` out of its conversation's unwritten list (the head, in the common case), dropping an emptied list. */
function removeEarly(st: SeqState, e: Early): void {
  const list = st.unwritten;
  if (list === undefined) return;
  const i = list.indexOf(e);
  if (i === 0) list.shift();
  else if (i > 0) list.splice(i, 1);
  if (list.length === 0) st.unwritten = undefined;
}

function bootId(): string | undefined {
  try { return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined; } catch { return undefined; }
}

export class LevelConversationStore extends ConversationStore {
  readonly supports: ConversationStoreSupports = { persistent: true, shared: false };
  readonly location: string;
  readonly #db: Level<string, string>;
  readonly #writer: GroupCommitWriter;
  readonly #records: LRUCache<string, ConversationRecord>;
  readonly #seqs: LRUCache<string, SeqState>;
  /** States the LRU evicted while their appends were pending, until those settle. */
  readonly #pinned = new Map<string, SeqState>();
  readonly #recentCids: number;
  readonly #deliverAhead: number;
  /** Seqs to skip in conversations last written before an unclean stop (see the file comment). */
  #fence: Fence | undefined;
  #shown: ShownLog | undefined;
  /** Messages queued in the shown log this turn of the event loop, shown after one flush. */
  #toShow: Early[] = [];
  #flushScheduled = false;
  readonly #boot = bootId();
  /** Loads of a conversation's last seq in progress, so concurrent first appends share one. */
  readonly #loading = new Map<string, Promise<SeqState>>();
  /** Tail of each conversation's append queue (present only while appends wait). */
  readonly #locks = new Map<string, Promise<void>>();

  constructor(options: LevelConversationStoreOptions) {
    super();
    if (typeof options !== 'object' || options === null || typeof options.location !== 'string' || options.location === '') {
      throw new TypeError('options.location must be a non-empty string');
    }
    const o = { sync: true, cacheSize: 10_000, recentCids: 1024, maxCachedCids: 500_000, writeBufferSize: 16 * 1024 * 1024, deliverAhead: 64, commitIntervalMs: 5, ...options };
    if (!Number.isInteger(o.cacheSize) || o.cacheSize < 1) throw new RangeError('options.cacheSize must be a positive integer');
    if (!Number.isInteger(o.recentCids) || o.recentCids < 0) throw new RangeError('options.recentCids must be a non-negative integer');
    if (!Number.isInteger(o.maxCachedCids) || o.maxCachedCids <= o.recentCids) throw new RangeError('options.maxCachedCids must be an integer greater than recentCids');
    if (!Number.isInteger(o.deliverAhead) || o.deliverAhead < 0 || o.deliverAhead > 1_000_000) throw new RangeError('options.deliverAhead must be an integer from 0 to 1000000');
    if (!Number.isFinite(o.commitIntervalMs) || o.commitIntervalMs < 0 || o.commitIntervalMs > 10_000) throw new RangeError('options.commitIntervalMs must be a number from 0 to 10000');
    this.#recentCids = o.recentCids;
    this.#deliverAhead = o.deliverAhead;
    this.location = o.location;
    if (!Number.isInteger(o.writeBufferSize) || o.writeBufferSize < 65_536) throw new RangeError('options.writeBufferSize must be an integer >= 65536');
    this.#db = new Level<string, string>(o.location, { writeBufferSize: o.writeBufferSize });
    this.#writer = new GroupCommitWriter(chainedBatchTarget(this.#db), { sync: o.sync, intervalMs: o.commitIntervalMs });
    this.#records = new LRUCache({ max: o.cacheSize });
    // Sized by cids held; an entry's size is taken when it is (re)inserted, which happens each
    // time a conversation's appends settle, so a growing conversation is re-measured.
    this.#seqs = new LRUCache({
      max: o.cacheSize, maxSize: o.maxCachedCids, sizeCalculation: (st) => 1 + st.cids.size,
      // Pinned only when evicted with appends pending (rare), not at every append: a set and a
      // delete of #pinned per message churned its table (old-generation garbage, session 10).
      dispose: (st, conv, reason) => { if (reason === 'evict' && st.pending > 0) this.#pinned.set(conv, st); },
    });
  }

  protected async _open(): Promise<void> {
    const openedAt = Date.now();
    await this.#db.open();
    const raw = await this.#db.get(RUN_KEY);
    // No marker: a new database, or one written by a version that never delivered early.
    const prev = raw === undefined ? undefined : (JSON.parse(raw) as RunMarker);
    // Messages a crashed run showed before writing them: into LevelDB before anything else.
    const logged = ShownLog.recover(this.location);
    if (logged.length > 0) await this.#db.batch(logged, { sync: true });
    // A new log starts empty; with deliverAhead 0 there is none, but a replayed one is emptied too.
    if (this.#deliverAhead > 0) this.#shown = new ShownLog(this.location);
    else if (logged.length > 0) new ShownLog(this.location).close();
    this.#fence = prev?.fence;
    const sameBoot = prev?.boot !== undefined && prev.boot === this.#boot;
    if (prev && !prev.clean && !sameBoot && (prev.deliverAhead > 0 || prev.fence)) {
      this.#fence = { until: openedAt, ahead: Math.max(prev.deliverAhead, prev.fence?.ahead ?? 0) };
    }
    // Durable before the first append of this run, so that a crash in this run is recognised.
    await this.#putMarker(false);
  }

  async #putMarker(clean: boolean): Promise<void> {
    const marker: RunMarker = { clean, deliverAhead: this.#deliverAhead };
    if (this.#fence) marker.fence = this.#fence;
    if (this.#boot !== undefined) marker.boot = this.#boot;
    await this.#db.put(RUN_KEY, JSON.stringify(marker), { sync: true });
  }

  protected async _close(): Promise<void> {
    await this.#writer.close();
    this.#shown?.close();
    this.#shown = undefined;
    await this.#putMarker(true);
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

  /**
   * The conversation's state if it is in memory: pinned, or in the LRU (`touch` marks it recently
   * used; readers that only look, like `_range`, leave the LRU's order alone).
   */
  #live(conv: string, touch = false): SeqState | undefined {
    return this.#pinned.get(conv) ?? (touch ? this.#seqs.get(conv) : this.#seqs.peek(conv));
  }

  #seqState(conv: string): SeqState | Promise<SeqState> {
    const s = this.#live(conv, true);
    if (s) return s;
    let p = this.#loading.get(conv);
    if (!p) {
      p = this.#loadState(conv).then(({ last, stored, cids, complete }) => {
        this.#loading.delete(conv);
        // Another path may have created the state while the read was in flight.
        const again = this.#live(conv, true);
        if (again) return again;
        const st: SeqState = { last, cids, complete, pending: 0, flightCid: undefined, flight: undefined, moreFlights: undefined, durable: stored, held: 0, unwritten: undefined };
        this.#seqs.set(conv, st);
        return st;
      }, (err: unknown) => { this.#loading.delete(conv); throw err; });
      this.#loading.set(conv, p);
    }
    return p;
  }

  /**
   * Last stored seq, the next seq to build on (past the fence when one applies), and the cid
   * index when it is small enough to hold whole (bounded reads).
   */
  async #loadState(conv: string): Promise<{ last: number; stored: number; cids: CidSet; complete: boolean }> {
    const prefix = msgPrefix(conv);
    const fence = this.#fence;
    const it = { gte: prefix, lt: `m${SEP}${conv}\x01`, reverse: true, limit: 1 };
    let stored = 0;
    let fenced = false;
    if (fence) {
      const [entry] = await this.#db.iterator(it).all();
      if (entry) {
        stored = Number(entry[0].slice(prefix.length));
        fenced = (JSON.parse(entry[1]) as StoredMessage).ts < fence.until;
      } else {
        fenced = (await this.#mustRecord(conv)).createdAt < fence.until;
      }
    } else {
      const [k] = await this.#db.keys(it).all();
      if (k !== undefined) stored = Number(k.slice(prefix.length));
    }
    const last = fenced ? stored + fence!.ahead : stored;
    const cids = new CidSet();
    if (stored === 0) return { last, stored, cids, complete: true };
    if (stored > this.#recentCids) return { last, stored, cids, complete: false };
    const ip = `i${SEP}${conv}${SEP}`;
    const keys = await this.#db.keys({ gte: ip, lt: `i${SEP}${conv}\x01`, limit: this.#recentCids + 1 }).all();
    if (keys.length > this.#recentCids) return { last, stored, cids, complete: false };
    for (const key of keys) cids.add(key.slice(ip.length));
    return { last, stored, cids, complete: true };
  }

  protected _append(conv: string, input: AppendInput, onVisible?: Shown): Promise<AppendResult> {
    // Fast path, the common case: nothing queued for this conversation, its record and whole cid
    // index in memory, a new cid. Seq assignment is then synchronous (no lock, no disk read).
    if (!this.#locks.has(conv)) {
      const rec = this.#records.get(conv);
      const st = rec && this.#live(conv, true);
      if (st && st.complete && !st.cids.has(input.cid) && flightOf(st, input.cid) === undefined) {
        if (rec.closed) return Promise.reject(closedConversation(conv));
        return this.#write(conv, st, input, onVisible);
      }
    }
    return this.#appendLocked(conv, input, onVisible);
  }

  async #appendLocked(conv: string, input: AppendInput, onVisible: Shown | undefined): Promise<AppendResult> {
    // FIFO per conversation up to seq assignment, taken before any await: disk lookups finish in
    // any order, but two sends in a row from one client must get seqs in that order.
    const prev = this.#locks.get(conv);
    let release!: () => void;
    const mine = new Promise<void>((r) => { release = r; });
    this.#locks.set(conv, mine);
    let write: { done: Promise<AppendResult> } | AppendResult;
    try {
      if (prev) await prev;
      write = await this.#assign(conv, input, onVisible);
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
  async #assign(conv: string, input: AppendInput, onVisible: Shown | undefined): Promise<{ done: Promise<AppendResult> } | AppendResult> {
    const rec = await this.#mustRecord(conv);
    const got = this.#seqState(conv);
    const st = got instanceof Promise ? await got : got;
    const racing = flightOf(st, input.cid);
    if (racing) return { done: racing.then((r): AppendResult => ({ seq: r.seq, ts: r.ts, dup: true })) };
    // A complete set that misses proves the cid new; otherwise (a retry, a hash shared with another
    // cid, or a conversation past recentCids) the cid index on disk decides.
    const idx = st.complete && !st.cids.has(input.cid) ? undefined : await this.#db.get(cidKey(conv, input.cid));
    if (idx !== undefined) {
      const comma = idx.indexOf(',');
      return { seq: Number(idx.slice(0, comma)), ts: Number(idx.slice(comma + 1)), dup: true };
    }
    if (rec.closed || this.#records.get(conv)?.closed) throw closedConversation(conv);
    return { done: this.#write(conv, st, input, onVisible) };
  }

  /**
   * Assigns the next seq and queues the message and its cid for the next group commit. The
   * message is shown at once when it is within `deliverAhead` of the durable seq and no earlier
   * message of the conversation still waits to be shown; otherwise once it is durable.
   */
  #write(conv: string, st: SeqState, input: AppendInput, onVisible: Shown | undefined): Promise<AppendResult> {
    const seq = ++st.last;
    const ts = Date.now();
    const m: StoredMessage = { seq, cid: input.cid, from: input.from, body: input.body, ts };
    if (input.data !== undefined) m.data = input.data;
    const ops: BatchOp[] = [
      { type: 'put', key: msgPrefix(conv) + pad(seq), value: JSON.stringify(m) },
      { type: 'put', key: cidKey(conv, input.cid), value: `${seq},${ts}` },
    ];
    // Pending appends keep the state: if the LRU evicts it meanwhile, its dispose pins it. It stays
    // in the LRU otherwise: a delete and a set of the LRU's key map per message left a tombstone
    // each, and every few thousand messages a rehash of that 10,000-entry map left a whole table
    // of old-generation garbage behind.
    st.pending++;
    let early: Early | undefined;
    if (onVisible !== undefined && this.#shown && st.held === 0 && seq - st.durable <= this.#deliverAhead) {
      early = { conv, m, state: 'queued', file: this.#shown.add(ops), show: onVisible };
      (st.unwritten ??= []).push(early);
      this.#toShow.push(early);
      if (!this.#flushScheduled) { this.#flushScheduled = true; setImmediate(this.#flushShown); }
    } else if (onVisible) {
      st.held++;
    }
    const settle = (): void => {
      endFlight(st, input.cid);
      // set() re-measures its cids (sizeCalculation), and puts it back if it was evicted meanwhile.
      if (--st.pending === 0) {
        if (this.#pinned.get(conv) === st) this.#pinned.delete(conv);
        this.#seqs.set(conv, st);
      }
    };
    const p = this.#writer.write(ops).then((): AppendResult => {
      settle();
      if (seq > st.durable) st.durable = seq;
      if (early) {
        this.#shown?.written(early.file);
        if (early.state === 'held') { st.held--; onVisible!(seq, ts); }
        else {
          removeEarly(st, early);
          // Durable before its turn's flush ran (not expected: a batch takes a thread-pool trip).
          if (early.state === 'queued') { early.state = 'shown'; onVisible!(seq, ts); }
        }
      } else if (onVisible) { st.held--; onVisible(seq, ts); }
      if (st.complete) {
        st.cids.add(input.cid);
        // Past recentCids every append reads its cid on disk anyway: free the set.
        if (st.cids.size > this.#recentCids) { st.complete = false; st.cids = new CidSet(); }
      }
      return { seq, ts, dup: false };
    }, (err: unknown) => {
      settle();
      // A message shown early stays shown: its sender gets the error and no ack (docs/hub.md).
      if (early) {
        this.#shown?.written(early.file);
        if (early.state === 'held') st.held--;
        else removeEarly(st, early);
        // Never shown if its turn's flush has not run: it was not stored.
        if (early.state === 'queued') early.state = 'held';
      } else if (onVisible) st.held--;
      throw err;
    });
    addFlight(st, input.cid, p);
    return p;
  }

  /**
   * Writes this turn's early messages to the shown log in one write(), then shows them in seq
   * order. If the write fails, they are shown once durable instead, like held ones.
   */
  readonly #flushShown = (): void => {
    this.#flushScheduled = false;
    const list = this.#toShow;
    this.#toShow = [];
    let ok = true;
    try { this.#shown?.flush(); } catch { ok = false; }
    for (const e of list) {
      if (e.state !== 'queued') continue;
      if (ok) { e.state = 'shown'; e.show(e.m.seq, e.m.ts); continue; }
      e.state = 'held';
      const st = this.#live(e.conv);
      if (st) { removeEarly(st, e); st.held++; }
    }
  };

  protected async _range(conv: string, after: number, limit: number): Promise<StoredMessage[]> {
    await this.#mustRecord(conv);
    // Messages shown but not yet written, taken before the read: each is either among these or,
    // written since, found by the read (whose snapshot starts later).
    const unwritten = this.#live(conv)?.unwritten?.filter((e) => e.state === 'shown' && e.m.seq > after).map((e) => e.m);
    const values = await this.#db.values({ gt: msgPrefix(conv) + pad(after), lt: `m${SEP}${conv}\x01`, limit }).all();
    const out = values.map((v) => JSON.parse(v) as StoredMessage);
    if (unwritten?.length && out.length < limit) {
      const top = out.length ? out[out.length - 1]!.seq : after;
      for (const m of unwritten) if (m.seq > top && out.length < limit) out.push({ ...m });
    }
    return out;
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
