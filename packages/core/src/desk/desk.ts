/**
 * The Desk: routing and the conversation lifecycle on top of the Hub. This class is the public
 * surface; the work lives in one file per concern:
 *
 *   conversations.ts  start, hand-off, close, rate       bot-turn.ts   the bot's answers
 *   offers.ts         dispatch, offers, assignment       presence.ts   agents, grace, requeue
 *   transfer.ts       to an agent or a team              positions.ts  positions, snapshots
 *   waiting-queues.ts one PriorityQueue per tenant       restore.ts    startup from the stores
 *   sweep.ts          idle close, eviction, repair       scheduler.ts  coalesced dispatch/flush
 *
 * Memory is the source of truth for conversation state while running; every state change is
 * written to the DeskStore (in call order) before the clients hear of it, and the order of the
 * waiting line is the tenant's PriorityQueue. Routing runs on in-memory state, coalesced per
 * tenant, so a burst of arrivals costs one dispatch pass, not one per arrival.
 */
import { EventEmitter } from 'eventemitter3';
import { KefuError, type CannedReply, type QueueEntry, type Sender } from '@kefu/protocol';
import { Conversations } from './conversations.js';
import { bindHub } from './hub-binding.js';
import { Offers } from './offers.js';
import { resolveDeskOptions, type DeskOptions, type ResolvedDeskOptions } from './options.js';
import { Positions } from './positions.js';
import { Presence } from './presence.js';
import { restore } from './restore.js';
import { DeskRuntime } from './runtime.js';
import { DirtyScheduler } from './scheduler.js';
import { leastBusy } from './strategies.js';
import { sweep } from './sweep.js';
import { transfer, type TransferResult } from './transfer.js';
import { MemoryDeskStore } from './store/memory-desk-store.js';
import type { DeskEvents, TransferTarget } from './events.js';
import type { DeskStore } from './store/desk-store.js';
import type { AgentSettings, AgentStatus, DeskConversation, DeskIdentity, DeskState } from './types.js';

export type { DeskEvents, TransferTarget } from './events.js';

export class Desk extends EventEmitter<DeskEvents> {
  readonly store: DeskStore;
  readonly #rt: DeskRuntime;
  readonly #ownsStore: boolean;
  readonly #positions: Positions;
  readonly #offers: Offers;
  readonly #conversations: Conversations;
  readonly #presence: Presence;
  readonly #canned = new Map<string, CannedReply[]>();
  #sweepTimer: NodeJS.Timeout | undefined;
  #unbind: (() => void) | undefined;

  constructor(options: DeskOptions = {}) {
    super();
    const o = resolveDeskOptions(options, options.strategy ?? leastBusy());
    this.#ownsStore = options.store === undefined;
    this.store = options.store ?? new MemoryDeskStore();
    const rt = (this.#rt = new DeskRuntime(o, this.store, this, options.queueStore));
    this.#positions = new Positions(rt);
    this.#offers = new Offers(rt, this.#positions);
    this.#conversations = new Conversations(rt, this.#offers, this.#positions);
    this.#presence = new Presence(rt, this.#offers, this.#positions);
    rt.scheduler = new DirtyScheduler(o, {
      dispatch: (t) => this.#offers.dispatch(t),
      flush: (tenants) => this.#positions.flush(tenants),
      onError: (err) => rt.error(err),
    });
    for (const [tenant, list] of Object.entries(o.canned)) this.setCanned(tenant, list);
  }

  get options(): Readonly<ResolvedDeskOptions> {
    return this.#rt.o;
  }

  // --- lifecycle ---------------------------------------------------------------------------------

  /** Opens the stores, restores the live desk and its queues, binds the hub. */
  async open(): Promise<void> {
    const rt = this.#rt;
    if (rt.status === 'open') return;
    if (rt.status !== 'new') throw new KefuError('KEFU_ERR_CLOSED', 'desk cannot be opened again');
    rt.status = 'opening';
    try {
      await restore(rt, this.#conversations, this.#presence);
    } catch (err) {
      rt.status = 'new';
      throw err;
    }
    rt.status = 'open';
    const hub = rt.o.hub;
    if (hub) this.#unbind = bindHub(this, hub);
    this.#sweepTimer = setInterval(() => sweep(rt, this.#conversations), rt.o.sweepMs);
    this.#sweepTimer.unref();
    // A desk restarted beside a running hub: agents still connected keep their restored chats.
    if (hub) {
      for (const a of [...rt.agents.all()]) {
        if (hub.isOnline(a.tenant, a.id)) await this.agentOnline({ tenant: a.tenant, id: a.id, role: 'agent' }).catch((err: unknown) => rt.error(err));
      }
    }
    for (const t of rt.queues.tenants()) rt.markDirty(t);
  }

  /** Stops timers, unbinds the hub, waits for pending writes, closes the queues; closes the store if the desk created it. */
  async close(): Promise<void> {
    const rt = this.#rt;
    if (rt.status === 'closed') return;
    rt.status = 'closed';
    clearInterval(this.#sweepTimer);
    rt.scheduler.stop();
    rt.offers.clear();
    for (const a of rt.agents.all()) clearTimeout(a.graceTimer);
    this.#unbind?.();
    await this.#conversations.bot.drain();
    await rt.flushWrites();
    await rt.queues.close();
    if (this.#ownsStore) await this.store.close();
  }

  // --- visitors ----------------------------------------------------------------------------------

  /**
   * A visitor opened a conversation (the hub binding calls this on the hub's `conversation`
   * event). The profile is fetched now, in parallel with the first message.
   */
  startConversation(input: { id: string; tenant: string; visitor: Sender }): Promise<Readonly<DeskConversation>> {
    return this.#conversations.start(input);
  }

  /** A message was stored in a conversation (the hub binding calls this on `message`). */
  message(convId: string, from: Sender, body: string, ts = Date.now()): Promise<void> {
    return this.#conversations.message(convId, from, body, ts);
  }

  /** The visitor asks for a human (`desk.human`). */
  requestHuman(identity: DeskIdentity, convId: string): Promise<{ state: DeskState; position: number | null }> {
    return this.#conversations.requestHuman(identity, convId);
  }

  /** A visitor connected (the hub binding calls this): each of their waiting conversations hears its position. */
  visitorConnected(identity: { tenant: string; id: string; role: string }): void {
    if (identity.role !== 'visitor' || this.#rt.status !== 'open') return;
    this.#positions.visitorConnected(identity.tenant, identity.id);
  }

  /** 1-based position in the tenant's waiting queue, or null when not waiting (after queue writes in flight). */
  async position(convId: string): Promise<number | null> {
    const conv = this.#rt.convs.get(convId);
    if (!conv) return null;
    await this.#rt.queues.settled();
    return this.#positions.position(conv);
  }

  /** A read-only view of a conversation held in memory. */
  conversation(convId: string): Readonly<DeskConversation> | undefined {
    return this.#rt.convs.get(convId);
  }

  // --- agents ------------------------------------------------------------------------------------

  /** Sets an agent's capacity, teams, auto-accept (persisted); applies at once if they are known. */
  setAgent(tenant: string, id: string, settings: AgentSettings): Promise<void> {
    return this.#presence.setAgent(tenant, id, settings);
  }

  /** An agent came online (the hub binding calls this on `presence` online). */
  agentOnline(identity: DeskIdentity): Promise<void> {
    return this.#presence.agentOnline(identity);
  }

  /** The agent's last socket closed: offers pass on now, chats are requeued after the grace period. */
  agentOffline(tenant: string, id: string): void {
    this.#presence.agentOffline(tenant, id);
  }

  /** 'away' keeps current chats but takes no new offers. */
  setAgentStatus(identity: DeskIdentity, status: 'online' | 'away'): void {
    this.#presence.setAgentStatus(identity, status);
  }

  agentStatus(identity: DeskIdentity): { agent: string; status: AgentStatus; capacity: number; active: number; conversations: string[]; teams: string[] } {
    return this.#presence.agentStatus(identity);
  }

  // --- commands ----------------------------------------------------------------------------------

  /** Agent accepts an offer (`desk.accept`). */
  accept(identity: DeskIdentity, offerId: string): Promise<{ conv: string; state: 'assigned' }> {
    return this.#offers.accept(identity, offerId);
  }

  /** Agent declines an offer (`desk.decline`): it passes to the next agent. */
  decline(identity: DeskIdentity, offerId: string): Promise<{ conv: string }> {
    return this.#offers.decline(identity, offerId);
  }

  /** The assigned agent moves the conversation to another agent (directly) or a team (via the queue head). */
  transfer(identity: DeskIdentity, convId: string, target: TransferTarget): Promise<TransferResult> {
    return transfer(this.#rt, this.#positions, identity, convId, target);
  }

  /** The visitor, or the assigned agent, closes the conversation. */
  closeConversation(identity: DeskIdentity, convId: string, reason?: string): Promise<{ conv: string; state: 'closed' }> {
    return this.#conversations.closeByUser(identity, convId, reason);
  }

  /** Post-chat CSAT: the visitor rates a closed conversation once, 1-5. */
  rate(identity: DeskIdentity, convId: string, score: number, comment?: string): Promise<{ conv: string; score: number }> {
    return this.#conversations.rate(identity, convId, score, comment);
  }

  // --- reads for agents --------------------------------------------------------------------------

  setCanned(tenant: string, replies: CannedReply[]): void {
    if (!Array.isArray(replies) || replies.some((r) => typeof r?.id !== 'string' || typeof r.title !== 'string' || typeof r.body !== 'string')) {
      throw new TypeError('canned replies must be an array of { id, title, body } strings');
    }
    this.#canned.set(tenant, replies.map((r) => ({ id: r.id, title: r.title, body: r.body })));
  }

  canned(identity: DeskIdentity): { replies: CannedReply[] } {
    this.#rt.requireAgent(identity);
    return { replies: this.#canned.get(identity.tenant) ?? [] };
  }

  /** The head of the agent's tenant's queue (`desk.queue`). */
  async queueSnapshot(identity: DeskIdentity, limit = 50): Promise<{ size: number; entries: QueueEntry[] }> {
    this.#rt.requireAgent(identity);
    return this.#positions.snapshot(identity.tenant, limit);
  }

  /** Join policy for the Hub's `authorizeJoin`: visitors their own, agents only what is assigned to them. */
  mayJoin(identity: { tenant: string; id: string; role: string }, convId: string): boolean {
    const conv = this.#rt.convs.get(convId);
    if (!conv || conv.tenant !== identity.tenant) return false;
    if (identity.role === 'visitor') return conv.visitor.id === identity.id;
    return identity.role === 'agent' && conv.agentId === identity.id;
  }

  /** Counters for metrics. */
  get stats(): { conversations: number; waiting: number; offers: number; agentsOnline: number; avgHandleMs: number } {
    const rt = this.#rt;
    let waiting = 0;
    for (const t of rt.queues.tenants()) waiting += rt.queues.size(t);
    let online = 0;
    for (const a of rt.agents.all()) if (a.status === 'online') online++;
    return { conversations: rt.convs.size, waiting, offers: rt.offers.size, agentsOnline: online, avgHandleMs: rt.handleMs };
  }
}
