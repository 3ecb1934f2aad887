/**
 * RedisConversationStore: the message log, sequence numbers and membership in Redis, shared by
 * every hub node, so a client resumes from any node.
 *
 * Layout per conversation `id` (hash-tagged `{id}` so that one conversation's keys live in one
 * Redis Cluster slot and the Lua scripts stay atomic there):
 *   <p>c:{id}    hash   the record (tenant, visitor, createdAt, data, closed, closedReason)
 *   <p>l:{id}    list   messages as JSON; seq n sits at index n-1, so a range read is one LRANGE
 *   <p>i:{id}    hash   cid -> seq (the idempotency index)
 *   <p>m:{id}    hash   userId -> member JSON (sender + readSeq)
 * Seq assignment, the cid check and the closed check happen in one Lua script: atomic across nodes.
 *
 * With `bus` (a RedisBus on the same Redis server), the append script also publishes the
 * message frame on the conversation's bus channel: one command per message instead of an
 * append and a publish, and the frames of one conversation reach the channel in seq order
 * whichever nodes append (Redis runs scripts one at a time).
 *
 * Durability is Redis's: with `appendonly yes` and `appendfsync always` an acked message survives
 * a Redis crash; with `everysec` (the usual setting) up to about one second of acked messages can
 * be lost if the Redis machine itself fails (docs/scaling.md).
 */
import type { Redis } from 'ioredis';
import { ConversationStore, KefuError, hubTopics } from '@kefu/core';
import type {
  AddMemberResult, AppendInput, AppendResult, ConversationRecord, ConversationStoreSupports, StoredMessage,
} from '@kefu/core';
import type { Member, Sender } from '@kefu/protocol';
import { checkPrefix, connectOnce, ownConnection, quit, storeCall, type RedisConnectionInput } from './connection.js';
import { batchWrites, checkBatchWrites } from './batch-writes.js';
import { busLink, type BusLink, type RedisBus } from './redis-bus.js';

export interface RedisConversationStoreOptions {
  /**
   * Key prefix, so several deployments can share one Redis.
   * @defaultValue 'kefu:'
   */
  prefix?: string;
  /**
   * The node's RedisBus, connected to the same Redis server as this store (not sharded): each
   * append then publishes its message frame inside the append script, exactly as the hub would
   * encode it, and the hub skips its own publish of it (the append's `published` flag). The hub
   * must be given this same bus (it refuses another: `publishesOn`). Saves one Redis command, one
   * reply and one send per message. A bus on another Redis server would never see these
   * publications: leave this unset then.
   * @defaultValue undefined (the hub publishes)
   */
  bus?: RedisBus;
  /**
   * Write the commands issued in one turn of the event loop in one system call.
   * @defaultValue true
   */
  batchWrites?: boolean;
}


// Returns {1, seq} on append, {0, storedJson} for a duplicate cid, {-1} not found, {-2} closed.
// With ARGV[3] (a channel), a new message is also published there as ARGV[4] .. seq .. ',' .. rest:
// the frame head ends in '"seq":' so that the published frame is the stored JSON plus t and conv.
const APPEND = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local prev = redis.call('HGET', KEYS[3], ARGV[1])
if prev then return {0, redis.call('LINDEX', KEYS[2], tonumber(prev) - 1)} end
if redis.call('HGET', KEYS[1], 'closed') == '1' then return {-2} end
local seq = redis.call('LLEN', KEYS[2]) + 1
redis.call('RPUSH', KEYS[2], '{"seq":' .. seq .. ',' .. ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], seq)
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4] .. seq .. ',' .. ARGV[2]) end
return {1, seq}
`;

// Read marks only move forward and never past the last seq. Returns the resulting readSeq,
// -1 not found, -3 not a member.
const MARK_READ = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local m = redis.call('HGET', KEYS[2], ARGV[1])
if not m then return -3 end
local member = cjson.decode(m)
local seq = math.min(tonumber(ARGV[2]), redis.call('LLEN', KEYS[3]))
if seq > member.readSeq then
  member.readSeq = seq
  redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(member))
end
return member.readSeq
`;

const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'r', ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
`;

// Membership calls are one script each (one round trip where EXISTS and then the hash command
// took two): a hub's join runs isMember, addMember and members one after the other.
// Returns {1} added, {0, existingJson} already a member, {-1} not found.
const ADD_MEMBER = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then return {1} end
return {0, redis.call('HGET', KEYS[2], ARGV[1])}
`;

// KEYS[1] record, KEYS[2] members; ARGV[1] 'is' | 'del' | 'all'. -1 not found, else the answer
// (HEXISTS / HDEL count / HVALS list).
const MEMBERS = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[1] == 'is' then return redis.call('HEXISTS', KEYS[2], ARGV[2]) end
if ARGV[1] == 'del' then return redis.call('HDEL', KEYS[2], ARGV[2]) end
return redis.call('HVALS', KEYS[2])
`;

// KEYS[1] record, KEYS[2] list. -1 not found, else LLEN (ARGV[1] 'len') or LRANGE ARGV[2] ARGV[3].
// One command where MULTI / EXISTS / LLEN / EXEC were four.
const LOG = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[1] == 'len' then return redis.call('LLEN', KEYS[2]) end
return redis.call('LRANGE', KEYS[2], ARGV[2], ARGV[3])
`;

const CLOSE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'closed', '1')
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'closedReason', ARGV[1]) end
return 1
`;

type ScriptClient = Redis & {
  kefuAppend(k1: string, k2: string, k3: string, cid: string, rest: string, channel: string, head: string): Promise<[number, number | string]>;
  kefuMarkRead(k1: string, k2: string, k3: string, user: string, seq: number): Promise<number>;
  kefuCreate(k1: string, k2: string, record: string, visitorId: string, member: string): Promise<number>;
  kefuClose(k1: string, reason: string): Promise<number>;
  kefuLog(k1: string, k2: string, op: 'len' | 'range', from: number, to: number): Promise<number | string[]>;
  kefuAddMember(k1: string, k2: string, user: string, member: string): Promise<[number, string?]>;
  kefuMembers(k1: string, k2: string, op: 'is' | 'del' | 'all', user: string): Promise<number | string[]>;
};

export class RedisConversationStore extends ConversationStore {
  readonly supports: ConversationStoreSupports = { persistent: true, shared: true };

  /** The bus this store publishes every appended message on (`options.bus`), if any. */
  override get publishesOn(): RedisBus | undefined {
    return this.#bus;
  }
  readonly #redis: ScriptClient;
  readonly #prefix: string;
  readonly #link: BusLink | undefined;
  readonly #bus: RedisBus | undefined;

  /** @param redis an ioredis client (duplicated, the store owns its connection), a URL or options. */
  constructor(redis: RedisConnectionInput, options: RedisConversationStoreOptions = {}) {
    super();
    this.#prefix = checkPrefix(options.prefix ?? 'kefu:');
    const batch = checkBatchWrites(options.batchWrites);
    if (options.bus !== undefined) {
      this.#link = busLink(options.bus);
      if (this.#link === undefined) throw new TypeError('options.bus must be a RedisBus that is not sharded');
      this.#bus = options.bus;
    }
    const client = ownConnection(redis, { lazyConnect: true });
    if (batch) batchWrites(client);
    client.defineCommand('kefuAppend', { numberOfKeys: 3, lua: APPEND });
    client.defineCommand('kefuMarkRead', { numberOfKeys: 3, lua: MARK_READ });
    client.defineCommand('kefuCreate', { numberOfKeys: 2, lua: CREATE });
    client.defineCommand('kefuClose', { numberOfKeys: 1, lua: CLOSE });
    client.defineCommand('kefuLog', { numberOfKeys: 2, lua: LOG });
    client.defineCommand('kefuAddMember', { numberOfKeys: 2, lua: ADD_MEMBER });
    client.defineCommand('kefuMembers', { numberOfKeys: 2, lua: MEMBERS });
    // A store error must not crash the host: failures surface as rejected calls.
    client.on('error', () => {});
    this.#redis = client as ScriptClient;
  }

  #k(kind: 'c' | 'l' | 'i' | 'm', id: string): string {
    return `${this.#prefix}${kind}:{${id}}`;
  }

  #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return storeCall('redis conversation store', what, fn);
  }

  protected async _open(): Promise<void> {
    await this.#call('connect', () => connectOnce(this.#redis));
  }

  protected async _close(): Promise<void> {
    await quit(this.#redis);
  }

  protected async _create(record: ConversationRecord): Promise<ConversationRecord> {
    const member: Member = { ...record.visitor, readSeq: 0 };
    const ok = await this.#call('create', () =>
      this.#redis.kefuCreate(this.#k('c', record.id), this.#k('m', record.id), JSON.stringify(record), record.visitor.id, JSON.stringify(member)));
    if (ok !== 1) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `conversation "${record.id}" already exists`);
    return { ...record };
  }

  protected async _get(id: string): Promise<ConversationRecord | undefined> {
    const h = await this.#call('get', () => this.#redis.hgetall(this.#k('c', id)));
    if (!h.r) return undefined;
    const record = JSON.parse(h.r) as ConversationRecord;
    if (h.closed === '1') record.closed = true;
    if (h.closedReason !== undefined) record.closedReason = h.closedReason;
    return record;
  }

  protected async _closeConversation(id: string, reason: string | undefined): Promise<ConversationRecord> {
    const ok = await this.#call('close', () => this.#redis.kefuClose(this.#k('c', id), reason ?? ''));
    if (ok !== 1) throw notFound(id);
    return (await this._get(id))!;
  }

  protected async _append(conv: string, input: AppendInput): Promise<AppendResult> {
    const ts = Date.now();
    // The stored JSON is completed by the script with the seq it assigns: '{"seq":N,' + rest.
    const rest = JSON.stringify({ cid: input.cid, from: input.from, body: input.body, ts, ...(input.data !== undefined ? { data: input.data } : {}) }).slice(1);
    const link = this.#link;
    // The frame head as the hub encodes a MessageFrame: {"t":"msg","conv":..,"seq":N, then the
    // stored fields in the same order (cid, from, body, ts, data).
    const channel = link ? link.channel(hubTopics.conv(conv)) : '';
    const head = link ? `{"t":"msg","conv":${JSON.stringify(conv)},"seq":` : '';
    const r = await this.#call('append', () => this.#redis.kefuAppend(this.#k('c', conv), this.#k('l', conv), this.#k('i', conv), input.cid, rest, channel, link ? link.head + head : ''));
    const status = r[0];
    if (status === 1) {
      const seq = Number(r[1]);
      return link ? { seq, ts, dup: false, published: true } : { seq, ts, dup: false };
    }
    if (status === 0) {
      const prior = JSON.parse(String(r[1])) as StoredMessage;
      return { seq: prior.seq, ts: prior.ts, dup: true };
    }
    if (status === -2) throw new KefuError('KEFU_ERR_CONVERSATION_CLOSED', `conversation "${conv}" is closed`, { details: { conv } });
    throw notFound(conv);
  }

  protected async _range(conv: string, after: number, limit: number): Promise<StoredMessage[]> {
    const rows = await this.#call('range', () => this.#redis.kefuLog(this.#k('c', conv), this.#k('l', conv), 'range', after, after + limit - 1));
    if (rows === -1) throw notFound(conv);
    return (rows as string[]).map((s) => JSON.parse(s) as StoredMessage);
  }

  protected async _lastSeq(conv: string): Promise<number> {
    const len = await this.#call('lastSeq', () => this.#redis.kefuLog(this.#k('c', conv), this.#k('l', conv), 'len', 0, 0));
    if (len === -1) throw notFound(conv);
    return len as number;
  }

  protected async _addMember(conv: string, sender: Sender): Promise<AddMemberResult> {
    const member: Member = { ...sender, readSeq: 0 };
    const r = await this.#call('addMember', () => this.#redis.kefuAddMember(this.#k('c', conv), this.#k('m', conv), sender.id, JSON.stringify(member)));
    if (r[0] === -1) throw notFound(conv);
    if (r[0] === 1) return { added: true, member };
    return { added: false, member: JSON.parse(r[1]!) as Member };
  }

  protected async _removeMember(conv: string, userId: string): Promise<boolean> {
    return (await this.#members(conv, 'del', userId, 'removeMember')) === 1;
  }

  protected async _members(conv: string): Promise<Member[]> {
    const all = (await this.#members(conv, 'all', '', 'members')) as string[];
    return all.map((s) => JSON.parse(s) as Member);
  }

  protected async _isMember(conv: string, userId: string): Promise<boolean> {
    return (await this.#members(conv, 'is', userId, 'isMember')) === 1;
  }

  async #members(conv: string, op: 'is' | 'del' | 'all', userId: string, what: string): Promise<number | string[]> {
    const r = await this.#call(what, () => this.#redis.kefuMembers(this.#k('c', conv), this.#k('m', conv), op, userId));
    if (r === -1) throw notFound(conv);
    return r;
  }

  protected async _markRead(conv: string, userId: string, seq: number): Promise<number> {
    const r = await this.#call('markRead', () => this.#redis.kefuMarkRead(this.#k('c', conv), this.#k('m', conv), this.#k('l', conv), userId, seq));
    if (r === -1) throw notFound(conv);
    if (r === -3) throw new KefuError('KEFU_ERR_NOT_MEMBER', `"${userId}" is not a member of "${conv}"`, { details: { conv, userId } });
    return r;
  }

}

function notFound(conv: string): KefuError {
  return new KefuError('KEFU_ERR_CONVERSATION_NOT_FOUND', `no conversation "${conv}"`, { details: { conv } });
}
