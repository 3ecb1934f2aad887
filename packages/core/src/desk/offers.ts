/**
 * Dispatch and offers: matching waiting conversations to free agents, the offer's life (accept,
 * decline, timeout, revoke) and the assignment. An offered conversation keeps its place in the
 * queue; only an assignment takes it out.
 */
import { randomUUID } from 'node:crypto';
import { DeskEvent, KefuError } from '@kefu/protocol';
import { matchAgents } from './matching.js';
import type { DeskAgent } from './agents.js';
import type { Positions } from './positions.js';
import type { DeskRuntime } from './runtime.js';
import type { DeskConversation, DeskIdentity, DeskOffer } from './types.js';

const DECLINED_MAX = 16;
/** Queue items looked at beyond the ones that could be offered now (team-bound, recent decliners). */
const PEEK_SLACK = 8;

export type OfferEnd = 'declined' | 'timeout' | 'agent_offline' | 'closed';

export class Offers {
  readonly #rt: DeskRuntime;
  readonly #positions: Positions;
  /** Tenants with a dispatch pass running, and those marked again meanwhile. */
  readonly #running = new Set<string>();
  readonly #again = new Set<string>();

  constructor(rt: DeskRuntime, positions: Positions) {
    this.#rt = rt;
    this.#positions = positions;
  }

  /** One pass per tenant at a time; a pass asked for while one runs follows it. */
  dispatch(tenant: string): void {
    if (this.#running.has(tenant)) { this.#again.add(tenant); return; }
    this.#running.add(tenant);
    this.#pass(tenant)
      .catch((err: unknown) => this.#rt.error(err))
      .finally(() => {
        this.#running.delete(tenant);
        if (this.#again.delete(tenant)) this.dispatch(tenant);
      });
  }

  async #pass(tenant: string): Promise<void> {
    const rt = this.#rt;
    let window = 0;
    for (;;) {
      if (rt.status !== 'open') return;
      const size = rt.queues.size(tenant);
      if (size === 0) return;
      let slots = 0;
      let offered = 0;
      for (const a of rt.agents.of(tenant)) {
        offered += a.offered.size;
        if (a.available) slots += a.free;
      }
      if (slots === 0) return;
      // Offered conversations keep their place at the head: look past them.
      window = Math.min(size, Math.max(window * 4, offered + slots + PEEK_SLACK));
      const ids = await rt.queues.head(tenant, window);
      if (rt.status !== 'open') return;
      rt.queues.dropStale(tenant, ids);
      const line: DeskConversation[] = [];
      for (const id of ids) {
        const c = rt.convs.get(id);
        if (c && c.tenant === tenant && c.state === 'waiting') line.push(c);
      }
      const free: DeskAgent[] = [];
      for (const a of rt.agents.of(tenant)) if (a.available) free.push(a);
      if (free.length === 0) return;
      const picks = matchAgents({
        line, free, now: Date.now(), declineCooldownMs: rt.o.declineCooldownMs, strategy: rt.o.strategy,
        onError: (err) => rt.error(err),
      });
      for (const [conv, agent] of picks) {
        if (agent.autoAccept) {
          agent.offered.delete(conv.id);
          this.assign(conv, agent).catch((err: unknown) => rt.error(err));
        } else {
          this.#makeOffer(conv, agent).catch((err: unknown) => rt.error(err));
        }
      }
      // Done when no one is free any more or the whole line was seen.
      if (!free.some((a) => a.available) || ids.length < window || ids.length >= rt.queues.size(tenant)) return;
    }
  }

  async #makeOffer(conv: DeskConversation, agent: DeskAgent): Promise<void> {
    const rt = this.#rt;
    const offer: DeskOffer = {
      id: randomUUID(), agentId: agent.id, expiresAt: Date.now() + rt.o.offerTimeoutMs,
      reason: conv.queueReason ?? 'new',
    };
    conv.offer = offer;
    conv.state = 'offered';
    rt.offers.start(offer.id, conv.id, rt.o.offerTimeoutMs, () => this.#expire(offer.id));
    // Written, but not awaited: a restart turns 'offered' back into 'waiting' in place, which is
    // also what it finds if this write is lost, so the agent need not wait for the fsync.
    rt.save([conv]).catch(() => {});
    if (conv.offer?.id !== offer.id) return;
    rt.events.emit('state', conv, 'waiting', 'offered');
    rt.events.emit('offer', conv, offer);
    rt.out.toUser(conv.tenant, agent.id, DeskEvent.offer, {
      offerId: offer.id, conv: conv.id, expiresAt: offer.expiresAt, visitor: conv.visitor, profile: conv.profile,
      intent: conv.intent, transcript: conv.transcript, reason: offer.reason,
    });
  }

  #expire(offerId: string): void {
    const conv = this.#offerConv(offerId);
    if (conv?.offer?.id === offerId) this.endOffer(conv, 'timeout');
  }

  /** offered -> waiting, in the same place; the agent is skipped for this conversation for a while. */
  endOffer(conv: DeskConversation, why: OfferEnd): DeskOffer | undefined {
    const rt = this.#rt;
    const offer = conv.offer;
    if (!offer) return undefined;
    rt.offers.end(offer.id);
    rt.agents.get(conv.tenant, offer.agentId)?.offered.delete(conv.id);
    conv.offer = null;
    if (why !== 'closed') {
      conv.state = 'waiting';
      conv.declined = [...conv.declined.filter((d) => d.agentId !== offer.agentId), { agentId: offer.agentId, at: Date.now() }].slice(-DECLINED_MAX);
      void rt.save([conv]).then(() => rt.events.emit('state', conv, 'offered', 'waiting'), () => {});
    }
    if (why !== 'declined') {
      const reason = why === 'timeout' ? 'timeout' : why === 'closed' ? 'closed' : 'agent_offline';
      rt.out.toUser(conv.tenant, offer.agentId, DeskEvent.offerRevoked, { offerId: offer.id, conv: conv.id, reason });
    }
    rt.events.emit('offer_ended', conv, offer.agentId, why);
    rt.markDirty(conv.tenant);
    return offer;
  }

  /** Agent accepts an offer (`desk.accept`). */
  async accept(identity: DeskIdentity, offerId: string): Promise<{ conv: string; state: 'assigned' }> {
    const { conv, agent } = this.#ownOffer(identity, offerId);
    this.#rt.offers.end(offerId);
    agent.offered.delete(conv.id);
    conv.offer = null;
    await this.assign(conv, agent);
    return { conv: conv.id, state: 'assigned' };
  }

  /** Agent declines an offer (`desk.decline`): it passes to the next agent. */
  async decline(identity: DeskIdentity, offerId: string): Promise<{ conv: string }> {
    const { conv } = this.#ownOffer(identity, offerId);
    this.endOffer(conv, 'declined');
    await this.#rt.flushWrites();
    return { conv: conv.id };
  }

  #ownOffer(identity: DeskIdentity, offerId: string): { conv: DeskConversation; agent: DeskAgent } {
    const rt = this.#rt;
    rt.assertOpen();
    const agent = rt.requireAgent(identity);
    if (typeof offerId !== 'string' || offerId.length === 0) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'offerId must be a non-empty string');
    const conv = this.#offerConv(offerId);
    // Another tenant's offer reads as unknown: its existence is not this agent's business.
    if (!conv || conv.tenant !== identity.tenant || conv.offer?.id !== offerId) {
      throw new KefuError('KEFU_ERR_DESK_OFFER_EXPIRED', 'the offer expired or was already answered');
    }
    if (conv.offer.agentId !== identity.id) throw new KefuError('KEFU_ERR_DESK_OFFER_NOT_YOURS', 'the offer was made to another agent');
    if (Date.now() > conv.offer.expiresAt) {
      this.endOffer(conv, 'timeout');
      throw new KefuError('KEFU_ERR_DESK_OFFER_EXPIRED', 'the offer expired');
    }
    return { conv, agent };
  }

  #offerConv(offerId: string): DeskConversation | undefined {
    const convId = this.#rt.offers.convOf(offerId);
    return convId === undefined ? undefined : this.#rt.convs.get(convId);
  }

  /** waiting|offered -> assigned: out of the queue, into the agent's load and the visitor's sticky memory. */
  async assign(conv: DeskConversation, agent: DeskAgent): Promise<void> {
    const rt = this.#rt;
    const from = conv.state;
    this.#positions.forget(conv.id);
    const now = Date.now();
    conv.state = 'assigned';
    conv.agentId = agent.id;
    conv.assignedAt = now;
    conv.lastActivityAt = now;
    conv.offer = null;
    conv.declined = [];
    conv.team = null;
    agent.active.add(conv.id);
    agent.lastAssignedAt = now;
    const sticky = rt.rememberAgent(conv, agent.id);
    // Not awaited: dispatch and positions skip an item whose conversation is no longer waiting.
    void rt.queueWrite(rt.queues.dequeue(conv));
    await rt.save([conv], sticky);
    await rt.out.callAsync(() => rt.o.hub?.addMember(conv.id, agent.sender()));
    rt.events.emit('state', conv, from, 'assigned');
    rt.events.emit('assigned', conv, agent.id);
    rt.out.toConversation(conv.id, DeskEvent.assigned, { conv: conv.id, agent: agent.sender() });
    rt.markDirty(conv.tenant);
  }
}
