/**
 * Persistence of the desk, abstract-level style: public methods validate and check the
 * lifecycle, then call the protected `_hooks` a backend implements. Every state change of a
 * conversation is one `write()`; a backend must apply each write atomically and in call order.
 *
 * Layout contract: open (not closed) conversations are what `loadActive()` returns at startup,
 * so a restart costs the size of the live desk, not of the history; closed ones stay readable
 * with `get()` when the backend `supports.history`.
 */
import { KefuError, isValidId } from '@kefu/protocol';
import { MemoryQueueStore } from '../../queue/memory-queue-store.js';
import type { QueueStore } from '../../queue/queue-store.js';
import type { AgentSettings, DeskConversation } from '../types.js';
import type { DeskQueueItem } from '../waiting-queues.js';

export type DeskStoreOp =
  | { type: 'conversation'; value: DeskConversation }
  | { type: 'agent'; tenant: string; id: string; value: AgentSettings }
  | { type: 'delete-agent'; tenant: string; id: string }
  /** Sticky routing memory: the agent who last served a visitor. */
  | { type: 'last-agent'; tenant: string; visitor: string; agent: string; at: number }
  | { type: 'delete-last-agent'; tenant: string; visitor: string };

export interface StoredLastAgent {
  tenant: string;
  visitor: string;
  agent: string;
  at: number;
}

export interface StoredAgent {
  tenant: string;
  id: string;
  settings: AgentSettings;
}

export interface DeskStoreSupports {
  /** Data survives close() and a new instance on the same location. */
  persistent: boolean;
  /** Closed conversations stay readable with get(). */
  history: boolean;
}

/**
 * Index slots a tenant's queue allocates up front (it grows by half when full): a desk may serve
 * many small tenants, each with its own queue, so start small rather than at the queue's 1,024.
 */
export const QUEUE_INITIAL_CAPACITY = 64;

const STATES = new Set(['bot', 'waiting', 'offered', 'assigned', 'closed']);

export abstract class DeskStore {
  abstract readonly supports: DeskStoreSupports;
  #status: 'new' | 'opening' | 'open' | 'closing' | 'closed' = 'new';

  get status(): string {
    return this.#status;
  }

  async open(): Promise<void> {
    if (this.#status === 'open') return;
    if (this.#status !== 'new') throw new KefuError('KEFU_ERR_CLOSED', `desk store cannot open from state ${this.#status}`);
    this.#status = 'opening';
    try {
      await this._open();
    } catch (err) {
      this.#status = 'new';
      throw err instanceof KefuError ? err : new KefuError('KEFU_ERR_STORE', `desk store failed to open: ${(err as Error)?.message}`, { cause: err });
    }
    this.#status = 'open';
  }

  async close(): Promise<void> {
    if (this.#status === 'closed' || this.#status === 'closing') return;
    const wasOpen = this.#status === 'open';
    this.#status = 'closing';
    try {
      if (wasOpen) await this._close();
    } finally {
      this.#status = 'closed';
    }
  }

  /** Applies `ops` atomically; resolves once durable (as durable as the backend is). */
  async write(ops: DeskStoreOp[]): Promise<void> {
    this.#assertOpen();
    if (!Array.isArray(ops)) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'write: ops must be an array');
    for (const op of ops) validateOp(op);
    if (ops.length === 0) return;
    await this._write(ops);
  }

  /** Every conversation not in state 'closed', in no particular order. */
  async loadActive(): Promise<DeskConversation[]> {
    this.#assertOpen();
    return this._loadActive();
  }

  /** One conversation (open or, with `supports.history`, closed), or undefined. */
  async get(tenant: string, id: string): Promise<DeskConversation | undefined> {
    this.#assertOpen();
    if (!isValidId(tenant) || !isValidId(id)) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'get: tenant and id must be valid ids');
    return this._get(tenant, id);
  }

  async loadAgents(): Promise<StoredAgent[]> {
    this.#assertOpen();
    return this._loadAgents();
  }

  /** Every stored visitor -> last agent pair (the desk bounds them per tenant). */
  async loadLastAgents(): Promise<StoredLastAgent[]> {
    this.#assertOpen();
    return this._loadLastAgents();
  }

  /**
   * The store of one tenant's waiting queue, when the desk is given no `queueStore`. The default
   * keeps it in memory; a persistent backend overrides it to keep the queue beside its own data
   * (LevelDeskStore: a sublevel of the same database). Called after open().
   */
  queueStore(tenant: string): QueueStore<DeskQueueItem> {
    this.#assertOpen();
    if (!isValidId(tenant)) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'queueStore: tenant must be a valid id');
    return this._queueStore(tenant);
  }

  protected _queueStore(_tenant: string): QueueStore<DeskQueueItem> {
    return new MemoryQueueStore<DeskQueueItem>({ initialCapacity: QUEUE_INITIAL_CAPACITY });
  }

  #assertOpen(): void {
    if (this.#status === 'open') return;
    if (this.#status === 'closed' || this.#status === 'closing') throw new KefuError('KEFU_ERR_CLOSED', 'desk store is closed');
    throw new KefuError('KEFU_ERR_NOT_OPEN', 'desk store is not open (call and await open())');
  }

  protected abstract _open(): Promise<void>;
  protected abstract _close(): Promise<void>;
  protected abstract _write(ops: DeskStoreOp[]): Promise<void>;
  protected abstract _loadActive(): Promise<DeskConversation[]>;
  protected abstract _get(tenant: string, id: string): Promise<DeskConversation | undefined>;
  protected abstract _loadAgents(): Promise<StoredAgent[]>;
  protected abstract _loadLastAgents(): Promise<StoredLastAgent[]>;
}

function validateOp(op: DeskStoreOp): void {
  const bad = (why: string) => new KefuError('KEFU_ERR_INVALID_ARGUMENT', `write: ${why}`);
  if (typeof op !== 'object' || op === null) throw bad('op must be an object');
  if (op.type === 'conversation') {
    const v = op.value;
    if (typeof v !== 'object' || v === null) throw bad('conversation value must be an object');
    if (!isValidId(v.tenant) || !isValidId(v.id)) throw bad('conversation tenant and id must be valid ids');
    if (!STATES.has(v.state)) throw bad(`unknown conversation state ${String(v.state)}`);
    return;
  }
  if (op.type === 'agent' || op.type === 'delete-agent') {
    if (!isValidId(op.tenant) || !isValidId(op.id)) throw bad('agent tenant and id must be valid ids');
    if (op.type === 'agent' && (typeof op.value !== 'object' || op.value === null)) throw bad('agent settings must be an object');
    return;
  }
  if (op.type === 'last-agent' || op.type === 'delete-last-agent') {
    if (!isValidId(op.tenant) || !isValidId(op.visitor)) throw bad('last-agent tenant and visitor must be valid ids');
    if (op.type === 'last-agent' && (!isValidId(op.agent) || !Number.isFinite(op.at))) throw bad('last-agent needs a valid agent id and a finite at');
    return;
  }
  throw bad(`unknown op type ${String((op as { type?: unknown }).type)}`);
}
