/**
 * The state every part of the desk shares (conversations, agents, offers, queues, sticky memory)
 * and the plumbing they all use: ordered store writes, lookups that never cross tenants, the
 * coalescing scheduler. Internal: the public surface is the Desk class.
 */
import { KefuError } from '@kefu/protocol';
import type { EventEmitter } from 'eventemitter3';
import { AgentRegistry, DeskAgent } from './agents.js';
import { HubOutlet } from './hub-outlet.js';
import { OfferTimers } from './offer-timers.js';
import { StickyMemory } from './sticky-memory.js';
import { WaitingQueues, type DeskQueueStoreFactory } from './waiting-queues.js';
import type { DirtyScheduler } from './scheduler.js';
import type { DeskEvents } from './events.js';
import type { ResolvedDeskOptions } from './options.js';
import type { DeskStore, DeskStoreOp } from './store/desk-store.js';
import type { AgentSettings, DeskConversation, DeskIdentity } from './types.js';

export type DeskStatus = 'new' | 'opening' | 'open' | 'closed';

export class DeskRuntime {
  readonly o: ResolvedDeskOptions;
  readonly store: DeskStore;
  readonly events: EventEmitter<DeskEvents>;
  readonly out: HubOutlet;
  readonly agents = new AgentRegistry();
  readonly convs = new Map<string, DeskConversation>();
  readonly offers = new OfferTimers();
  readonly storedSettings = new Map<string, AgentSettings>();
  readonly sticky: StickyMemory;
  /** Open conversations of each visitor (tenant\0visitor), to push positions when they reconnect. */
  readonly byVisitor = new Map<string, Set<string>>();
  readonly queues: WaitingQueues;
  /** Set by the Desk once the scheduler exists (it needs the dispatch and flush hooks). */
  scheduler!: DirtyScheduler;
  status: DeskStatus = 'new';
  /** Moving average of handle time, for estimated waits. */
  handleMs: number;
  /** Arrival counter (informational `order` of a conversation; the queue owns the order). */
  tail = 0;
  #pendingWrite: Promise<void> = Promise.resolve();

  constructor(o: ResolvedDeskOptions, store: DeskStore, events: EventEmitter<DeskEvents>, queueStore: DeskQueueStoreFactory | undefined) {
    this.o = o;
    this.store = store;
    this.events = events;
    this.handleMs = o.initialHandleMs;
    this.out = new HubOutlet(o.hub, (err) => this.error(err));
    this.sticky = new StickyMemory(o.maxStickyPerTenant);
    this.queues = new WaitingQueues({
      factory: queueStore ?? ((tenant) => this.store.queueStore(tenant)),
      agingRate: o.agingRate,
      maxWaiting: o.maxWaiting,
      waitingOf: (tenant) => this.#waitingOf(tenant),
      conv: (id) => this.convs.get(id),
      onError: (err) => this.error(err),
    });
  }

  error(err: unknown): void {
    this.events.emit('error', err);
  }

  markDirty(tenant: string): void {
    this.scheduler.mark(tenant);
  }

  save(convs: DeskConversation[], extra: DeskStoreOp[] = []): Promise<void> {
    const ops: DeskStoreOp[] = convs.map((value) => ({ type: 'conversation', value }));
    return this.write(extra.length === 0 ? ops : [...ops, ...extra]);
  }

  /** Store writes are applied in call order; a failure is also the desk's 'error' event. */
  write(ops: DeskStoreOp[]): Promise<void> {
    const p = this.store.write(ops);
    this.#pendingWrite = p.catch(() => {});
    return p.catch((err: unknown) => {
      this.error(err);
      throw err;
    });
  }

  /** Waits for the latest write (writes are applied in order, so for all of them). */
  flushWrites(): Promise<void> {
    return this.#pendingWrite;
  }

  /** Queue writes do not fail the desk operation (its state is stored): they go to 'error' and the queue is repaired. */
  queueWrite(p: Promise<void>): Promise<void> {
    return p.catch((err: unknown) => this.error(err));
  }

  /** Remembers the agent who now holds `conv`, for sticky routing; returns the store ops. */
  rememberAgent(conv: DeskConversation, agentId: string): DeskStoreOp[] {
    conv.lastAgentId = agentId;
    return this.sticky.set(conv.tenant, conv.visitor.id, agentId);
  }

  /** Adds an open conversation to the visitor index. */
  track(conv: DeskConversation): void {
    const k = `${conv.tenant}\0${conv.visitor.id}`;
    let set = this.byVisitor.get(k);
    if (!set) this.byVisitor.set(k, (set = new Set()));
    set.add(conv.id);
  }

  untrack(conv: DeskConversation): void {
    const k = `${conv.tenant}\0${conv.visitor.id}`;
    const set = this.byVisitor.get(k);
    if (set?.delete(conv.id) && set.size === 0) this.byVisitor.delete(k);
  }

  assertOpen(): void {
    if (this.status === 'open') return;
    throw this.status === 'closed'
      ? new KefuError('KEFU_ERR_CLOSED', 'the desk is closed')
      : new KefuError('KEFU_ERR_NOT_OPEN', 'the desk is not open (call and await open())');
  }

  requireAgent(identity: DeskIdentity): DeskAgent {
    if (identity.role !== 'agent') throw new KefuError('KEFU_ERR_FORBIDDEN', 'only agents may do this');
    return this.agent(identity.tenant, identity.id);
  }

  /** The conversation, if it exists in the caller's tenant: another tenant's reads as missing. */
  tenantConv(identity: DeskIdentity, convId: string): DeskConversation {
    const conv = typeof convId === 'string' ? this.convs.get(convId) : undefined;
    if (!conv || conv.tenant !== identity.tenant) throw new KefuError('KEFU_ERR_CONVERSATION_NOT_FOUND', `no conversation "${String(convId)}"`);
    return conv;
  }

  visitorConv(identity: DeskIdentity, convId: string): DeskConversation {
    if (identity.role !== 'visitor') throw new KefuError('KEFU_ERR_FORBIDDEN', 'only the visitor may do this');
    const conv = this.tenantConv(identity, convId);
    if (conv.visitor.id !== identity.id) throw new KefuError('KEFU_ERR_CONVERSATION_NOT_FOUND', `no conversation "${convId}"`);
    return conv;
  }

  /** The agent record, created from stored settings (or defaults) on first sight. */
  agent(tenant: string, id: string): DeskAgent {
    const existing = this.agents.get(tenant, id);
    if (existing) return existing;
    const s = this.storedSettings.get(`${tenant}\0${id}`) ?? {};
    return this.agents.add(new DeskAgent(tenant, id, {
      capacity: s.capacity ?? this.o.defaultCapacity, teams: s.teams ?? [], autoAccept: s.autoAccept ?? this.o.autoAccept, name: s.name,
    }));
  }

  *#waitingOf(tenant: string): Generator<DeskConversation> {
    for (const c of this.convs.values()) if (c.tenant === tenant && (c.state === 'waiting' || c.state === 'offered')) yield c;
  }
}
