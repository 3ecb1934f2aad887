/**
 * CRM, orders and membership: three real HTTP services, each with a single lookup
 * (`GET /users/:uid`) and a batch lookup (`POST /users:batch` with `{"ids":[...]}`, or
 * `GET /users?ids=a,b,c`).
 *
 * Faults on demand by uid prefix, so one request can exercise one failure:
 * `missing-` answers 404; `hang-`, `error-`, `huge-`, `invalid-`, `reset-` produce that fault;
 * `shape-` answers a record of the wrong shape; `slow-` adds 250 ms. Prefix with a service name
 * and a dot (`orders.hang-42`) to make only that service misbehave.
 */
import { startJsonService, type Fault, type JsonReply, type JsonService, type JsonServiceOptions } from './json-service.js';
import { extendService } from './extend-service.js';
import { crmRecord, membershipRecord, ordersRecord } from './profile-data.js';

/** The uid syntax the services accept (anything else answers 400). */
export const uidPattern = /^[A-Za-z0-9_.:@-]{1,128}$/;

/** Most ids one batch request may carry (more answers 400). @defaultValue 1000 */
export const defaultMaxBatch = 1000;

export type ProfileServiceKind = 'crm' | 'orders' | 'membership';

export interface ProfileServiceOptions extends JsonServiceOptions {
  /** Most ids per batch request. @defaultValue 1000 */
  maxBatch?: number;
  /** Honour the uid-prefix faults. @defaultValue true */
  uidFaults?: boolean;
  /**
   * Most distinct uids whose lookups `lookupsOf()` counts; 0 turns the tally off. A benchmark
   * looking up millions of distinct uids sets 0, since a tally of 100,000 uids per service grows
   * the heap and with it the GC pauses that land in the services' answers. @defaultValue 100000
   */
  maxTalliedUids?: number;
}

/** A running profile service, with lookup counters on top of the HTTP ones. */
export interface ProfileService extends JsonService {
  readonly kind: ProfileServiceKind;
  /** Uids looked up (single and batch), since start or the last resetLookups(). */
  readonly lookups: number;
  /** Batch requests answered or attempted. */
  readonly batches: number;
  /** How often each uid was looked up. */
  lookupsOf(uid: string): number;
  resetLookups(): void;
}

/** Default latencies of the three services, as in the benchmark (ms). */
export const defaultLatencyMs: Record<ProfileServiceKind, number> = { crm: 5, orders: 10, membership: 15 };

const generators: Record<ProfileServiceKind, (uid: string) => unknown> = {
  crm: crmRecord,
  orders: ordersRecord,
  membership: membershipRecord,
};

const prefixFaults: Array<[string, Fault]> = [
  ['hang-', 'hang'], ['error-', 'error'], ['huge-', 'huge'], ['invalid-', 'invalid'], ['reset-', 'reset'],
];

type UidOutcome = { kind: 'record'; value: unknown } | { kind: 'missing' } | { kind: 'fault'; fault: Fault } | { kind: 'slow'; value: unknown };

function outcomeFor(kind: ProfileServiceKind, uid: string, uidFaults: boolean): UidOutcome {
  let bare = uid;
  if (uidFaults) {
    const dot = uid.indexOf('.');
    if (dot > 0) {
      const target = uid.slice(0, dot);
      if (target === 'crm' || target === 'orders' || target === 'membership') {
        if (target !== kind) return { kind: 'record', value: generators[kind](uid) };
        bare = uid.slice(dot + 1);
      }
    }
    if (bare.startsWith('missing-')) return { kind: 'missing' };
    for (const [prefix, fault] of prefixFaults) if (bare.startsWith(prefix)) return { kind: 'fault', fault };
    if (bare.startsWith('shape-')) return { kind: 'record', value: { uid, unexpected: [1, 2, 3] } };
    if (bare.startsWith('slow-')) return { kind: 'slow', value: generators[kind](uid) };
  }
  return { kind: 'record', value: generators[kind](uid) };
}

/** Starts one profile service of the given kind. */
export async function startProfileService(kind: ProfileServiceKind, options: ProfileServiceOptions = {}): Promise<ProfileService> {
  const maxBatch = options.maxBatch ?? defaultMaxBatch;
  const uidFaults = options.uidFaults ?? true;
  const maxTallied = options.maxTalliedUids ?? 100_000;
  if (!Number.isInteger(maxTallied) || maxTallied < 0) throw new RangeError('maxTalliedUids must be an integer >= 0');
  let lookups = 0;
  let batches = 0;
  const perUid = new Map<string, number>();
  const count = (uid: string): void => {
    lookups++;
    // Bounded: the per-uid tally is for tests, so it stops growing rather than eat memory in a bench.
    if (maxTallied === 0) return;
    if (perUid.size < maxTallied || perUid.has(uid)) perUid.set(uid, (perUid.get(uid) ?? 0) + 1);
  };

  const single = (uid: string): JsonReply => {
    if (!uidPattern.test(uid)) return { status: 400, body: { error: 'invalid uid' } };
    count(uid);
    const o = outcomeFor(kind, uid, uidFaults);
    switch (o.kind) {
      case 'missing':
        return { status: 404, body: { error: 'not found' } };
      case 'fault':
        return { fault: o.fault };
      case 'slow':
        return { body: o.value, extraLatencyMs: 250 };
      default:
        return { body: o.value };
    }
  };

  const batch = (ids: unknown): JsonReply => {
    batches++;
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((x): x is string => typeof x === 'string')) {
      return { status: 400, body: { error: 'ids must be a non-empty array of strings' } };
    }
    if (ids.length > maxBatch) return { status: 400, body: { error: `at most ${maxBatch} ids per batch` } };
    const bad = ids.find((id) => !uidPattern.test(id));
    if (bad !== undefined) return { status: 400, body: { error: 'invalid uid', uid: bad } };
    const users: Record<string, unknown> = {};
    const missing: string[] = [];
    let fault: Fault | undefined;
    let extra = 0;
    for (const id of ids) {
      count(id);
      const o = outcomeFor(kind, id, uidFaults);
      if (o.kind === 'missing') missing.push(id);
      // One bad id spoils the whole answer, as it would with a real back end that crashes on it.
      else if (o.kind === 'fault') fault ??= o.fault;
      else {
        if (o.kind === 'slow') extra = 250;
        users[id] = o.value;
      }
    }
    const reply: JsonReply = { body: { users, missing }, extraLatencyMs: extra };
    if (fault !== undefined) reply.fault = fault;
    return reply;
  };

  const service = await startJsonService(
    [
      { method: 'GET', path: '/users/:uid', handler: (req) => single(req.params.uid ?? '') },
      { method: 'POST', path: '/users:batch', handler: (req) => batch((req.body as { ids?: unknown } | undefined)?.ids) },
      { method: 'GET', path: '/users', handler: (req) => batch(req.query.get('ids')?.split(',')) },
    ],
    { name: kind, latencyMs: defaultLatencyMs[kind], ...options },
  );

  return extendService<ProfileService>(service, {
    kind,
    get lookups() {
      return lookups;
    },
    get batches() {
      return batches;
    },
    lookupsOf: (uid) => perUid.get(uid) ?? 0,
    resetLookups() {
      lookups = 0;
      batches = 0;
      perUid.clear();
    },
  });
}

export const startCrmService = (options?: ProfileServiceOptions): Promise<ProfileService> => startProfileService('crm', options);
export const startOrdersService = (options?: ProfileServiceOptions): Promise<ProfileService> => startProfileService('orders', options);
export const startMembershipService = (options?: ProfileServiceOptions): Promise<ProfileService> => startProfileService('membership', options);

export interface ProfileBackends {
  crm: ProfileService;
  orders: ProfileService;
  membership: ProfileService;
  close(): Promise<void>;
}

/** Starts all three services (each on its own free port); per-service options override `common`. */
export async function startProfileBackends(
  common: ProfileServiceOptions = {},
  each: Partial<Record<ProfileServiceKind, ProfileServiceOptions>> = {},
): Promise<ProfileBackends> {
  const [crm, orders, membership] = await Promise.all([
    startCrmService({ ...common, ...each.crm }),
    startOrdersService({ ...common, ...each.orders }),
    startMembershipService({ ...common, ...each.membership }),
  ]);
  return {
    crm,
    orders,
    membership,
    close: async () => {
      await Promise.all([crm.close(), orders.close(), membership.close()]);
    },
  };
}
