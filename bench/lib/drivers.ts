/**
 * Client side of the three systems under test, behind one small interface so that the load
 * generator drives each the same way: a pair is a visitor and an agent in one conversation,
 * both in the generator's process, so that latency is measured on one clock.
 *
 * Timing travels in the message itself: `body` starts with the visitor's send time
 * (performance.now(), ms with µs decimals) and `cid` with it too, so the agent's receipt and
 * the visitor's ack need no lookup table.
 */
import WebSocket from 'ws';
import { io as ioClient, type Socket } from 'socket.io-client';
import { signToken, tenantOf } from './jwt.js';

export type Kind = 'raw_ws' | 'socket_io' | 'kefu';

export interface DriverOptions {
  /** Server base, e.g. ws://127.0.0.1:1234 (http:// for Socket.IO is derived). */
  host: string;
  /**
   * Several nodes of one cluster: pair i's visitor connects to hosts[i % n] and its agent to
   * hosts[(i + 1) % n], so that with two or more nodes every message crosses nodes.
   * @defaultValue [host]
   */
  hosts?: string[];
  /** Path the server serves on. */
  path: string;
  /** Source address for outgoing connections (127.0.0.x), to spread ephemeral ports. */
  localAddress?: string;
  /** Called on the agent's side with the body of every relayed message. */
  onMessage: (body: string) => void;
  /** Called on the visitor's side with the cid of every ack (Kefu, Socket.IO). */
  onAck: (cid: string) => void;
  /** Called when an established connection closes (code) or gets an error frame (code string). */
  onTrouble: (what: string) => void;
  /** Per-connection setup timeout. @defaultValue 30,000 ms */
  timeoutMs?: number;
  /** Kefu: an application ping per socket per minute (see keepAlive). @defaultValue true */
  appPings?: boolean;
}

export interface Pair { send(cid: string, body: string): void; close(): void }
export interface Idle { close(): void }
export interface Driver { pair(i: number): Promise<Pair>; idle(i: number): Promise<Idle> }

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms); }),
  ]);
}

/**
 * The generators parse nothing on the hot path: at 10,000 msg/s a JSON.parse per frame made them
 * the bottleneck (event loop near 100%, stalls of hundreds of ms) instead of the server. The two
 * timed frames (a relayed `msg` and Kefu's `ack`) are recognised by their leading `"t"` and the
 * timing value is read in place; every other frame is parsed as before. Raw ws and Kefu get the
 * same treatment (Socket.IO's client decodes its packets itself).
 */
function fieldAfter(s: string, key: string): string | undefined {
  const i = s.indexOf(key);
  return i < 0 ? undefined : s.slice(i + key.length, i + key.length + 32);
}
const MSG = '{"t":"msg"';
const ACK = '{"t":"ack"';

/** The node a pair's visitor or agent connects to (see DriverOptions.hosts). */
function hostOf(o: DriverOptions, i: number, role: 'visitor' | 'agent'): string {
  const hosts = o.hosts && o.hosts.length > 0 ? o.hosts : [o.host];
  return hosts[(i + (role === 'agent' ? 1 : 0)) % hosts.length]!;
}

function openWs(url: string, o: DriverOptions, protocol?: string, first?: (ws: WebSocket) => void): Promise<WebSocket> {
  const ws = new WebSocket(url, protocol ? [protocol] : [], {
    perMessageDeflate: false,
    ...(o.localAddress ? { localAddress: o.localAddress } : {}),
  });
  // The server's first frame can arrive in the same chunk as the upgrade response, before a
  // listener attached after 'open' would exist: `first` attaches listeners up front.
  first?.(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => { ws.removeAllListeners('error'); ws.on('error', () => undefined); resolve(ws); });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${String(res.statusCode)}`)));
  });
}

/** Resolves with the first parsed frame for which `match` returns true. */
function nextFrame<F = Record<string, unknown>>(ws: WebSocket, match: (f: Record<string, unknown>) => boolean): Promise<F> {
  return new Promise((resolve, reject) => {
    const onMsg = (data: WebSocket.RawData): void => {
      const f = JSON.parse(data.toString()) as Record<string, unknown>;
      if (f.t === 'error') { cleanup(); reject(new Error(`error frame: ${JSON.stringify(f)}`)); return; }
      if (match(f)) { cleanup(); resolve(f as F); }
    };
    const onClose = (code: number): void => { cleanup(); reject(new Error(`closed with ${code} during setup`)); };
    const cleanup = (): void => { ws.off('message', onMsg); ws.off('close', onClose); };
    ws.on('message', onMsg);
    ws.on('close', onClose);
  });
}

/** Reports an unexpected close of an established socket; our own terminate() is not one. */
function watchClose(ws: WebSocket, o: DriverOptions): void {
  ws.on('close', (code) => { if (code !== 1006 || !(ws as WebSocket & { benchClosing?: boolean }).benchClosing) o.onTrouble(`close ${code}`); });
}

function terminate(ws: WebSocket): void {
  (ws as WebSocket & { benchClosing?: boolean }).benchClosing = true;
  ws.terminate();
}

export function rawWsDriver(o: DriverOptions): Driver {
  const timeout = o.timeoutMs ?? 30_000;
  const url = (i: number, sub: string, role: 'visitor' | 'agent', conv?: string): string =>
    `${hostOf(o, i, role)}${o.path}?token=${signToken(sub, role, tenantOf(i))}${conv ? `&conv=${conv}` : ''}`;
  return {
    async pair(i) {
      const conv = `c${i}`;
      const [v, a] = await withTimeout(Promise.all([openWs(url(i, `v${i}`, 'visitor', conv), o), openWs(url(i, `a${i}`, 'agent', conv), o)]), timeout, `raw pair ${i}`);
      a.on('message', (data) => {
        const s = data.toString();
        if (s.startsWith(MSG)) { const b = fieldAfter(s, '"body":"'); if (b !== undefined) o.onMessage(b); }
      });
      // Only the acking control relay (raw-ws.ts --ack) answers the visitor.
      v.on('message', (data) => {
        const s = data.toString();
        if (s.startsWith(ACK)) { const c = fieldAfter(s, '"cid":"'); if (c !== undefined) o.onAck(c); }
      });
      watchClose(v, o);
      watchClose(a, o);
      return {
        send: (cid, body) => v.send(`{"t":"send","conv":"${conv}","cid":"${cid}","body":"${body}"}`),
        close: () => { terminate(v); terminate(a); },
      };
    },
    async idle(i) {
      const ws = await withTimeout(openWs(url(i, `v${i}`, 'visitor'), o), timeout, `raw idle ${i}`);
      return { close: () => terminate(ws) };
    },
  };
}

export function socketIoDriver(o: DriverOptions): Driver {
  const timeout = o.timeoutMs ?? 30_000;
  const connect = (i: number, sub: string, role: 'visitor' | 'agent'): Promise<Socket> => {
    const s = ioClient(hostOf(o, i, role).replace(/^ws/, 'http'), {
      path: o.path,
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout,
      auth: { token: signToken(sub, role, tenantOf(i)) },
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    } as Parameters<typeof ioClient>[1]);
    return new Promise((resolve, reject) => {
      s.once('connect', () => resolve(s));
      s.once('connect_error', (e) => { s.close(); reject(e); });
    });
  };
  const join = (s: Socket, conv: string): Promise<unknown> => new Promise((resolve) => s.emit('join', conv, resolve));
  return {
    async pair(i) {
      const conv = `c${i}`;
      const [v, a] = await withTimeout(Promise.all([connect(i, `v${i}`, 'visitor'), connect(i, `a${i}`, 'agent')]), timeout, `socket.io pair ${i}`);
      await withTimeout(Promise.all([join(v, conv), join(a, conv)]), timeout, `socket.io join ${i}`);
      a.on('msg', (m: { body: string }) => o.onMessage(m.body));
      for (const s of [v, a]) s.on('disconnect', (reason) => o.onTrouble(`disconnect ${reason}`));
      const onAck = (r: { cid: string }): void => o.onAck(r.cid);
      return {
        send: (cid, body) => { v.emit('send', { conv, cid, body }, onAck); },
        close: () => { v.removeAllListeners('disconnect'); a.removeAllListeners('disconnect'); v.close(); a.close(); },
      };
    },
    async idle(i) {
      const s = await withTimeout(connect(i, `v${i}`, 'visitor'), timeout, `socket.io idle ${i}`);
      return { close: () => s.close() };
    },
  };
}

/**
 * Keeps Kefu sockets alive the way a live client does: the hub closes a socket that sent no
 * frame for idleTimeoutMs (5 min by default, close 4001), and a bench's agents never send. Every
 * socket gets an application `ping` about once a minute, spread evenly (1/60 of them per second)
 * so that there is no burst: about 170 frames/s for 10,000 sockets.
 */
function keepAlive(): (ws: WebSocket) => void {
  const sockets: WebSocket[] = [];
  let next = 0;
  const timer = setInterval(() => {
    const n = Math.ceil(sockets.length / 60);
    for (let k = 0; k < n && sockets.length > 0; k++) {
      next = next % sockets.length;
      const ws = sockets[next]!;
      if (ws.readyState === WebSocket.OPEN) { ws.send('{"t":"ping"}'); next++; }
      else sockets.splice(next, 1);
    }
  }, 1_000);
  timer.unref();
  return (ws) => { sockets.push(ws); };
}

export function kefuDriver(o: DriverOptions): Driver {
  const timeout = o.timeoutMs ?? 30_000;
  const keep = o.appPings === false ? () => undefined : keepAlive();
  const connect = async (i: number, sub: string, role: 'visitor' | 'agent', made?: WebSocket[]): Promise<WebSocket> => {
    let welcome: Promise<unknown> | undefined;
    const ws = await openWs(`${hostOf(o, i, role)}${o.path}?token=${signToken(sub, role, tenantOf(i))}`, o, 'kefu.v1', (w) => {
      made?.push(w);
      welcome = nextFrame(w, (f) => f.t === 'welcome');
      welcome.catch(() => undefined);
    });
    await welcome;
    return ws;
  };
  return {
    async pair(i) {
      // Sockets of a timed-out attempt are closed, so that a retry does not leave them behind.
      const made: WebSocket[] = [];
      return withTimeout((async () => {
        const [v, a] = await Promise.all([connect(i, `v${i}`, 'visitor', made), connect(i, `a${i}`, 'agent', made)]);
        const opened = nextFrame<{ conv: string }>(v, (f) => f.t === 'joined' && f.ref === 'o');
        v.send(JSON.stringify({ t: 'open', ref: 'o' }));
        const { conv } = await opened;
        const joined = nextFrame(a, (f) => f.t === 'joined' && f.ref === 'j');
        a.send(JSON.stringify({ t: 'join', ref: 'j', conv }));
        await joined;
        a.on('message', (data) => {
          const s = data.toString();
          if (s.startsWith(MSG)) { const b = fieldAfter(s, '"body":"'); if (b !== undefined) return o.onMessage(b); }
          const f = JSON.parse(s) as { t: string; body: string; code?: string };
          if (f.t === 'msg') o.onMessage(f.body);
          else if (f.t === 'error') o.onTrouble(`error frame ${String(f.code)}`);
        });
        v.on('message', (data) => {
          const s = data.toString();
          if (s.startsWith(ACK)) { const c = fieldAfter(s, '"cid":"'); if (c !== undefined) return o.onAck(c); }
          const f = JSON.parse(s) as { t: string; cid: string; code?: string };
          if (f.t === 'ack') o.onAck(f.cid);
          else if (f.t === 'error') o.onTrouble(`error frame ${String(f.code)}`);
        });
        watchClose(v, o);
        watchClose(a, o);
        // cid and body are the generator's own digits, dots, spaces and x: no escaping needed.
        const sendHead = `{"t":"send","conv":${JSON.stringify(conv)},"cid":"`;
        keep(v);
        keep(a);
        return {
          send: (cid: string, body: string) => v.send(`${sendHead}${cid}","body":"${body}"}`),
          close: () => { terminate(v); terminate(a); },
        };
      })(), timeout, `kefu pair ${i}`).catch((err: unknown) => { for (const w of made) terminate(w); throw err; });
    },
    async idle(i) {
      const ws = await withTimeout(connect(i, `v${i}`, 'visitor'), timeout, `kefu idle ${i}`);
      keep(ws);
      return { close: () => terminate(ws) };
    },
  };
}

export function driverFor(kind: Kind, o: DriverOptions): Driver {
  switch (kind) {
    case 'raw_ws': return rawWsDriver(o);
    case 'socket_io': return socketIoDriver(o);
    case 'kefu': return kefuDriver(o);
  }
}
