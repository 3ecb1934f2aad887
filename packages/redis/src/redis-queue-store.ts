/**
 * RedisQueueStore: a PriorityQueue store shared by several processes. Every hook is one Lua
 * script, so picking and marking happen in one atomic step: two nodes leasing from one queue
 * never get the same item.
 *
 * Keys of queue `q` (hash-tagged `{q}`: one Redis Cluster slot, scripts stay atomic):
 *   <p>q:{q}:items    hash  id -> item JSON (payload, priority, orderKey, seq, state, attempts, dueAt...)
 *   <p>q:{q}:ready    zset  score orderKey, member "<16-digit seq>:<id>" (equal scores sort by
 *                           member, so FIFO by seq within one order key)
 *   <p>q:{q}:delayed  zset  score availableAt, member id
 *   <p>q:{q}:leased   zset  score lease expiry, member id
 *   <p>q:{q}:dead     zset  score time of death, member id
 *   <p>q:{q}:seq      string counter
 * Payloads are stored as JSON: use JSON-serialisable payloads.
 *
 * counts() and nextDueAt() are synchronous in the QueueStore contract; here they report the
 * figures returned by this process's last script (other processes move them meanwhile), so
 * `supports.exactCounts` is false.
 */
import type { Redis } from 'ioredis';
import { KefuError, QueueStore } from '@kefu/core';
import type {
  LeaseGrant, NackDisposition, PushOutcome, PushRecord, QueueCounts, QueueStoreSupports, StoredItem, TickOutcome,
} from '@kefu/core';
import { checkName, checkPrefix, connectOnce, ownConnection, quit, storeCall, type RedisConnectionInput } from './connection.js';

export interface RedisQueueStoreOptions {
  /**
   * Queue name: stores with the same name and prefix share one queue.
   * @defaultValue 'default'
   */
  name?: string;
  /**
   * Key prefix.
   * @defaultValue 'kefu:'
   */
  prefix?: string;
}

// KEYS: 1 items, 2 ready, 3 delayed, 4 leased, 5 dead, 6 seq. Each script ends with the stats:
// {ready, delayed, leased, dead, next due (or -1)}.
const COMMON = `
local function stats()
  local nd = -1
  local a = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  local b = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
  if a[2] then nd = tonumber(a[2]) end
  if b[2] and (nd == -1 or tonumber(b[2]) < nd) then nd = tonumber(b[2]) end
  return {redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]), redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[5]), tostring(nd)}
end
local function member(it, id) return string.format('%016d', it.seq) .. ':' .. id end
local function unlink(it, id)
  if it.state == 'ready' then redis.call('ZREM', KEYS[2], member(it, id))
  elseif it.state == 'delayed' then redis.call('ZREM', KEYS[3], id)
  elseif it.state == 'leased' then redis.call('ZREM', KEYS[4], id)
  elseif it.state == 'dead' then redis.call('ZREM', KEYS[5], id) end
end
local function toReady(it, id) it.state = 'ready'; it.dueAt = 0; redis.call('ZADD', KEYS[2], it.orderKey, member(it, id)) end
local function save(it, id) redis.call('HSET', KEYS[1], id, cjson.encode(it)) end
-- 0 ok, -1 unknown lease, -2 expired
local function checkLease(it, attempt, now)
  if not it then return -1 end
  if it.state == 'leased' then
    if attempt == -1 or attempt == it.attempts then
      if it.dueAt > now then return 0 end
      return -2
    end
    if attempt < it.attempts then return -2 end
    return -1
  end
  if it.expired and (attempt == -1 or attempt <= it.attempts) then return -2 end
  return -1
end
local function load(id) local s = redis.call('HGET', KEYS[1], id); if s then return cjson.decode(s) end; return nil end
`;

// ARGV: n, then per record: id, json(record without id)
const PUSH = COMMON + `
local out = {}
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local id = ARGV[2 + i * 2]
  local existing = load(id)
  if existing then
    out[#out + 1] = {id, 0, existing.state}
  else
    local it = cjson.decode(ARGV[3 + i * 2])
    it.seq = redis.call('INCR', KEYS[6])
    it.attempts = 0
    it.expired = false
    if it.availableAt > it.enqueuedAt then
      it.state = 'delayed'; it.dueAt = it.availableAt
      redis.call('ZADD', KEYS[3], it.availableAt, id)
    else
      toReady(it, id)
    end
    save(it, id)
    out[#out + 1] = {id, 1, it.state}
  end
end
return {out, stats()}
`;

// ARGV: max, now, visibilityMs
const LEASE = COMMON + `
local now = tonumber(ARGV[2])
local expiresAt = now + tonumber(ARGV[3])
local popped = redis.call('ZPOPMIN', KEYS[2], tonumber(ARGV[1]))
local out = {}
for i = 1, #popped, 2 do
  local id = string.sub(popped[i], 18)
  local it = load(id)
  it.attempts = it.attempts + 1
  it.expired = false
  it.state = 'leased'
  it.dueAt = expiresAt
  redis.call('ZADD', KEYS[4], expiresAt, id)
  save(it, id)
  out[#out + 1] = cjson.encode({id = id, payload = it.payload, priority = it.priority, enqueuedAt = it.enqueuedAt, attempt = it.attempts, maxAttempts = it.maxAttempts, expiresAt = expiresAt})
end
return {out, stats()}
`;

// ARGV: id, attempt (-1 = any), now
const ACK = COMMON + `
local id = ARGV[1]
local it = load(id)
local c = checkLease(it, tonumber(ARGV[2]), tonumber(ARGV[3]))
if c ~= 0 then return {c, stats(), it and it.attempts or 0} end
unlink(it, id)
redis.call('HDEL', KEYS[1], id)
return {0, stats(), it.attempts}
`;

// ARGV: id, attempt, now, availableAt, dead (1/0)
const NACK = COMMON + `
local id = ARGV[1]
local now = tonumber(ARGV[3])
local it = load(id)
local c = checkLease(it, tonumber(ARGV[2]), now)
if c ~= 0 then return {c, stats(), it and it.attempts or 0} end
unlink(it, id)
local availableAt = tonumber(ARGV[4])
if ARGV[5] == '1' then
  it.state = 'dead'; it.dueAt = 0
  redis.call('ZADD', KEYS[5], now, id)
elseif availableAt > now then
  it.state = 'delayed'; it.dueAt = availableAt
  redis.call('ZADD', KEYS[3], availableAt, id)
else
  toReady(it, id)
end
save(it, id)
return {0, stats(), it.attempts}
`;

// ARGV: now, limit
const TICK = COMMON + `
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local promoted = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)) do
  local it = load(id)
  redis.call('ZREM', KEYS[3], id)
  toReady(it, id)
  save(it, id)
  promoted = promoted + 1
end
local expired = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, limit)) do
  local it = load(id)
  redis.call('ZREM', KEYS[4], id)
  it.expired = true
  local dead = 0
  if it.attempts >= it.maxAttempts then
    it.state = 'dead'; it.dueAt = 0
    redis.call('ZADD', KEYS[5], now, id)
    dead = 1
  else
    toReady(it, id)
  end
  save(it, id)
  expired[#expired + 1] = {id, it.attempts, dead}
end
return {promoted, expired, stats()}
`;

// ARGV: id
const REMOVE = COMMON + `
local it = load(ARGV[1])
if not it then return {0, stats()} end
unlink(it, ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
return {1, stats()}
`;

// ARGV: id
const REQUEUE_DEAD = COMMON + `
local it = load(ARGV[1])
if not it or it.state ~= 'dead' then return {0, stats()} end
redis.call('ZREM', KEYS[5], ARGV[1])
it.attempts = 0
it.expired = false
toReady(it, ARGV[1])
save(it, ARGV[1])
return {1, stats()}
`;

// ARGV: id -> rank (0-based) or -1
const POSITION = COMMON + `
local it = load(ARGV[1])
if not it or it.state ~= 'ready' then return -1 end
return redis.call('ZRANK', KEYS[2], member(it, ARGV[1]))
`;

const STATS = COMMON + `return stats()`;

/** An item as the scripts store it: the StoredItem fields plus the ordering and retry state. */
type Row<T> = Omit<StoredItem<T>, 'id'> & { orderKey: number; availableAt: number; seq: number; expired: boolean };

type Stats = [number, number, number, number, string];
type Scripted = Redis & Record<'kqPush' | 'kqLease' | 'kqAck' | 'kqNack' | 'kqTick' | 'kqRemove' | 'kqRequeueDead' | 'kqPosition' | 'kqStats', (...args: Array<string | number>) => Promise<unknown>>;

/** Most items one tick moves (the queue ticks again when more are due). */
const TICK_LIMIT = 1000;

export class RedisQueueStore<T = unknown> extends QueueStore<T> {
  readonly supports: QueueStoreSupports = { durable: true, shared: true, position: true, exactCounts: false };
  readonly #redis: Scripted;
  readonly #keys: string[];
  #counts: QueueCounts = { ready: 0, delayed: 0, leased: 0, dead: 0 };
  #nextDue: number | undefined;

  constructor(redis: RedisConnectionInput, options: RedisQueueStoreOptions = {}) {
    super();
    const name = checkName(options.name ?? 'default');
    const base = `${checkPrefix(options.prefix ?? 'kefu:')}q:{${name}}:`;
    this.#keys = ['items', 'ready', 'delayed', 'leased', 'dead', 'seq'].map((k) => base + k);
    const client = ownConnection(redis, { lazyConnect: true });
    const scripts: Record<string, string> = {
      kqPush: PUSH, kqLease: LEASE, kqAck: ACK, kqNack: NACK, kqTick: TICK, kqRemove: REMOVE,
      kqRequeueDead: REQUEUE_DEAD, kqPosition: POSITION, kqStats: STATS,
    };
    for (const [command, lua] of Object.entries(scripts)) client.defineCommand(command, { numberOfKeys: 6, lua });
    client.on('error', () => {}); // surfaced as rejected calls
    this.#redis = client as Scripted;
  }

  #run<R>(what: string, script: keyof Scripted & `kq${string}`, ...args: Array<string | number>): Promise<R> {
    return this.#call(what, () => (this.#redis[script] as (...a: Array<string | number>) => Promise<R>)(...this.#keys, ...args));
  }

  #stats(s: Stats): void {
    this.#counts = { ready: Number(s[0]), delayed: Number(s[1]), leased: Number(s[2]), dead: Number(s[3]) };
    const nd = Number(s[4]);
    this.#nextDue = nd < 0 ? undefined : nd;
  }

  protected async _open(): Promise<void> {
    await this.#call('connect', () => connectOnce(this.#redis));
    this.#stats(await this.#run<Stats>('open', 'kqStats'));
  }

  protected async _close(): Promise<void> {
    await quit(this.#redis);
  }

  protected async _push(records: ReadonlyArray<PushRecord<T>>): Promise<PushOutcome[]> {
    const args: Array<string | number> = [records.length];
    for (const r of records) {
      args.push(r.id, JSON.stringify({
        payload: r.payload, priority: r.priority, orderKey: r.orderKey, enqueuedAt: r.enqueuedAt, availableAt: r.availableAt, maxAttempts: r.maxAttempts,
      }));
    }
    const [out, stats] = await this.#run<[Array<[string, number, PushOutcome['state']]>, Stats]>('push', 'kqPush', ...args);
    this.#stats(stats);
    return out.map(([id, created, state]) => ({ id, created: created === 1, state }));
  }

  protected async _lease(max: number, now: number, visibilityMs: number): Promise<Array<LeaseGrant<T>>> {
    const [out, stats] = await this.#run<[string[], Stats]>('lease', 'kqLease', max, now, visibilityMs);
    this.#stats(stats);
    return out.map((s) => JSON.parse(s) as LeaseGrant<T>);
  }

  protected async _ack(id: string, attempt: number | undefined, now: number): Promise<void> {
    const [code, stats, attempts] = await this.#run<[number, Stats, number]>('ack', 'kqAck', id, attempt ?? -1, now);
    this.#stats(stats);
    leaseError(code, id, attempt ?? attempts);
  }

  protected async _nack(id: string, attempt: number | undefined, now: number, d: NackDisposition): Promise<void> {
    const [code, stats, attempts] = await this.#run<[number, Stats, number]>('nack', 'kqNack', id, attempt ?? -1, now, d.availableAt, d.dead ? 1 : 0);
    this.#stats(stats);
    leaseError(code, id, attempt ?? attempts);
  }

  protected async _tick(now: number): Promise<TickOutcome> {
    const [promoted, expired, stats] = await this.#run<[number, Array<[string, number, number]>, Stats]>('tick', 'kqTick', now, TICK_LIMIT);
    this.#stats(stats);
    return { promoted, expired: expired.map(([id, attempt, dead]) => ({ id, attempt, dead: dead === 1 })) };
  }

  protected async _remove(id: string): Promise<boolean> {
    const [ok, stats] = await this.#run<[number, Stats]>('remove', 'kqRemove', id);
    this.#stats(stats);
    return ok === 1;
  }

  protected async _get(id: string): Promise<StoredItem<T> | undefined> {
    const s = await this.#call('get', () => this.#redis.hget(this.#keys[0]!, id));
    return s ? toItem(id, JSON.parse(s) as Row<T>) : undefined;
  }

  protected async _position(id: string): Promise<number | undefined> {
    const r = await this.#run<number>('position', 'kqPosition', id);
    return r < 0 ? undefined : r + 1;
  }

  protected async _peek(n: number): Promise<Array<StoredItem<T>>> {
    if (n === 0) return [];
    const members = await this.#call('peek', () => this.#redis.zrange(this.#keys[1]!, 0, n - 1));
    return this.#items(members.map((m) => m.slice(17)));
  }

  protected async _listDead(limit: number): Promise<Array<StoredItem<T>>> {
    if (limit === 0) return [];
    const ids = await this.#call('listDead', () => this.#redis.zrange(this.#keys[4]!, 0, limit - 1));
    return this.#items(ids);
  }

  protected async _requeueDead(id: string, _now: number): Promise<boolean> {
    const [ok, stats] = await this.#run<[number, Stats]>('requeueDead', 'kqRequeueDead', id);
    this.#stats(stats);
    return ok === 1;
  }

  protected _counts(): QueueCounts {
    return { ...this.#counts };
  }

  protected _nextDueAt(): number | undefined {
    return this.#nextDue;
  }

  async #items(ids: string[]): Promise<Array<StoredItem<T>>> {
    if (ids.length === 0) return [];
    const rows = await this.#call('read', () => this.#redis.hmget(this.#keys[0]!, ...ids));
    const out: Array<StoredItem<T>> = [];
    rows.forEach((s, i) => { if (s) out.push(toItem(ids[i]!, JSON.parse(s) as Row<T>)); });
    return out;
  }

  #call<R>(what: string, fn: () => Promise<R>): Promise<R> {
    return storeCall('redis queue store', what, fn);
  }
}

function toItem<T>(id: string, r: Row<T>): StoredItem<T> {
  return { id, payload: r.payload, priority: r.priority, enqueuedAt: r.enqueuedAt, state: r.state, attempts: r.attempts, maxAttempts: r.maxAttempts, dueAt: r.dueAt };
}

function leaseError(code: number, id: string, attempt: number): void {
  if (code === 0) return;
  if (code === -2) throw new KefuError('KEFU_ERR_QUEUE_LEASE_EXPIRED', `the lease of ${JSON.stringify(id)} (attempt ${attempt}) expired; the item went back to the queue`, { details: { id, attempt } });
  throw new KefuError('KEFU_ERR_QUEUE_UNKNOWN_LEASE', `item ${JSON.stringify(id)} is not leased`, { details: { id } });
}
