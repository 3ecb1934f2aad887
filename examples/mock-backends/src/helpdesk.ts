/**
 * The helpdesk: tickets, the refund saga's first step. A real HTTP service on loopback; creating
 * a ticket honours the Idempotency-Key header (same key -> same ticket), closing is idempotent
 * (closing a closed ticket answers the same), and it can be set to fail or hang like the ERP.
 *
 *   POST /tickets              {subject, customerId?, orderId?}   Idempotency-Key required -> 201 ticket
 *   POST /tickets/:id/close    {reason?}                            -> 200 ticket (closed)
 *   POST /tickets/close-by-key                Idempotency-Key = the create's key (for a
 *                              compensation that never saw the ticket id) -> {closed, ticket?}
 *   GET  /tickets/:id          POST /_faults  FaultSettings
 */
import { startJsonService, type JsonReply, type JsonRequest, type JsonService, type JsonServiceOptions } from './json-service.js';
import { extendService } from './extend-service.js';
import { FaultSwitch, IdempotencyStore, defaultMaxIdempotencyKeys, faultRoute, idempotencyKey, idempotent, type FaultSettings } from './erp.js';

export interface HelpdeskServiceOptions extends JsonServiceOptions {
  /** @defaultValue 100000 */
  maxIdempotencyKeys?: number;
  /** Most tickets kept; creating one more answers 507 (not retryable). @defaultValue 100000 */
  maxTickets?: number;
  /** Initial fault settings. @defaultValue { mode: 'off' } */
  faults?: FaultSettings;
}

export interface Ticket {
  ticketId: string;
  key: string;
  subject: string;
  customerId?: string;
  orderId?: string;
  status: 'open' | 'closed';
  closeReason?: string;
}

export interface HelpdeskService extends JsonService {
  readonly faults: FaultSwitch;
  /** Tickets created (each idempotency key once). */
  readonly ticketsCreated: number;
  /** Tickets closed (each ticket once). */
  readonly ticketsClosed: number;
  readonly replays: number;
  ticket(ticketId: string): Ticket | undefined;
  /** The ticket created with this idempotency key. */
  ticketByKey(key: string): Ticket | undefined;
}

const text = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

export async function startHelpdeskService(options: HelpdeskServiceOptions = {}): Promise<HelpdeskService> {
  const maxTickets = options.maxTickets ?? 100_000;
  if (!Number.isInteger(maxTickets) || maxTickets < 1) throw new RangeError('maxTickets must be a positive integer');
  const store = new IdempotencyStore(options.maxIdempotencyKeys ?? defaultMaxIdempotencyKeys);
  const sw = new FaultSwitch(options.seed ?? 1);
  if (options.faults) sw.set(options.faults);
  const tickets = new Map<string, Ticket>();
  const byKey = new Map<string, string>();
  let created = 0;
  let closed = 0;

  const close = (t: Ticket, reason: string | undefined): Ticket => {
    if (t.status === 'open') {
      t.status = 'closed';
      if (reason !== undefined) t.closeReason = reason;
      closed++;
    }
    return { ...t };
  };

  const create = (req: JsonRequest): JsonReply => {
    const b = req.body as { subject?: unknown; customerId?: unknown; orderId?: unknown } | undefined;
    if (!text(b?.subject, 500) || (b.customerId !== undefined && !text(b.customerId, 128)) || (b.orderId !== undefined && !text(b.orderId, 64))) {
      return { status: 400, body: { error: 'body must be {"subject": string, "customerId"?: string, "orderId"?: string}', retryable: false } };
    }
    return idempotent(store, sw, req, (key) => {
      if (tickets.size >= maxTickets) return { status: 507, body: { error: 'ticket store full', retryable: false } };
      const t: Ticket = { ticketId: `tk-${++created}`, key, subject: b.subject as string, status: 'open' };
      if (typeof b.customerId === 'string') t.customerId = b.customerId;
      if (typeof b.orderId === 'string') t.orderId = b.orderId;
      tickets.set(t.ticketId, t);
      byKey.set(key, t.ticketId);
      return { status: 201, body: { ...t } };
    });
  };

  const closeById = (req: JsonRequest): JsonReply => {
    const fault = sw.draw();
    if (fault === 'hang') return { fault: 'hang' };
    if (fault === 'fail') return sw.failure();
    const t = tickets.get(req.params.id ?? '');
    if (t === undefined) return { status: 404, body: { error: 'no such ticket', retryable: false } };
    const reason = (req.body as { reason?: unknown } | undefined)?.reason;
    const out = close(t, typeof reason === 'string' ? reason.slice(0, 500) : undefined);
    return fault === 'fail-after-apply' ? sw.failure() : { body: out };
  };

  const closeByKey = (req: JsonRequest): JsonReply => {
    const key = idempotencyKey(req);
    if (typeof key !== 'string') return key;
    return sw.run(() => {
      const id = byKey.get(key);
      const t = id === undefined ? undefined : tickets.get(id);
      return { body: t === undefined ? { closed: false } : { closed: true, ticket: close(t, 'compensated') } };
    });
  };

  const service = await startJsonService(
    [
      { method: 'POST', path: '/tickets', handler: create },
      { method: 'POST', path: '/tickets/close-by-key', handler: closeByKey },
      { method: 'POST', path: '/tickets/:id/close', handler: closeById },
      {
        method: 'GET', path: '/tickets/:id', handler: (req) => {
          const t = tickets.get(req.params.id ?? '');
          return t ? { body: t } : { status: 404, body: { error: 'no such ticket' } };
        },
      },
      { method: 'POST', path: '/_faults', handler: faultRoute(sw) },
    ],
    { name: 'helpdesk', faultsOnDemand: false, ...options },
  );

  return extendService<HelpdeskService>(service, {
    faults: sw,
    get ticketsCreated() { return created; },
    get ticketsClosed() { return closed; },
    get replays() { return store.replays; },
    ticket: (id) => {
      const t = tickets.get(id);
      return t && { ...t };
    },
    ticketByKey: (key) => {
      const id = byKey.get(key);
      const t = id === undefined ? undefined : tickets.get(id);
      return t && { ...t };
    },
  });
}
