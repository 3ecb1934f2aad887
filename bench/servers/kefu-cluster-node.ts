/**
 * One Kefu node of the cluster bench: node:http + Hub (HS256 jwtAuthenticator, acks on) +
 * RedisBus + RedisConversationStore on one shared redis-server. Only bench/cluster.ts runs it.
 *
 *   node --import tsx bench/servers/kefu-cluster-node.ts --redis <url> [--variant linked|session3]
 *        [--idle-timeout-ms N] [--profile-dir <dir>]
 *
 * `--variant linked` (the default, what docs/scaling.md recommends): the store publishes each
 * message frame inside its append script (`{ bus }`) and both connections batch their writes per
 * turn of the event loop. `--variant session3`: neither (an append, then the hub's publish, each
 * command its own send), to measure the difference in the same run.
 * With --profile-dir, the RPCs `profile-start` / `profile-stop` take a CPU profile of exactly the
 * measured window (node:inspector), written there as <variant>-<pid>.cpuprofile.
 *
 * Imports the built dist of @kefu/core and @kefu/redis: build them first.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { Hub, jwtAuthenticator } from '@kefu/core';
import { RedisBus, RedisConversationStore } from '@kefu/redis';
import { serve } from '../lib/child-rpc.js';
import { statsHandlers } from '../lib/server-stats.js';
import { BENCH_SECRET } from '../lib/jwt.js';
import { arg } from '../lib/report.js';

const redisUrl = arg('redis', '');
const variant = arg('variant', 'linked');
const idleTimeout = arg('idle-timeout-ms', '');
const profileDir = arg('profile-dir', '');
if (!redisUrl) throw new TypeError('--redis is required');
if (variant !== 'linked' && variant !== 'session3') throw new TypeError('--variant must be linked or session3');

const linked = variant === 'linked';
const bus = new RedisBus(redisUrl, { batchWrites: linked });
const hub = new Hub({
  authenticate: jwtAuthenticator({ secret: BENCH_SECRET }),
  store: new RedisConversationStore(redisUrl, linked ? { bus } : { batchWrites: false }),
  bus,
  ...(idleTimeout ? { idleTimeoutMs: Number(idleTimeout) } : {}),
});
let errors = 0;
hub.on('error', (err) => { if (errors++ < 5) console.error('kefu hub error:', err); });
await hub.store.open();

let session: Session | undefined;
const profiling = {
  'profile-start': async (): Promise<null> => {
    if (!profileDir) return null;
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    return null;
  },
  'profile-stop': async (): Promise<string | null> => {
    if (!session) return null;
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    session = undefined;
    const file = join(profileDir, `${variant}-${process.pid}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    return file;
  },
};

/** Read and write system calls of this process so far (Linux /proc/self/io; zeros elsewhere). */
function io(): { syscr: number; syscw: number } {
  try {
    const t = readFileSync('/proc/self/io', 'utf8');
    return { syscr: Number(/syscr: (\d+)/.exec(t)?.[1] ?? 0), syscw: Number(/syscw: (\d+)/.exec(t)?.[1] ?? 0) };
  } catch {
    return { syscr: 0, syscw: 0 };
  }
}

const server = createServer((_req, res) => { res.statusCode = 404; res.end(); });
hub.attach(server, { path: '/kefu' });
server.listen(0, '127.0.0.1', 1024, () => {
  const { port } = server.address() as AddressInfo;
  serve(
    { ...statsHandlers, ...profiling, connections: () => hub.connections, errors: () => errors, bus: () => bus.stats, io, cpu: () => process.cpuUsage() },
    { port, path: '/kefu', store: 'redis', variant },
    async () => {
      await Promise.race([hub.close(), new Promise((r) => setTimeout(r, 3_000).unref())]);
      server.close();
    },
  );
});
