/**
 * RedisAgentLedger: the cluster-wide view of agents that routing across hub nodes needs.
 *
 * - Presence with expiry: each node announces the agents it holds sockets for and refreshes them
 *   on a timer; an agent is online while any node's announcement is fresh. A node that dies stops
 *   refreshing, and its agents drop out after `presenceTtlMs` without anyone saying `offline`.
 * - Capacity reservations: `reserve(conv, agent, capacity)` is one Lua script, so however many
 *   nodes race, a conversation is held by at most one agent and an agent never holds more than
 *   its capacity. `release` and `transfer` are atomic too.
 *
 * Keys (one hash tag per tenant: a tenant's keys share a Redis Cluster slot, scripts stay atomic):
 *   <p>agents:{<tenant>}:on          zset  "<agent>\0<node>" -> expiry (ms since epoch)
 *   <p>agents:{<tenant>}:holder      hash  conv -> agent
 *   <p>agents:{<tenant>}:held:<agent> set   convs the agent holds
 */
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { KefuError } from '@kefu/core';
import { checkPrefix, connectOnce, ownConnection, quit, storeCall, type RedisConnectionInput } from './connection.js';

export interface RedisAgentLedgerOptions {
  /**
   * Key prefix, so several deployments can share one Redis.
   * @defaultValue 'kefu:'
   */
  prefix?: string;
  /**
   * This node's id in presence entries; two live nodes must not share one.
   * @defaultValue a random id
   */
  nodeId?: string;
  /**
   * How long a node's announcement of an agent stays valid without a refresh. The node refreshes
   * every third of it, so an agent of a node that died is seen offline at most this long.
   * @defaultValue 15000
   */
  presenceTtlMs?: number;
}

/** What `reserve` answers: `held` when the agent already holds it (idempotent), `taken` with the holder. */
export type Reservation =
  | { ok: true; held: boolean }
  | { ok: false; reason: 'taken'; holder: string }
  | { ok: false; reason: 'full'; load: number };

// KEYS: holder hash, agent's held set. ARGV: conv, agent, capacity.
const RESERVE = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  if cur == ARGV[2] then return {1, 1} end
  return {0, 'taken', cur}
end
local load = redis.call('SCARD', KEYS[2])
if load >= tonumber(ARGV[3]) then return {0, 'full', load} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return {1, 0}
`;

// KEYS: holder hash. ARGV: conv, held-set prefix. Returns the former holder or false.
const RELEASE = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', ARGV[2] .. cur, ARGV[1])
return cur
`;

// KEYS: holder hash, target's held set. ARGV: conv, target agent, capacity, held-set prefix.
const TRANSFER = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return {0, 'missing'} end
if cur == ARGV[2] then return {1, cur} end
local load = redis.call('SCARD', KEYS[2])
if load >= tonumber(ARGV[3]) then return {0, 'full', load} end
redis.call('SREM', ARGV[4] .. cur, ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return {1, cur}
`;

// KEYS: presence zset. ARGV: now. Drops expired entries, returns the live ones.
const LIVE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')
`;

type Scripted = Redis & Record<'kaReserve' | 'kaRelease' | 'kaTransfer' | 'kaLive', (...args: Array<string | number>) => Promise<unknown>>;

const ID = /^[\x21-\x7e]{1,128}$/;
function checkId(what: string, v: unknown): string {
  if (typeof v !== 'string' || !ID.test(v)) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `${what} must be 1-128 printable ASCII characters`);
  return v;
}
function checkCapacity(v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 10_000) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'capacity must be an integer from 1 to 10000');
  return v as number;
}

export class RedisAgentLedger {
  readonly nodeId: string;
  readonly presenceTtlMs: number;
  readonly #redis: Scripted;
  readonly #prefix: string;
  /** tenant -> agents this node announced, refreshed by the timer. */
  readonly #mine = new Map<string, Set<string>>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** @param redis an ioredis client (duplicated: the ledger owns its connection), a redis:// URL, or ioredis options. */
  constructor(redis: RedisConnectionInput, options: RedisAgentLedgerOptions = {}) {
    this.#prefix = checkPrefix(options.prefix ?? 'kefu:');
    this.nodeId = options.nodeId ?? randomUUID();
    if (typeof this.nodeId !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(this.nodeId)) throw new TypeError('options.nodeId must be 1-128 printable ASCII characters');
    this.presenceTtlMs = options.presenceTtlMs ?? 15_000;
    if (!Number.isInteger(this.presenceTtlMs) || this.presenceTtlMs < 300) throw new RangeError('options.presenceTtlMs must be an integer >= 300');
    const client = ownConnection(redis, { lazyConnect: true });
    client.defineCommand('kaReserve', { numberOfKeys: 2, lua: RESERVE });
    client.defineCommand('kaRelease', { numberOfKeys: 1, lua: RELEASE });
    client.defineCommand('kaTransfer', { numberOfKeys: 2, lua: TRANSFER });
    client.defineCommand('kaLive', { numberOfKeys: 1, lua: LIVE });
    client.on('error', () => {}); // surfaced as rejected calls
    this.#redis = client as Scripted;
  }

  #base(tenant: string): string {
    return `${this.#prefix}agents:{${checkId('tenant', tenant)}}:`;
  }

  #call<R>(what: string, fn: () => Promise<R>): Promise<R> {
    if (this.#closed) return Promise.reject(new KefuError('KEFU_ERR_CLOSED', 'the agent ledger is closed'));
    return storeCall('redis agent ledger', what, async () => {
      await connectOnce(this.#redis);
      return fn();
    });
  }

  // --- presence -------------------------------------------------------------------------------

  /** Announces that this node holds sockets of the agent; kept fresh until `offline` or `close`. */
  async online(tenant: string, agent: string): Promise<void> {
    const key = `${this.#base(tenant)}on`;
    checkId('agent', agent);
    await this.#call('online', () => this.#redis.zadd(key, Date.now() + this.presenceTtlMs, `${agent}\x00${this.nodeId}`));
    let set = this.#mine.get(tenant);
    if (!set) this.#mine.set(tenant, (set = new Set()));
    set.add(agent);
    this.#timer ??= setInterval(() => void this.#refresh(), Math.floor(this.presenceTtlMs / 3)).unref();
  }

  /** This node no longer holds sockets of the agent (another node may still). */
  async offline(tenant: string, agent: string): Promise<void> {
    const key = `${this.#base(tenant)}on`;
    checkId('agent', agent);
    const set = this.#mine.get(tenant);
    set?.delete(agent);
    if (set?.size === 0) this.#mine.delete(tenant);
    await this.#call('offline', () => this.#redis.zrem(key, `${agent}\x00${this.nodeId}`));
  }

  /** Agents of the tenant that some node announced and kept fresh, sorted. */
  async onlineAgents(tenant: string): Promise<string[]> {
    const key = `${this.#base(tenant)}on`;
    const live = (await this.#call('onlineAgents', () => this.#redis.kaLive(key, Date.now()))) as string[];
    return [...new Set(live.map((m) => m.slice(0, m.indexOf('\x00'))))].sort();
  }

  /** Fresh announcements of the tenant as `agent\0node` strings (clusterDesk expires dead nodes' agents with it). */
  async livePairs(tenant: string): Promise<Set<string>> {
    const key = `${this.#base(tenant)}on`;
    return new Set((await this.#call('livePairs', () => this.#redis.kaLive(key, Date.now()))) as string[]);
  }

  /** True when some node holds a fresh announcement of the agent. */
  async isOnline(tenant: string, agent: string): Promise<boolean> {
    checkId('agent', agent);
    return (await this.onlineAgents(tenant)).includes(agent);
  }

  async #refresh(): Promise<void> {
    if (this.#closed || this.#mine.size === 0) return;
    const until = Date.now() + this.presenceTtlMs;
    const p = this.#redis.pipeline();
    for (const [tenant, agents] of this.#mine) {
      const key = `${this.#base(tenant)}on`;
      for (const a of agents) p.zadd(key, until, `${a}\x00${this.nodeId}`);
    }
    // A failed refresh is retried by the next tick; entries outlive one miss (refresh at ttl/3).
    await p.exec().catch(() => undefined);
  }

  // --- capacity -------------------------------------------------------------------------------

  /**
   * Atomically gives `conv` to `agent` when nobody holds it and the agent holds fewer than
   * `capacity` conversations. Idempotent for the current holder.
   */
  async reserve(tenant: string, conv: string, agent: string, capacity: number): Promise<Reservation> {
    const base = this.#base(tenant);
    checkId('conv', conv);
    checkId('agent', agent);
    checkCapacity(capacity);
    const r = (await this.#call('reserve', () => this.#redis.kaReserve(`${base}holder`, `${base}held:${agent}`, conv, agent, capacity))) as [number, ...Array<string | number>];
    if (r[0] === 1) return { ok: true, held: r[1] === 1 };
    return r[1] === 'taken' ? { ok: false, reason: 'taken', holder: String(r[2]) } : { ok: false, reason: 'full', load: Number(r[2]) };
  }

  /** Frees `conv`; answers the agent that held it, or undefined when nobody did. */
  async release(tenant: string, conv: string): Promise<string | undefined> {
    const base = this.#base(tenant);
    checkId('conv', conv);
    const r = await this.#call('release', () => this.#redis.kaRelease(`${base}holder`, conv, `${base}held:`));
    return typeof r === 'string' ? r : undefined;
  }

  /**
   * Moves a held `conv` to `agent` if the agent has room: answers the former holder. Refused
   * (nothing changes) when nobody holds it (`missing`) or the target is at capacity (`full`).
   */
  async transfer(tenant: string, conv: string, agent: string, capacity: number): Promise<{ ok: true; from: string } | { ok: false; reason: 'missing' | 'full' }> {
    const base = this.#base(tenant);
    checkId('conv', conv);
    checkId('agent', agent);
    checkCapacity(capacity);
    const r = (await this.#call('transfer', () => this.#redis.kaTransfer(`${base}holder`, `${base}held:${agent}`, conv, agent, capacity, `${base}held:`))) as [number, string, ...unknown[]];
    return r[0] === 1 ? { ok: true, from: r[1] } : { ok: false, reason: r[1] === 'missing' ? 'missing' : 'full' };
  }

  /** The agent holding `conv`, or undefined. */
  async holder(tenant: string, conv: string): Promise<string | undefined> {
    const base = this.#base(tenant);
    checkId('conv', conv);
    return (await this.#call('holder', () => this.#redis.hget(`${base}holder`, conv))) ?? undefined;
  }

  /** Conversations the agent holds, sorted. */
  async held(tenant: string, agent: string): Promise<string[]> {
    const base = this.#base(tenant);
    checkId('agent', agent);
    return (await this.#call('held', () => this.#redis.smembers(`${base}held:${agent}`))).sort();
  }

  /**
   * Withdraws this node's presence announcements and closes the connection. Reservations stay:
   * they belong to the agents, not to the node.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#timer);
    const mine = [...this.#mine];
    this.#mine.clear();
    if (mine.length > 0 && this.#redis.status === 'ready') {
      const p = this.#redis.pipeline();
      for (const [tenant, agents] of mine) for (const a of agents) p.zrem(`${this.#base(tenant)}on`, `${a}\x00${this.nodeId}`);
      await p.exec().catch(() => undefined);
    }
    this.#closed = true;
    await quit(this.#redis);
  }
}
