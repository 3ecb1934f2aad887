/**
 * RedisBus: cross-node fan-out over Redis pub/sub.
 *
 * Why pub/sub (docs/scaling.md has the measurements): the bus carries live frames whose
 * durable copy is already in the conversation store, so the bus need not persist anything;
 * a node that misses bus traffic (Redis restart, partition) heals from the store by sequence
 * number. Pub/sub costs one PUBLISH per frame and no trimming, where streams cost an XADD plus
 * per-node XREAD and memory until trimmed. Sharded pub/sub (SSUBSCRIBE) only helps on a Redis
 * Cluster; set `sharded: true` there.
 *
 * Each payload is prefixed with the publishing node's id and a newline, so a node skips its
 * own publications (it delivered them to its local sockets already).
 *
 * A RedisConversationStore given this bus (`{ bus }`) publishes each message frame inside its
 * append script: one command per message instead of an append and then a publish. The store
 * names this bus as the one it publishes on (`publishesOn`) and flags each such append
 * (`published`), so the hub, which must use this very bus, does not publish the frame again.
 */
import type { Redis } from 'ioredis';
import { Bus, KefuError, type BusOptions } from '@kefu/core';
import { checkPrefix, ownConnection, type RedisConnectionInput } from './connection.js';
import { batchWrites, checkBatchWrites, type BatchedWrites } from './batch-writes.js';

export interface RedisBusOptions extends BusOptions {
  /**
   * Prefix of every channel name, so several deployments can share one Redis.
   * @defaultValue 'kefu:'
   */
  prefix?: string;
  /**
   * Use sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7+) for Redis Cluster.
   * @defaultValue false
   */
  sharded?: boolean;
  /**
   * Write the commands issued in one turn of the event loop in one system call (the socket is
   * corked until setImmediate), on both connections: publications, and the subscriptions of
   * many joins.
   * @defaultValue true
   */
  batchWrites?: boolean;
}


/** Package-internal: what a linked RedisConversationStore needs from the bus. */
export interface BusLink {
  /** The Redis channel of a bus topic. */
  channel(topic: string): string;
  /** The node id + newline every publication starts with. */
  readonly head: string;
}

const links = new WeakMap<RedisBus, BusLink>();

/** The link of a RedisBus (package-internal; undefined for sharded buses, which cannot be linked). */
export function busLink(bus: RedisBus): BusLink | undefined {
  return links.get(bus);
}

export class RedisBus extends Bus {
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #prefix: string;
  readonly #sharded: boolean;
  #down = false;
  #closing = false;
  #resubscribing = false;
  /** Channels this node subscribes to, for the explicit re-subscribe after an outage. */
  readonly #channels = new Set<string>();
  readonly #writes: BatchedWrites | undefined;

  /**
   * @param redis an ioredis client (duplicated: the bus owns two connections of its own, one for
   * publishing and one in subscriber mode), a redis:// URL, or ioredis options.
   */
  constructor(redis: RedisConnectionInput, options: RedisBusOptions = {}) {
    super(options);
    this.#prefix = checkPrefix(options.prefix ?? 'kefu:');
    this.#sharded = options.sharded ?? false;
    const batch = checkBatchWrites(options.batchWrites);
    this.#pub = ownConnection(redis);
    // The subscriber skips ioredis's INFO ready check: issued after a SUBSCRIBE that was queued
    // while connecting, it fails with "Connection in subscriber mode".
    this.#sub = ownConnection(redis, { enableReadyCheck: false });
    if (batch) {
      this.#writes = batchWrites(this.#pub);
      // A node's joins in one turn subscribe together too (a ramp of thousands of joins).
      batchWrites(this.#sub);
    }
    // Sharded channels live on their own shards, not on the conversation's slot: a store's
    // script cannot publish there.
    if (!this.#sharded) {
      links.set(this, {
        channel: (topic) => this.#prefix + topic,
        head: `${this.nodeId}\n`,
      });
    }
    const onMessage = (channel: string, message: string) => {
      const nl = message.indexOf('\n');
      if (nl < 0 || !channel.startsWith(this.#prefix)) return;
      this._deliver(channel.slice(this.#prefix.length), message.slice(nl + 1), message.slice(0, nl));
    };
    this.#sub.on(this.#sharded ? 'smessage' : 'message', onMessage);
    for (const c of [this.#pub, this.#sub]) {
      c.on('error', (err: Error) => this.#fault(err));
      // A connection Redis cuts (CLIENT KILL, pub/sub output-buffer limit) reconnects without an
      // 'error': the close alone says that publications may have been missed.
      c.on('close', () => { if (!this.#closing) this.#fault(new Error('connection closed')); });
      c.on('ready', () => void this.#recovered());
    }
  }

  /** How the publishing connection's writes were batched (empty with `batchWrites: false`). */
  get stats(): { writeFlushes?: number; writeCommands?: number } {
    return this.#writes ? { writeFlushes: this.#writes.flushes, writeCommands: this.#writes.commands } : {};
  }

  /** True while either connection is down. */
  get degraded(): boolean {
    return this.#down;
  }

  #fault(err: Error): void {
    const first = !this.#down;
    this.#down = true;
    // Report each outage once, not every reconnect attempt.
    if (first && this.listenerCount('error') > 0) {
      this.emit('error', new KefuError('KEFU_ERR_BUS_UNAVAILABLE', `redis bus: ${err.message}`, { cause: err }));
    }
  }

  /**
   * Both connections are back. ioredis re-subscribes by itself after 'ready' but does not say
   * when Redis has answered; subscribing again (idempotent) and awaiting it does, so that
   * 'recovered' means: from now on nothing published is missed, heal what came before.
   */
  async #recovered(): Promise<void> {
    if (!this.#down || this.#resubscribing || this.#pub.status !== 'ready' || this.#sub.status !== 'ready') return;
    this.#resubscribing = true;
    try {
      const channels = [...this.#channels];
      if (this.#sharded) {
        // Sharded channels may live on different shards: one command each.
        for (const c of channels) await this.#sub.ssubscribe(c);
      } else {
        for (let i = 0; i < channels.length; i += 1000) await this.#sub.subscribe(...channels.slice(i, i + 1000));
      }
      this.#down = false;
      this.emit('recovered');
    } catch {
      // The connection dropped again; its next 'ready' tries again.
    } finally {
      this.#resubscribing = false;
    }
  }

  protected async _publish(topic: string, payload: string): Promise<void> {
    const msg = `${this.nodeId}\n${payload}`;
    try {
      if (this.#sharded) await this.#pub.spublish(this.#prefix + topic, msg);
      else await this.#pub.publish(this.#prefix + topic, msg);
    } catch (err) {
      throw new KefuError('KEFU_ERR_BUS_UNAVAILABLE', `redis bus publish failed: ${(err as Error).message}`, { cause: err });
    }
  }

  protected async _subscribe(topic: string): Promise<void> {
    this.#channels.add(this.#prefix + topic);
    if (this.#sharded) await this.#sub.ssubscribe(this.#prefix + topic);
    else await this.#sub.subscribe(this.#prefix + topic);
  }

  protected async _unsubscribe(topic: string): Promise<void> {
    this.#channels.delete(this.#prefix + topic);
    if (this.#sharded) await this.#sub.sunsubscribe(this.#prefix + topic);
    else await this.#sub.unsubscribe(this.#prefix + topic);
  }

  protected async _close(): Promise<void> {
    this.#closing = true;
    await Promise.allSettled([this.#pub.quit(), this.#sub.quit()]);
    this.#pub.disconnect();
    this.#sub.disconnect();
  }
}
