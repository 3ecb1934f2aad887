/**
 * The one HTTP-server helper every mock back end is built on: routing, JSON in and out, injected
 * latency, random errors and hangs, on-demand faults and request counters. Real node:http on
 * loopback, so clients under test see real sockets, real keep-alive and real connection resets.
 *
 * The signature of `startJsonService(routes, options)` is stable: other mock back ends
 * (helpdesk, ERP) build on it.
 */
import { createServer, type IncomingMessage, type ServerResponse, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A fault a service can produce on demand:
 * - `error`: HTTP 500 with a JSON error body
 * - `hang`: never answers (until the client gives up or the service closes)
 * - `huge`: a valid JSON body of `hugeBytes`, streamed chunked (no content-length)
 * - `invalid`: a body that is not JSON, labelled application/json
 * - `reset`: the socket is destroyed before any response
 */
export type Fault = 'error' | 'hang' | 'huge' | 'invalid' | 'reset';

export const faults: readonly Fault[] = ['error', 'hang', 'huge', 'invalid', 'reset'];

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a route handler receives. */
export interface JsonRequest {
  method: HttpMethod;
  /** The path without the query string. */
  path: string;
  /** `:name` segments of the route pattern, URL-decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (undefined when there was none). */
  body: unknown;
}

/** What a route handler returns. A plain `body` answers 200 with JSON. */
export interface JsonReply {
  /** @defaultValue 200 */
  status?: number;
  /** Serialised with JSON.stringify unless `raw` is set. */
  body?: unknown;
  /** Sent as is, instead of `body`. */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  /** Produce this fault instead of the reply. */
  fault?: Fault;
  /** Extra latency for this reply, added to the service latency. */
  extraLatencyMs?: number;
}

export type RouteHandler = (req: JsonRequest) => JsonReply | Promise<JsonReply>;

export interface Route {
  method: HttpMethod;
  /** A path pattern: literal segments and `:name` parameters, e.g. `/users/:uid`. */
  path: string;
  handler: RouteHandler;
}

/** Behaviour that can be changed while the service runs (see `JsonService.configure`). */
export interface JsonServiceBehaviour {
  /** Delay before every answer, in ms. @defaultValue 0 */
  latencyMs: number;
  /** Uniform random extra delay in [0, jitterMs), in ms. @defaultValue 0 */
  jitterMs: number;
  /** Probability in [0, 1] that a request answers HTTP 500. @defaultValue 0 */
  errorRate: number;
  /** Probability in [0, 1] that a request never answers. @defaultValue 0 */
  hangRate: number;
}

export interface JsonServiceOptions extends Partial<JsonServiceBehaviour> {
  /** A name for logs and stats. @defaultValue 'service' */
  name?: string;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @defaultValue 0 */
  port?: number;
  /**
   * How long an idle keep-alive connection stays open, in ms; 0 keeps it open until the client
   * closes it (a benchmark whose variants idle between steps, so that no step pays for
   * reconnecting). @defaultValue 10000
   */
  keepAliveTimeoutMs?: number;
  /**
   * Length of the listen (accept) queue; the kernel caps it at net.core.somaxconn. A burst of new
   * connections beyond it has its SYNs dropped, and each is retried after 1 s. @defaultValue 511
   */
  backlog?: number;
  /** Seed of the deterministic random source used for errorRate and hangRate. @defaultValue 1 */
  seed?: number;
  /** Request bodies larger than this answer 413. @defaultValue 1048576 */
  maxRequestBytes?: number;
  /** Size of the `huge` fault's body, in bytes. @defaultValue 8388608 */
  hugeBytes?: number;
  /**
   * Honour a fault asked for by the client, in the `x-mock-fault` header or the `fault` query
   * parameter. @defaultValue true
   */
  faultsOnDemand?: boolean;
  /** Called for every request once routed (for custom counting in tests). */
  onRequest?: (req: JsonRequest) => void;
  /**
   * Called when a reply that waited out a latency has been handed to the socket (faults and
   * zero-latency replies are not reported): how long it was promised to take and how long it took
   * since the request arrived. Benchmarks use it to tell a late back end from a slow client.
   */
  onAnswered?: (info: AnsweredInfo) => void;
}

/** What `onAnswered` receives. */
export interface AnsweredInfo {
  /** The route, keyed `METHOD pattern`. */
  route: string;
  /** The latency the reply was due to wait (service latency, jitter and extra), in ms. */
  latencyMs: number;
  /** From the request's arrival to the reply being written, in ms (never below latencyMs). */
  elapsedMs: number;
}

/** Counters since start (or the last `resetStats()`). */
export interface JsonServiceStats {
  /** Requests received. */
  requests: number;
  /** Requests answered (fully written). */
  completed: number;
  /** Requests whose client closed the connection before the answer was written. */
  aborted: number;
  /** Requests currently being handled (including waiting out latency and hangs). */
  inFlight: number;
  /** Highest `inFlight` seen. */
  maxInFlight: number;
  /** Open TCP connections now. */
  connections: number;
  /** TCP connections accepted. */
  totalConnections: number;
  /** Requests per route, keyed `METHOD pattern` (unrouted ones under `METHOD *`). */
  byRoute: Record<string, number>;
}

export interface JsonService {
  readonly name: string;
  readonly port: number;
  /** `http://host:port`, no trailing slash. */
  readonly url: string;
  readonly stats: JsonServiceStats;
  resetStats(): void;
  /** Changes latency, jitter, error rate or hang rate while running. */
  configure(behaviour: Partial<JsonServiceBehaviour>): void;
  readonly behaviour: Readonly<JsonServiceBehaviour>;
  /** Stops listening, ends hanging requests and destroys every connection. */
  close(): Promise<void>;
}

const defaults = {
  name: 'service',
  host: '127.0.0.1',
  port: 0,
  keepAliveTimeoutMs: 10_000,
  backlog: 511,
  seed: 1,
  maxRequestBytes: 1024 * 1024,
  hugeBytes: 8 * 1024 * 1024,
  faultsOnDemand: true,
  latencyMs: 0,
  jitterMs: 0,
  errorRate: 0,
  hangRate: 0,
};

/** One request being handled: when it arrived, and its latency timer while it waits one out. */
interface Entry {
  timer: NodeJS.Timeout | undefined;
  res: ServerResponse;
  /** performance.now() when the request arrived. */
  at: number;
  route: string;
}

interface CompiledRoute {
  method: HttpMethod;
  key: string;
  segments: string[];
  handler: RouteHandler;
}

function compile(route: Route): CompiledRoute {
  return { method: route.method, key: `${route.method} ${route.path}`, segments: route.path.split('/').slice(1), handler: route.handler };
}

function match(route: CompiledRoute, parts: string[]): Record<string, string> | null {
  if (route.segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const seg = route.segments[i]!;
    const part = parts[i]!;
    if (seg.startsWith(':')) {
      try {
        params[seg.slice(1)] = decodeURIComponent(part);
      } catch {
        return null;
      }
    } else if (seg !== part) return null;
  }
  return params;
}

/** mulberry32: small, fast, deterministic for a seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkRate(name: string, v: number | undefined): void {
  if (v !== undefined && !(v >= 0 && v <= 1)) throw new RangeError(`${name} must be a number between 0 and 1`);
}

function checkMs(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`${name} must be a finite number >= 0`);
}

/** Drops keys whose value is undefined, so that spreading them does not erase a default. */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function freshStats(): JsonServiceStats {
  return { requests: 0, completed: 0, aborted: 0, inFlight: 0, maxInFlight: 0, connections: 0, totalConnections: 0, byRoute: {} };
}

/** Starts a JSON service on loopback and resolves once it listens. */
export async function startJsonService(routes: readonly Route[], options: JsonServiceOptions = {}): Promise<JsonService> {
  const opts = { ...defaults, ...definedOnly(options) };
  checkRate('errorRate', options.errorRate);
  checkRate('hangRate', options.hangRate);
  checkMs('latencyMs', options.latencyMs);
  checkMs('jitterMs', options.jitterMs);
  checkMs('keepAliveTimeoutMs', options.keepAliveTimeoutMs);
  if (options.backlog !== undefined && !(Number.isInteger(options.backlog) && options.backlog >= 1)) throw new RangeError('backlog must be an integer >= 1');
  const compiled = routes.map(compile);
  const rnd = random(opts.seed);
  const behaviour: JsonServiceBehaviour = { latencyMs: opts.latencyMs, jitterMs: opts.jitterMs, errorRate: opts.errorRate, hangRate: opts.hangRate };
  let stats = freshStats();
  const live = { inFlight: 0 };
  const sockets = new Set<Socket>();
  const pending = new Set<Entry>();
  let closing = false;

  const server = createServer({ keepAliveTimeout: opts.keepAliveTimeoutMs }, handle);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    stats.totalConnections++;
    s.on('close', () => sockets.delete(s));
  });
  // Loopback clients under load open many sockets at once.
  server.maxHeadersCount = 100;

  async function readBody(req: IncomingMessage): Promise<{ ok: true; body: unknown } | { ok: false; status: number; error: string }> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > opts.maxRequestBytes) {
        return { ok: false, status: 413, error: 'request body too large' };
      }
      chunks.push(chunk);
    }
    if (size === 0) return { ok: true, body: undefined };
    try {
      return { ok: true, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
    } catch {
      return { ok: false, status: 400, error: 'request body is not JSON' };
    }
  }

  function send(res: ServerResponse, status: number, body: string | Buffer, headers?: Record<string, string>): void {
    const h = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
    res.writeHead(status, headers === undefined ? h : { ...h, ...headers });
    res.end(body);
  }

  function sendHuge(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = 'x'.repeat(64 * 1024);
    let left = opts.hugeBytes;
    res.write('{"pad":"');
    const pump = (): void => {
      while (left > 0 && !res.destroyed) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!res.write(n === chunk.length ? chunk : chunk.slice(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      if (!res.destroyed) res.end('"}');
    };
    pump();
  }

  // The hot path stays synchronous for a GET (no body to wait for, a handler answering at once):
  // the benchmark drives thousands of requests a second through these services, and every
  // microtask and closure here is CPU taken from the system under test on the same cores.
  function handle(req: IncomingMessage, res: ServerResponse): void {
    stats.requests++;
    live.inFlight++;
    if (live.inFlight > stats.maxInFlight) stats.maxInFlight = live.inFlight;
    const entry: Entry = { timer: undefined, res, at: performance.now(), route: '' };
    res.on('close', () => {
      live.inFlight--;
      if (res.writableFinished) stats.completed++;
      else stats.aborted++;
      if (entry.timer !== undefined) clearTimeout(entry.timer);
      pending.delete(entry);
    });

    const method = (req.method ?? 'GET') as HttpMethod;
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));
    const parts = path.split('/').slice(1);

    let route: CompiledRoute | undefined;
    let params: Record<string, string> | null = null;
    for (const r of compiled) {
      if (r.method !== method) continue;
      params = match(r, parts);
      if (params) {
        route = r;
        break;
      }
    }
    const routeKey = route?.key ?? `${method} *`;
    entry.route = routeKey;
    stats.byRoute[routeKey] = (stats.byRoute[routeKey] ?? 0) + 1;

    if (method === 'GET' || method === 'DELETE') {
      req.resume();
      routed(req, res, entry, method, path, query, route, params, { ok: true, body: undefined });
      return;
    }
    void readBody(req).then((body) => routed(req, res, entry, method, path, query, route, params, body));
  }

  function routed(
    req: IncomingMessage,
    res: ServerResponse,
    entry: Entry,
    method: HttpMethod,
    path: string,
    query: URLSearchParams,
    route: CompiledRoute | undefined,
    params: Record<string, string> | null,
    body: { ok: true; body: unknown } | { ok: false; status: number; error: string },
  ): void {
    if (!route || !params) {
      send(res, 404, JSON.stringify({ error: 'no such route' }));
      return;
    }
    if (!body.ok) {
      send(res, body.status, JSON.stringify({ error: body.error }));
      return;
    }
    const jreq: JsonRequest = { method, path, params, query, headers: req.headers, body: body.body };
    opts.onRequest?.(jreq);
    let out: JsonReply | Promise<JsonReply>;
    try {
      out = route.handler(jreq);
    } catch (err) {
      out = failed(err);
    }
    if (out instanceof Promise) void out.then((r) => reply(req, res, entry, query, r), (err: unknown) => reply(req, res, entry, query, failed(err)));
    else reply(req, res, entry, query, out);
  }

  function failed(err: unknown): JsonReply {
    return { status: 500, body: { error: err instanceof Error ? err.message : String(err) } };
  }

  function reply(
    req: IncomingMessage,
    res: ServerResponse,
    entry: Entry,
    query: URLSearchParams,
    r: JsonReply,
  ): void {
    let fault: Fault | undefined = r.fault;
    if (opts.faultsOnDemand && fault === undefined) {
      const asked = (req.headers['x-mock-fault'] as string | undefined) ?? query.get('fault') ?? undefined;
      if (asked !== undefined && (faults as readonly string[]).includes(asked)) fault = asked as Fault;
    }
    if (fault === undefined && behaviour.hangRate > 0 && rnd() < behaviour.hangRate) fault = 'hang';
    if (fault === undefined && behaviour.errorRate > 0 && rnd() < behaviour.errorRate) fault = 'error';

    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === 'hang') {
      pending.add(entry);
      return;
    }
    const delay = behaviour.latencyMs + (behaviour.jitterMs > 0 ? rnd() * behaviour.jitterMs : 0) + (r.extraLatencyMs ?? 0);
    const respond = (): void => {
      if (res.destroyed || closing) return;
      if (fault === 'error') send(res, 500, JSON.stringify({ error: 'injected failure' }));
      else if (fault === 'invalid') send(res, 200, '<html>not json', r.headers);
      else if (fault === 'huge') sendHuge(res);
      else send(res, r.status ?? 200, r.raw ?? JSON.stringify(r.body ?? null), r.headers);
    };
    if (delay <= 0) {
      respond();
      return;
    }
    // The latency counts from the request's arrival. A timer may fire a little early by the real
    // clock (libuv measures from the loop's cached time, in whole ms), so it is re-armed for the
    // rest: a service never answers before its stated latency.
    const due = entry.at + delay;
    const fire = (): void => {
      const left = due - performance.now();
      if (left > 0) {
        entry.timer = setTimeout(fire, Math.ceil(left));
        return;
      }
      entry.timer = undefined;
      pending.delete(entry);
      respond();
      if (opts.onAnswered !== undefined && !res.destroyed && fault === undefined) {
        opts.onAnswered({ route: entry.route, latencyMs: delay, elapsedMs: performance.now() - entry.at });
      }
    };
    entry.timer = setTimeout(fire, Math.max(0, Math.ceil(due - performance.now())));
    pending.add(entry);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: opts.port, host: opts.host, backlog: opts.backlog }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    name: opts.name,
    port,
    url: `http://${opts.host}:${port}`,
    get stats() {
      return { ...stats, inFlight: live.inFlight, connections: sockets.size, byRoute: { ...stats.byRoute } };
    },
    resetStats() {
      stats = freshStats();
    },
    configure(next) {
      checkRate('errorRate', next.errorRate);
      checkRate('hangRate', next.hangRate);
      checkMs('latencyMs', next.latencyMs);
      checkMs('jitterMs', next.jitterMs);
      Object.assign(behaviour, definedOnly(next));
    },
    get behaviour() {
      return behaviour;
    },
    close() {
      closing = true;
      for (const p of pending) {
        if (p.timer) clearTimeout(p.timer);
        p.res.destroy();
      }
      pending.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
