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
 * With `--ack --durable <dir>` it is the floor of a relay that acknowledges only what is on disk,
 * as the issue asks of Kefu: a sequence number per conversation (a counter in a Map), each message
 * put into a LevelDB batch (`level`, the store Kefu uses) that is written with fsync 5 ms after its
 * first message (Kefu's default commitIntervalMs; a batch does not wait for the one before it,
 * LevelDB queues them), the message relayed at once and the sender's ack,
 * with its seq, sent once its batch is durable. No cid index, no dedupe, no shown log, no validation:
 * the least a relay with a durable log can do, to tell the durable log's own cost on this machine
 * from Kefu's.
 *
 * With `--redis <url>` (cluster bench) it is the floor of a cross-node relay: a node that holds a
 * member of a conversation SUBSCRIBEs to the conversation's channel, and every message is
 * PUBLISHed there once (ioredis, one publishing and one subscribing connection per node) besides
 * going to local members; a node skips what it published itself. No store, no ack, no sequence
 * numbers: the least a relay sharing Redis can do.
 *
 * Run as a child of bench/hub-*.ts or bench/cluster.ts: prints nothing, answers RPC (see
 * bench/lib/child-rpc.ts).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { serve } from '../lib/child-rpc.js';
import { statsHandlers } from '../lib/server-stats.js';
import { verifyToken } from '../lib/jwt.js';
import { arg } from '../lib/report.js';

interface Conn { id: string; conv: string | undefined }

const ack = process.argv.includes('--ack');
const durableDir = arg('durable', '');
if (durableDir && !ack) throw new TypeError('--durable needs --ack');
const redisUrl = arg('redis', '');
const rooms = new Map<string, Set<WebSocket>>();

/** Cross-node fan-out (--redis): publish every message, subscribe to the conversations held here. */
interface Relay { publish(conv: string, frame: string): void; hold(conv: string): void; release(conv: string): void; close(): Promise<void> }
async function redisRelay(url: string): Promise<Relay> {
  const { Redis } = await import('ioredis');
  const pub = new Redis(url);
  const sub = pub.duplicate();
  // Every frame carries its node's tag so that a node does not deliver its own publish twice.
  const tag = `${process.pid}|`;
  sub.on('message', (channel: string, payload: string) => {
    if (payload.startsWith(tag)) return;
    const room = rooms.get(channel.slice(2));
    if (!room) return;
    const frame = payload.slice(payload.indexOf('|') + 1);
    for (const peer of room) peer.send(frame);
  });
  return {
    publish: (conv, frame) => { void pub.publish(`c:${conv}`, tag + frame); },
    hold: (conv) => { void sub.subscribe(`c:${conv}`); },
    release: (conv) => { void sub.unsubscribe(`c:${conv}`); },
    close: async () => { sub.disconnect(); pub.disconnect(); },
  };
}
const relay = redisUrl ? await redisRelay(redisUrl) : undefined;

/** --durable: seqs per conversation and a LevelDB batch synced every 5 ms; `after` runs once durable. */
interface DurableLog { append(conv: string, frameOf: (seq: number) => string, after: (seq: number) => void): string; close(): Promise<void> }
async function durableLog(dir: string): Promise<DurableLog> {
  const { Level } = await import('level');
  const db = new Level<string, string>(dir);
  await db.open();
  const seqs = new Map<string, number>();
  let batch = db.batch();
  let acks: Array<() => void> = [];
  let timer: NodeJS.Timeout | undefined;
  const commit = (): void => {
    timer = undefined;
    const [b, done] = [batch, acks];
    batch = db.batch();
    acks = [];
    b.write({ sync: true }).then(() => { for (const f of done) f(); }, (err: unknown) => console.error('raw-ws --durable: batch failed', err));
  };
  return {
    append(conv, frameOf, after) {
      const seq = (seqs.get(conv) ?? 0) + 1;
      seqs.set(conv, seq);
      const frame = frameOf(seq);
      batch.put(`${conv}!${seq}`, frame);
      acks.push(() => after(seq));
      timer ??= setTimeout(commit, 5);
      return frame;
    },
    close: () => db.close(),
  };
}
const log = durableDir ? await durableLog(durableDir) : undefined;
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
      if (!room) { rooms.set(conv, (room = new Set())); relay?.hold(conv); }
      room.add(ws);
    }
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let f: { t?: unknown; conv?: unknown; cid?: unknown; body?: unknown };
      try { f = JSON.parse(data.toString()) as typeof f; } catch { return; }
      if (f.t !== 'send' || typeof f.conv !== 'string') return;
      const room = rooms.get(f.conv);
      if (!room || !room.has(ws)) return;
      const conv = f.conv;
      const out = log
        ? log.append(conv, (seq) => JSON.stringify({ t: 'msg', conv, seq, cid: f.cid, from: conn.id, body: f.body }),
          (seq) => ws.send(`{"t":"ack","conv":${JSON.stringify(conv)},"cid":${JSON.stringify(f.cid)},"seq":${seq}}`))
        : JSON.stringify({ t: 'msg', conv, cid: f.cid, from: conn.id, body: f.body });
      for (const peer of room) if (peer !== ws) peer.send(out);
      relay?.publish(conv, out);
      if (ack && !log) ws.send(`{"t":"ack","conv":${JSON.stringify(conv)},"cid":${JSON.stringify(f.cid)}}`);
    });
    ws.on('close', () => {
      if (conn.conv === undefined) return;
      const room = rooms.get(conn.conv);
      room?.delete(ws);
      if (room?.size === 0) { rooms.delete(conn.conv); relay?.release(conn.conv); }
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
      void relay?.close();
      void log?.close();
      server.close(() => resolve());
      setTimeout(resolve, 2_000).unref();
    }),
  );
});
