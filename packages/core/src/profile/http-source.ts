/**
 * HttpProfileSource: a profile source speaking JSON over HTTP through an undici Pool (keep-alive,
 * bounded connections; global fetch costs about four times the CPU per call). Aborting a call
 * destroys its socket, so a hung back end does not hold a connection past the timeout.
 */
import { Pool, type Dispatcher } from 'undici';
import { KefuError } from '@kefu/protocol';
import { exchange, type ExchangeError, type JsonAnswer } from './json-exchange.js';
import { channelOf, settlesOnAbort, type AbortChannel } from './abort.js';
import type { BatchAnswer, BatchOptions, FetchContext, ProfileSource } from './types.js';

export interface HttpBatchOptions<T> extends BatchOptions {
  /** Path of the batch endpoint. @defaultValue '/users:batch' */
  path?: string;
  /** POST sends `body(uids)` as JSON; GET appends `?ids=a,b,c` to `path`. @defaultValue 'POST' */
  method?: 'POST' | 'GET';
  /** The JSON request body for POST. @defaultValue (uids) => ({ ids: uids }) */
  body?: (uids: readonly string[]) => unknown;
  /**
   * Turns the answer into a value per uid (validated one by one with `validate`).
   * @defaultValue reads `{ users: { [uid]: record }, missing: [uid] }`
   */
  parse?: (json: unknown, uids: readonly string[]) => Map<string, unknown>;
}

export interface HttpProfileSourceOptions<N extends string, T> {
  /** The source's name (its key in the profile). */
  name: N;
  /** Origin of the service, e.g. `http://127.0.0.1:8080` (a path part is ignored: use `path`). */
  url: string | URL;
  /** Path of the single lookup. @defaultValue (uid) => `/users/${encodeURIComponent(uid)}` */
  path?: (uid: string) => string;
  /** The batch endpoint; leave out when the service has none. */
  batch?: HttpBatchOptions<T> | false;
  /** Headers sent with every request. @defaultValue {} */
  headers?: Record<string, string>;
  /** The Authorization header, or a function giving it (called per request, e.g. for rotating tokens). */
  authorization?: string | (() => string | Promise<string>);
  /** Largest response body accepted, in bytes. @defaultValue 1048576 */
  maxResponseBytes?: number;
  /**
   * Checks a record's shape and returns it typed; throw (or return undefined) to reject it as
   * KEFU_ERR_PROFILE_BAD_RESPONSE. @defaultValue accepts any JSON value
   */
  validate?: (json: unknown, uid: string) => T | undefined;
  /** Pool connections to the service. @defaultValue 128 */
  connections?: number;
  /** Idle keep-alive time of a pooled connection, in ms. @defaultValue 4000 */
  keepAliveTimeoutMs?: number;
  /** Use this dispatcher instead of a Pool of our own (it is not closed by `close()`). */
  dispatcher?: Dispatcher;
  /** See ProfileSource. */
  timeoutMs?: number;
  required?: boolean;
  ttlMs?: number;
  staleMs?: number;
  /** GETs are safe to retry. @defaultValue true */
  idempotent?: boolean;
  concurrency?: number;
  fallback?: (uid: string, error: KefuError) => T | null | undefined;
}

const httpDefaults = {
  path: (uid: string) => `/users/${encodeURIComponent(uid)}`,
  headers: {} as Record<string, string>,
  maxResponseBytes: 1024 * 1024,
  connections: 128,
  keepAliveTimeoutMs: 4000,
  idempotent: true,
};

/** Only a 2xx body is read; any other is dropped as it arrives (the status says it all). */
const readable = (status: number): boolean => status >= 200 && status < 300;

/** The `users` object of the default batch answer, as parsed (own keys only are read from it). */
function usersOf(json: unknown): Record<string, unknown> {
  const users = typeof json === 'object' && json !== null ? (json as { users?: unknown }).users : undefined;
  if (typeof users !== 'object' || users === null || Array.isArray(users)) throw new Error('batch answer lacks a "users" object');
  return users as Record<string, unknown>;
}

function badShape(source: string, uid: string, cause?: unknown): KefuError {
  return new KefuError('KEFU_ERR_PROFILE_BAD_RESPONSE', `profile source "${source}" answered a record of the wrong shape for "${uid}"`, {
    cause,
    details: { source, uid, retryable: false },
  });
}

export class HttpProfileSource<const N extends string, T = unknown> implements ProfileSource<N, T> {
  readonly name: N;
  readonly timeoutMs: number | undefined;
  readonly required: boolean | undefined;
  readonly ttlMs: number | undefined;
  readonly staleMs: number | undefined;
  readonly idempotent: boolean;
  readonly concurrency: number | undefined;
  readonly batch: BatchOptions | undefined;
  readonly fallback: ((uid: string, error: KefuError) => T | null | undefined) | undefined;
  /** Present only when the service has a batch endpoint, so the aggregator batches only then. */
  readonly fetchMany: ((uids: readonly string[], ctx: FetchContext) => Promise<BatchAnswer<T>>) | undefined;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly opts: HttpProfileSourceOptions<N, T> & typeof httpDefaults;
  private readonly validate: (json: unknown, uid: string) => T;
  /** No validate hook: records are taken as parsed. */
  private readonly trusting: boolean;

  constructor(options: HttpProfileSourceOptions<N, T>) {
    if (typeof options?.name !== 'string' || options.name.length === 0) throw new TypeError('name must be a non-empty string');
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('url must be an http: or https: URL');
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as HttpProfileSourceOptions<N, T>;
    this.opts = { ...httpDefaults, ...defined };
    if (!Number.isInteger(this.opts.maxResponseBytes) || this.opts.maxResponseBytes < 1) throw new RangeError('maxResponseBytes must be an integer >= 1');
    if (!Number.isInteger(this.opts.connections) || this.opts.connections < 1) throw new RangeError('connections must be an integer >= 1');
    if (options.dispatcher !== undefined && (options.connections !== undefined || options.keepAliveTimeoutMs !== undefined)) {
      throw new TypeError('connections and keepAliveTimeoutMs configure our own Pool; they cannot be combined with dispatcher');
    }
    this.name = options.name;
    this.timeoutMs = options.timeoutMs;
    this.required = options.required;
    this.ttlMs = options.ttlMs;
    this.staleMs = options.staleMs;
    this.idempotent = this.opts.idempotent;
    this.concurrency = options.concurrency;
    this.fallback = options.fallback;
    const v = options.validate;
    this.trusting = v === undefined;
    this.validate = v === undefined ? (json) => json as T : (json, uid) => {
      let out: T | undefined;
      try {
        out = v(json, uid);
      } catch (err) {
        throw badShape(this.name, uid, err);
      }
      if (out === undefined) throw badShape(this.name, uid);
      return out;
    };
    if (options.dispatcher !== undefined) {
      this.dispatcher = options.dispatcher;
      this.ownsDispatcher = false;
    } else {
      this.dispatcher = new Pool(url.origin, {
        connections: this.opts.connections,
        pipelining: 1,
        keepAliveTimeout: this.opts.keepAliveTimeoutMs,
      });
      this.ownsDispatcher = true;
    }
    this.origin = url.origin;
    this[settlesOnAbort] = typeof options.authorization !== 'function' && options.dispatcher === undefined;
    this.getHeaders = { accept: 'application/json', ...this.opts.headers };
    this.postHeaders = { ...this.getHeaders, 'content-type': 'application/json' };
    if (options.batch) {
      const b = options.batch;
      this.batch = { ...(b.maxSize !== undefined ? { maxSize: b.maxSize } : {}), ...(b.windowMs !== undefined ? { windowMs: b.windowMs } : {}) };
      this.fetchMany = (uids, ctx) => this.requestMany(b, uids, ctx);
    } else {
      this.batch = undefined;
      this.fetchMany = undefined;
    }
  }

  private readonly origin: string;
  /**
   * undici rejects a request as soon as its signal aborts, so the aggregator need not race our
   * calls; not so with an authorization function (it may hang) or a dispatcher of the caller's.
   */
  readonly [settlesOnAbort]: boolean;
  private readonly getHeaders: Readonly<Record<string, string>>;
  private readonly postHeaders: Readonly<Record<string, string>>;

  async fetch(uid: string, ctx: FetchContext): Promise<T | null> {
    const res = await this.request('GET', this.opts.path(uid), undefined, ctx);
    if (res === null) return null;
    return this.validate(res, uid);
  }

  /** Closes the Pool (if it is ours), destroying idle and busy connections. */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.destroy();
  }

  private async requestMany(b: HttpBatchOptions<T>, uids: readonly string[], ctx: FetchContext): Promise<BatchAnswer<T>> {
    const base = b.path ?? '/users:batch';
    const json =
      b.method === 'GET'
        ? await this.request('GET', `${base}${base.includes('?') ? '&' : '?'}ids=${uids.map(encodeURIComponent).join(',')}`, undefined, ctx)
        : await this.request('POST', base, JSON.stringify((b.body ?? ((u: readonly string[]) => ({ ids: u })))(uids)), ctx);
    let parsed: Map<string, unknown> | Record<string, unknown>;
    try {
      parsed = b.parse === undefined ? usersOf(json) : b.parse(json, uids);
    } catch (err) {
      throw new KefuError('KEFU_ERR_PROFILE_BAD_RESPONSE', `profile source "${this.name}" answered a batch of the wrong shape`, {
        cause: err,
        details: { source: this.name, retryable: false },
      });
    }
    // The default answer with no validate hook is handed over as parsed: the aggregator reads
    // only the asked uids' own keys, so copying it into a Map would cost a Map per batch and an
    // entry per uid for nothing.
    if (this.trusting && !(parsed instanceof Map)) return parsed as Record<string, T | null>;
    const out = new Map<string, T | null | Error>();
    const map = parsed instanceof Map ? parsed : null;
    const rec = parsed as Record<string, unknown>;
    for (const uid of uids) {
      const raw = map !== null ? map.get(uid) : Object.prototype.hasOwnProperty.call(rec, uid) ? rec[uid] : undefined;
      if (raw === undefined || raw === null) {
        out.set(uid, null);
        continue;
      }
      try {
        out.set(uid, this.validate(raw, uid));
      } catch (err) {
        out.set(uid, err as Error);
      }
    }
    return out;
  }

  /** One HTTP exchange; resolves the JSON body, null for 404, and throws coded errors otherwise. */
  private async request(method: 'GET' | 'POST', path: string, body: string | undefined, ctx: FetchContext): Promise<unknown> {
    // The aggregator's cheap abort channel when there is one, else the context's AbortSignal: see
    // abort.ts for the cost of building signals.
    const signal: AbortChannel | AbortSignal = channelOf(ctx) ?? ctx.signal;
    // Built once per source (undici copies headers, it does not keep or change the object).
    let headers = body === undefined ? this.getHeaders : this.postHeaders;
    const auth = this.opts.authorization;
    if (auth !== undefined) headers = { ...headers, authorization: typeof auth === 'string' ? auth : await auth() };
    let answer: JsonAnswer;
    try {
      answer = await exchange(this.dispatcher, { origin: this.origin, method, path, headers, body }, signal, this.opts.maxResponseBytes, readable);
    } catch (err) {
      const e = err as ExchangeError;
      if (e.kind === 'aborted' || signal.aborted) throw err;
      if (e.kind === 'too-large') {
        throw new KefuError('KEFU_ERR_PROFILE_RESPONSE_TOO_LARGE', `profile source "${this.name}" answered more than ${this.opts.maxResponseBytes} bytes`, {
          details: { source: this.name, limit: this.opts.maxResponseBytes, seen: e.seen, retryable: false },
        });
      }
      const cause = (e.cause ?? e) as { message?: string; code?: unknown };
      throw new KefuError('KEFU_ERR_PROFILE_SOURCE_FAILED', `profile source "${this.name}" failed: ${cause.message ?? String(cause)}`, {
        cause,
        details: { source: this.name, errorCode: cause.code },
      });
    }
    const { status } = answer;
    if (status === 404) return null;
    if (status < 200 || status >= 300) {
      // A 4xx will not get better by asking again; a 5xx may.
      throw new KefuError('KEFU_ERR_PROFILE_SOURCE_FAILED', `profile source "${this.name}" answered HTTP ${status}`, {
        details: { source: this.name, status, retryable: status >= 500 || status === 429 },
      });
    }
    try {
      return JSON.parse(answer.text) as unknown;
    } catch (err) {
      throw new KefuError('KEFU_ERR_PROFILE_BAD_RESPONSE', `profile source "${this.name}" answered a body that is not JSON`, {
        cause: err,
        details: { source: this.name, retryable: false, bytes: answer.bytes },
      });
    }
  }
}
