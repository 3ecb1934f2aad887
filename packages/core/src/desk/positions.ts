/**
 * What visitors and agents hear of the queue: each waiting visitor's position and estimated
 * wait (only when it changed), one coalesced queue_changed per tenant for its agents, the
 * position again when a visitor reconnects, and the snapshot agents ask for.
 */
import { DeskEvent, KefuError, type QueueEntry } from '@kefu/protocol';
import type { DeskRuntime } from './runtime.js';
import type { DeskConversation } from './types.js';

const SNAPSHOT_MAX = 500;
const HEAD_EVENT_ROWS = 10;

const live = (c: DeskConversation | undefined): c is DeskConversation => c !== undefined && (c.state === 'waiting' || c.state === 'offered');

export class Positions {
  readonly #rt: DeskRuntime;
  /** Last position each waiting visitor was told. */
  readonly #sent = new Map<string, number>();

  constructor(rt: DeskRuntime) {
    this.#rt = rt;
  }

  /** The conversation left the queue. */
  forget(convId: string): void {
    this.#sent.delete(convId);
  }

  estimate(tenant: string, position: number, slots = this.#rt.agents.onlineCapacity(tenant)): number {
    return Math.ceil(position / Math.max(1, slots)) * this.#rt.handleMs;
  }

  /** 1-based place among the tenant's waiting conversations, or null. */
  async position(conv: DeskConversation): Promise<number | null> {
    if (!live(conv)) return null;
    return this.#rt.queues.position(conv);
  }

  /** Tells the visitor their place now (after a hand-off, a requeue, a reconnect). */
  async send(conv: DeskConversation, to: 'conversation' | 'visitor' = 'conversation'): Promise<void> {
    const position = await this.position(conv);
    if (position === null || !live(conv)) return;
    this.#sent.set(conv.id, position);
    const data = { conv: conv.id, position, size: this.#rt.queues.size(conv.tenant), estimatedWaitMs: this.estimate(conv.tenant, position) };
    if (to === 'visitor') this.#rt.out.toUser(conv.tenant, conv.visitor.id, DeskEvent.queuePosition, data);
    else this.#rt.out.toConversation(conv.id, DeskEvent.queuePosition, data);
  }

  /** A visitor connected (a reconnect, a page reload): their waiting conversations' places, to them. */
  visitorConnected(tenant: string, visitorId: string): void {
    const ids = this.#rt.byVisitor.get(`${tenant}\0${visitorId}`);
    if (!ids) return;
    for (const id of ids) {
      const conv = this.#rt.convs.get(id);
      if (live(conv)) this.send(conv, 'visitor').catch((err: unknown) => this.#rt.error(err));
    }
  }

  /** Each waiting visitor hears only a changed position; agents get one queue_changed per tenant. Returns the events sent. */
  async flush(tenants: string[]): Promise<number> {
    const rt = this.#rt;
    let sent = 0;
    for (const tenant of tenants) {
      if (rt.status !== 'open') break;
      const waiting: DeskConversation[] = [];
      for (const id of await rt.queues.head(tenant, rt.queues.size(tenant))) {
        const conv = rt.convs.get(id);
        if (live(conv) && conv.tenant === tenant) waiting.push(conv);
      }
      const slots = rt.agents.onlineCapacity(tenant);
      const size = waiting.length;
      for (let i = 1; i <= size; i++) {
        const conv = waiting[i - 1]!;
        if (this.#sent.get(conv.id) === i) continue;
        this.#sent.set(conv.id, i);
        rt.out.toConversation(conv.id, DeskEvent.queuePosition, { conv: conv.id, position: i, size, estimatedWaitMs: this.estimate(tenant, i, slots) });
        sent++;
      }
      if (rt.o.hub) {
        const data = { size, entries: this.#entries(waiting.slice(0, HEAD_EVENT_ROWS)) };
        for (const a of rt.agents.of(tenant)) if (a.status !== 'offline') rt.out.toUser(tenant, a.id, DeskEvent.queueChanged, data);
      }
    }
    return sent;
  }

  /** The head of the tenant's queue, for agents (`desk.queue`). */
  async snapshot(tenant: string, limit = 50): Promise<{ size: number; entries: QueueEntry[] }> {
    if (!Number.isInteger(limit) || limit < 1 || limit > SNAPSHOT_MAX) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `limit must be an integer from 1 to ${SNAPSHOT_MAX}`);
    await this.#rt.queues.settled();
    const rows: DeskConversation[] = [];
    for (const id of await this.#rt.queues.head(tenant, limit)) {
      const conv = this.#rt.convs.get(id);
      if (live(conv) && conv.tenant === tenant) rows.push(conv);
    }
    return { size: this.#rt.queues.size(tenant), entries: this.#entries(rows) };
  }

  #entries(rows: DeskConversation[]): QueueEntry[] {
    const now = Date.now();
    return rows.map((c, i): QueueEntry => ({
      conv: c.id, position: i + 1, priority: c.priority, waitingMs: now - (c.queuedAt ?? now), visitor: c.visitor, intent: c.intent, team: c.team,
    }));
  }
}
