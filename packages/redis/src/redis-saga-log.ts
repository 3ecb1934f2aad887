/**
 * RedisSagaLog: the saga step log in Redis, so that a saga started on one node is recovered by
 * another after a crash. Optimistic concurrency (the record's version) is checked in a Lua
 * script, so two nodes can never both advance one saga.
 *
 * Keys (one hash tag: all saga keys in one Redis Cluster slot, scripts stay atomic):
 *   <p>saga:{log}:rec        hash  id -> record JSON
 *   <p>saga:{log}:ver        hash  id -> version
 *   <p>saga:{log}:st:<state> zset  score 0, member id (lexicographic paging with ZRANGEBYLEX)
 */
import type { Redis } from 'ioredis';
import { KefuError, SagaLog, sagaStates } from '@kefu/core';
import type { SagaLogOptions, SagaLogSupports, SagaRecord, SagaState } from '@kefu/core';
import { checkName, checkPrefix, connectOnce, ownConnection, quit, storeCall, type RedisConnectionInput } from './connection.js';

export interface RedisSagaLogOptions extends SagaLogOptions {
  /**
   * Key prefix.
   * @defaultValue 'kefu:'
   */
  prefix?: string;
  /**
   * Log name: logs with the same name and prefix share their records.
   * @defaultValue 'default'
   */
  name?: string;
}

// KEYS: rec, ver, new state set. ARGV: id, json, version, state-set prefix
const CREATE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'exists' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return 'ok'
`;

// KEYS: rec, ver, new state set. ARGV: id, json, new version, expected version, state-set prefix, states...
const UPDATE = `
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if not cur then return 'missing' end
if cur ~= ARGV[4] then return 'conflict' end
for i = 6, #ARGV do redis.call('ZREM', ARGV[5] .. ARGV[i], ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return 'ok'
`;

// KEYS: rec, ver. ARGV: id, state-set prefix, states...
const DELETE = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
for i = 3, #ARGV do redis.call('ZREM', ARGV[2] .. ARGV[i], ARGV[1]) end
return 1
`;

type Scripted = Redis & Record<'ksCreate' | 'ksUpdate' | 'ksDelete', (...args: Array<string | number>) => Promise<unknown>>;

export class RedisSagaLog extends SagaLog {
  readonly supports: SagaLogSupports = { durable: true, evictsFinished: false };
  readonly #redis: Scripted;
  readonly #base: string;

  constructor(redis: RedisConnectionInput, options: RedisSagaLogOptions = {}) {
    super(options);
    this.#base = `${checkPrefix(options.prefix ?? 'kefu:')}saga:{${checkName(options.name ?? 'default')}}:`;
    const client = ownConnection(redis, { lazyConnect: true });
    client.defineCommand('ksCreate', { numberOfKeys: 3, lua: CREATE });
    client.defineCommand('ksUpdate', { numberOfKeys: 3, lua: UPDATE });
    client.defineCommand('ksDelete', { numberOfKeys: 2, lua: DELETE });
    client.on('error', () => {}); // surfaced as rejected calls
    this.#redis = client as Scripted;
  }

  #k(kind: 'rec' | 'ver'): string {
    return this.#base + kind;
  }

  #state(state: SagaState): string {
    return `${this.#base}st:${state}`;
  }

  #call<R>(what: string, fn: () => Promise<R>): Promise<R> {
    return storeCall('redis saga log', what, fn);
  }

  protected async _open(): Promise<void> {
    await this.#call('connect', () => connectOnce(this.#redis));
  }

  protected async _close(): Promise<void> {
    await quit(this.#redis);
  }

  protected async _create(record: SagaRecord, json: string): Promise<'ok' | 'exists'> {
    return this.#call('create', () => this.#redis.ksCreate(this.#k('rec'), this.#k('ver'), this.#state(record.state), record.id, json, record.version)) as Promise<'ok' | 'exists'>;
  }

  protected async _update(record: SagaRecord, json: string, expectedVersion: number): Promise<'ok' | 'missing' | 'conflict'> {
    return this.#call('update', () =>
      this.#redis.ksUpdate(this.#k('rec'), this.#k('ver'), this.#state(record.state), record.id, json, record.version, expectedVersion, `${this.#base}st:`, ...sagaStates)) as Promise<'ok' | 'missing' | 'conflict'>;
  }

  protected async _get(id: string): Promise<string | undefined> {
    const s = await this.#call('get', () => this.#redis.hget(this.#k('rec'), id));
    return s ?? undefined;
  }

  protected async _list(state: SagaState, limit: number, after: string | undefined): Promise<string[]> {
    const ids = await this.#call('list', () => this.#redis.zrangebylex(this.#state(state), after === undefined ? '-' : `(${after}`, '+', 'LIMIT', 0, limit));
    if (ids.length === 0) return [];
    const rows = await this.#call('list', () => this.#redis.hmget(this.#k('rec'), ...ids));
    return rows.filter((r): r is string => r !== null);
  }

  protected async _delete(id: string): Promise<boolean> {
    return (await this.#call('delete', () => this.#redis.ksDelete(this.#k('rec'), this.#k('ver'), id, `${this.#base}st:`, ...sagaStates))) === 1;
  }
}
