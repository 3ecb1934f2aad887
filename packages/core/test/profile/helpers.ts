/**
 * Shared set-up for the profile tests: the three real mock HTTP services on loopback and
 * HttpProfileSources pointing at them.
 */
import {
  startProfileBackends, type ProfileBackends, type ProfileServiceOptions, type ProfileServiceKind,
  type CrmRecord, type OrdersRecord, type MembershipRecord,
} from '@kefu/mock-backends';
import { HttpProfileSource, type HttpProfileSourceOptions } from '../../src/profile/index.js';

export function isCrm(x: unknown): CrmRecord | undefined {
  const r = x as CrmRecord;
  return typeof r === 'object' && r !== null && typeof r.uid === 'string' && typeof r.name === 'string' && typeof r.email === 'string' ? r : undefined;
}
export function isOrders(x: unknown): OrdersRecord | undefined {
  const r = x as OrdersRecord;
  return typeof r === 'object' && r !== null && Array.isArray(r.orders) && typeof r.lifetimeValue === 'number' ? r : undefined;
}
export function isMembership(x: unknown): MembershipRecord | undefined {
  const r = x as MembershipRecord;
  return typeof r === 'object' && r !== null && typeof r.vip === 'number' && typeof r.level === 'string' ? r : undefined;
}

const timeoutMs = 5000;

type Extra<N extends string, T> = Partial<Omit<HttpProfileSourceOptions<N, T>, 'name' | 'url'>>;

export interface Fixture {
  backends: ProfileBackends;
  crm: HttpProfileSource<'crm', CrmRecord>;
  orders: HttpProfileSource<'orders', OrdersRecord>;
  membership: HttpProfileSource<'membership', MembershipRecord>;
  close(): Promise<void>;
}

/** Starts the services and one source per service (batch endpoints off unless asked). */
export async function fixture(
  opts: {
    services?: ProfileServiceOptions;
    each?: Partial<Record<ProfileServiceKind, ProfileServiceOptions>>;
    crm?: Extra<'crm', CrmRecord>;
    orders?: Extra<'orders', OrdersRecord>;
    membership?: Extra<'membership', MembershipRecord>;
  } = {},
): Promise<Fixture> {
  const backends = await startProfileBackends({ latencyMs: 0, ...opts.services }, opts.each ?? {});
  // A generous timeout unless a test is about timeouts: the machine running the tests may be busy.
  const crm = new HttpProfileSource({ name: 'crm', url: backends.crm.url, validate: isCrm, timeoutMs, ...opts.crm });
  const orders = new HttpProfileSource({ name: 'orders', url: backends.orders.url, validate: isOrders, timeoutMs, ...opts.orders });
  const membership = new HttpProfileSource({ name: 'membership', url: backends.membership.url, validate: isMembership, timeoutMs, ...opts.membership });
  return {
    backends,
    crm,
    orders,
    membership,
    async close() {
      await Promise.all([crm.close(), orders.close(), membership.close()]);
      await backends.close();
    },
  };
}

/** Polls `cond` until true or `ms` passed; returns whether it became true. */
export async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
