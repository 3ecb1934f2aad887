/**
 * A real Hub on a real HTTP server on loopback, for the client's tests. `dropAll()` destroys
 * every TCP socket (a network failure: the client sees 1006, no close frame).
 */
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { Hub, jwtAuthenticator, type HubOptions } from '@kefu/core';
import { KefuClient, type KefuClientOptions } from '../../src/index.js';
import { SECRET, token } from './token.js';

export interface TestHub {
  hub: Hub;
  server: Server;
  port: number;
  url: string;
  sockets: Set<Socket>;
  dropAll(): void;
  close(): Promise<void>;
}

export async function startHub(options: Partial<HubOptions> = {}, port = 0): Promise<TestHub> {
  const hub = new Hub({ authenticate: jwtAuthenticator({ secret: SECRET }), ...options });
  const server = createServer((_req, res) => res.writeHead(404).end());
  const sockets = new Set<Socket>();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  hub.attach(server, { path: '/kefu' });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const addr = server.address();
  const p = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    hub, server, port: p, url: `ws://127.0.0.1:${p}/kefu`, sockets,
    dropAll() { for (const s of sockets) s.destroy(); },
    async close() {
      for (const s of sockets) s.destroy();
      await hub.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A client with fast test-friendly reconnects. */
export function client(url: string, sub: string, role: 'visitor' | 'agent', o: Partial<KefuClientOptions> = {}): KefuClient {
  return new KefuClient({
    url, WebSocket: WebSocket as unknown as KefuClientOptions['WebSocket'], token: () => token(sub, role),
    reconnect: { minDelayMs: 20, maxDelayMs: 200 }, requestTimeoutMs: 5000, ...o,
  });
}

/** Resolves when `pred` is true, polling; rejects after `ms` (tests stay bounded). */
export async function until(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The next event of a given name. */
export function once<T>(emitter: object, ev: string, ms = 5000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no "${ev}" within ${ms} ms`)), ms);
    (emitter as { once(e: string, f: (v: T) => void): void }).once(ev, (v) => { clearTimeout(t); resolve(v); });
  });
}
