/**
 * HS256 JWTs for the bench clients, signed with node:crypto so that ten thousand tokens cost
 * milliseconds, plus the matching verifier used by the raw ws and Socket.IO relays (so every
 * server in the comparison authenticates each connection the same way; Kefu uses its own
 * jwtAuthenticator on jose).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const BENCH_SECRET = 'kefu-bench-secret-not-for-production-0123456789';
export const BENCH_TENANT = 'bench';
/**
 * Pairs per tenant. Kefu announces an agent's presence to every other agent of its tenant, so
 * 5,000 agents in one tenant would be 12.5 million presence frames at connect time; a desk has
 * tens of agents per tenant, so the benches spread their pairs over tenants of this size.
 */
export const PAIRS_PER_TENANT = 50;
export const tenantOf = (pair: number): string => `t${Math.floor(pair / PAIRS_PER_TENANT)}`;

export interface BenchClaims {
  sub: string;
  tenant: string;
  role: 'visitor' | 'agent';
  name?: string;
  exp: number;
  iat: number;
}

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64url');
const HEADER = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

export function signToken(sub: string, role: 'visitor' | 'agent', tenant = BENCH_TENANT, secret = BENCH_SECRET): string {
  const now = Math.floor(Date.now() / 1000);
  const claims: BenchClaims = { sub, tenant, role, name: sub, iat: now, exp: now + 3600 };
  const body = `${HEADER}.${b64(JSON.stringify(claims))}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

/** Returns the claims of a valid, unexpired token, or null. */
export function verifyToken(token: string | null | undefined, secret = BENCH_SECRET): BenchClaims | null {
  if (!token) return null;
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== HEADER) return null;
  const expected = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const got = Buffer.from(parts[2]!, 'base64url');
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) return null;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as BenchClaims;
    return claims.exp > Date.now() / 1000 ? claims : null;
  } catch {
    return null;
  }
}
