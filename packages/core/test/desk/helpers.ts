/**
 * Desk test harness: a real node:http server on loopback, the real Hub attached, a Desk bound to
 * it, and real `ws` clients that speak kefu.v1 (commands, events) like the client SDK does.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeskTestClient } from '../../src/testing/desk-test-client.js';
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

/** The desk tests' client: one implementation, shared with @kefu/redis's tests. */
export { DeskTestClient as Client };

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
export async function closeAll(...clients: Array<DeskTestClient | undefined>): Promise<void> {
  await Promise.allSettled(clients.map((c) => c?.close()));
}
