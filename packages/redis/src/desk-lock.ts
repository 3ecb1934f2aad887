/**
 * The election lock of a desk across nodes: `SET NX PX` renewed by its holder, with a fencing
 * token. The token is `<n>:<node>` where n comes from INCR on a counter, so each term's token is
 * new even when the same node wins again; the RedisDeskStore checks it inside every write, so a
 * desk that lost the lock (paused, partitioned) cannot write over its successor.
 *
 * The holder also keeps a local lease: it stops treating itself as leader `ttlMs` after the
 * start of its last successful renewal, whether or not it has heard back from Redis since; Redis
 * expires the key no earlier than that, so two nodes never both believe they lead (clock rates
 * assumed close; the fence covers the rest).
 */
import type { Redis } from 'ioredis';
import { EventEmitter } from 'eventemitter3';
import { within } from './connection.js';

// KEYS: lock, counter. ARGV: node, ttl. Answers the new token, or false when the lock is held.
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local t = redis.call('INCR', KEYS[2]) .. ':' .. ARGV[1]
redis.call('SET', KEYS[1], t, 'PX', ARGV[2])
return t
`;
// KEYS: lock. ARGV: token, ttl.
const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;
// KEYS: lock. ARGV: token.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type Scripted = Redis & Record<'kdlAcquire' | 'kdlRenew' | 'kdlRelease', (...args: Array<string | number>) => Promise<unknown>>;

export interface DeskLockEvents {
  /** This node now holds the lock (a new term with a new token). */
  acquired: (token: string) => void;
  /** This node no longer holds it: renewal refused (another holder) or not confirmed within the lease. */
  lost: (reason: string) => void;
}

export class DeskLock extends EventEmitter<DeskLockEvents> {
  readonly #redis: Scripted;
  readonly #key: string;
  readonly #counter: string;
  readonly #node: string;
  readonly #ttlMs: number;
  #token: string | undefined;
  #leaseUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #stopped = false;

  /** `redis` is a connection the caller owns (the lock defines its scripts on it). */
  constructor(redis: Redis, key: string, node: string, ttlMs: number) {
    super();
    redis.defineCommand('kdlAcquire', { numberOfKeys: 2, lua: ACQUIRE });
    redis.defineCommand('kdlRenew', { numberOfKeys: 1, lua: RENEW });
    redis.defineCommand('kdlRelease', { numberOfKeys: 1, lua: RELEASE });
    this.#redis = redis as Scripted;
    this.#key = key;
    this.#counter = `${key}:fence`;
    this.#node = node;
    this.#ttlMs = ttlMs;
  }

  /** The token while this node holds the lock and its local lease runs, else undefined. */
  get token(): string | undefined {
    if (this.#token !== undefined && Date.now() >= this.#leaseUntil) this.#lose('lease ran out before a renewal was confirmed');
    return this.#token;
  }

  /**
   * Tries now, then every tenth of the TTL: to acquire while not holding (so a standby takes over
   * within about 1.1 TTL of the holder's death), to renew while holding (so a renewal or two may
   * fail without losing the lease).
   */
  start(): Promise<void> {
    this.#stopped = false;
    this.#timer ??= setInterval(() => void this.#tick(), Math.max(30, Math.floor(this.#ttlMs / 10)));
    return this.#tick();
  }

  async #tick(): Promise<void> {
    if (this.#busy || this.#stopped) return;
    this.#busy = true;
    const started = Date.now();
    try {
      if (this.token === undefined) {
        const t = (await this.#redis.kdlAcquire(this.#key, this.#counter, this.#node, this.#ttlMs)) as string | null;
        // Stopped while the script ran: give back what it took, or standbys wait out the TTL.
        if (typeof t === 'string' && this.#stopped) await this.#redis.kdlRelease(this.#key, t);
        else if (typeof t === 'string') {
          this.#token = t;
          this.#leaseUntil = started + this.#ttlMs;
          this.emit('acquired', t);
        }
      } else {
        const ok = await this.#redis.kdlRenew(this.#key, this.#token!, this.#ttlMs);
        if (ok === 1) this.#leaseUntil = started + this.#ttlMs;
        else this.#lose('another node holds the lock');
      }
    } catch {
      // Redis unreachable: the local lease runs out by itself (checked on every `token` read).
      void this.token;
    } finally {
      this.#busy = false;
    }
  }

  #lose(reason: string): void {
    if (this.#token === undefined) return;
    this.#token = undefined;
    this.#leaseUntil = 0;
    this.emit('lost', reason);
  }

  /** Stops trying; gives the lock up (deletes it if still ours) so a standby need not wait the TTL. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    const t = this.#token;
    this.#token = undefined;
    if (t !== undefined) await within(this.#redis.kdlRelease(this.#key, t), this.#ttlMs);
  }
}
