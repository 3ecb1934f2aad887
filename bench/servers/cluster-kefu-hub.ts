/**
 * One Kefu hub node of the cluster bench: node:http + Hub + RedisBus + RedisConversationStore,
 * authenticated by jwtAuthenticator (HS256, token in the query string), like bench/servers/kefu-hub.ts
 * with `--store redis`, plus one difference that matters at 100,000 connections: the hub's idle
 * timeout (a socket that sends no frame for 5 minutes is closed, 4001) is off by default here.
 * Opening 100,000 connections takes longer than 5 minutes on a shared 2-core machine, and the
 * bench holds idle pairs on purpose; Socket.IO, the peer, has no such timeout (its heartbeat is
 * the equivalent of Kefu's ping sweep, which stays on).
 *
 *   node --import tsx bench/servers/cluster-kefu-hub.ts --redis <url> [--idle-timeout-ms 0]
 *
 * Run as a child of bench/cluster.ts (see bench/lib/child-rpc.ts). Imports the built dist of
 * @kefu/core and @kefu/redis: build them first.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hub, jwtAuthenticator } from '@kefu/core';
import { RedisBus, RedisConversationStore } from '@kefu/redis';
import { serve } from '../lib/child-rpc.js';
import { statsHandlers } from '../lib/server-stats.js';
import { BENCH_SECRET } from '../lib/jwt.js';
import { arg } from '../lib/report.js';

const redisUrl = arg('redis', '');
const idleTimeoutMs = Number(arg('idle-timeout-ms', '0'));
if (!redisUrl) throw new TypeError('--redis <url> is required');

const hub = new Hub({
  authenticate: jwtAuthenticator({ secret: BENCH_SECRET }),
  store: new RedisConversationStore(redisUrl),
  bus: new RedisBus(redisUrl),
  idleTimeoutMs,
});
let errors = 0;
hub.on('error', (err) => { if (errors++ < 5) console.error('kefu cluster node error:', err); });
await hub.store.open();

const server = createServer((_req, res) => { res.statusCode = 404; res.end(); });
hub.attach(server, { path: '/kefu' });

server.listen(0, '127.0.0.1', 1024, () => {
  const { port } = server.address() as AddressInfo;
  serve(
    { ...statsHandlers, connections: () => hub.connections, errors: () => errors },
    { port, path: '/kefu', store: 'redis', idleTimeoutMs },
    async () => {
      await Promise.race([hub.close(), new Promise((r) => setTimeout(r, 3_000).unref())]);
      server.close();
    },
  );
});
