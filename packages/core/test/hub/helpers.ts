/** Test harness: a real node:http server on loopback, a Hub attached, real ws clients. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { decodeServerFrame, type ServerFrame, type ClientFrame } from '@kefu/protocol';
import { Hub } from '../../src/hub/hub.js';
import type { HubOptions, Identity } from '../../src/hub/types.js';

export interface TestHub {
  hub: Hub;
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Identity from `?as=tenant:id:role[:name]`: enough for tests that are not about auth. */
export function queryAuth(req: import('node:http').IncomingMessage): Identity | null {
  const m = /[?&]as=([^&]+)/.exec(req.url ?? '');
  if (!m) return null;
  const [tenant, id, role, name] = decodeURIComponent(m[1]!).split(':');
  if (!tenant || !id || (role !== 'visitor' && role !== 'agent')) return null;
  return name ? { tenant, id, role, name } : { tenant, id, role };
}

export async function startHub(options: Partial<HubOptions> = {}, path = '/kefu'): Promise<TestHub> {
  const server = createServer((_req, res) => { res.statusCode = 404; res.end(); });
  const hub = new Hub({ authenticate: queryAuth, ...options });
  hub.attach(server, { path });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    hub, server, url: `ws://127.0.0.1:${port}${path}`,
    async close() {
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A ws client that queues every decoded server frame and lets a test wait for one. */
export class TestClient {
  readonly ws: WebSocket;
  readonly frames: ServerFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  #waiters: Array<{ pred: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  #closeWaiters: Array<() => void> = [];

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      const r = decodeServerFrame(String(data));
      if (!r.ok) throw new Error(`bad server frame: ${String(data)}`);
      this.frames.push(r.frame);
      for (const w of [...this.#waiters]) {
        if (w.pred(r.frame)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          clearTimeout(w.timer);
          w.resolve(r.frame);
          break;
        }
      }
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      for (const w of this.#closeWaiters) w();
    });
    ws.on('error', () => {});
  }

  static async connect(url: string, as: string, opts: WebSocket.ClientOptions & { protocols?: string[] } = {}): Promise<TestClient> {
    const { protocols = ['kefu.v1'], ...rest } = opts;
    const ws = new WebSocket(`${url}?as=${encodeURIComponent(as)}`, protocols, { handshakeTimeout: 5000, ...rest });
    const c = new TestClient(ws);
    await c.next('welcome');
    return c;
  }

  send(frame: ClientFrame | Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** The first frame (already received or future) of type `t` matching `pred`; consumed. */
  next<T extends ServerFrame['t']>(t: T, pred: (f: Extract<ServerFrame, { t: T }>) => boolean = () => true, timeoutMs = 3000): Promise<Extract<ServerFrame, { t: T }>> {
    const match = (f: ServerFrame): boolean => f.t === t && pred(f as Extract<ServerFrame, { t: T }>);
    const i = this.frames.findIndex(match);
    if (i !== -1) {
      const [f] = this.frames.splice(i, 1);
      return Promise.resolve(f as Extract<ServerFrame, { t: T }>);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.findIndex((w) => w.timer === timer), 1);
        reject(new Error(`timed out waiting for "${t}"; have ${JSON.stringify(this.frames.map((f) => f.t))}`));
      }, timeoutMs);
      this.#waiters.push({
        pred: match,
        resolve: (f) => {
          const k = this.frames.indexOf(f);
          if (k !== -1) this.frames.splice(k, 1);
          resolve(f as Extract<ServerFrame, { t: T }>);
        },
        reject, timer,
      });
    });
  }

  /** The first frame whose type is one of `types` (e.g. `msg` until `resumed`). */
  nextAny(types: Array<ServerFrame['t']>, timeoutMs = 3000): Promise<ServerFrame> {
    return this.#nextAny(types, timeoutMs);
  }

  #nextAny(types: Array<ServerFrame['t']>, timeoutMs: number): Promise<ServerFrame> {
    const match = (f: ServerFrame): boolean => types.includes(f.t);
    const i = this.frames.findIndex(match);
    if (i !== -1) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.findIndex((w) => w.timer === timer), 1);
        reject(new Error(`timed out waiting for ${types.join('/')}`));
      }, timeoutMs);
      this.#waiters.push({
        pred: match,
        resolve: (f) => { const k = this.frames.indexOf(f); if (k !== -1) this.frames.splice(k, 1); resolve(f); },
        reject, timer,
      });
    });
  }

  /** Resolves once the socket is closed, with its code. */
  waitClose(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for close')), timeoutMs);
      this.#closeWaiters.push(() => { clearTimeout(t); resolve(this.closed!); });
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.ws.close(1000);
    return this.waitClose().then(() => undefined, () => { this.ws.terminate(); });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until `cond()` is true, polling; throws after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
