/**
 * The floor: a raw `ws` relay of the same traffic as the hub. It authenticates the upgrade
 * with the same HS256 JWT, keeps conversation -> sockets in a Map (a visitor and an agent pass
 * `conv` in the query string), parses each inbound JSON frame and relays a `msg` frame to the
 * other members. No ack, no sequence numbers, no log: the least a relay can do.
 *
 * With `--ack` it also answers the sender with an `ack` frame per message (no seq, no log): the
 * least a relay that acknowledges can do. It is the control that separates the protocol's cost
 * (one more socket write per message, which wakes the sender's process) from Kefu's own.
 *
 * Run as a child of bench/hub-*.ts: prints nothing, answers RPC (see bench/lib/child-rpc.ts).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { serve } from '../lib/child-rpc.js';
import { statsHandlers } from '../lib/server-stats.js';
import { verifyToken } from '../lib/jwt.js';

interface Conn { id: string; conv: string | undefined }

const ack = process.argv.includes('--ack');
const rooms = new Map<string, Set<WebSocket>>();
const server = createServer((_req, res) => { res.statusCode = 404; res.end(); });
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024, clientTracking: true });

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const claims = verifyToken(url.searchParams.get('token'));
  if (!claims) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const conv = url.searchParams.get('conv') ?? undefined;
  wss.handleUpgrade(req, socket, head, (ws) => {
    const conn: Conn = { id: claims.sub, conv };
    if (conv !== undefined) {
      let room = rooms.get(conv);
      if (!room) rooms.set(conv, (room = new Set()));
      room.add(ws);
    }
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let f: { t?: unknown; conv?: unknown; cid?: unknown; body?: unknown };
      try { f = JSON.parse(data.toString()) as typeof f; } catch { return; }
      if (f.t !== 'send' || typeof f.conv !== 'string') return;
      const room = rooms.get(f.conv);
      if (!room || !room.has(ws)) return;
      const out = JSON.stringify({ t: 'msg', conv: f.conv, cid: f.cid, from: conn.id, body: f.body });
      for (const peer of room) if (peer !== ws) peer.send(out);
      if (ack) ws.send(`{"t":"ack","conv":${JSON.stringify(f.conv)},"cid":${JSON.stringify(f.cid)}}`);
    });
    ws.on('close', () => {
      if (conn.conv === undefined) return;
      const room = rooms.get(conn.conv);
      room?.delete(ws);
      if (room?.size === 0) rooms.delete(conn.conv);
    });
    ws.on('error', () => undefined);
  });
});

server.listen(0, '127.0.0.1', 1024, () => {
  const { port } = server.address() as AddressInfo;
  serve(
    { ...statsHandlers, connections: () => wss.clients.size },
    { port, path: '/' },
    () => new Promise<void>((resolve) => {
      for (const ws of wss.clients) ws.terminate();
      server.close(() => resolve());
      setTimeout(resolve, 2_000).unref();
    }),
  );
});
