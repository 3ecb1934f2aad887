/**
 * RedisDeskStore: the desk's conversations, agent settings and sticky memory in Redis, so that a
 * desk on another node can take over (clusterDesk) and restore the live desk from here. Each
 * tenant's waiting line is a RedisQueueStore beside it.
 *
 * Every `write()` is one Lua script, so a batch of ops is atomic and applied in call order (one
 * connection, scripts run one at a time). With a `fence`, the script first checks that the
 * election lock still holds this node's token: a desk that lost the lock (paused, partitioned)
 * cannot overwrite what the new leader writes, its write fails with KEFU_ERR_DESK_FENCED.
 *
 * Keys (one hash tag per store name: a Redis Cluster keeps them in one slot, scripts stay atomic):
 *   <p>desk:{<name>}:active        hash  tenant\0conv -> JSON of an open conversation
 *   <p>desk:{<name>}:h:<tenant>\0<conv>  string JSON of a closed one, expiring after historyTtlMs
 *   <p>desk:{<name>}:agents        hash  tenant\0agent -> JSON settings
 *   <p>desk:{<name>}:last          hash  tenant\0visitor -> JSON { agent, at }
 *   <p>desk:{<name>}:lock          the election lock (clusterDesk), whose token fences writes
 *   queue desk.<name>.q-<hex tenant>   each tenant's waiting line (a RedisQueueStore)
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DeskStore, KefuError } from '@kefu/core';
import type { AgentSettings, DeskConversation, DeskQueueItem, DeskStoreOp, DeskStoreSupports, QueueStore, StoredAgent, StoredLastAgent } from '@kefu/core';
import { checkName, checkPrefix, connectOnce, ownConnection, quit, storeCall, type RedisConnectionInput } from './connection.js';
import { RedisQueueStore } from './redis-queue-store.js';

export interface RedisDeskStoreOptions {
  /**
   * Desk name: stores with the same name and prefix share one desk (and one election lock).
   * @defaultValue 'default'
   */
  name?: string;
  /**
   * Key prefix, so several deployments can share one Redis.
   * @defaultValue 'kefu:'
   */
  prefix?: string;
  /**
   * How long a closed conversation stays readable with `get()` (for ratings and history); Redis
   * expires it after that, so history never grows without bound.
   * @defaultValue 604_800_000 (7 days)
   */
  historyTtlMs?: number;
  /**
   * The token this node holds on `lockKey`, or undefined when it holds none. When set, every
   * write checks it inside the write script and fails with KEFU_ERR_DESK_FENCED on a mismatch.
   * clusterDesk sets it; a single desk leaves it unset.
   */
  fence?: () => string | undefined;
}

// KEYS: 1 active, 2 agents, 3 last, 4 lock. ARGV: 1 fence token ('' = unfenced), 2 history key
// prefix, 3 history ttl ms, then triples (op, field, value). Ops: c (open conversation), h (closed),
// a (agent), A (delete agent), l (last agent), L (delete last agent).
const WRITE = `
if ARGV[1] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[1] then return 0 end
for i = 4, #ARGV, 3 do
  local op, f, v = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if op == 'c' then
    redis.call('HSET', KEYS[1], f, v)
    redis.call('DEL', ARGV[2] .. f)
  elseif op == 'h' then
    redis.call('HDEL', KEYS[1], f)
    redis.call('SET', ARGV[2] .. f, v, 'PX', ARGV[3])
  elseif op == 'a' then redis.call('HSET', KEYS[2], f, v)
  elseif op == 'A' then redis.call('HDEL', KEYS[2], f)
  elseif op == 'l' then redis.call('HSET', KEYS[3], f, v)
  elseif op == 'L' then redis.call('HDEL', KEYS[3], f) end
end
return 1
`;

type Scripted = Redis & { kdWrite(...args: Array<string | number>): Promise<number> };

const SEP = '\u0000';

/** Where a desk's keys live: clusterDesk puts its relay stream and cursor beside the store's keys. */
export function deskKeyBase(prefix: string, name: string): string {
  return `${prefix}desk:{${name}}:`;
}

/** A record that is not JSON (written by something else, or damaged) is a coded store failure, not a SyntaxError. */
function parse<T>(key: string, v: string): T {
  try {
    return JSON.parse(v) as T;
  } catch (err) {
    throw new KefuError('KEFU_ERR_STORE', `redis desk store: corrupt record ${JSON.stringify(key.slice(0, 200))}`, { cause: err });
  }
}

export class RedisDeskStore extends DeskStore {
  readonly supports: DeskStoreSupports = { persistent: true, history: true };
  /** The election lock of this desk (clusterDesk): its holder's token fences writes. */
  readonly lockKey: string;
  /** Where clusterDesk keeps the desk's relay stream and cursor: beside the other keys. */
  readonly keyBase: string;
  readonly #redis: Scripted;
  readonly #input: RedisConnectionInput;
  readonly #prefix: string;
  readonly #historyTtlMs: number;
  readonly #fence: (() => string | undefined) | undefined;
  readonly #queues = new Map<string, RedisQueueStore<DeskQueueItem>>();
  readonly #name: string;

  /** @param redis an ioredis client (duplicated: the store owns its connection), a redis:// URL, or ioredis options. */
  constructor(redis: RedisConnectionInput, options: RedisDeskStoreOptions = {}) {
    super();
    this.#prefix = checkPrefix(options.prefix ?? 'kefu:');
    const name = (this.#name = checkName(options.name ?? 'default'));
    if (name.length > 40) throw new TypeError('options.name must be at most 40 characters (it also names the waiting lines)');
    this.#historyTtlMs = options.historyTtlMs ?? 604_800_000;
    if (!Number.isSafeInteger(this.#historyTtlMs) || this.#historyTtlMs < 1) throw new RangeError('options.historyTtlMs must be an integer >= 1');
    if (options.fence !== undefined && typeof options.fence !== 'function') throw new TypeError('options.fence must be a function returning the lock token');
    this.#fence = options.fence;
    this.keyBase = deskKeyBase(this.#prefix, name);
    this.lockKey = `${this.keyBase}lock`;
    this.#input = redis;
    const client = ownConnection(redis, { lazyConnect: true });
    client.defineCommand('kdWrite', { numberOfKeys: 4, lua: WRITE });
    client.on('error', () => {}); // surfaced as rejected calls
    this.#redis = client as Scripted;
  }

  #call<R>(what: string, fn: () => Promise<R>): Promise<R> {
    return storeCall('redis desk store', what, fn);
  }

  protected async _open(): Promise<void> {
    await this.#call('open', () => connectOnce(this.#redis));
  }

  protected async _close(): Promise<void> {
    await Promise.allSettled([...this.#queues.values()].map((q) => q.close()));
    this.#queues.clear();
    await quit(this.#redis);
  }

  protected async _write(ops: DeskStoreOp[]): Promise<void> {
    let token = '';
    if (this.#fence) {
      token = this.#fence() ?? '';
      if (token === '') throw new KefuError('KEFU_ERR_DESK_FENCED', 'redis desk store: this node holds no desk lock; write refused');
    }
    const args: string[] = [token, `${this.keyBase}h:`, String(this.#historyTtlMs)];
    for (const op of ops) {
      if (op.type === 'conversation') {
        const c = op.value;
        args.push(c.state === 'closed' ? 'h' : 'c', `${c.tenant}${SEP}${c.id}`, JSON.stringify(c));
      } else if (op.type === 'agent') {
        args.push('a', `${op.tenant}${SEP}${op.id}`, JSON.stringify(op.value));
      } else if (op.type === 'delete-agent') {
        args.push('A', `${op.tenant}${SEP}${op.id}`, '');
      } else if (op.type === 'last-agent') {
        args.push('l', `${op.tenant}${SEP}${op.visitor}`, JSON.stringify({ agent: op.agent, at: op.at }));
      } else {
        args.push('L', `${op.tenant}${SEP}${op.visitor}`, '');
      }
    }
    const b = this.keyBase;
    const ok = await this.#call('write', () => this.#redis.kdWrite(`${b}active`, `${b}agents`, `${b}last`, this.lockKey, ...args));
    if (ok !== 1) throw new KefuError('KEFU_ERR_DESK_FENCED', 'redis desk store: the desk lock is held by another node; write refused');
  }

  /** HSCAN in pages, so a large desk loads without one huge reply. */
  async #scan(key: string, each: (field: string, value: string) => void): Promise<void> {
    let cursor = '0';
    do {
      const [next, flat] = await this.#call('scan', () => this.#redis.hscan(key, cursor, 'COUNT', 500));
      for (let i = 0; i + 1 < flat.length; i += 2) each(flat[i]!, flat[i + 1]!);
      cursor = next;
    } while (cursor !== '0');
  }

  protected async _loadActive(): Promise<DeskConversation[]> {
    const out: DeskConversation[] = [];
    await this.#scan(`${this.keyBase}active`, (f, v) => out.push(parse<DeskConversation>(f, v)));
    return out;
  }

  protected async _get(tenant: string, id: string): Promise<DeskConversation | undefined> {
    const f = `${tenant}${SEP}${id}`;
    const open = await this.#call('get', () => this.#redis.hget(`${this.keyBase}active`, f));
    const v = open ?? (await this.#call('get', () => this.#redis.get(`${this.keyBase}h:${f}`)));
    return v === null ? undefined : parse<DeskConversation>(f, v);
  }

  protected async _loadAgents(): Promise<StoredAgent[]> {
    const out: StoredAgent[] = [];
    await this.#scan(`${this.keyBase}agents`, (f, v) => {
      const [tenant = '', id = ''] = f.split(SEP);
      out.push({ tenant, id, settings: parse<AgentSettings>(f, v) });
    });
    return out;
  }

  protected async _loadLastAgents(): Promise<StoredLastAgent[]> {
    const out: StoredLastAgent[] = [];
    await this.#scan(`${this.keyBase}last`, (f, v) => {
      const [tenant = '', visitor = ''] = f.split(SEP);
      const { agent, at } = parse<{ agent: string; at: number }>(f, v);
      out.push({ tenant, visitor, agent, at });
    });
    return out;
  }

  /**
   * A tenant's waiting line: a RedisQueueStore named after this desk and the tenant (hex, or a
   * SHA-1 for long ids: tenant ids may hold characters a queue name may not). Each opens its own
   * connection; the store closes the last one made per tenant when it closes (the desk closes a
   * queue itself when it goes idle).
   */
  protected override _queueStore(tenant: string): QueueStore<DeskQueueItem> {
    const t = tenant.length <= 40 ? Buffer.from(tenant).toString('hex') : `s${createHash('sha1').update(tenant).digest('hex')}`;
    const q = new RedisQueueStore<DeskQueueItem>(this.#input, { prefix: this.#prefix, name: `desk.${this.#name}.q-${t}` });
    this.#queues.set(tenant, q);
    return q;
  }
}
