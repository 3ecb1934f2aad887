/**
 * The Kefu hub as a bench server: a plain node:http server with `hub.attach(server, { path })`,
 * authentication by the built-in jwtAuthenticator (HS256 shared secret, token in the query
 * string), and either a durable LevelConversationStore (fsync before ack, its default) in the
 * directory given by --dir, or the MemoryConversationStore (--store memory).
 *
 *   node --import tsx bench/servers/kefu-hub.ts --store level|memory|redis --dir <path> [--redis <url>] [--idle-timeout-ms N]
 *                                              [--heartbeat-ms N] [--deliver-ahead N] [--commit-interval-ms N]   (LevelDB store options)
 *                                              [--core <dir>]
 *
 * With --redis (cluster bench), the node shares a RedisBus and, with --store redis, a
 * RedisConversationStore, so that any node serves any conversation; @kefu/redis is imported only
 * then, so the single-node benches do not need it built. The cluster bench passes
 * `--idle-timeout-ms 0`: opening 100,000 connections outlasts the hub's 5-minute idle timeout and the
 * bench holds idle pairs on purpose (Socket.IO, the peer, has no such timeout; the ping sweep stays on).
 *
 * --core <dir> runs another build of @kefu/core (its dist directory, e.g. one built from an older
 * commit in a git worktree inside this repository, so that its imports resolve here): with
 * hub-latency's `--variant old=--core,<dir>`, two builds are measured in one run.
 *
 * Run as a child of bench/hub-*.ts (see bench/lib/child-rpc.ts). Imports @kefu/core's built
 * dist: rebuild it first (npx tsc -p packages/core/tsconfig.json).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '../lib/child-rpc.js';
import { statsHandlers } from '../lib/server-stats.js';
import { BENCH_SECRET } from '../lib/jwt.js';
import { arg } from '../lib/report.js';

const store = arg('store', 'level');
const dir = arg('dir', '');
const redisUrl = arg('redis', '');
const idleTimeout = arg('idle-timeout-ms', '');
const heartbeat = arg('heartbeat-ms', '');
const deliverAhead = arg('deliver-ahead', '');
const commitInterval = arg('commit-interval-ms', '');
const coreDir = arg('core', '');
const { Hub, jwtAuthenticator, LevelConversationStore, MemoryConversationStore } = (coreDir
  ? await import(pathToFileURL(resolve(coreDir, 'index.js')).href)
  : await import('@kefu/core')) as typeof import('@kefu/core');
const levelOptions = {
  ...(deliverAhead ? { deliverAhead: Number(deliverAhead) } : {}),
  ...(commitInterval ? { commitIntervalMs: Number(commitInterval) } : {}),
};
if (store !== 'level' && store !== 'memory' && store !== 'redis') throw new TypeError('--store must be level, memory or redis');
if (store === 'redis' && !redisUrl) throw new TypeError('--store redis needs --redis');
if (store === 'level' && !dir) throw new TypeError('--store level needs --dir');
if (dir) mkdirSync(dir, { recursive: true });

const redis = redisUrl ? await import('@kefu/redis') : undefined;
const hub = new Hub({
  authenticate: jwtAuthenticator({ secret: BENCH_SECRET }),
  store: store === 'level' ? new LevelConversationStore({ location: dir, ...levelOptions })
    : store === 'redis' && redis ? new redis.RedisConversationStore(redisUrl)
    : new MemoryConversationStore(),
  ...(redis ? { bus: new redis.RedisBus(redisUrl) } : {}),
  ...(idleTimeout ? { idleTimeoutMs: Number(idleTimeout) } : {}),
  ...(heartbeat ? { heartbeatMs: Number(heartbeat) } : {}),
});
let errors = 0;
hub.on('error', (err) => { if (errors++ < 5) console.error('kefu hub error:', err); });
await hub.store.open();

const server = createServer((_req, res) => { res.statusCode = 404; res.end(); });
hub.attach(server, { path: '/kefu' });

server.listen(0, '127.0.0.1', 1024, () => {
  const { port } = server.address() as AddressInfo;
  serve(
    { ...statsHandlers, connections: () => hub.connections, errors: () => errors },
    { port, path: '/kefu', store },
    async () => {
      await Promise.race([hub.close(), new Promise((r) => setTimeout(r, 3_000).unref())]);
      server.close();
    },
  );
});
