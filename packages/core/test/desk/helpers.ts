/**
 * Desk test harness: a real node:http server on loopback, the real Hub attached, a Desk bound to
 * it, and real `ws` clients that speak kefu.v1 (commands, events) like the client SDK does.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { decodeServerFrame, type ServerFrame, type EventFrame, type JsonObject } from '@kefu/protocol';
import { Hub } from '../../src/hub/hub.js';
import type { HubOptions, Identity } from '../../src/hub/types.js';
import { Desk } from '../../src/desk/desk.js';
import type { DeskOptions } from '../../src/desk/options.js';

/** Identity from `?as=tenant:id:role[:name]`. */
function queryAuth(req: IncomingMessage): Identity | null {
  const m = /[?&]as=([^&]+)/.exec(req.url ?? '');
  if (!m) return null;
  const [tenant, id, role, name] = decodeURIComponent(m[1]!).split(':');
  if (!tenant || !id || (role !== 'visitor' && role !== 'agent')) return null;
  return name ? { tenant, id, role, name } : { tenant, id, role };
}

export interface DeskRig {
  hub: Hub;
  desk: Desk;
  server: Server;
  url: string;
  errors: unknown[];
  /** Replaces the desk by a new one on `options` (a restart of the desk on the same hub). */
  restartDesk(options: DeskOptions): Promise<Desk>;
  close(): Promise<void>;
}

export async function startDesk(options: DeskOptions = {}, hubOptions: Partial<HubOptions> = {}): Promise<DeskRig> {
  const server = createServer((_req, res) => { res.statusCode = 404; res.end(); });
  let desk: Desk | undefined;
  const hub = new Hub({
    authenticate: queryAuth,
    rateLimit: { perSec: 1000, burst: 1000 },
    authorizeJoin: (identity, conv) => desk?.mayJoin(identity, conv.id) ?? false,
    ...hubOptions,
  });
  hub.attach(server, { path: '/kefu' });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const errors: unknown[] = [];
  const make = async (o: DeskOptions) => {
    const d = new Desk({ positionUpdateMs: 0, sweepMs: 50, ...o, hub });
    d.on('error', (e) => errors.push(e));
    await d.open();
    return d;
  };
  desk = await make(options);
  const rig: DeskRig = {
    hub, desk, server, url: `ws://127.0.0.1:${port}/kefu`, errors,
    async restartDesk(o) {
      await rig.desk.close();
      await rig.desk.store.close();
      desk = await make(o);
      rig.desk = desk;
      return desk;
    },
    async close() {
      await rig.desk.close();
      await rig.desk.store.close();
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return rig;
}

type Waiter = { pred: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void; timer: NodeJS.Timeout };

/** A ws client: queues every frame; `event()` / `next()` wait for one and consume it. */
export class Client {
  readonly ws: WebSocket;
  readonly frames: ServerFrame[] = [];
  #waiters: Waiter[] = [];
  #ref = 0;
  #closed: Promise<void>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.#closed = new Promise((r) => ws.once('close', () => r()));
    ws.on('message', (data) => {
      const r = decodeServerFrame(String(data));
      if (!r.ok) return;
      const w = this.#waiters.find((x) => x.pred(r.frame));
      if (w) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(r.frame);
      } else {
        this.frames.push(r.frame);
      }
    });
    ws.on('error', () => {});
  }

  static async connect(url: string, as: string): Promise<Client> {
    const c = new Client(new WebSocket(`${url}?as=${encodeURIComponent(as)}`, ['kefu.v1']));
    await c.wait((f) => f.t === 'welcome', 'welcome');
    return c;
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  wait(pred: (f: ServerFrame) => boolean, what: string, timeoutMs = 4000): Promise<ServerFrame> {
    const i = this.frames.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.timer !== timer);
        reject(new Error(`timed out waiting for ${what}; have ${JSON.stringify(this.frames.map((f) => (f.t === 'event' ? f.name : f.t)))}`));
      }, timeoutMs);
      this.#waiters.push({ pred, resolve, timer });
    });
  }

  /** The next `event` frame named `name` whose data matches `pred`. */
  async event<T extends object = JsonObject>(name: string, pred: (d: JsonObject) => boolean = () => true, timeoutMs = 4000): Promise<T> {
    const f = await this.wait((x) => x.t === 'event' && x.name === name && pred(x.data), `event ${name}`, timeoutMs);
    return (f as EventFrame).data as unknown as T;
  }

  /** True when an event named `name` (matching `pred`) is already queued, without consuming it. */
  has(name: string, pred: (d: JsonObject) => boolean = () => true): boolean {
    return this.frames.some((x) => x.t === 'event' && x.name === name && pred(x.data));
  }

  /** Sends a command; resolves with `{ ok: true, data }` or `{ ok: false, code }`. */
  async cmd(name: string, conv?: string, args?: JsonObject): Promise<{ ok: true; data: JsonObject } | { ok: false; code: string; message: string }> {
    const ref = `r${++this.#ref}`;
    const frame: Record<string, unknown> = { t: 'cmd', ref, name };
    if (conv !== undefined) frame.conv = conv;
    if (args !== undefined) frame.args = args;
    this.send(frame);
    const f = await this.wait((x) => (x.t === 'result' || x.t === 'error') && x.ref === ref, `reply to ${name}`);
    if (f.t === 'result') return { ok: true, data: f.data ?? {} };
    if (f.t === 'error') return { ok: false, code: f.code, message: f.message };
    throw new Error('unreachable');
  }

  /** Opens a conversation as a visitor; returns its id. */
  async open(): Promise<string> {
    const ref = `o${++this.#ref}`;
    this.send({ t: 'open', ref });
    const f = await this.wait((x) => x.t === 'joined' && x.ref === ref, 'joined');
    return (f as Extract<ServerFrame, { t: 'joined' }>).conv;
  }

  say(conv: string, body: string): void {
    this.send({ t: 'send', conv, cid: `c${++this.#ref}`, body });
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    this.ws.close(1000);
    return this.#closed;
  }

  /** Drops the TCP connection without a close frame: a crash. */
  crash(): Promise<void> {
    this.ws.terminate();
    return this.#closed;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until(cond: () => boolean, what: string, timeoutMs = 4000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Closes every client, ignoring failures (finally blocks). */
export async function closeAll(...clients: Array<Client | undefined>): Promise<void> {
  await Promise.allSettled(clients.map((c) => c?.close()));
}
