/**
 * Deterministic records per uid: the same uid always yields the same CRM record, orders and
 * membership, so tests and benchmarks can check what they got without shared state.
 */

export interface CrmRecord {
  uid: string;
  name: string;
  email: string;
  phone: string;
  country: string;
  createdAt: string;
  tags: string[];
}

export interface Order {
  id: string;
  /** In cents. */
  total: number;
  currency: string;
  status: 'paid' | 'shipped' | 'delivered' | 'refunded';
  placedAt: string;
}

export interface OrdersRecord {
  uid: string;
  orders: Order[];
  /** Sum of non-refunded totals, in cents. */
  lifetimeValue: number;
}

export type MembershipLevel = 'none' | 'silver' | 'gold' | 'platinum';

export interface MembershipRecord {
  uid: string;
  level: MembershipLevel;
  /** VIP level the desk uses for queue priority: 0 (none) to 3 (platinum). */
  vip: 0 | 1 | 2 | 3;
  points: number;
  since: string;
}

/** FNV-1a 32-bit, salted: a stable number per (uid, salt). */
export function hashUid(uid: string, salt = 0): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = 0; i < uid.length; i++) {
    h ^= uid.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

const first = ['Ann', 'Bo', 'Chen', 'Dara', 'Eli', 'Fang', 'Gus', 'Hana', 'Ivo', 'Jun', 'Kai', 'Lin'];
const last = ['Li', 'Wang', 'Smith', 'Garcia', 'Kim', 'Novak', 'Okafor', 'Silva', 'Zhang', 'Rossi'];
const countries = ['CN', 'US', 'DE', 'BR', 'JP', 'IN', 'FR', 'NG'];
const tagPool = ['returning', 'newsletter', 'b2b', 'complained', 'mobile', 'wholesale'];
const statuses: Order['status'][] = ['paid', 'shipped', 'delivered', 'refunded'];
const levels: MembershipLevel[] = ['none', 'silver', 'gold', 'platinum'];
const day = 86_400_000;
const epoch = Date.UTC(2026, 0, 1);

export function crmRecord(uid: string): CrmRecord {
  const h = hashUid(uid, 1);
  const name = `${first[h % first.length]} ${last[(h >>> 8) % last.length]}`;
  return {
    uid,
    name,
    email: `${name.toLowerCase().replace(' ', '.')}.${h % 1000}@example.com`,
    phone: `+1-555-${String(h % 10_000).padStart(4, '0')}`,
    country: countries[(h >>> 4) % countries.length]!,
    createdAt: new Date(epoch - (h % 2000) * day).toISOString(),
    tags: tagPool.filter((_, i) => (h >>> (12 + i)) & 1),
  };
}

export function ordersRecord(uid: string): OrdersRecord {
  const h = hashUid(uid, 2);
  const count = h % 6;
  const orders: Order[] = [];
  let lifetimeValue = 0;
  for (let i = 0; i < count; i++) {
    const hi = hashUid(uid, 100 + i);
    const order: Order = {
      id: `o-${hi.toString(36)}`,
      total: 500 + (hi % 50_000),
      currency: 'USD',
      status: statuses[(hi >>> 3) % statuses.length]!,
      placedAt: new Date(epoch - (hi % 365) * day).toISOString(),
    };
    if (order.status !== 'refunded') lifetimeValue += order.total;
    orders.push(order);
  }
  return { uid, orders, lifetimeValue };
}

export function membershipRecord(uid: string): MembershipRecord {
  const h = hashUid(uid, 3);
  // Most visitors are not members; a few are VIPs, as in a real shop.
  const r = h % 100;
  const vip = (r < 60 ? 0 : r < 85 ? 1 : r < 96 ? 2 : 3) as MembershipRecord['vip'];
  return {
    uid,
    level: levels[vip]!,
    vip,
    points: vip === 0 ? 0 : (h >>> 7) % 100_000,
    since: new Date(epoch - (h % 3000) * day).toISOString(),
  };
}
