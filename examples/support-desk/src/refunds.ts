/**
 * Refunds from the agent console: `demo.refund` puts a job on a durable PriorityQueue (LevelDB;
 * VIP customers first, one job per order by id), and one worker runs each job as the refund
 * saga (ticket -> ERP refund -> CRM note, LevelDB saga log). Progress is posted into the chat.
 * A crash between the two is safe: the job is redelivered and the saga id (the job id) makes a
 * second start a KEFU_ERR_SAGA_ALREADY_EXISTS, not a second refund.
 *
 * The visitor hears how every refund ends, also one finished by recover() after a restart or by
 * a retry from the console (DEMO ONLY: `demo.refunds.failed` / `demo.refunds.retry`).
 */
import { join } from 'node:path';
import {
  KefuError, LevelQueueStore, LevelSagaLog, MAX_SAGA_ID_LENGTH, PriorityQueue, SagaOrchestrator, isKefuError,
  type Desk, type Hub, type Lease, type SagaRecord,
} from '@kefu/core';
import type { JsonObject } from '@kefu/protocol';
import { REFUND_SAGA, createRefundSaga, relayRefundStatus, type RefundInput } from './refund-saga.js';

type RefundJob = RefundInput & { conversationId: string };

const REFUNDS_SENDER = { id: 'kefu-refunds', role: 'system' as const, name: 'Refunds' };

export interface RefundUrls { helpdeskUrl: string; erpUrl: string; crmUrl: string }

/** Most failed refunds `demo.refunds.failed` lists. */
export const MAX_FAILED_LISTED = 20;
const OPEN_PAGE = 100;

export class Refunds {
  readonly queue: PriorityQueue<RefundJob>;
  readonly orchestrator: SagaOrchestrator;
  #timer: ReturnType<typeof setInterval> | undefined;
  #draining = false;
  #closed = false;

  constructor(dataDir: string, urls: RefundUrls, private readonly hub: Hub) {
    this.queue = new PriorityQueue<RefundJob>({ store: new LevelQueueStore({ location: join(dataDir, 'refund-queue') }), maxAttempts: 5 });
    this.orchestrator = new SagaOrchestrator({ log: new LevelSagaLog({ location: join(dataDir, 'sagas') }), sagas: [createRefundSaga(urls)] });
  }

  async open(): Promise<void> {
    await this.queue.open();
    // Listen before recover(): a resumed saga may end before recover() resolves, and without a
    // relay its visitor would never hear how the refund ended.
    const relays = new Map<string, () => void>();
    await this.orchestrator.open();
    for (const state of ['running', 'compensating'] as const) {
      let after: string | undefined;
      for (;;) {
        const page = await this.orchestrator.list(state, after === undefined ? { limit: OPEN_PAGE } : { limit: OPEN_PAGE, after });
        for (const rec of page) {
          const stop = this.#relay(rec);
          if (stop) relays.set(rec.id, stop);
        }
        if (page.length < OPEN_PAGE) break;
        after = page[page.length - 1]!.id;
      }
    }
    const report = await this.orchestrator.recover(); // finish what a crash interrupted
    // Records recover() did not pick up (skipped: unknown or changed definition) will not move:
    // their relays would wait for ever.
    const resumed = new Set(report.resumed.map((r) => r.id));
    for (const [id, stop] of relays) if (!resumed.has(id)) stop();
    this.queue.on('pushed', () => void this.#drain());
    // Also poll: delayed retries (nack backoff) and leases that expired become ready by time.
    this.#timer = setInterval(() => void this.#drain(), 1000);
    this.#timer.unref();
    void this.#drain();
  }

  /** `demo.refund`: refund the visitor's latest refundable order. */
  register(desk: Desk): void {
    this.hub.command('demo.refund', async (ctx) => {
      if (ctx.identity.role !== 'agent') throw new KefuError('KEFU_ERR_FORBIDDEN', 'agents only');
      const conv = ctx.conv === undefined ? undefined : desk.conversation(ctx.conv);
      if (!conv || conv.tenant !== ctx.identity.tenant) throw new KefuError('KEFU_ERR_CONVERSATION_NOT_FOUND', 'no such conversation');
      if (conv.agentId !== ctx.identity.id) throw new KefuError('KEFU_ERR_DESK_INVALID_STATE', 'only the assigned agent may refund');
      const orders = ((conv.profile.orders as { orders?: Array<{ id: string; total: number; status: string }> } | undefined)?.orders ?? [])
        .filter((o) => o.status !== 'refunded');
      const order = orders[0];
      if (!order) throw new KefuError('KEFU_ERR_DESK_INVALID_STATE', 'the visitor has no refundable order');
      const vip = typeof conv.profile.vip === 'number' ? conv.profile.vip : 0;
      const job: RefundJob = {
        orderId: order.id, amount: order.total / 100, customerId: conv.visitor.id,
        reason: 'requested in chat', conversationId: conv.id,
      };
      const id = `refund-${order.id}`;
      // One refund per order: a saga already in the log answers instead of a new job.
      const saga = await this.orchestrator.get(id);
      if (saga) return { status: saga.state, sagaId: id, orderId: order.id };
      const r = await this.queue.push(job, { id, priority: Math.min(9, Math.max(1, vip + 1)) });
      const out: JsonObject = { status: r.created ? 'queued' : 'already queued', sagaId: id, orderId: order.id };
      return out;
    });
  }

  /** DEMO ONLY: the console's list of refunds waiting for repair, and its retry button. */
  registerRepair(): void {
    this.hub.command('demo.refunds.failed', async (ctx) => {
      if (ctx.identity.role !== 'agent') throw new KefuError('KEFU_ERR_FORBIDDEN', 'agents only');
      const failed = await this.orchestrator.listFailed({ limit: MAX_FAILED_LISTED });
      const refunds: JsonObject[] = failed.filter((r) => r.saga === REFUND_SAGA).map((r) => {
        const input = r.input as Partial<RefundJob>;
        return {
          sagaId: r.id, state: r.state, orderId: input.orderId ?? null, amount: input.amount ?? null,
          step: r.error?.step ?? null, error: r.error?.message ?? null, updatedAt: r.updatedAt,
        };
      });
      return { refunds, demoOnly: true };
    });
    this.hub.command('demo.refunds.retry', async (ctx, args) => {
      if (ctx.identity.role !== 'agent') throw new KefuError('KEFU_ERR_FORBIDDEN', 'agents only');
      const id = args.sagaId;
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_SAGA_ID_LENGTH) {
        throw new KefuError('KEFU_ERR_INVALID_FRAME', `args.sagaId must be a string of 1 to ${MAX_SAGA_ID_LENGTH} characters`);
      }
      const rec = await this.orchestrator.get(id);
      if (!rec || rec.saga !== REFUND_SAGA) throw new KefuError('KEFU_ERR_SAGA_NOT_FOUND', `no refund saga "${id}"`);
      if (rec.state !== 'compensation-failed' && rec.state !== 'forward-failed') {
        throw new KefuError('KEFU_ERR_SAGA_INVALID_STATE', `refund saga "${id}" is ${rec.state}, not waiting for repair`);
      }
      const stop = this.#relay(rec);
      // retry() settles when the saga ends; the answer says only that it is running again.
      this.orchestrator.retry(id).catch((err: unknown) => {
        stop?.();
        if (!this.#closed) console.error('refunds: retry', id, err);
      });
      const out: JsonObject = { status: 'retrying', sagaId: id, demoOnly: true };
      return out;
    });
  }

  /** Relays a refund saga's progress into its chat; undefined when the record names no chat. */
  #relay(rec: SagaRecord): (() => void) | undefined {
    if (rec.saga !== REFUND_SAGA) return undefined;
    const conv = (rec.input as Partial<RefundJob> | undefined)?.conversationId;
    if (typeof conv !== 'string') return undefined;
    return relayRefundStatus(this.orchestrator, rec.id, (text) => this.#post(conv, text));
  }

  #post(conv: string, text: string): void {
    void this.hub.post(conv, REFUNDS_SENDER, text).catch(() => undefined);
  }

  async #drain(): Promise<void> {
    if (this.#draining || this.#closed) return;
    this.#draining = true;
    try {
      for (;;) {
        const [lease] = await this.queue.lease(1, { visibilityMs: 30_000 });
        if (!lease) break;
        await this.#run(lease);
      }
    } catch (err) {
      if (!this.#closed) console.error('refunds:', err);
    } finally {
      this.#draining = false;
    }
  }

  async #run(lease: Lease<RefundJob>): Promise<void> {
    const job = lease.payload;
    // Listen before starting: the first step may finish before start() resolves.
    const stop = relayRefundStatus(this.orchestrator, lease.id, (text) => this.#post(job.conversationId, text));
    try {
      await this.orchestrator.start(REFUND_SAGA, job, { id: lease.id });
      await this.queue.ack(lease); // the saga log holds it from here
    } catch (err) {
      stop();
      if (isKefuError(err, 'KEFU_ERR_SAGA_ALREADY_EXISTS')) { await this.queue.ack(lease); return; }
      await this.queue.nack(lease);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.orchestrator.close();
    // The orchestrator closes only a log it made; a restart in the same process needs this one free.
    await this.orchestrator.log.close();
    await this.queue.close();
  }
}
