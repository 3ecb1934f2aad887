/** Kefu beside an Express 5 app: Express serves HTTP routes, the hub takes the upgrades. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createHub, type Running } from './shared.js';

export async function startExpress(secret: string, port = 0): Promise<Running> {
  const app = express();
  const hub = createHub(secret);
  app.get('/health', (_req, res) => { res.json({ ok: true, connections: hub.connections }); });
  const server = createServer(app);
  hub.attach(server, { path: '/kefu' });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    hub,
    port: (server.address() as AddressInfo).port,
    async close() {
      await hub.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
