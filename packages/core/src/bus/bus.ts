/**
 * The cross-node bus: publish already-encoded strings on a topic; nodes subscribed to the topic
 * receive them. Subscriptions are ref-counted (the hub subscribes once per conversation however
 * many local sockets are in it). Every payload carries the publishing node's id so that a node
 * never delivers its own publications twice (it already delivered them to its local sockets).
 * Implementations provide `_publish`, `_subscribe`, `_unsubscribe`, `_close`, and call
 * `_deliver` for each message they receive.
 */
import { EventEmitter } from 'eventemitter3';
import { randomUUID } from 'node:crypto';
import { KefuError } from '@kefu/protocol';

export interface BusEvents {
  /** A payload published by another node on a topic this node subscribes to. */
  message: (topic: string, payload: string) => void;
  /** A transport failure (e.g. Redis unreachable). Local delivery is unaffected. */
  error: (err: Error) => void;
  /**
   * The transport is back after an `error`, subscriptions restored. Payloads published while it
   * was down are lost on the bus (their durable copies are in the store): listeners heal gaps by seq.
   */
  recovered: () => void;
}

export interface BusOptions {
  /**
   * This node's id; payloads published with it are not delivered back here.
   * @defaultValue a random UUID
   */
  nodeId?: string;
}

export abstract class Bus extends EventEmitter<BusEvents> {
  readonly nodeId: string;
  readonly #refs = new Map<string, number>();
  #closed = false;

  constructor(options: BusOptions = {}) {
    super();
    const nodeId = options.nodeId ?? randomUUID();
    if (typeof nodeId !== 'string' || nodeId.length === 0 || nodeId.length > 128) throw new TypeError('options.nodeId must be a string of 1-128 characters');
    this.nodeId = nodeId;
  }

  /** Topics with at least one subscription. */
  get topics(): number {
    return this.#refs.size;
  }

  /** Reference count of a topic (0 when not subscribed). */
  refCount(topic: string): number {
    return this.#refs.get(topic) ?? 0;
  }

  /**
   * True when no other node can receive what this bus publishes now (a LocalBus alone in its
   * network): the hub then skips publishing, which would cost a topic string and promises per
   * message for no one. Transports with remote peers say false.
   */
  get alone(): boolean {
    return false;
  }

  /** Publishes `payload` to the other nodes subscribed to `topic`. */
  publish(topic: string, payload: string): Promise<void> {
    if (this.#closed) return Promise.reject(new KefuError('KEFU_ERR_CLOSED', 'bus is closed'));
    if (typeof topic !== 'string' || topic.length === 0) return Promise.reject(new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'topic must be a non-empty string'));
    if (typeof payload !== 'string') return Promise.reject(new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'payload must be a string'));
    return this._publish(topic, payload);
  }

  /** Adds one reference to `topic`; the first one subscribes the transport. */
  subscribe(topic: string): Promise<void> {
    if (this.#closed) return Promise.reject(new KefuError('KEFU_ERR_CLOSED', 'bus is closed'));
    if (typeof topic !== 'string' || topic.length === 0) return Promise.reject(new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'topic must be a non-empty string'));
    const n = this.#refs.get(topic) ?? 0;
    this.#refs.set(topic, n + 1);
    return n === 0 ? this._subscribe(topic) : Promise.resolve();
  }

  /** Drops one reference; the last one unsubscribes the transport. Extra calls are no-ops. */
  unsubscribe(topic: string): Promise<void> {
    const n = this.#refs.get(topic);
    if (n === undefined || this.#closed) return Promise.resolve();
    if (n > 1) { this.#refs.set(topic, n - 1); return Promise.resolve(); }
    this.#refs.delete(topic);
    return this._unsubscribe(topic);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#refs.clear();
    await this._close();
  }

  /** Called by implementations for each received payload; drops this node's own ones. */
  protected _deliver(topic: string, payload: string, origin: string): void {
    if (origin === this.nodeId || this.#closed || !this.#refs.has(topic)) return;
    this.emit('message', topic, payload);
  }

  protected abstract _publish(topic: string, payload: string): Promise<void>;
  protected abstract _subscribe(topic: string): Promise<void>;
  protected abstract _unsubscribe(topic: string): Promise<void>;
  protected abstract _close(): Promise<void>;
}
