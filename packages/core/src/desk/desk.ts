/**
 * The Desk: routing and the conversation lifecycle on top of the Hub.
 *
 *   bot --handoff--> waiting --offer--> offered --accept--> assigned --close--> closed
 *                      ^  ^----decline/timeout---'              |
 *                      '-------- agent gone (grace) / transfer to team -'
 *
 * Memory is the source of truth while running; every state change is written to the DeskStore
 * (in call order, through one group-commit writer for LevelDB) before the clients hear of it,
 * so what a client saw survives a restart. All routing runs synchronously on in-memory state,
 * coalesced per tenant, so a burst of arrivals costs one dispatch pass, not one per arrival.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import { LRUCache } from 'lru-cache';
import { KefuError, DeskEvent, isValidId, type CannedReply, type QueueEntry, type Sender } from '@kefu/protocol';
import { AgentRegistry, DeskAgent } from './agents.js';
import { botSender, humanRequestMatcher } from './bot.js';
import { resolveDeskOptions, type DeskOptions, type ResolvedDeskOptions } from './options.js';
import { leastBusy } from './strategies.js';
import { WaitingLine } from './waiting-line.js';
import { validateSettings } from './agent-settings.js';
import { toProfile } from './profile.js';
import { bindHub } from './hub-binding.js';
import { HubOutlet } from './hub-outlet.js';
import { OfferTimers } from './offer-timers.js';
import { matchAgents } from './matching.js';
import { MemoryDeskStore } from './store/memory-desk-store.js';
import type { DeskStore, DeskStoreOp } from './store/desk-store.js';
import type { DeskHub } from './hub-types.js';
import type {
  AgentSettings, AgentStatus, DeskConversation, DeskIdentity, DeskIntent, DeskOffer, DeskProfile, DeskState,
  HandoffReason, TranscriptLine,
} from './types.js';

/** Typed events of the Desk: every state change, for hosts, metrics and tests. */
export interface DeskEvents {
  /** A conversation entered the desk (state 'bot'). */
  conversation: (conv: Readonly<DeskConversation>) => void;
  /** Any state transition, already persisted. */
  state: (conv: Readonly<DeskConversation>, from: DeskState | null, to: DeskState) => void;
  /** The bot answered. */
  bot_answer: (conv: Readonly<DeskConversation>, intent: DeskIntent, body: string) => void;
  /** The conversation joined the waiting queue. */
  handoff: (conv: Readonly<DeskConversation>, reason: HandoffReason) => void;
  /** An offer went to an agent. */
  offer: (conv: Readonly<DeskConversation>, offer: DeskOffer) => void;
  /** An offer ended without acceptance. */
  offer_ended: (conv: Readonly<DeskConversation>, agentId: string, why: 'declined' | 'timeout' | 'agent_offline' | 'closed') => void;
  /** An agent took the conversation. */
  assigned: (conv: Readonly<DeskConversation>, agentId: string) => void;
  /** Moved to another agent or a team. */
  transferred: (conv: Readonly<DeskConversation>, fromAgent: string, to: { agent: string | null; team: string | null }) => void;
  /** Put back in the queue at the head (agent gone after the grace period, or a transfer to a team). */
  requeued: (conv: Readonly<DeskConversation>, reason: 'agent_offline' | 'transfer') => void;
  closed: (conv: Readonly<DeskConversation>) => void;
  rated: (conv: Readonly<DeskConversation>) => void;
  /** An agent's status changed. */
  agent: (tenant: string, agentId: string, status: AgentStatus) => void;
  /** A failure that is not a caller's fault (store write, hub call, bot handler). */
  error: (err: unknown) => void;
}

export type TransferTarget = { agent?: string; team?: string; note?: string };

const RATE_COMMENT_MAX = 1000;
const DECLINED_MAX = 16;
const SNAPSHOT_MAX = 500;
const HEAD_EVENT_ROWS = 10;

export class Desk extends EventEmitter<DeskEvents> {
  readonly store: DeskStore;
  readonly #o: ResolvedDeskOptions;
  readonly #ownsStore: boolean;
  readonly #agents = new AgentRegistry();
  readonly #convs = new Map<string, DeskConversation>();
  readonly #lines = new Map<string, WaitingLine>();
  readonly #offers = new OfferTimers();
  readonly #profiles = new Map<string, Promise<DeskProfile>>();
  readonly #botChains = new Map<string, Promise<void>>();
  readonly #sentPosition = new Map<string, number>();
  readonly #storedSettings = new Map<string, AgentSettings>();
  readonly #canned = new Map<string, CannedReply[]>();
  readonly #lastAgent = new LRUCache<string, string>({ max: 100_000 });
  readonly #dispatchDirty = new Set<string>();
  readonly #positionsDirty = new Set<string>();
  readonly #isHumanRequest: (text: string) => boolean;
  readonly #bot: Sender;
  #dispatchScheduled = false;
  /** Earliest time of the next position flush (maxPositionEventsPerSec). */
  #nextFlushAt = 0;
  #positionTimer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #tail = 0;
  #head = 0;
  #handleMs: number;
  #status: 'new' | 'opening' | 'open' | 'closed' = 'new';
  #unbind: (() => void) | undefined;
  readonly #out: HubOutlet;

  constructor(options: DeskOptions = {}) {
    super();
    this.#o = resolveDeskOptions(options, options.strategy ?? leastBusy());
    this.#ownsStore = options.store === undefined;
    this.store = options.store ?? new MemoryDeskStore();
    this.#isHumanRequest = humanRequestMatcher(this.#o.humanWords);
    this.#bot = botSender(this.#o.botName);
    this.#handleMs = this.#o.initialHandleMs;
    this.#out = new HubOutlet(this.#o.hub, (err) => this.emit('error', err));
    for (const [tenant, list] of Object.entries(this.#o.canned)) this.setCanned(tenant, list);
  }

  get options(): Readonly<ResolvedDeskOptions> {
    return this.#o;
  }

  // ---------------------------------------------------------------------------------------------
  // lifecycle
  // ---------------------------------------------------------------------------------------------

  /** Opens the store, restores the live desk from it, binds the hub. */
  async open(): Promise<void> {
    if (this.#status === 'open') return;
    if (this.#status !== 'new') throw new KefuError('KEFU_ERR_CLOSED', 'desk cannot be opened again');
    this.#status = 'opening';
    try {
      await this.store.open();
      for (const a of await this.store.loadAgents()) this.#storedSettings.set(`${a.tenant}\0${a.id}`, a.settings);
      this.#restore(await this.store.loadActive());
    } catch (err) {
      this.#status = 'new';
      throw err;
    }
    this.#status = 'open';
    if (this.#o.hub) this.#unbind = bindHub(this, this.#o.hub);
    this.#sweepTimer = setInterval(() => this.#sweep(), this.#o.sweepMs);
    this.#sweepTimer.unref();
    // A desk restarted beside a running hub: agents still connected keep their restored chats.
    const hub = this.#o.hub;
    if (hub) {
      for (const a of [...this.#agents.all()]) {
        if (hub.isOnline(a.tenant, a.id)) await this.agentOnline({ tenant: a.tenant, id: a.id, role: 'agent' }).catch((err: unknown) => this.emit('error', err));
      }
    }
    for (const t of this.#lines.keys()) this.#markDirty(t);
  }

  /** Stops timers, unbinds the hub, waits for pending writes; closes the store if the desk created it. */
  async close(): Promise<void> {
    if (this.#status === 'closed') return;
    this.#status = 'closed';
    clearInterval(this.#sweepTimer);
    clearTimeout(this.#positionTimer);
    this.#offers.clear();
    for (const a of this.#agents.all()) clearTimeout(a.graceTimer);
    this.#unbind?.();
    await Promise.allSettled([...this.#botChains.values()]);
    await this.#flushWrites();
    if (this.#ownsStore) await this.store.close();
  }

  #restore(records: DeskConversation[]): void {
    records.sort((a, b) => a.createdAt - b.createdAt);
    for (const c of records) {
      if (c.state === 'offered') { c.state = 'waiting'; c.offer = null; }
      this.#convs.set(c.id, c);
      this.#tail = Math.max(this.#tail, c.order);
      this.#head = Math.min(this.#head, c.order);
      if (c.state === 'waiting') this.#line(c.tenant).insert(c);
      else if (c.state === 'bot') this.#profiles.set(c.id, Promise.resolve(c.profile));
      else if (c.state === 'assigned' && c.agentId !== null) {
        const agent = this.#agent(c.tenant, c.agentId);
        agent.active.add(c.id);
        // The agent is offline until their socket comes back; the usual grace period applies.
        this.#startGrace(agent);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // visitors
  // ---------------------------------------------------------------------------------------------

  /**
   * A visitor opened a conversation (the hub binding calls this on the hub's `conversation`
   * event). The profile is fetched now, in parallel with the first message.
   */
  async startConversation(input: { id: string; tenant: string; visitor: Sender }): Promise<Readonly<DeskConversation>> {
    this.#assertOpen();
    if (!isValidId(input?.id) || !isValidId(input.tenant) || !isValidId(input.visitor?.id)) {
      throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'startConversation: id, tenant and visitor.id must be valid ids');
    }
    const existing = this.#convs.get(input.id);
    if (existing) return existing;
    if (this.#convs.size >= this.#o.maxConversations) {
      throw new KefuError('KEFU_ERR_DESK_QUEUE_FULL', `the desk holds its maximum of ${this.#o.maxConversations} conversations`);
    }
    const now = Date.now();
    const visitor: Sender = input.visitor.name === undefined
      ? { id: input.visitor.id, role: input.visitor.role }
      : { id: input.visitor.id, role: input.visitor.role, name: input.visitor.name };
    const conv: DeskConversation = {
      id: input.id, tenant: input.tenant, visitor, state: 'bot', priority: 0, order: 0,
      createdAt: now, queuedAt: null, assignedAt: null, closedAt: null, lastActivityAt: now,
      intent: null, handoff: null, queueReason: 'new', team: null, agentId: null,
      lastAgentId: this.#lastAgent.get(`${input.tenant}\0${visitor.id}`) ?? null,
      offer: null, declined: [], transcript: [], profile: {}, botAnswers: 0, offline: false,
      closedBy: null, closeReason: null, rating: null,
    };
    this.#convs.set(conv.id, conv);
    this.#profiles.set(conv.id, this.#fetchProfile(conv));
    const saved = this.#save([conv]);
    // Without a classifier the hand-off follows at once and its write (queued after this one,
    // writes apply in order) is the one to wait for.
    if (this.#o.classifier) await saved;
    else saved.catch(() => {});
    this.emit('conversation', conv);
    this.emit('state', conv, null, 'bot');
    if (!this.#o.classifier) await this.#chain(conv, () => this.#handoff(conv, 'no_classifier'));
    return conv;
  }

  /** A message was stored in a conversation (the hub binding calls this on `message`). */
  async message(convId: string, from: Sender, body: string, ts = Date.now()): Promise<void> {
    const conv = this.#convs.get(convId);
    if (!conv || conv.state === 'closed' || this.#status !== 'open') return;
    conv.lastActivityAt = Date.now();
    this.#appendTranscript(conv, { from, body, ts });
    if (from.role === 'visitor' && conv.state === 'bot') await this.#chain(conv, () => this.#botTurn(conv, body));
  }

  /** The visitor asks for a human (`desk.human`). */
  async requestHuman(identity: DeskIdentity, convId: string): Promise<{ state: DeskState; position: number | null }> {
    this.#assertOpen();
    const conv = this.#visitorConv(identity, convId);
    if (conv.state === 'closed') throw new KefuError('KEFU_ERR_DESK_INVALID_STATE', 'the conversation is closed');
    await this.#chain(conv, () => this.#handoff(conv, 'requested'));
    return { state: conv.state, position: this.position(conv.id) };
  }

  /** 1-based position in the waiting queue, or null when not waiting. */
  position(convId: string): number | null {
    const conv = this.#convs.get(convId);
    if (!conv || (conv.state !== 'waiting' && conv.state !== 'offered')) return null;
    const i = this.#lines.get(conv.tenant)?.indexOf(conv) ?? -1;
    return i < 0 ? null : i + 1;
  }

  /** A read-only view of a conversation held in memory. */
  conversation(convId: string): Readonly<DeskConversation> | undefined {
    return this.#convs.get(convId);
  }

  /** Runs bot-state work of one conversation one at a time (messages and desk.human race otherwise). */
  #chain(conv: DeskConversation, work: () => Promise<void>): Promise<void> {
    const prev = this.#botChains.get(conv.id) ?? Promise.resolve();
    const next = prev.then(work);
    const tail = next.catch(() => {}).finally(() => {
      if (this.#botChains.get(conv.id) === tail) this.#botChains.delete(conv.id);
    });
    this.#botChains.set(conv.id, tail);
    return next;
  }

  async #botTurn(conv: DeskConversation, text: string): Promise<void> {
    if (conv.state !== 'bot') return;
    if (this.#isHumanRequest(text)) return this.#handoff(conv, 'requested');
    const classifier = this.#o.classifier;
    if (!classifier) return this.#handoff(conv, 'no_classifier');
    if (conv.botAnswers >= this.#o.maxBotAnswers) return this.#handoff(conv, 'low_confidence');
    let answer: string | null;
    let intent: DeskIntent;
    try {
      const r = await classifier.classify(text);
      intent = { name: r.intent, confidence: r.confidence };
      conv.intent = intent;
      if (r.outOfScope) return this.#handoff(conv, 'out_of_scope');
      if (!(r.confidence >= this.#o.botThreshold)) return this.#handoff(conv, 'low_confidence');
      const entry = Object.prototype.hasOwnProperty.call(this.#o.bot, r.intent) ? this.#o.bot[r.intent] : undefined;
      if (entry === undefined) return this.#handoff(conv, 'out_of_scope');
      const profile = await this.#profiles.get(conv.id) ?? {};
      answer = typeof entry === 'string'
        ? entry
        : await entry({ conversation: conv, text, intent: r.intent, confidence: r.confidence, profile });
    } catch (err) {
      this.emit('error', err);
      return this.#handoff(conv, 'bot_error');
    }
    if (answer === null || typeof answer !== 'string' || answer.length === 0) return this.#handoff(conv, 'out_of_scope');
    if (conv.state !== 'bot') return;
    conv.botAnswers++;
    let seq = 0;
    const ts = Date.now();
    if (this.#o.hub) {
      try {
        seq = (await this.#o.hub.post(conv.id, this.#bot, answer, { intent: intent.name, confidence: intent.confidence })).seq;
      } catch (err) {
        this.emit('error', err);
        return;
      }
    }
    // With a hub, the stored message comes back through the hub's `message` event.
    if (!this.#o.hub) this.#appendTranscript(conv, { from: this.#bot, body: answer, ts });
    await this.#save([conv]);
    this.#out.toConversation(conv.id, DeskEvent.botAnswer, { conv: conv.id, intent, seq });
    this.emit('bot_answer', conv, intent, answer);
  }

  /** bot -> waiting. Waits for the profile (fetched since the start) to set the priority. */
  async #handoff(conv: DeskConversation, reason: HandoffReason): Promise<void> {
    if (conv.state !== 'bot') return;
    const line = this.#line(conv.tenant);
    if (line.size >= this.#o.maxWaiting) {
      throw new KefuError('KEFU_ERR_DESK_QUEUE_FULL', `the waiting queue of tenant "${conv.tenant}" holds its maximum of ${this.#o.maxWaiting}`);
    }
    const profile = (await this.#profiles.get(conv.id)) ?? {};
    this.#profiles.delete(conv.id);
    if (conv.state !== 'bot') return;
    conv.profile = profile;
    conv.priority = this.#priorityOf(profile);
    conv.order = ++this.#tail;
    conv.queuedAt = Date.now();
    conv.handoff = reason;
    conv.offline = !this.#agents.anyOnline(conv.tenant);
    conv.state = 'waiting';
    line.insert(conv);
    await this.#save([conv]);
    this.emit('state', conv, 'bot', 'waiting');
    this.emit('handoff', conv, reason);
    this.#out.toConversation(conv.id, DeskEvent.handoff, { conv: conv.id, reason, intent: conv.intent });
    if (conv.offline) this.#out.toConversation(conv.id, DeskEvent.offline, { conv: conv.id, message: this.#o.offlineMessage });
    this.#sendPosition(conv);
    this.#markDirty(conv.tenant);
  }

  #priorityOf(profile: DeskProfile): number {
    try {
      const p = this.#o.priority(profile);
      return Number.isFinite(p) ? p : 0;
    } catch (err) {
      this.emit('error', err);
      return 0;
    }
  }

  #fetchProfile(conv: DeskConversation): Promise<DeskProfile> {
    const profiles = this.#o.profiles;
    if (!profiles) return Promise.resolve({});
    return profiles.get(conv.visitor.id).then(
      (p) => {
        const r = toProfile(p, this.#o.maxProfileBytes);
        if (r.error) this.emit('error', r.error);
        return r.profile;
      },
      (err: unknown) => { this.emit('error', err); return {}; },
    );
  }

  #appendTranscript(conv: DeskConversation, line: TranscriptLine): void {
    if (this.#o.maxTranscript === 0) return;
    conv.transcript.push(line);
    if (conv.transcript.length > this.#o.maxTranscript) conv.transcript.splice(0, conv.transcript.length - this.#o.maxTranscript);
  }

  // ---------------------------------------------------------------------------------------------
  // agents
  // ---------------------------------------------------------------------------------------------

  /** Sets an agent's capacity, teams, auto-accept (persisted); applies at once if they are known. */
  async setAgent(tenant: string, id: string, settings: AgentSettings): Promise<void> {
    this.#assertOpen();
    validateSettings(settings);
    this.#storedSettings.set(`${tenant}\0${id}`, settings);
    await this.#write([{ type: 'agent', tenant, id, value: settings }]);
    const a = this.#agents.get(tenant, id);
    if (a) { this.#applySettings(a, settings); this.#markDirty(tenant); }
  }

  /** An agent came online (the hub binding calls this on `presence` online). */
  async agentOnline(identity: DeskIdentity): Promise<void> {
    this.#assertOpen();
    if (identity.role !== 'agent') throw new KefuError('KEFU_ERR_FORBIDDEN', 'only agents go online on the desk');
    const fromHost = await this.#o.agentProfile(identity);
    validateSettings(fromHost);
    // The socket may have gone while agentProfile ran: the offline event came first, keep it.
    if (this.#o.hub && !this.#o.hub.isOnline(identity.tenant, identity.id)) return;
    const agent = this.#agent(identity.tenant, identity.id);
    this.#applySettings(agent, { ...fromHost, ...this.#storedSettings.get(`${identity.tenant}\0${identity.id}`) });
    if (identity.name !== undefined) agent.name = identity.name;
    clearTimeout(agent.graceTimer);
    agent.graceTimer = undefined;
    this.#setStatus(agent, 'online');
  }

  /** The agent's last socket closed: offers pass on now, chats are requeued after the grace period. */
  agentOffline(tenant: string, id: string): void {
    const agent = this.#agents.get(tenant, id);
    if (!agent || agent.status === 'offline') return;
    this.#setStatus(agent, 'offline');
    for (const convId of [...agent.offered]) {
      const conv = this.#convs.get(convId);
      if (conv?.offer) this.#endOffer(conv, 'agent_offline');
    }
    this.#startGrace(agent);
  }

  /** 'away' keeps current chats but takes no new offers. */
  setAgentStatus(identity: DeskIdentity, status: 'online' | 'away'): void {
    const agent = this.#requireAgent(identity);
    if (agent.status === 'offline') throw new KefuError('KEFU_ERR_DESK_AGENT_OFFLINE', 'the agent is not connected');
    this.#setStatus(agent, status);
  }

  #setStatus(agent: DeskAgent, status: AgentStatus): void {
    if (agent.status === status) return;
    agent.status = status;
    this.emit('agent', agent.tenant, agent.id, status);
    if (status === 'online') this.#markDirty(agent.tenant);
  }

  #startGrace(agent: DeskAgent): void {
    if (agent.active.size === 0 || agent.graceTimer) return;
    agent.graceTimer = setTimeout(() => {
      agent.graceTimer = undefined;
      if (agent.status === 'offline' && this.#status === 'open') void this.#requeueAgent(agent);
    }, this.#o.agentGraceMs);
    agent.graceTimer.unref();
  }

  async #requeueAgent(agent: DeskAgent): Promise<void> {
    const changed: DeskConversation[] = [];
    for (const convId of [...agent.active]) {
      const conv = this.#convs.get(convId);
      agent.active.delete(convId);
      if (!conv || conv.state !== 'assigned') continue;
      this.#toHead(conv);
      conv.queueReason = 'requeue';
      changed.push(conv);
    }
    if (changed.length === 0) return;
    await this.#save(changed);
    for (const conv of changed) {
      this.#out.call(() => this.#o.hub?.removeMember(conv.id, agent.id, 'agent offline'));
      this.emit('state', conv, 'assigned', 'waiting');
      this.emit('requeued', conv, 'agent_offline');
      this.#sendPosition(conv);
    }
    this.#markDirty(agent.tenant);
  }

  /** assigned -> waiting at the head of the line: ahead of everyone, VIPs included. */
  #toHead(conv: DeskConversation): void {
    const line = this.#line(conv.tenant);
    const first = line.at(0);
    conv.priority = Math.max(conv.priority, first?.priority ?? conv.priority);
    conv.order = --this.#head;
    conv.state = 'waiting';
    conv.agentId = null;
    conv.queuedAt = Date.now();
    conv.declined = [];
    line.insert(conv);
  }

  #agent(tenant: string, id: string): DeskAgent {
    const existing = this.#agents.get(tenant, id);
    if (existing) return existing;
    const s = this.#storedSettings.get(`${tenant}\0${id}`) ?? {};
    return this.#agents.add(new DeskAgent(tenant, id, {
      capacity: s.capacity ?? this.#o.defaultCapacity, teams: s.teams ?? [], autoAccept: s.autoAccept ?? this.#o.autoAccept, name: s.name,
    }));
  }

  #applySettings(a: DeskAgent, s: AgentSettings): void {
    if (s.capacity !== undefined) a.capacity = s.capacity;
    if (s.teams !== undefined) a.teams = [...s.teams];
    if (s.autoAccept !== undefined) a.autoAccept = s.autoAccept;
    if (s.name !== undefined) a.name = s.name;
  }

  // ---------------------------------------------------------------------------------------------
  // dispatch and offers
  // ---------------------------------------------------------------------------------------------

  #line(tenant: string): WaitingLine {
    let l = this.#lines.get(tenant);
    if (!l) this.#lines.set(tenant, (l = new WaitingLine()));
    return l;
  }

  #markDirty(tenant: string): void {
    this.#dispatchDirty.add(tenant);
    this.#positionsDirty.add(tenant);
    if (!this.#dispatchScheduled) {
      this.#dispatchScheduled = true;
      setImmediate(() => {
        this.#dispatchScheduled = false;
        const tenants = [...this.#dispatchDirty];
        this.#dispatchDirty.clear();
        for (const t of tenants) this.#dispatch(t);
      });
    }
    if (this.#positionTimer === undefined) {
      const wait = Math.max(this.#o.positionUpdateMs, this.#nextFlushAt - Date.now());
      this.#positionTimer = setTimeout(() => this.#flushPositions(), wait);
      this.#positionTimer.unref();
    }
  }

  #dispatch(tenant: string): void {
    if (this.#status !== 'open') return;
    const line = this.#lines.get(tenant);
    if (!line || line.size === 0) return;
    const free: DeskAgent[] = [];
    for (const a of this.#agents.of(tenant)) if (a.available) free.push(a);
    if (free.length === 0) return;
    const picks = matchAgents({
      line, free, now: Date.now(), declineCooldownMs: this.#o.declineCooldownMs, strategy: this.#o.strategy,
      onError: (err) => this.emit('error', err),
    });
    for (const [conv, agent] of picks) {
      if (agent.autoAccept) {
        agent.offered.delete(conv.id);
        void this.#assign(conv, agent).catch((err: unknown) => this.emit('error', err));
      } else {
        void this.#makeOffer(conv, agent).catch((err: unknown) => this.emit('error', err));
      }
    }
  }

  async #makeOffer(conv: DeskConversation, agent: DeskAgent): Promise<void> {
    const offer: DeskOffer = {
      id: randomUUID(), agentId: agent.id, expiresAt: Date.now() + this.#o.offerTimeoutMs,
      reason: conv.queueReason ?? 'new',
    };
    conv.offer = offer;
    conv.state = 'offered';
    this.#offers.start(offer.id, conv.id, this.#o.offerTimeoutMs, () => this.#expire(offer.id));
    // Written, but not awaited: a restart turns 'offered' back into 'waiting' in place, which is
    // also what it finds if this write is lost, so the agent need not wait for the fsync.
    this.#save([conv]).catch(() => {});
    if (conv.offer?.id !== offer.id) return;
    this.emit('state', conv, 'waiting', 'offered');
    this.emit('offer', conv, offer);
    this.#out.toUser(conv.tenant, agent.id, DeskEvent.offer, {
      offerId: offer.id, conv: conv.id, expiresAt: offer.expiresAt, visitor: conv.visitor, profile: conv.profile,
      intent: conv.intent, transcript: conv.transcript, reason: offer.reason,
    });
  }

  #expire(offerId: string): void {
    const conv = this.#offerConv(offerId);
    if (conv?.offer?.id === offerId) this.#endOffer(conv, 'timeout');
  }

  /** offered -> waiting, in the same place; the agent is skipped for this conversation for a while. */
  #endOffer(conv: DeskConversation, why: 'declined' | 'timeout' | 'agent_offline' | 'closed'): DeskOffer | undefined {
    const offer = conv.offer;
    if (!offer) return undefined;
    this.#offers.end(offer.id);
    this.#agents.get(conv.tenant, offer.agentId)?.offered.delete(conv.id);
    conv.offer = null;
    if (why !== 'closed') {
      conv.state = 'waiting';
      conv.declined = [...conv.declined.filter((d) => d.agentId !== offer.agentId), { agentId: offer.agentId, at: Date.now() }].slice(-DECLINED_MAX);
      void this.#save([conv]).then(() => this.emit('state', conv, 'offered', 'waiting'), () => {});
    }
    if (why !== 'declined') {
      const reason = why === 'timeout' ? 'timeout' : why === 'closed' ? 'closed' : 'agent_offline';
      this.#out.toUser(conv.tenant, offer.agentId, DeskEvent.offerRevoked, { offerId: offer.id, conv: conv.id, reason });
    }
    this.emit('offer_ended', conv, offer.agentId, why);
    this.#markDirty(conv.tenant);
    return offer;
  }

  /** Agent accepts an offer (`desk.accept`). */
  async accept(identity: DeskIdentity, offerId: string): Promise<{ conv: string; state: 'assigned' }> {
    const { conv, agent } = this.#ownOffer(identity, offerId);
    this.#offers.end(offerId);
    agent.offered.delete(conv.id);
    conv.offer = null;
    await this.#assign(conv, agent);
    return { conv: conv.id, state: 'assigned' };
  }

  /** Agent declines an offer (`desk.decline`): it passes to the next agent. */
  async decline(identity: DeskIdentity, offerId: string): Promise<{ conv: string }> {
    const { conv } = this.#ownOffer(identity, offerId);
    this.#endOffer(conv, 'declined');
    await this.#flushWrites();
    return { conv: conv.id };
  }

  #ownOffer(identity: DeskIdentity, offerId: string): { conv: DeskConversation; agent: DeskAgent } {
    this.#assertOpen();
    const agent = this.#requireAgent(identity);
    if (typeof offerId !== 'string' || offerId.length === 0) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'offerId must be a non-empty string');
    const conv = this.#offerConv(offerId);
    // Another tenant's offer reads as unknown: its existence is not this agent's business.
    if (!conv || conv.tenant !== identity.tenant || conv.offer?.id !== offerId) {
      throw new KefuError('KEFU_ERR_DESK_OFFER_EXPIRED', 'the offer expired or was already answered');
    }
    if (conv.offer.agentId !== identity.id) throw new KefuError('KEFU_ERR_DESK_OFFER_NOT_YOURS', 'the offer was made to another agent');
    if (Date.now() > conv.offer.expiresAt) {
      this.#endOffer(conv, 'timeout');
      throw new KefuError('KEFU_ERR_DESK_OFFER_EXPIRED', 'the offer expired');
    }
    return { conv, agent };
  }

  #offerConv(offerId: string): DeskConversation | undefined {
    const convId = this.#offers.convOf(offerId);
    return convId === undefined ? undefined : this.#convs.get(convId);
  }

  /** waiting|offered -> assigned. */
  async #assign(conv: DeskConversation, agent: DeskAgent): Promise<void> {
    const from = conv.state;
    this.#lines.get(conv.tenant)?.remove(conv);
    this.#sentPosition.delete(conv.id);
    const now = Date.now();
    conv.state = 'assigned';
    conv.agentId = agent.id;
    conv.lastAgentId = agent.id;
    conv.assignedAt = now;
    conv.lastActivityAt = now;
    conv.offer = null;
    conv.declined = [];
    conv.team = null;
    agent.active.add(conv.id);
    agent.lastAssignedAt = now;
    this.#lastAgent.set(`${conv.tenant}\0${conv.visitor.id}`, agent.id);
    await this.#save([conv]);
    await this.#out.callAsync(() => this.#o.hub?.addMember(conv.id, agent.sender()));
    this.emit('state', conv, from, 'assigned');
    this.emit('assigned', conv, agent.id);
    this.#out.toConversation(conv.id, DeskEvent.assigned, { conv: conv.id, agent: agent.sender() });
    this.#markDirty(conv.tenant);
  }

  // ---------------------------------------------------------------------------------------------
  // transfer, close, rate
  // ---------------------------------------------------------------------------------------------

  /** The assigned agent moves the conversation to another agent (directly) or a team (via the queue head). */
  async transfer(identity: DeskIdentity, convId: string, target: TransferTarget): Promise<{ conv: string; state: DeskState; agent: string | null; team: string | null }> {
    this.#assertOpen();
    const from = this.#requireAgent(identity);
    const conv = this.#tenantConv(identity, convId);
    if (conv.state !== 'assigned') throw new KefuError('KEFU_ERR_DESK_INVALID_STATE', `cannot transfer a conversation in state ${conv.state}`);
    if (conv.agentId !== identity.id) throw new KefuError('KEFU_ERR_FORBIDDEN', 'only the assigned agent may transfer the conversation');
    const hasAgent = typeof target.agent === 'string';
    const hasTeam = typeof target.team === 'string';
    if (hasAgent === hasTeam) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'transfer needs exactly one of agent or team');
    const note = typeof target.note === 'string' ? target.note.slice(0, 500) : null;
    if (hasAgent) {
      const to = this.#agents.get(conv.tenant, target.agent!);
      if (!to) throw new KefuError('KEFU_ERR_DESK_AGENT_NOT_FOUND', `no agent "${target.agent}" in this tenant`);
      if (to === from) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'cannot transfer a conversation to its own agent');
      if (to.status !== 'online') throw new KefuError('KEFU_ERR_DESK_AGENT_OFFLINE', `agent "${to.id}" is ${to.status}`);
      if (to.load >= to.capacity) throw new KefuError('KEFU_ERR_DESK_AGENT_AT_CAPACITY', `agent "${to.id}" has no free capacity`);
      from.active.delete(conv.id);
      to.active.add(conv.id);
      to.lastAssignedAt = Date.now();
      conv.agentId = to.id;
      conv.lastAgentId = to.id;
      conv.assignedAt = Date.now();
      this.#lastAgent.set(`${conv.tenant}\0${conv.visitor.id}`, to.id);
      await this.#save([conv]);
      await this.#out.callAsync(() => this.#o.hub?.addMember(conv.id, to.sender()));
      const payload = { conv: conv.id, from: from.sender(), agent: to.sender(), team: null, note };
      this.#out.toConversation(conv.id, DeskEvent.transferred, payload);
      this.#out.toUser(conv.tenant, from.id, DeskEvent.transferred, payload);
      this.#out.call(() => this.#o.hub?.removeMember(conv.id, from.id, 'transferred'));
      this.#out.toConversation(conv.id, DeskEvent.assigned, { conv: conv.id, agent: to.sender() });
      this.emit('transferred', conv, from.id, { agent: to.id, team: null });
      this.#markDirty(conv.tenant);
      return { conv: conv.id, state: conv.state, agent: to.id, team: null };
    }
    const team = target.team!;
    if (!this.#agents.hasTeam(conv.tenant, team)) throw new KefuError('KEFU_ERR_DESK_TEAM_NOT_FOUND', `no team "${team}" in this tenant`);
    if (this.#line(conv.tenant).size >= this.#o.maxWaiting) throw new KefuError('KEFU_ERR_DESK_QUEUE_FULL', 'the waiting queue is full');
    from.active.delete(conv.id);
    this.#toHead(conv);
    conv.team = team;
    conv.queueReason = 'transfer';
    // The sender of the transfer should not get it straight back.
    conv.declined = [{ agentId: from.id, at: Date.now() }];
    await this.#save([conv]);
    const payload = { conv: conv.id, from: from.sender(), agent: null, team, note };
    this.#out.toConversation(conv.id, DeskEvent.transferred, payload);
    this.#out.call(() => this.#o.hub?.removeMember(conv.id, from.id, 'transferred'));
    this.emit('state', conv, 'assigned', 'waiting');
    this.emit('transferred', conv, from.id, { agent: null, team });
    this.emit('requeued', conv, 'transfer');
    this.#sendPosition(conv);
    this.#markDirty(conv.tenant);
    return { conv: conv.id, state: conv.state, agent: null, team };
  }

  /** The visitor, or the assigned agent, closes the conversation. */
  async closeConversation(identity: DeskIdentity, convId: string, reason?: string): Promise<{ conv: string; state: 'closed' }> {
    this.#assertOpen();
    const conv = identity.role === 'visitor' ? this.#visitorConv(identity, convId) : this.#tenantConv(identity, convId);
    if (identity.role === 'agent') {
      this.#requireAgent(identity);
      if (conv.agentId !== identity.id) throw new KefuError('KEFU_ERR_FORBIDDEN', 'only the assigned agent may close the conversation');
    } else if (identity.role !== 'visitor') {
      throw new KefuError('KEFU_ERR_FORBIDDEN', 'only the visitor or the assigned agent may close the conversation');
    }
    if (conv.state === 'closed') throw new KefuError('KEFU_ERR_DESK_INVALID_STATE', 'the conversation is already closed');
    await this.#close(conv, identity.role === 'agent' ? 'agent' : 'visitor', typeof reason === 'string' ? reason.slice(0, 200) : null);
    return { conv: conv.id, state: 'closed' };
  }

  async #close(conv: DeskConversation, by: 'agent' | 'visitor' | 'idle' | 'system', reason: string | null): Promise<void> {
    const from = conv.state;
    if (from === 'closed') return;
    if (conv.offer) this.#endOffer(conv, 'closed');
    this.#lines.get(conv.tenant)?.remove(conv);
    this.#sentPosition.delete(conv.id);
    this.#profiles.delete(conv.id);
    const now = Date.now();
    if (conv.agentId !== null) {
      this.#agents.get(conv.tenant, conv.agentId)?.active.delete(conv.id);
      if (conv.assignedAt !== null) this.#handleMs = Math.round(this.#handleMs * 0.9 + (now - conv.assignedAt) * 0.1);
    }
    conv.state = 'closed';
    conv.closedAt = now;
    conv.closedBy = by;
    conv.closeReason = reason;
    await this.#save([conv]);
    this.emit('state', conv, from, 'closed');
    this.emit('closed', conv);
    this.#out.toConversation(conv.id, DeskEvent.closed, { conv: conv.id, by, reason, canRate: conv.rating === null });
    const hub = this.#o.hub;
    if (hub) {
      const agentId = conv.agentId;
      // The agent's sockets leave the closed chat: a long shift must not reach the hub's
      // maxConversationsPerConnection. The visitor stays, to rate it.
      this.#out.call(async () => {
        await hub.closeConversation(conv.id, reason ?? by);
        if (agentId !== null) await hub.removeMember(conv.id, agentId, 'closed');
      });
    }
    this.#markDirty(conv.tenant);
  }

  /** Post-chat CSAT: the visitor rates a closed conversation once, 1-5. */
  async rate(identity: DeskIdentity, convId: string, score: number, comment?: string): Promise<{ conv: string; score: number }> {
    this.#assertOpen();
    if (identity.role !== 'visitor') throw new KefuError('KEFU_ERR_FORBIDDEN', 'only the visitor rates a conversation');
    if (!Number.isInteger(score) || score < 1 || score > 5) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'score must be an integer from 1 to 5');
    if (comment !== undefined && (typeof comment !== 'string' || comment.length > RATE_COMMENT_MAX)) {
      throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `comment must be a string of at most ${RATE_COMMENT_MAX} characters`);
    }
    let conv = this.#convs.get(convId);
    // Evicted from memory after closedRetentionMs: the store still has it.
    if (!conv && typeof convId === 'string' && convId.length > 0 && convId.length <= 128) conv = await this.store.get(identity.tenant, convId);
    if (!conv || conv.tenant !== identity.tenant || conv.visitor.id !== identity.id) {
      throw new KefuError('KEFU_ERR_CONVERSATION_NOT_FOUND', `no conversation "${String(convId)}"`);
    }
    if (conv.state !== 'closed') throw new KefuError('KEFU_ERR_DESK_INVALID_STATE', 'a conversation is rated after it is closed');
    if (conv.rating !== null) throw new KefuError('KEFU_ERR_DESK_ALREADY_RATED', 'the conversation was already rated');
    conv.rating = { score, comment: comment ?? null, at: Date.now() };
    await this.#save([conv]);
    this.emit('rated', conv);
    this.#out.toConversation(conv.id, DeskEvent.rated, { conv: conv.id, score });
    return { conv: conv.id, score };
  }

  // ---------------------------------------------------------------------------------------------
  // reads for agents
  // ---------------------------------------------------------------------------------------------

  setCanned(tenant: string, replies: CannedReply[]): void {
    if (!Array.isArray(replies) || replies.some((r) => typeof r?.id !== 'string' || typeof r.title !== 'string' || typeof r.body !== 'string')) {
      throw new TypeError('canned replies must be an array of { id, title, body } strings');
    }
    this.#canned.set(tenant, replies.map((r) => ({ id: r.id, title: r.title, body: r.body })));
  }

  canned(identity: DeskIdentity): { replies: CannedReply[] } {
    this.#requireAgent(identity);
    return { replies: this.#canned.get(identity.tenant) ?? [] };
  }

  queueSnapshot(identity: DeskIdentity, limit = 50): { size: number; entries: QueueEntry[] } {
    this.#requireAgent(identity);
    if (!Number.isInteger(limit) || limit < 1 || limit > SNAPSHOT_MAX) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `limit must be an integer from 1 to ${SNAPSHOT_MAX}`);
    return this.#snapshot(identity.tenant, limit);
  }

  #snapshot(tenant: string, limit: number): { size: number; entries: QueueEntry[] } {
    const line = this.#lines.get(tenant);
    if (!line) return { size: 0, entries: [] };
    const now = Date.now();
    const entries = line.slice(0, limit).map((c, i): QueueEntry => ({
      conv: c.id, position: i + 1, priority: c.priority, waitingMs: now - (c.queuedAt ?? now), visitor: c.visitor, intent: c.intent, team: c.team,
    }));
    return { size: line.size, entries };
  }

  agentStatus(identity: DeskIdentity): { agent: string; status: AgentStatus; capacity: number; active: number; conversations: string[]; teams: string[] } {
    const a = this.#requireAgent(identity);
    return { agent: a.id, status: a.status, capacity: a.capacity, active: a.active.size, conversations: [...a.active], teams: [...a.teams] };
  }

  /** Join policy for the Hub's `authorizeJoin`: visitors their own, agents only what is assigned to them. */
  mayJoin(identity: { tenant: string; id: string; role: string }, convId: string): boolean {
    const conv = this.#convs.get(convId);
    if (!conv || conv.tenant !== identity.tenant) return false;
    if (identity.role === 'visitor') return conv.visitor.id === identity.id;
    return identity.role === 'agent' && conv.agentId === identity.id;
  }

  /** Counters for metrics. */
  get stats(): { conversations: number; waiting: number; offers: number; agentsOnline: number; avgHandleMs: number } {
    let waiting = 0;
    for (const l of this.#lines.values()) waiting += l.size;
    let online = 0;
    for (const a of this.#agents.all()) if (a.status === 'online') online++;
    return { conversations: this.#convs.size, waiting, offers: this.#offers.size, agentsOnline: online, avgHandleMs: this.#handleMs };
  }

  // ---------------------------------------------------------------------------------------------
  // positions, sweep
  // ---------------------------------------------------------------------------------------------

  #estimate(tenant: string, position: number, slots = this.#agents.onlineCapacity(tenant)): number {
    return Math.ceil(position / Math.max(1, slots)) * this.#handleMs;
  }

  #sendPosition(conv: DeskConversation): void {
    const line = this.#lines.get(conv.tenant);
    const i = line?.indexOf(conv) ?? -1;
    if (!line || i < 0) return;
    this.#sentPosition.set(conv.id, i + 1);
    this.#out.toConversation(conv.id, DeskEvent.queuePosition, { conv: conv.id, position: i + 1, size: line.size, estimatedWaitMs: this.#estimate(conv.tenant, i + 1) });
  }

  /** Coalesced: each waiting visitor hears only a changed position; agents get one queue_changed per tenant. */
  #flushPositions(): void {
    this.#positionTimer = undefined;
    if (this.#status !== 'open') return;
    const tenants = [...this.#positionsDirty];
    this.#positionsDirty.clear();
    let sent = 0;
    for (const tenant of tenants) {
      const line = this.#lines.get(tenant);
      if (!line) continue;
      let i = 0;
      const slots = this.#agents.onlineCapacity(tenant);
      for (const conv of line) {
        i++;
        if (this.#sentPosition.get(conv.id) === i) continue;
        this.#sentPosition.set(conv.id, i);
        this.#out.toConversation(conv.id, DeskEvent.queuePosition, { conv: conv.id, position: i, size: line.size, estimatedWaitMs: this.#estimate(tenant, i, slots) });
        sent++;
      }
      if (this.#o.hub) {
        const data = this.#snapshot(tenant, HEAD_EVENT_ROWS);
        for (const a of this.#agents.of(tenant)) if (a.status !== 'offline') this.#out.toUser(tenant, a.id, DeskEvent.queueChanged, data);
      }
    }
    this.#nextFlushAt = Date.now() + Math.ceil((sent * 1000) / this.#o.maxPositionEventsPerSec);
  }

  #sweep(): void {
    if (this.#status !== 'open') return;
    const now = Date.now();
    const idle = this.#o.idleCloseMs;
    for (const conv of this.#convs.values()) {
      if (conv.state === 'closed') {
        if (now - (conv.closedAt ?? now) >= this.#o.closedRetentionMs) this.#convs.delete(conv.id);
      } else if (idle > 0 && (conv.state === 'assigned' || conv.state === 'bot') && now - conv.lastActivityAt >= idle) {
        void this.#close(conv, 'idle', 'idle timeout').catch((err: unknown) => this.emit('error', err));
      }
    }
    // Decline cooldowns end with time, not with an event: look again where someone waits.
    for (const [tenant, line] of this.#lines) if (line.size > 0) this.#dispatchDirty.add(tenant);
    if (this.#dispatchDirty.size > 0 && !this.#dispatchScheduled) {
      const tenants = [...this.#dispatchDirty];
      this.#dispatchDirty.clear();
      for (const t of tenants) this.#dispatch(t);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // plumbing
  // ---------------------------------------------------------------------------------------------

  #save(convs: DeskConversation[]): Promise<void> {
    return this.#write(convs.map((value) => ({ type: 'conversation', value })));
  }

  #pendingWrite: Promise<void> = Promise.resolve();

  #write(ops: DeskStoreOp[]): Promise<void> {
    const p = this.store.write(ops);
    this.#pendingWrite = p.catch(() => {});
    return p.catch((err: unknown) => {
      this.emit('error', err);
      throw err;
    });
  }

  /** Waits for the latest write (writes are applied in order, so for all of them). */
  #flushWrites(): Promise<void> {
    return this.#pendingWrite;
  }

  #assertOpen(): void {
    if (this.#status === 'open') return;
    throw this.#status === 'closed'
      ? new KefuError('KEFU_ERR_CLOSED', 'the desk is closed')
      : new KefuError('KEFU_ERR_NOT_OPEN', 'the desk is not open (call and await open())');
  }

  #requireAgent(identity: DeskIdentity): DeskAgent {
    if (identity.role !== 'agent') throw new KefuError('KEFU_ERR_FORBIDDEN', 'only agents may do this');
    return this.#agent(identity.tenant, identity.id);
  }

  /** The conversation, if it exists in the caller's tenant: another tenant's reads as missing. */
  #tenantConv(identity: DeskIdentity, convId: string): DeskConversation {
    const conv = typeof convId === 'string' ? this.#convs.get(convId) : undefined;
    if (!conv || conv.tenant !== identity.tenant) throw new KefuError('KEFU_ERR_CONVERSATION_NOT_FOUND', `no conversation "${String(convId)}"`);
    return conv;
  }

  #visitorConv(identity: DeskIdentity, convId: string): DeskConversation {
    if (identity.role !== 'visitor') throw new KefuError('KEFU_ERR_FORBIDDEN', 'only the visitor may do this');
    const conv = this.#tenantConv(identity, convId);
    if (conv.visitor.id !== identity.id) throw new KefuError('KEFU_ERR_CONVERSATION_NOT_FOUND', `no conversation "${convId}"`);
    return conv;
  }
}
