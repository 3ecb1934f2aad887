import { createHmac } from 'node:crypto';

export const SECRET = 'client-tests-secret-0123456789abcdef-0123456789';

/** Signs an HS256 JWT the hub's jwtAuthenticator accepts. */
export function token(sub: string, role: 'visitor' | 'agent', tenant = 't1'): string {
  const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, tenant, role, name: sub, iat: now, exp: now + 3600 })}`;
  return `${head}.${createHmac('sha256', SECRET).update(head).digest('base64url')}`;
}
