/**
 * The conversation lifecycle: start (profile fetched in parallel with the first message), the
 * hand-off to the queue, close (agent, visitor, idle, system), the post-chat rating.
 *
 *   bot --handoff--> waiting --offer--> offered --accept--> assigned --close--> closed
 *                      ^  ^----decline/timeout---'              |
 *                      '-------- agent gone (grace) / transfer to team -'
 */
import { DeskEvent, KefuError, isValidId, type Sender } from '@kefu/protocol';
import { BotTurns } from './bot-turn.js';
import { toProfile } from './profile.js';
import type { Offers } from './offers.js';
import type { Positions } from './positions.js';
import type { DeskRuntime } from './runtime.js';
import type { DeskConversation, DeskIdentity, DeskProfile, DeskState, HandoffReason, TranscriptLine } from './types.js';

const RATE_COMMENT_MAX = 1000;

export type CloseBy = 'agent' | 'visitor' | 'idle' | 'system';

export class Conversations {
  readonly #rt: DeskRuntime;
  readonly #offers: Offers;
  readonly #positions: Positions;
  /** Profiles being fetched for conversations still with the bot. */
  readonly profiles = new Map<string, Promise<DeskProfile>>();
  readonly bot: BotTurns;

  constructor(rt: DeskRuntime, offers: Offers, positions: Positions) {
    this.#rt = rt;
    this.#offers = offers;
    this.#positions = positions;
    this.bot = new BotTurns(rt, {
      handoff: (conv, reason) => this.#handoff(conv, reason),
      appendTranscript: (conv, line) => this.#appendTranscript(conv, line),
      profile: async (conv) => (await this.profiles.get(conv.id)) ?? {},
    });
  }

  async start(input: { id: string; tenant: string; visitor: Sender }): Promise<Readonly<DeskConversation>> {
    const rt = this.#rt;
    rt.assertOpen();
    if (!isValidId(input?.id) || !isValidId(input.tenant) || !isValidId(input.visitor?.id)) {
      throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'startConversation: id, tenant and visitor.id must be valid ids');
    }
    const existing = rt.convs.get(input.id);
    if (existing) return existing;
    if (rt.convs.size >= rt.o.maxConversations) {
      throw new KefuError('KEFU_ERR_DESK_QUEUE_FULL', `the desk holds its maximum of ${rt.o.maxConversations} conversations`);
    }
    const now = Date.now();
    const visitor: Sender = input.visitor.name === undefined
      ? { id: input.visitor.id, role: input.visitor.role }
      : { id: input.visitor.id, role: input.visitor.role, name: input.visitor.name };
    const conv: DeskConversation = {
      id: input.id, tenant: input.tenant, visitor, state: 'bot', priority: 0, order: 0,
      createdAt: now, queuedAt: null, assignedAt: null, closedAt: null, lastActivityAt: now,
      intent: null, handoff: null, queueReason: 'new', team: null, agentId: null,
      lastAgentId: rt.sticky.get(input.tenant, visitor.id) ?? null,
      offer: null, declined: [], transcript: [], profile: {}, botAnswers: 0, offline: false,
      closedBy: null, closeReason: null, rating: null,
    };
    rt.convs.set(conv.id, conv);
    rt.track(conv);
    this.profiles.set(conv.id, this.#fetchProfile(conv));
    const saved = rt.save([conv]);
    // Without a classifier the hand-off follows at once and its write (queued after this one,
    // writes apply in order) is the one to wait for.
    if (rt.o.classifier) await saved;
    else saved.catch(() => {});
    rt.events.emit('conversation', conv);
    rt.events.emit('state', conv, null, 'bot');
    if (!rt.o.classifier) await this.bot.chain(conv, () => this.#handoff(conv, 'no_classifier'));
    return conv;
  }

  /** A message was stored in a conversation. */
  async message(convId: string, from: Sender, body: string, ts = Date.now()): Promise<void> {
    const rt = this.#rt;
    const conv = rt.convs.get(convId);
    if (!conv || conv.state === 'closed' || rt.status !== 'open') return;
    conv.lastActivityAt = Date.now();
    this.#appendTranscript(conv, { from, body, ts });
    if (from.role === 'visitor' && conv.state === 'bot') await this.bot.chain(conv, () => this.bot.turn(conv, body));
  }

  /** The visitor asks for a human (`desk.human`). */
  async requestHuman(identity: DeskIdentity, convId: string): Promise<{ state: DeskState; position: number | null }> {
    const rt = this.#rt;
    rt.assertOpen();
    const conv = rt.visitorConv(identity, convId);
    if (conv.state === 'closed') throw new KefuError('KEFU_ERR_DESK_INVALID_STATE', 'the conversation is closed');
    await this.bot.chain(conv, () => this.#handoff(conv, 'requested'));
    return { state: conv.state, position: await this.#positions.position(conv) };
  }

  /** bot -> waiting. Waits for the profile (fetched since the start) to set the priority. */
  async #handoff(conv: DeskConversation, reason: HandoffReason): Promise<void> {
    const rt = this.#rt;
    if (conv.state !== 'bot') return;
    const full = () => new KefuError('KEFU_ERR_DESK_QUEUE_FULL', `the waiting queue of tenant "${conv.tenant}" holds its maximum of ${rt.o.maxWaiting}`);
    await rt.queues.queue(conv.tenant);
    if (rt.queues.reserved(conv.tenant) >= rt.o.maxWaiting) throw full();
    const profile = (await this.profiles.get(conv.id)) ?? {};
    this.profiles.delete(conv.id);
    if (conv.state !== 'bot') return;
    // Checked again: other hand-offs may have filled the line while the profile came.
    if (rt.queues.reserved(conv.tenant) >= rt.o.maxWaiting) throw full();
    conv.profile = profile;
    conv.priority = this.#priorityOf(profile);
    conv.order = ++rt.tail;
    conv.queuedAt = Date.now();
    conv.handoff = reason;
    conv.offline = !rt.agents.anyOnline(conv.tenant);
    conv.state = 'waiting';
    await Promise.all([rt.save([conv]), rt.queueWrite(rt.queues.enqueue(conv))]);
    rt.events.emit('state', conv, 'bot', 'waiting');
    rt.events.emit('handoff', conv, reason);
    rt.out.toConversation(conv.id, DeskEvent.handoff, { conv: conv.id, reason, intent: conv.intent });
    if (conv.offline) rt.out.toConversation(conv.id, DeskEvent.offline, { conv: conv.id, message: rt.o.offlineMessage });
    await this.#positions.send(conv);
    rt.markDirty(conv.tenant);
  }

  /** The visitor, or the assigned agent, closes the conversation. */
  async closeByUser(identity: DeskIdentity, convId: string, reason?: string): Promise<{ conv: string; state: 'closed' }> {
    const rt = this.#rt;
    rt.assertOpen();
    const conv = identity.role === 'visitor' ? rt.visitorConv(identity, convId) : rt.tenantConv(identity, convId);
    if (identity.role === 'agent') {
      rt.requireAgent(identity);
      if (conv.agentId !== identity.id) throw new KefuError('KEFU_ERR_FORBIDDEN', 'only the assigned agent may close the conversation');
    } else if (identity.role !== 'visitor') {
      throw new KefuError('KEFU_ERR_FORBIDDEN', 'only the visitor or the assigned agent may close the conversation');
    }
    if (conv.state === 'closed') throw new KefuError('KEFU_ERR_DESK_INVALID_STATE', 'the conversation is already closed');
    await this.close(conv, identity.role === 'agent' ? 'agent' : 'visitor', typeof reason === 'string' ? reason.slice(0, 200) : null);
    return { conv: conv.id, state: 'closed' };
  }

  async close(conv: DeskConversation, by: CloseBy, reason: string | null): Promise<void> {
    const rt = this.#rt;
    const from = conv.state;
    if (from === 'closed') return;
    if (conv.offer) this.#offers.endOffer(conv, 'closed');
    const queued = from === 'waiting' || from === 'offered';
    this.#positions.forget(conv.id);
    this.profiles.delete(conv.id);
    rt.untrack(conv);
    const now = Date.now();
    if (conv.agentId !== null) {
      rt.agents.get(conv.tenant, conv.agentId)?.active.delete(conv.id);
      if (conv.assignedAt !== null) rt.handleMs = Math.round(rt.handleMs * 0.9 + (now - conv.assignedAt) * 0.1);
    }
    conv.state = 'closed';
    conv.closedAt = now;
    conv.closedBy = by;
    conv.closeReason = reason;
    if (queued) void rt.queueWrite(rt.queues.dequeue(conv));
    await rt.save([conv]);
    rt.events.emit('state', conv, from, 'closed');
    rt.events.emit('closed', conv);
    rt.out.toConversation(conv.id, DeskEvent.closed, { conv: conv.id, by, reason, canRate: conv.rating === null });
    const hub = rt.o.hub;
    if (hub) {
      const agentId = conv.agentId;
      // The agent's sockets leave the closed chat: a long shift must not reach the hub's
      // maxConversationsPerConnection. The visitor stays, to rate it.
      rt.out.call(async () => {
        await hub.closeConversation(conv.id, reason ?? by);
        if (agentId !== null) await hub.removeMember(conv.id, agentId, 'closed');
      });
    }
    rt.markDirty(conv.tenant);
  }

  /** Post-chat CSAT: the visitor rates a closed conversation once, 1-5. */
  async rate(identity: DeskIdentity, convId: string, score: number, comment?: string): Promise<{ conv: string; score: number }> {
    const rt = this.#rt;
    rt.assertOpen();
    if (identity.role !== 'visitor') throw new KefuError('KEFU_ERR_FORBIDDEN', 'only the visitor rates a conversation');
    if (!Number.isInteger(score) || score < 1 || score > 5) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'score must be an integer from 1 to 5');
    if (comment !== undefined && (typeof comment !== 'string' || comment.length > RATE_COMMENT_MAX)) {
      throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `comment must be a string of at most ${RATE_COMMENT_MAX} characters`);
    }
    let conv = rt.convs.get(convId);
    // Evicted from memory after closedRetentionMs: the store still has it.
    if (!conv && typeof convId === 'string' && convId.length > 0 && convId.length <= 128) conv = await rt.store.get(identity.tenant, convId);
    if (!conv || conv.tenant !== identity.tenant || conv.visitor.id !== identity.id) {
      throw new KefuError('KEFU_ERR_CONVERSATION_NOT_FOUND', `no conversation "${String(convId)}"`);
    }
    if (conv.state !== 'closed') throw new KefuError('KEFU_ERR_DESK_INVALID_STATE', 'a conversation is rated after it is closed');
    if (conv.rating !== null) throw new KefuError('KEFU_ERR_DESK_ALREADY_RATED', 'the conversation was already rated');
    conv.rating = { score, comment: comment ?? null, at: Date.now() };
    await rt.save([conv]);
    rt.events.emit('rated', conv);
    rt.out.toConversation(conv.id, DeskEvent.rated, { conv: conv.id, score });
    return { conv: conv.id, score };
  }

  #priorityOf(profile: DeskProfile): number {
    try {
      const p = this.#rt.o.priority(profile);
      return Number.isFinite(p) ? p : 0;
    } catch (err) {
      this.#rt.error(err);
      return 0;
    }
  }

  #fetchProfile(conv: DeskConversation): Promise<DeskProfile> {
    const rt = this.#rt;
    const profiles = rt.o.profiles;
    if (!profiles) return Promise.resolve({});
    return profiles.get(conv.visitor.id).then(
      (p) => {
        const r = toProfile(p, rt.o.maxProfileBytes);
        if (r.error) rt.error(r.error);
        return r.profile;
      },
      (err: unknown) => { rt.error(err); return {}; },
    );
  }

  #appendTranscript(conv: DeskConversation, line: TranscriptLine): void {
    const max = this.#rt.o.maxTranscript;
    if (max === 0) return;
    conv.transcript.push(line);
    if (conv.transcript.length > max) conv.transcript.splice(0, conv.transcript.length - max);
  }
}
