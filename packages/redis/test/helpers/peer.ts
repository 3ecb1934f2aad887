/**
 * What the multi-node tests share: identities from `?as=tenant:id:role`, a hub node on a real
 * http server, and a raw kefu.v1 client that records every frame and waits with timeouts.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { decodeServerFrame, type ServerFrame } from '@kefu/protocol';
import { Hub, type HubOptions, type Identity } from '@kefu/core';

/** Identity from `?as=tenant:id:role`: enough for tests that are not about auth. */
export function queryAuth(req: IncomingMessage): Identity | null {
  const m = /[?&]as=([^&]+)/.exec(req.url ?? '');
  if (!m) return null;
  const [tenant, id, role] = decodeURIComponent(m[1]!).split(':');
  return tenant && id && (role === 'visitor' || role === 'agent') ? { tenant, id, role } : null;
}

export interface HubNode { hub: Hub; server: Server; url: string; close(): Promise<void> }

/** A Hub (with `queryAuth`) attached to its own http server on loopback. */
export async function startHubNode(options: Omit<HubOptions, 'authenticate'>): Promise<HubNode> {
  const hub = new Hub({ authenticate: queryAuth, ...options });
  const server = createServer();
  hub.attach(server, { path: '/kefu' });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    hub, server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/kefu`,
    async close() {
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A type guard for `Peer.until`: frames of type `t` for which `extra` holds. */
export const is = <K extends ServerFrame['t']>(t: K, extra: (f: Extract<ServerFrame, { t: K }>) => boolean = () => true) =>
  (f: ServerFrame): f is Extract<ServerFrame, { t: K }> => f.t === t && extra(f as Extract<ServerFrame, { t: K }>);

export class Peer {
  frames: ServerFrame[] = [];
  ws: WebSocket;
  #waiters: Array<() => void> = [];

  constructor(url: string, as: string) {
    this.ws = new WebSocket(`${url}?as=${encodeURIComponent(as)}`, ['kefu.v1']);
    this.ws.on('message', (d) => {
      const r = decodeServerFrame(String(d));
      if (r.ok) this.frames.push(r.frame);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.ws.on('error', () => {});
  }

  async until<T extends ServerFrame>(pred: (f: ServerFrame) => f is T, what: string, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.find(pred);
      if (f) return f;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((r) => { const t = setTimeout(r, 100); this.#waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  send(f: object): void { this.ws.send(JSON.stringify(f)); }

  /** Seqs of the `msg` frames received for `conv`, in arrival order. */
  msgs(conv: string): number[] {
    return this.frames.filter((f): f is Extract<ServerFrame, { t: 'msg' }> => f.t === 'msg' && f.conv === conv).map((f) => f.seq);
  }

  /** `user:status` of every presence frame received. */
  presence(): string[] {
    return this.frames.filter((f): f is Extract<ServerFrame, { t: 'presence' }> => f.t === 'presence').map((f) => `${f.user.id}:${f.status}`);
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((r) => { this.ws.once('close', () => r()); this.ws.close(); });
  }
}
