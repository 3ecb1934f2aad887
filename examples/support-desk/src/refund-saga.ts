/**
 * The demo desk's "refund order" saga, ready to wire into the agent console:
 *
 *   1. open-ticket  helpdesk  POST /tickets                  undo: close the ticket
 *   2. refund       ERP       POST /refunds        (pivot)   undo: reverse, only if the refund
 *                                                            itself failed in an unknown way
 *   3. crm-note     CRM       POST /customers/:uid/notes     after the pivot: retried forward
 *
 * An ERP failure closes the ticket again. Every call carries the step's idempotency key, so a
 * retry or a restart never makes a second ticket, refund or note.
 *
 * Wiring (see docs/saga.md):
 *   const orchestrator = new SagaOrchestrator({ log: new LevelSagaLog({ location }), sagas: [createRefundSaga(urls)] });
 *   await orchestrator.recover();            // at boot: finish what a crash interrupted
 *   const { id } = await orchestrator.start(REFUND_SAGA, input, { id: requestId });
 *   relayRefundStatus(orchestrator, id, (text) => hub.sendSystemMessage(conversationId, text));
 */
import { NonRetryableError, Saga, type SagaEvents, type SagaOrchestrator, type StepContext } from '@kefu/core';

export const REFUND_SAGA = 'refund-order';

export interface RefundInput {
  orderId: string;
  /** In the order's currency, > 0. */
  amount: number;
  /** CRM customer id (the visitor's uid). */
  customerId: string;
  /** Shown in the ticket and the CRM note. */
  reason?: string;
  /** The chat it came from, for the ticket. */
  conversationId?: string;
}

export interface RefundSagaOptions {
  helpdeskUrl: string;
  erpUrl: string;
  crmUrl: string;
  /**
   * Limit of one HTTP call, in ms.
   * @defaultValue 5000
   */
  timeoutMs?: number;
  /**
   * Attempts per call for transient failures (5xx, timeouts, resets).
   * @defaultValue 4
   */
  maxAttempts?: number;
  /** @defaultValue REFUND_SAGA ('refund-order') */
  name?: string;
}

interface Ticket { ticketId: string }
interface Refund { refundId: string; amount: number }

/** An HTTP error: 4xx answers (but 408 and 429) are final, everything else is worth a retry. */
class HttpError extends Error {
  readonly status: number;
  readonly retryable: boolean;
  constructor(status: number, message: string, retryable: boolean) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.retryable = retryable;
  }
}

async function callJson<T>(url: string, ctx: StepContext<RefundInput>, body: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': ctx.idempotencyKey },
      body: JSON.stringify(body),
      signal: ctx.signal,
    });
  } catch (err) {
    // Connection refused or reset, or our own timeout: the back end may be back soon.
    throw ctx.signal.aborted && ctx.signal.reason !== undefined ? ctx.signal.reason : err;
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text.length === 0 ? undefined : JSON.parse(text);
  } catch {
    throw new HttpError(res.status, `${url} answered ${res.status} with a body that is not JSON`, res.status >= 500);
  }
  if (res.ok) return parsed as T;
  const msg = (parsed as { error?: unknown } | undefined)?.error;
  const retryable = (res.status >= 500 || res.status === 408 || res.status === 429) && (parsed as { retryable?: unknown } | undefined)?.retryable !== false;
  const err = new HttpError(res.status, `${url} answered ${res.status}: ${typeof msg === 'string' ? msg : 'error'}`, retryable);
  if (!retryable) throw new NonRetryableError(err.message, { cause: err });
  throw err;
}

/** Builds the refund saga against the three services' base URLs. */
export function createRefundSaga(options: RefundSagaOptions): Saga<RefundInput> {
  const { helpdeskUrl, erpUrl, crmUrl } = options;
  for (const [k, v] of Object.entries({ helpdeskUrl, erpUrl, crmUrl })) {
    if (typeof v !== 'string' || !/^https?:\/\//.test(v)) throw new TypeError(`${k} must be an http(s) URL`);
  }
  const retry = { maxAttempts: options.maxAttempts ?? 4, initialDelayMs: 100, maxDelayMs: 2_000 };
  return new Saga<RefundInput>({
    name: options.name ?? REFUND_SAGA,
    timeoutMs: options.timeoutMs ?? 5_000,
    retry,
    compensationRetry: { ...retry, maxAttempts: 6 },
    forwardRetry: { maxAttempts: 10 },
    steps: [
      {
        name: 'open-ticket',
        action: (ctx) => callJson<Ticket>(`${helpdeskUrl}/tickets`, ctx, {
          subject: `Refund ${ctx.input.amount} for order ${ctx.input.orderId}${ctx.input.reason ? `: ${ctx.input.reason}` : ''}`.slice(0, 500),
          customerId: ctx.input.customerId,
          orderId: ctx.input.orderId,
        }).then((t) => ({ ticketId: t.ticketId })),
        // A create that timed out may still have made the ticket: close-by-key finds it, or says none.
        compensateFailed: true,
        compensate: (ctx) => {
          const ticketId = (ctx.result as Ticket | undefined)?.ticketId;
          return ticketId === undefined
            ? callJson(`${helpdeskUrl}/tickets/close-by-key`, ctx, {})
            : callJson(`${helpdeskUrl}/tickets/${encodeURIComponent(ticketId)}/close`, ctx, { reason: 'refund not made' });
        },
      },
      {
        name: 'refund',
        pivot: true,
        action: (ctx) => callJson<Refund>(`${erpUrl}/refunds`, ctx, { orderId: ctx.input.orderId, amount: ctx.input.amount })
          .then((r) => ({ refundId: r.refundId, amount: r.amount })),
        // Runs only when the refund failed: it may have been applied without our hearing of it.
        // Reversing by key undoes it, or cancels a late arrival.
        compensateFailed: true,
        compensate: (ctx) => callJson(`${erpUrl}/refunds/reverse`, ctx, {}),
      },
      {
        name: 'crm-note',
        action: (ctx) => {
          const refund = ctx.results.refund as Refund | undefined;
          const ticket = ctx.results['open-ticket'] as Ticket | undefined;
          const text = `Refunded ${ctx.input.amount} on order ${ctx.input.orderId} (refund ${refund?.refundId ?? '?'}, ticket ${ticket?.ticketId ?? '?'})`;
          return callJson<{ noteId: string }>(`${crmUrl}/customers/${encodeURIComponent(ctx.input.customerId)}/notes`, ctx, { text })
            .then((n) => ({ noteId: n.noteId }));
        },
      },
    ],
  });
}

/** A 4xx from the ERP is a refusal; anything else (5xx after retries, timeouts) is an outage. */
function whyNot(error: { step?: string; message: string } | undefined): string {
  if (error?.step !== 'refund') return 'a system was unavailable';
  return /answered 4\d\d\b/.test(error.message) ? 'our billing system declined it' : 'our billing system was unavailable';
}

/**
 * Relays one refund saga's progress as short chat messages for the visitor. Returns a function
 * that stops relaying (it also stops by itself once the saga ends).
 */
export function relayRefundStatus(orchestrator: SagaOrchestrator, sagaId: string, send: (text: string) => void): () => void {
  const offs: Array<() => void> = [];
  const stop = (): void => {
    for (const off of offs.splice(0)) off();
  };
  const on = <K extends 'step:completed' | 'saga:compensating' | 'saga:completed' | 'saga:compensated' | 'saga:compensation-failed' | 'saga:forward-failed'>(
    event: K,
    text: (e: Parameters<SagaEvents[K]>[0]) => string | undefined,
    final = false,
  ): void => {
    const listener = ((e: { id: string }) => {
      if (e.id !== sagaId) return;
      const t = text(e as never);
      if (t !== undefined) send(t);
      if (final) stop();
    }) as never;
    orchestrator.on(event, listener);
    offs.push(() => orchestrator.off(event, listener));
  };
  on('step:completed', (e) => {
    if (e.step === 'open-ticket') return `We opened ticket ${(e.result as Ticket).ticketId} for your refund.`;
    if (e.step === 'refund') return `Your refund was approved (${(e.result as Refund).refundId}).`;
    return undefined;
  });
  on('saga:compensating', () => 'We could not make the refund; we are undoing the request.');
  on('saga:completed', () => 'Your refund is complete. Thank you for your patience.', true);
  // The visitor sees which system said no, never an internal URL or error text.
  on('saga:compensated', (e) => `The refund could not be made (${whyNot(e.error)}). Your ticket was closed; an agent will follow up.`, true);
  on('saga:compensation-failed', () => 'Your refund request needs a manual check; an agent has been notified.', true);
  on('saga:forward-failed', () => 'Your refund was made; our records will be updated shortly.', true);
  return stop;
}
