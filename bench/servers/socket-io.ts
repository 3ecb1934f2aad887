/**
 * What a Node team would pick instead: Socket.IO 4, one room per conversation. The handshake
 * is authenticated with the same HS256 JWT (auth.token); clients `join` their conversation's
 * room; a `send` is relayed to the room (minus the sender) as `msg` and acknowledged with the
 * Socket.IO ack callback (Kefu acks too). WebSocket transport only, no per-message deflate.
 *
 * With --redis <url> (cluster bench) the nodes share rooms through @socket.io/redis-adapter.
 *
 * Run as a child of bench/hub-*.ts (see bench/lib/child-rpc.ts).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { serve } from '../lib/child-rpc.js';
import { statsHandlers } from '../lib/server-stats.js';
import { verifyToken } from '../lib/jwt.js';
import { arg } from '../lib/report.js';

const redisUrl = arg('redis', '');

interface SendMsg { conv: string; cid: string; body: string }

const server = createServer();
const io = new Server(server, {
  transports: ['websocket'],
  perMessageDeflate: false,
  serveClient: false,
  maxHttpBufferSize: 64 * 1024,
});

if (redisUrl) {
  const [{ Redis }, { createAdapter }] = await Promise.all([import('ioredis'), import('@socket.io/redis-adapter')]);
  const pub = new Redis(redisUrl);
  io.adapter(createAdapter(pub, pub.duplicate()));
}

io.use((socket, next) => {
  const claims = verifyToken((socket.handshake.auth as { token?: string }).token);
  if (!claims) { next(new Error('unauthorized')); return; }
  socket.data.user = claims.sub;
  next();
});

io.on('connection', (socket) => {
  socket.on('join', (conv: unknown, cb?: unknown) => {
    if (typeof conv !== 'string') return;
    void socket.join(conv);
    if (typeof cb === 'function') (cb as (r: unknown) => void)({ conv });
  });
  socket.on('send', (m: SendMsg, cb?: unknown) => {
    if (typeof m?.conv !== 'string' || !socket.rooms.has(m.conv)) return;
    socket.to(m.conv).emit('msg', { conv: m.conv, cid: m.cid, from: socket.data.user as string, body: m.body });
    if (typeof cb === 'function') (cb as (r: unknown) => void)({ cid: m.cid });
  });
});

server.listen(0, '127.0.0.1', 1024, () => {
  const { port } = server.address() as AddressInfo;
  serve(
    { ...statsHandlers, connections: () => io.engine.clientsCount },
    { port, path: '/socket.io/' },
    () => new Promise<void>((resolve) => {
      io.close(() => resolve());
      setTimeout(resolve, 2_000).unref();
    }),
  );
});
