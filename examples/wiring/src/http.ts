/** Kefu in a plain node:http server: the hub handles upgrades on /kefu, the host everything else. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHub, type Running } from './shared.js';

export async function startHttp(secret: string, port = 0): Promise<Running> {
  const server = createServer((req, res) => {
    if (req.url === '/health') { res.setHeader('content-type', 'application/json'); res.end('{"ok":true}'); return; }
    res.statusCode = 404;
    res.end();
  });
  const hub = createHub(secret);
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
