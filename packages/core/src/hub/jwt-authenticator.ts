/**
 * Built-in `authenticate` for the Hub: verifies a JWT with jose, from `?token=` or an
 * `Authorization: Bearer` header. Claims: `sub` (user id), `tenant`, `role` (visitor|agent),
 * `name` (optional). Any failure (missing, malformed, bad signature, expired, wrong issuer or
 * audience, missing claims) refuses the upgrade with HTTP 401.
 */
import type { IncomingMessage } from 'node:http';
import { jwtVerify, createRemoteJWKSet, createLocalJWKSet, type JWTVerifyGetKey, type JSONWebKeySet, type JWTPayload } from 'jose';
import { KefuError, isValidId } from '@kefu/protocol';
import type { Authenticate, Identity } from './types.js';

export interface JwtAuthenticatorOptions {
  /** HS256 shared secret. Exactly one of `secret` and `jwks` is required. */
  secret?: string | Uint8Array;
  /** JWKS: a URL (fetched and cached by jose) or a key set object. */
  jwks?: string | URL | JSONWebKeySet;
  /** Required `iss`. @defaultValue undefined (not checked) */
  issuer?: string | string[];
  /** Required `aud`. @defaultValue undefined (not checked) */
  audience?: string | string[];
  /** Accepted algorithms. @defaultValue ['HS256'] with a secret; jose's asymmetric defaults with JWKS */
  algorithms?: string[];
  /** Seconds of clock skew tolerated. @defaultValue 5 */
  clockTolerance?: number;
  /** Role when the token has no `role` claim. @defaultValue 'visitor' */
  defaultRole?: 'visitor' | 'agent';
  /** Query parameter holding the token. @defaultValue 'token' */
  queryParam?: string;
}

/** Reads the bearer token of an upgrade request (query first, then Authorization). */
export function tokenFromRequest(req: IncomingMessage, queryParam = 'token'): string | undefined {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q !== -1) {
    const t = new URLSearchParams(url.slice(q + 1)).get(queryParam);
    if (t) return t;
  }
  const h = req.headers.authorization;
  if (typeof h === 'string' && /^bearer /i.test(h)) return h.slice(7).trim() || undefined;
  return undefined;
}

export function jwtAuthenticator(options: JwtAuthenticatorOptions): Authenticate {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  if ((options.secret === undefined) === (options.jwks === undefined)) throw new TypeError('exactly one of options.secret and options.jwks is required');
  const o = { clockTolerance: 5, defaultRole: 'visitor' as const, queryParam: 'token', ...options };
  let key: Uint8Array | JWTVerifyGetKey;
  if (o.secret !== undefined) {
    key = typeof o.secret === 'string' ? new TextEncoder().encode(o.secret) : o.secret;
    if (key.length < 32) throw new RangeError('options.secret must be at least 32 bytes');
  } else if (typeof o.jwks === 'string' || o.jwks instanceof URL) {
    key = createRemoteJWKSet(new URL(o.jwks));
  } else {
    key = createLocalJWKSet(o.jwks as JSONWebKeySet);
  }
  const verifyOptions = {
    clockTolerance: o.clockTolerance,
    algorithms: o.algorithms ?? (o.secret !== undefined ? ['HS256'] : undefined),
    ...(o.issuer !== undefined ? { issuer: o.issuer } : {}),
    ...(o.audience !== undefined ? { audience: o.audience } : {}),
  };
  return async (req) => {
    const token = tokenFromRequest(req, o.queryParam);
    if (!token) throw new KefuError('KEFU_ERR_UNAUTHORIZED', 'no token (?token= or Authorization: Bearer)');
    let payload: JWTPayload;
    try {
      // jose accepts a key or a key getter; the union needs one call per shape for the overloads.
      payload = typeof key === 'function'
        ? (await jwtVerify(token, key, verifyOptions)).payload
        : (await jwtVerify(token, key, verifyOptions)).payload;
    } catch (err) {
      throw new KefuError('KEFU_ERR_UNAUTHORIZED', `invalid token: ${(err as Error).message}`, { cause: err });
    }
    const { sub, tenant, role = o.defaultRole, name, exp } = payload as JWTPayload & { tenant?: unknown; role?: unknown; name?: unknown };
    if (!isValidId(sub) || !isValidId(tenant)) throw new KefuError('KEFU_ERR_UNAUTHORIZED', 'token lacks a valid sub or tenant claim');
    if (role !== 'visitor' && role !== 'agent') throw new KefuError('KEFU_ERR_UNAUTHORIZED', 'token role must be visitor or agent');
    const identity: Identity = { tenant, id: sub, role };
    if (typeof name === 'string' && name.length <= 256) identity.name = name;
    if (typeof exp === 'number') identity.expiresAt = exp * 1000;
    return identity;
  };
}
