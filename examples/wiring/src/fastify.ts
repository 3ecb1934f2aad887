/** Kefu inside Fastify 5: attach to `app.server` (the underlying node:http server). */
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { createHub, type Running } from './shared.js';

export async function startFastify(secret: string, port = 0): Promise<Running> {
  const app = Fastify();
  const hub = createHub(secret);
  app.get('/health', async () => ({ ok: true, connections: hub.connections }));
  hub.attach(app.server, { path: '/kefu' });
  // Fastify closes its server on app.close(); close the hub first so sockets get 1001.
  app.addHook('preClose', async () => { await hub.close(); });
  await app.listen({ port, host: '127.0.0.1' });
  return {
    hub,
    port: (app.server.address() as AddressInfo).port,
    async close() {
      await app.close();
    },
  };
}
