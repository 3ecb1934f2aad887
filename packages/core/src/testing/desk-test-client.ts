/**
 * DeskTestClient: a real kefu.v1 WebSocket client for tests of a hub with a desk (the desk suite,
 * and @kefu/redis's desks across nodes): commands with their replies, events, open/say, every wait
 * bounded. Frames no waiter took are kept, so a test can wait for one after it arrived.
 *
 * It connects as `as` through the `as` query parameter: pair it with a test `authenticate` that
 * reads `?as=tenant:id:role` (as the tests' queryAuth does), never with a production one.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { decodeServerFrame, type EventFrame, type JsonObject, type ServerFrame } from '@kefu/protocol';

type Waiter = { pred: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void; timer: NodeJS.Timeout };

export interface DeskTestClientOptions {
  /**
   * Default bound of every wait, ms.
   * @defaultValue 4000
   */
  timeoutMs?: number;
}

export class DeskTestClient {
  readonly ws: WebSocket;
  readonly frames: ServerFrame[] = [];
  /** Every event frame's name, in arrival order (kept even when a waiter took the frame). */
  readonly seen: string[] = [];
  readonly #timeoutMs: number;
  #waiters: Waiter[] = [];
  #ref = 0;
  /** cids are unique across clients: the hub deduplicates a send by cid within a conversation, whoever sends it. */
  readonly #id = randomUUID().slice(0, 8);
  #closed: Promise<void>;

  private constructor(ws: WebSocket, timeoutMs: number) {
    this.ws = ws;
    this.#timeoutMs = timeoutMs;
    this.#closed = new Promise((r) => ws.once('close', () => r()));
    ws.on('message', (data) => {
      const r = decodeServerFrame(String(data));
      if (!r.ok) return;
      if (r.frame.t === 'event') this.seen.push(r.frame.name);
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

  static async connect(url: string, as: string, options: DeskTestClientOptions = {}): Promise<DeskTestClient> {
    const c = new DeskTestClient(new WebSocket(`${url}?as=${encodeURIComponent(as)}`, ['kefu.v1']), options.timeoutMs ?? 4000);
    await c.wait((f) => f.t === 'welcome', `${as} welcome`);
    return c;
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  wait(pred: (f: ServerFrame) => boolean, what: string, timeoutMs = this.#timeoutMs): Promise<ServerFrame> {
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
  async event<T extends object = JsonObject>(name: string, pred: (d: JsonObject) => boolean = () => true, timeoutMs = this.#timeoutMs): Promise<T> {
    const f = await this.wait((x) => x.t === 'event' && x.name === name && pred(x.data), `event ${name}`, timeoutMs);
    return (f as EventFrame).data as unknown as T;
  }

  /** True when an event named `name` (matching `pred`) is already queued, without taking it. */
  has(name: string, pred: (d: JsonObject) => boolean = () => true): boolean {
    return this.frames.some((x) => x.t === 'event' && x.name === name && pred(x.data));
  }

  /** Sends a command; resolves with `{ ok: true, data }` or `{ ok: false, code, message }`. */
  async cmd(name: string, conv?: string, args?: JsonObject, timeoutMs = this.#timeoutMs): Promise<{ ok: true; data: JsonObject } | { ok: false; code: string; message: string }> {
    const ref = `r${++this.#ref}`;
    const frame: Record<string, unknown> = { t: 'cmd', ref, name };
    if (conv !== undefined) frame.conv = conv;
    if (args !== undefined) frame.args = args;
    this.send(frame);
    const f = await this.wait((x) => (x.t === 'result' || x.t === 'error') && x.ref === ref, `reply to ${name}`, timeoutMs);
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
    this.send({ t: 'send', conv, cid: `${this.#id}-${++this.#ref}`, body });
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
