/**
 * The demo support desk: one node:http server wiring Kefu's public API. `main.ts` starts it
 * for `npm start`; the end-to-end tests start it on a free port with a temp data directory.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Desk, Hub, LevelConversationStore, LevelDeskStore, jwtAuthenticator } from '@kefu/core';
import { botAnswers, cannedReplies } from './bot-answers.js';
import { registerDemoCommands } from './desk-commands.js';
import { DEMO_TENANT, demoAgents } from './demo-auth.js';
import { startServices, type DemoServices } from './services.js';
import { Refunds } from './refunds.js';
import { DemoTokens } from './demo-auth.js';
import { readJson } from './http/json-body.js';
import { StaticFiles } from './http/static-files.js';
import { createRegistry } from './metrics.js';
import { checkErpFaults, registerErpSwitch } from './demo-erp.js';
import type { FaultSettings } from '@kefu/mock-backends';

export interface SupportDeskOptions {
  /** TCP port; 0 picks a free one. @defaultValue 3000 */
  port?: number;
  /** Interface to listen on. @defaultValue '127.0.0.1' */
  host?: string;
  /** Directory of the LevelDB databases. @defaultValue './data' */
  dataDir?: string;
  /** Print progress and URLs. @defaultValue false */
  log?: boolean;
  /**
   * DEMO ONLY: the demo ERP's fault settings at start (`npm start` reads them from
   * KEFU_DEMO_ERP_FAULTS), e.g. `{ mode: 'next', count: 1, status: 402 }` to decline the next
   * refund. Checked before anything starts; the console's switch changes them later.
   * @defaultValue { mode: 'off' }
   */
  erpFaults?: FaultSettings;
  /**
   * DEMO ONLY: register the console's demo switches (`demo.erp`, `demo.refunds.failed`,
   * `demo.refunds.retry`). A desk that serves real agents has no business offering them.
   * @defaultValue true
   */
  demoControls?: boolean;
}

export interface SupportDesk {
  server: Server;
  hub: Hub;
  desk: Desk;
  services: DemoServices;
  refunds: Refunds;
  /** Base URL, e.g. http://127.0.0.1:3000 */
  url: string;
  close(): Promise<void>;
}

// ../dist/public from both src/ (tests under tsx) and dist/ (npm start): the bundles exist only after a build.
const publicDir = fileURLToPath(new URL('../dist/public', import.meta.url));

export async function startSupportDesk(options: SupportDeskOptions = {}): Promise<SupportDesk> {
  const o = { port: 3000, host: '127.0.0.1', dataDir: './data', log: false, demoControls: true, ...options };
  if (typeof o.demoControls !== 'boolean') throw new TypeError('demoControls must be a boolean');
  const erpFaults = o.erpFaults === undefined ? undefined : checkErpFaults(o.erpFaults);
  await mkdir(o.dataDir, { recursive: true });
  const tokens = new DemoTokens();
  const store = new LevelConversationStore({ location: join(o.dataDir, 'conversations') });
  const services = await startServices(erpFaults ? { erpFaults } : {});
  let desk: Desk | undefined;
  const hub = new Hub({
    authenticate: jwtAuthenticator({ secret: tokens.secret }),
    store,
    // Agents may enter only conversations the desk gave them; visitors only their own.
    authorizeJoin: (identity, conv) => desk?.mayJoin(identity, conv.id) ?? false,
  });
  if (services.classifierError) console.warn(`*** intent classifier unavailable, every chat goes to a human: ${services.classifierError}`);
  // The Desk closes only a store it made itself: this one is closed in close() below, so that a
  // new desk on the same data directory (a restart in the same process) can open it.
  const deskStore = new LevelDeskStore({ location: join(o.dataDir, 'desk') });
  desk = new Desk({
    hub,
    // Conversations, agents and sticky memory in ./data/desk; each tenant's waiting queue (a
    // PriorityQueue) in the same LevelDB, under its own sublevel: the queue order survives a restart.
    store: deskStore,
    ...(services.intents ? { classifier: services.intents } : {}),
    profiles: services.profiles,
    bot: botAnswers,
    botThreshold: 0.6,
    canned: { [DEMO_TENANT]: cannedReplies },
    agentProfile: (who) => ({ name: demoAgents[who.id]?.name ?? who.id, teams: demoAgents[who.id]?.teams ?? ['general'], capacity: 3 }),
    offerTimeoutMs: 60_000,
  });
  desk.on('error', (err) => { if (o.log) console.error('desk:', err); });
  await desk.open();
  registerDemoCommands(hub, desk);
  const refunds = new Refunds(o.dataDir, services.refundUrls, hub);
  await refunds.open();
  refunds.register(desk);
  if (o.demoControls) {
    registerErpSwitch(hub, services.erp);
    refunds.registerRepair();
  }
  const closers: Array<() => Promise<void> | void> = [];

  const registry = createRegistry([hub.metrics.register], { desk: () => desk!.stats, refundQueue: () => ({ ...refunds.queue.counts() }) });
  const files = new StaticFiles(publicDir);

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(err instanceof RangeError || err instanceof SyntaxError ? 400 : 500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: (err as Error).message }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'POST' && path === '/demo/token') {
      // DEMO ONLY (see demo-auth.ts): signs a token for anyone who asks.
      const who = tokens.identity(await readJson(req));
      const token = tokens.sign(who);
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'access-control-allow-origin': '*', 'x-kefu-demo-only': 'true' });
      res.end(JSON.stringify({ token, user: who, demoOnly: true }));
      return;
    }
    if (req.method === 'OPTIONS' && path === '/demo/token') {
      res.writeHead(204, { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'content-type' }).end();
      return;
    }
    if (path === '/health') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ status: 'ok', connections: hub.connections, desk: desk!.stats, classifier: services.classifierError ?? 'ok', uptimeS: Math.round(process.uptime()) }));
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(await registry.metrics());
      return;
    }
    if ((req.method === 'GET' || req.method === 'HEAD') && (await files.serve(req, res, path))) return;
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  }

  hub.attach(server, { path: '/kefu' });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => { server.off('error', reject); resolve(); });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const url = `http://${o.host === '0.0.0.0' ? '127.0.0.1' : o.host}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    server, hub, desk, services, refunds, url,
    close() {
      closing ??= (async () => {
        await refunds.close();
        await desk!.close();
        await deskStore.close();
        await hub.close();
        await services.close();
        for (const c of closers.reverse()) await c();
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      })();
      return closing;
    },
  };
}
