/**
 * The ERP: refunds, the saga's pivot. A real HTTP service on loopback that honours the
 * Idempotency-Key header (same key and body -> same answer, the refund applied once), and that a
 * test or the demo can set to fail (always, the next N requests, or at a rate), to fail *after*
 * applying (the answer is lost, the effect is not), or to hang.
 *
 *   POST /refunds            {orderId, amount}   Idempotency-Key required   -> 201 {refundId, ...}
 *   POST /refunds/reverse                        Idempotency-Key = the refund's key
 *   GET  /refunds/:key       GET /orders/:orderId/refunds
 *   POST /_faults            FaultSettings (same as service.faults.set)
 *
 * The idempotency store and the fault switch below are shared by the helpdesk and CRM-notes
 * services.
 */
import { startJsonService, type JsonReply, type JsonRequest, type JsonService, type JsonServiceOptions } from './json-service.js';
import { extendService } from './extend-service.js';

// --- shared: idempotency store ----------------------------------------------------------------

/** Most idempotency keys a service remembers (oldest forgotten first). @defaultValue 100000 */
export const defaultMaxIdempotencyKeys = 100_000;

interface Remembered {
  fingerprint: string;
  status: number;
  body: unknown;
}

/**
 * Answers kept per Idempotency-Key. A repeat with the same request replays the first answer; a
 * repeat with a different request is refused (422), as Stripe does. Bounded: the oldest keys
 * are forgotten past `max`.
 */
export class IdempotencyStore {
  readonly #max: number;
  #answers = new Map<string, Remembered>();
  replays = 0;

  constructor(max = defaultMaxIdempotencyKeys) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('maxIdempotencyKeys must be a positive integer');
    this.#max = max;
  }

  get size(): number {
    return this.#answers.size;
  }

  has(key: string): boolean {
    return this.#answers.has(key);
  }

  /** The stored reply for a repeat, a 422 for a mismatched repeat, or undefined for a new key. */
  replay(key: string, fingerprint: string): JsonReply | undefined {
    const r = this.#answers.get(key);
    if (r === undefined) return undefined;
    if (r.fingerprint !== fingerprint) {
      return { status: 422, body: { error: 'idempotency key reused with a different request', retryable: false } };
    }
    this.replays++;
    return { status: r.status, body: r.body, headers: { 'idempotent-replayed': 'true' } };
  }

  remember(key: string, fingerprint: string, status: number, body: unknown): void {
    this.#answers.delete(key);
    this.#answers.set(key, { fingerprint, status, body });
    while (this.#answers.size > this.#max) this.#answers.delete(this.#answers.keys().next().value as string);
  }
}

/**
 * Longest Idempotency-Key accepted: room for every key a saga makes (`<sagaId>:<step>`, at most
 * 256 + 1 + 100 characters), so that no valid saga is refused for its key's length.
 */
export const maxIdempotencyKeyLength = 512;

/** The request's Idempotency-Key, or a 400 reply when it is missing or malformed. */
export function idempotencyKey(req: JsonRequest): string | JsonReply {
  const raw = req.headers['idempotency-key'];
  const key = Array.isArray(raw) ? raw[0] : raw;
  if (typeof key !== 'string' || key.length === 0 || key.length > maxIdempotencyKeyLength) {
    return { status: 400, body: { error: `Idempotency-Key header of 1 to ${maxIdempotencyKeyLength} characters required`, retryable: false } };
  }
  return key;
}

// --- shared: fault switch -----------------------------------------------------------------------

/**
 * - `fail`: answer `status` (503) without doing anything
 * - `fail-after-apply`: do the work, then answer `status` anyway (the answer is lost)
 * - `hang`: never answer and do nothing (until the client gives up or the service closes)
 */
export type FaultKind = 'fail' | 'fail-after-apply' | 'hang';

export interface FaultSettings {
  /** `off`, every request, the next `count` requests, or each with probability `rate`. */
  mode: 'off' | 'always' | 'next' | 'rate';
  /** @defaultValue 'fail' */
  kind?: FaultKind;
  /** For `next`. @defaultValue 1 */
  count?: number;
  /** For `rate`, in [0, 1]. */
  rate?: number;
  /** HTTP status of a failure. @defaultValue 503 */
  status?: number;
}

const faultKinds: readonly FaultKind[] = ['fail', 'fail-after-apply', 'hang'];

/** Decides, request by request, whether a business endpoint misbehaves. Control endpoints never do. */
export class FaultSwitch {
  #s: Required<FaultSettings> = { mode: 'off', kind: 'fail', count: 0, rate: 0, status: 503 };
  #seed: number;
  /** Faults produced so far, by kind. */
  readonly produced: Record<FaultKind, number> = { fail: 0, 'fail-after-apply': 0, hang: 0 };

  constructor(seed = 1) {
    this.#seed = seed >>> 0;
  }

  get settings(): Readonly<Required<FaultSettings>> {
    return this.#s;
  }

  /** Replaces the settings; throws TypeError/RangeError for impossible ones. */
  set(s: FaultSettings): void {
    if (typeof s !== 'object' || s === null || !['off', 'always', 'next', 'rate'].includes(s.mode)) {
      throw new TypeError("mode must be 'off', 'always', 'next' or 'rate'");
    }
    const kind = s.kind ?? 'fail';
    if (!faultKinds.includes(kind)) throw new TypeError("kind must be 'fail', 'fail-after-apply' or 'hang'");
    const count = s.count ?? 1;
    if (s.mode === 'next' && (!Number.isInteger(count) || count < 1)) throw new RangeError('count must be a positive integer');
    const rate = s.rate ?? 0;
    if (s.mode === 'rate' && !(rate >= 0 && rate <= 1)) throw new RangeError('rate must be a number between 0 and 1');
    const status = s.status ?? 503;
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new RangeError('status must be an HTTP error status (400-599)');
    this.#s = { mode: s.mode, kind, count, rate, status };
  }

  /** The fault for this request, if any. */
  draw(): FaultKind | undefined {
    const s = this.#s;
    let hit = false;
    if (s.mode === 'always') hit = true;
    else if (s.mode === 'next' && s.count > 0) {
      hit = true;
      s.count--;
      if (s.count === 0) s.mode = 'off';
    } else if (s.mode === 'rate') hit = this.#random() < s.rate;
    if (!hit) return undefined;
    this.produced[s.kind]++;
    return s.kind;
  }

  /**
   * Runs one request's work under the switch: a hang or a failure answers without running it, a
   * fail-after-apply runs it and answers a failure instead of its reply.
   */
  run(work: () => JsonReply): JsonReply {
    const fault = this.draw();
    if (fault === 'hang') return { fault: 'hang' };
    if (fault === 'fail') return this.failure();
    const out = work();
    return fault === 'fail-after-apply' ? this.failure() : out;
  }

  /** The reply of a failure. */
  failure(): JsonReply {
    return { status: this.#s.status, body: { error: 'injected failure', retryable: true } };
  }

  // mulberry32: deterministic for a seed, so rate-based tests repeat.
  #random(): number {
    this.#seed = (this.#seed + 0x6d2b79f5) >>> 0;
    let t = this.#seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** The `POST /_faults` route handler of a service. */
export function faultRoute(sw: FaultSwitch): (req: JsonRequest) => JsonReply {
  return (req) => {
    try {
      sw.set(req.body as FaultSettings);
      return { body: sw.settings };
    } catch (err) {
      return { status: 400, body: { error: (err as Error).message } };
    }
  };
}

/**
 * Runs `apply` under the fault switch and the idempotency store: a repeat replays, a fault
 * answers before or after applying, a new request applies once and is remembered.
 */
export function idempotent(
  store: IdempotencyStore,
  sw: FaultSwitch,
  req: JsonRequest,
  apply: (key: string) => { status: number; body: unknown },
  /** Prefix of the key the answer is remembered under, for a call that reuses another's key. */
  storePrefix = '',
): JsonReply {
  const key = idempotencyKey(req);
  if (typeof key !== 'string') return key;
  const stored = storePrefix + key;
  return sw.run(() => {
    const fingerprint = `${req.method} ${req.path} ${JSON.stringify(req.body ?? null)}`;
    const replay = store.replay(stored, fingerprint);
    if (replay !== undefined) return replay;
    const out = apply(key);
    // Only answers that changed state (or refused for good) are remembered; a 5xx may be retried.
    if (out.status < 500) store.remember(stored, fingerprint, out.status, out.body);
    return { status: out.status, body: out.body };
  });
}

// --- ERP ------------------------------------------------------------------------------------------

export interface ErpServiceOptions extends JsonServiceOptions {
  /**
   * Most an order can be refunded in all; a refund past it answers 409 (not retryable).
   * @defaultValue 1000
   */
  maxRefundPerOrder?: number;
  /** @defaultValue 100000 */
  maxIdempotencyKeys?: number;
  /** Initial fault settings. @defaultValue { mode: 'off' } */
  faults?: FaultSettings;
}

export interface Refund {
  refundId: string;
  key: string;
  orderId: string;
  amount: number;
  status: 'applied' | 'reversed';
}

export interface ErpService extends JsonService {
  readonly faults: FaultSwitch;
  /** Refunds applied (each key once), since start. */
  readonly refundsApplied: number;
  /** Refunds reversed. */
  readonly refundsReversed: number;
  /** Requests answered from the idempotency store. */
  readonly replays: number;
  /** The refund made with this idempotency key. */
  refund(key: string): Refund | undefined;
  /** Net refunded amount of an order (reversed refunds excluded). */
  refundedOf(orderId: string): number;
  /** How many refunds were applied for an order (reversed ones included). */
  refundCountOf(orderId: string): number;
}

const orderIdPattern = /^[A-Za-z0-9_.:-]{1,64}$/;

export async function startErpService(options: ErpServiceOptions = {}): Promise<ErpService> {
  const maxPerOrder = options.maxRefundPerOrder ?? 1000;
  if (!(maxPerOrder > 0)) throw new RangeError('maxRefundPerOrder must be a positive number');
  const maxKeys = options.maxIdempotencyKeys ?? defaultMaxIdempotencyKeys;
  const store = new IdempotencyStore(maxKeys);
  const sw = new FaultSwitch(options.seed ?? 1);
  if (options.faults) sw.set(options.faults);
  const refunds = new Map<string, Refund>();
  // Keys compensated before their refund arrived: a late refund with one of them is refused.
  const cancelled = new Set<string>();
  const perOrder = new Map<string, { net: number; count: number }>();
  let applied = 0;
  let reversed = 0;
  let seq = 0;

  const create = (req: JsonRequest): JsonReply => {
    const b = req.body as { orderId?: unknown; amount?: unknown } | undefined;
    if (typeof b?.orderId !== 'string' || !orderIdPattern.test(b.orderId) || typeof b.amount !== 'number' || !(b.amount > 0) || !Number.isFinite(b.amount)) {
      return { status: 400, body: { error: 'body must be {"orderId": string, "amount": number > 0}', retryable: false } };
    }
    const { orderId, amount } = b as { orderId: string; amount: number };
    return idempotent(store, sw, req, (key) => {
      if (cancelled.has(key)) return { status: 409, body: { error: 'this refund was cancelled before it arrived', retryable: false } };
      const o = perOrder.get(orderId) ?? { net: 0, count: 0 };
      if (o.net + amount > maxPerOrder) {
        return { status: 409, body: { error: `refund exceeds the refundable balance of order ${orderId}`, retryable: false } };
      }
      const refund: Refund = { refundId: `rf-${++seq}`, key, orderId, amount, status: 'applied' };
      refunds.set(key, refund);
      o.net += amount;
      o.count++;
      perOrder.set(orderId, o);
      applied++;
      return { status: 201, body: { ...refund } };
    });
  };

  const reverse = (req: JsonRequest): JsonReply => {
    // The reverse call carries the refund's own key; its answer is remembered under `rev:`.
    return idempotent(store, sw, req, (refundKey) => {
      const refund = refunds.get(refundKey);
      if (refund === undefined) {
        cancelled.add(refundKey);
        if (cancelled.size > maxKeys) cancelled.delete(cancelled.values().next().value as string);
        return { status: 200, body: { reversed: false, reason: 'no refund with that key' } };
      }
      if (refund.status === 'applied') {
        refund.status = 'reversed';
        const o = perOrder.get(refund.orderId);
        if (o) o.net -= refund.amount;
        reversed++;
      }
      return { status: 200, body: { reversed: true, refundId: refund.refundId } };
    }, 'rev:');
  };

  const service = await startJsonService(
    [
      { method: 'POST', path: '/refunds', handler: create },
      { method: 'POST', path: '/refunds/reverse', handler: reverse },
      {
        method: 'GET', path: '/refunds/:key', handler: (req) => {
          const r = refunds.get(req.params.key ?? '');
          return r ? { body: r } : { status: 404, body: { error: 'no refund with that key' } };
        },
      },
      {
        method: 'GET', path: '/orders/:orderId/refunds', handler: (req) => {
          const o = perOrder.get(req.params.orderId ?? '') ?? { net: 0, count: 0 };
          return { body: { orderId: req.params.orderId, refunded: o.net, count: o.count } };
        },
      },
      { method: 'POST', path: '/_faults', handler: faultRoute(sw) },
    ],
    { name: 'erp', faultsOnDemand: false, ...options },
  );

  return extendService<ErpService>(service, {
    faults: sw,
    get refundsApplied() { return applied; },
    get refundsReversed() { return reversed; },
    get replays() { return store.replays; },
    refund: (key) => {
      const r = refunds.get(key);
      return r && { ...r };
    },
    refundedOf: (orderId) => perOrder.get(orderId)?.net ?? 0,
    refundCountOf: (orderId) => perOrder.get(orderId)?.count ?? 0,
  });
}
