/**
 * desk: a burst of visitors against a desk of agents, through the real stack.
 *
 *   npm run bench -- desk [--quick] [--visitors 5000] [--agents 100] [--capacity 5] [--hold 100] [--vip 0.1]
 *
 * The server (this process): a Hub on node:http (loopback) and a Desk bound to it, persisting
 * every state change to LevelDB (LevelDeskStore, synced group commit) and keeping the waiting
 * line in a PriorityQueue on a sublevel of the same LevelDB (the default queueStore; queue writes
 * not fsynced, reconciled with the conversations on restart). The clients (one child
 * process, so that their work does not share the server's event loop): `agents` agents with
 * capacity `capacity` who accept every `desk.offer` at once and close each chat `hold` ms (on
 * average; uniform from hold/2 to 3*hold/2) after `desk.assigned`; then `visitors` visitors, all connected first, who send `open` in one burst.
 * A visitor's wait is from its `open` to its `desk.assigned` (one clock: the child's). A share
 * `vip` of the visitors have a VIP profile (priority 1) and should wait less.
 *
 * The same burst also runs against the Desk alone (no hub, no sockets; agents auto-accept) on
 * LevelDB and on memory, to show what routing costs without the transport. There is no peer in
 * the same run: Chatwoot, Tiledesk and Rocket.Chat are whole applications, not libraries.
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Hub, Desk, LevelDeskStore, MemoryDeskStore, type DeskStore } from '@kefu/core';
import { arg, quick, ratio, report, round } from './lib/report.js';

const visitors = Number(arg('visitors', quick ? '1000' : '5000'));
const agents = Number(arg('agents', quick ? '20' : '100'));
const capacity = Number(arg('capacity', '5'));
const holdMs = Number(arg('hold', '100'));
const vipShare = Number(arg('vip', '0.1'));
const TENANT = 'shop';

/** Agents do not all close at the same instant: uniform in [hold/2, 3*hold/2], mean `hold`. */
const hold = () => holdMs * (0.5 + Math.random());
const isVip = (i: number) => i % Math.round(1 / vipShare) === 0;
const vipProfiles = { get: async (uid: string) => ({ vip: uid.startsWith('vip') ? 1 : 0 }) };

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface RunResult {
  all: number[];
  vip: number[];
  normal: number[];
  spanMs: number;
  assigned: number;
}

function summarize(r: RunResult) {
  const all = [...r.all].sort((a, b) => a - b);
  const vip = [...r.vip].sort((a, b) => a - b);
  const normal = [...r.normal].sort((a, b) => a - b);
  return {
    first_assignment_p50_ms: round(pct(all, 50), 1),
    first_assignment_p99_ms: round(pct(all, 99), 1),
    assignments_per_s: Math.round(r.assigned / (r.spanMs / 1000)),
    vip_wait_p50_ms: round(pct(vip, 50), 1),
    normal_wait_p50_ms: round(pct(normal, 50), 1),
    assigned: r.assigned,
  };
}

// ---------------------------------------------------------------------------------------------
// child: the clients
// ---------------------------------------------------------------------------------------------

async function clientsChild(url: string): Promise<void> {
  const connect = (as: string) => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(`${url}?as=${encodeURIComponent(as)}`, ['kefu.v1'], { perMessageDeflate: false });
    ws.once('message', () => resolve(ws)); // welcome
    ws.once('error', reject);
  });
  let ref = 0;
  const agentSockets: WebSocket[] = [];
  for (let i = 0; i < agents; i++) {
    const ws = await connect(`${TENANT}:agent${i}:agent`);
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as { t: string; name?: string; data?: { offerId?: string; conv?: string; agent?: { id: string } } };
      if (f.t !== 'event') return;
      if (f.name === 'desk.offer') ws.send(JSON.stringify({ t: 'cmd', ref: `a${++ref}`, name: 'desk.accept', args: { offerId: f.data!.offerId } }));
      else if (f.name === 'desk.assigned' && f.data!.agent?.id === `agent${i}`) {
        const conv = f.data!.conv!;
        setTimeout(() => ws.send(JSON.stringify({ t: 'cmd', ref: `c${++ref}`, name: 'desk.close', conv })), hold());
      }
    });
    agentSockets.push(ws);
  }
  const vs: WebSocket[] = [];
  const BATCH = 200;
  for (let i = 0; i < visitors; i += BATCH) {
    const n = Math.min(BATCH, visitors - i);
    vs.push(...(await Promise.all(Array.from({ length: n }, (_, k) => connect(`${TENANT}:${isVip(i + k) ? 'vip' : 'v'}${i + k}:visitor`)))));
  }
  process.send!({ t: 'connected' });
  await new Promise<void>((r) => process.once('message', () => r()));

  const res: RunResult = { all: [], vip: [], normal: [], spanMs: 0, assigned: 0 };
  let last = 0;
  const t0 = performance.now();
  const done = new Promise<void>((resolve) => {
    vs.forEach((ws, i) => {
      const sent = performance.now();
      ws.on('message', (data) => {
        const s = String(data);
        if (!s.includes('desk.assigned')) return;
        const now = performance.now();
        const wait = now - sent;
        res.all.push(wait);
        (isVip(i) ? res.vip : res.normal).push(wait);
        res.assigned++;
        last = now;
        if (res.assigned === visitors) resolve();
      });
      ws.send(JSON.stringify({ t: 'open', ref: 'o' }));
    });
  });
  const timeout = new Promise<void>((r) => setTimeout(r, quick ? 30_000 : 120_000).unref());
  await Promise.race([done, timeout]);
  res.spanMs = last - t0;
  process.send!({ t: 'result', res });
  for (const ws of [...vs, ...agentSockets]) ws.terminate();
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// server: hub + desk over sockets
// ---------------------------------------------------------------------------------------------

async function overSockets(): Promise<{ r: RunResult; rssPeakMb: number; heapPeakMb: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'kefu-bench-desk-'));
  const server = createServer();
  let desk: Desk | undefined;
  const hub = new Hub({
    authenticate: (req) => {
      const m = /[?&]as=([^&]+)/.exec(req.url ?? '');
      const [tenant, id, role] = decodeURIComponent(m?.[1] ?? '').split(':');
      return tenant && id && (role === 'visitor' || role === 'agent') ? { tenant, id, role } : null;
    },
    rateLimit: { perSec: 100_000, burst: 100_000 },
    authorizeJoin: (identity, conv) => desk?.mayJoin(identity, conv.id) ?? false,
  });
  hub.attach(server, { path: '/kefu' });
  desk = new Desk({ hub, store: new LevelDeskStore({ location: dir }), profiles: vipProfiles, agentProfile: () => ({ capacity }), maxWaiting: visitors, idleCloseMs: 0 });
  desk.on('error', (e) => console.error('desk error:', e));
  await desk.open();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/kefu`;

  const child = fork(fileURLToPath(import.meta.url), ['--child', url, ...process.argv.slice(2)], { execArgv: ['--import', 'tsx'] });
  const msg = <T>(t: string) => new Promise<T>((resolve) => child.on('message', (m: { t: string }) => { if (m.t === t) resolve(m as T); }));
  await msg('connected');
  while (desk.stats.agentsOnline < agents) await new Promise((r) => setTimeout(r, 20));
  let rssPeak = 0;
  let heapPeak = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    rssPeak = Math.max(rssPeak, m.rss);
    heapPeak = Math.max(heapPeak, m.heapUsed);
  }, 50);
  const result = msg<{ res: RunResult }>('result');

  child.send({ t: 'go' });
  const { res } = await result;
  clearInterval(sampler);
  await desk.close();
  await desk.store.close();
  await hub.close();
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
  return { r: res, rssPeakMb: round(rssPeak / 2 ** 20, 1), heapPeakMb: round(heapPeak / 2 ** 20, 1) };
}

/** Lets pending callbacks finish and collects twice (run with --expose-gc, as bench/run.mjs does). */
async function settleHeap(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 50));
    globalThis.gc?.();
  }
}

// ---------------------------------------------------------------------------------------------
// the desk alone (no hub)
// ---------------------------------------------------------------------------------------------

async function engineOnly(store: DeskStore): Promise<{ r: RunResult; heapKibPerWaiting: number }> {
  const desk = new Desk({ store, profiles: vipProfiles, autoAccept: true, maxWaiting: visitors, idleCloseMs: 0, agentProfile: () => ({ capacity }) });
  await desk.open();
  const res: RunResult = { all: [], vip: [], normal: [], spanMs: 0, assigned: 0 };
  const started = new Map<string, number>();
  let last = 0;
  const done = new Promise<void>((resolve) => {
    desk.on('assigned', (conv, agentId) => {
      const now = performance.now();
      const wait = now - started.get(conv.id)!;
      res.all.push(wait);
      (conv.priority > 0 ? res.vip : res.normal).push(wait);
      res.assigned++;
      last = now;
      setTimeout(() => { desk.closeConversation({ tenant: TENANT, id: agentId, role: 'agent' }, conv.id).catch(() => {}); }, hold());
      if (res.assigned === visitors) resolve();
    });
  });
  // Memory of a full waiting line: visitors queue before any agent is online.
  await settleHeap();
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: visitors }, (_, i) => {
    const id = `c${i}`;
    started.set(id, performance.now());
    return desk.startConversation({ id, tenant: TENANT, visitor: { id: `${isVip(i) ? 'vip' : 'v'}${i}`, role: 'visitor' } });
  }));
  await settleHeap();
  const heapKibPerWaiting = round((process.memoryUsage().heapUsed - heapBefore) / 1024 / visitors, 2);
  // Arrival ends here; agents come online now, so waits include the time spent before them.
  for (let i = 0; i < agents; i++) await desk.agentOnline({ tenant: TENANT, id: `agent${i}`, role: 'agent' });
  await Promise.race([done, new Promise((r) => setTimeout(r, quick ? 30_000 : 120_000).unref())]);
  res.spanMs = last - t0;
  await desk.close();
  await store.close();
  return { r: res, heapKibPerWaiting };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  console.log(`desk bench: ${visitors} visitors in a burst (${Math.round(vipShare * 100)}% VIP), ${agents} agents x capacity ${capacity}, hold ${holdMs} ms${quick ? ' (quick)' : ''}`);
  const ws = await overSockets();
  const sockets = summarize(ws.r);
  console.log('over sockets:', sockets);
  if (process.argv.includes('--sockets-only')) return;
  const dir = mkdtempSync(join(tmpdir(), 'kefu-bench-desk-engine-'));
  const engLevel = await engineOnly(new LevelDeskStore({ location: dir }));
  rmSync(dir, { recursive: true, force: true });
  console.log('engine level:', summarize(engLevel.r));
  const engMem = await engineOnly(new MemoryDeskStore());
  const level = summarize(engLevel.r);
  const memory = summarize(engMem.r);
  const rows = [
    { run: 'hub + desk over WebSocket, LevelDB', ...sockets },
    { run: 'desk alone, LevelDB', ...level },
    { run: 'desk alone, memory', ...memory },
  ];
  const slots = agents * capacity;
  report({
    bench: 'desk',
    params: { visitors, agents, capacity, hold_ms: holdMs, vip_share: vipShare, slot_bound_per_s: Math.round(slots / (holdMs / 1000)) },
    kefu: {
      ...sockets,
      server_rss_peak_mb: ws.rssPeakMb,
      server_heap_peak_mb: ws.heapPeakMb,
      engine_level: level,
      engine_memory: memory,
      heap_kib_per_waiting: engMem.heapKibPerWaiting,
    },
    peers: {},
    ratios: {
      vip_vs_normal_wait_p50: ratio(sockets.vip_wait_p50_ms, sockets.normal_wait_p50_ms),
      sockets_vs_engine_level_assignments: ratio(sockets.assignments_per_s, level.assignments_per_s),
    },
  }, rows);
}

const ci = process.argv.indexOf('--child');
if (ci >= 0) await clientsChild(process.argv[ci + 1]!);
else await main();
