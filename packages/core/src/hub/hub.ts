/**
 * The connection hub: accepts authenticated kefu.v1 WebSockets from the host's HTTP server,
 * runs conversations (open/join/leave/send/typing/read/resume), fans messages out to members
 * on this node directly and to other nodes through the bus.
 *
 * Topics on the bus: `c:<conv>` (encoded frames for a conversation's sockets),
 * `u:<tenant>\0<user>` (frames for a user's sockets, or `!`+JSON membership controls),
 * `a:<tenant>` (agent presence, for the tenant's agents).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import { WebSocketServer, type RawData } from 'ws';
import {
  KefuError, isKefuError, isValidId, checkData, decodeClientFrame, encodeFrame, CloseCode, PROTOCOL, PROTOCOL_VERSION,
  type ClientFrame, type ServerFrame, type KefuErrorCode, type JsonObject, type Sender, type PresenceStatus,
  type SendFrame, type ResumeFrame, type CommandFrame, type MessageFrame,
} from '@kefu/protocol';
import type { ConversationStore } from '../conversation/conversation-store.js';
import type { AppendInput, AppendResult } from '../conversation/types.js';
import type { Bus } from '../bus/bus.js';
import { Connection, kConn, takeToken, type SocketWithConn } from './connection.js';
import { HubMetrics } from './metrics.js';
import { resolveHubOptions, type ResolvedHubOptions } from './options.js';
import { refuseUpgrade, offersProtocol, noop } from './upgrade.js';
import { LocalIndex, userKey, topic } from './local-index.js';
import { sweep, sweepSlices } from './heartbeat.js';
import { replay, flushHeld, type ReplayContext } from './resume.js';
import { GapHealer } from './gap-healer.js';
import { SocketWriter, type Echo } from './socket-writer.js';
import { refusedFrameIds } from './refused-frame-ids.js';
import { identityProblem, draftProblem, checkEventName, checkEventData, NAME_RE } from './validate.js';
import type {
  CommandHandler, ConversationInfo, HubEvents, HubHealth, HubOptions, Identity, MessageDraft,
} from './types.js';

interface MembershipControl { op: 'join' | 'leave'; conv: string; reason?: string; joined?: string; seq?: number }

/** True when an encoded presence frame is about `id` (encodeFrame puts t, then user.id first). */
function isPresenceOf(payload: string, id: string): boolean {
  return payload.startsWith(`{"t":"presence","user":{"id":${JSON.stringify(id)},`);
}

// Shared socket listeners: one function each for all sockets, `this` is the socket.
function onSocketMessage(this: SocketWithConn, data: RawData, isBinary: boolean): void {
  const c = this[kConn];
  if (c) c.owner._frame(c, data, isBinary);
}
function onSocketClose(this: SocketWithConn, code: number, reason: Buffer): void {
  const c = this[kConn];
  if (c) c.owner._closed(c, code, reason);
}
function onSocketPong(this: SocketWithConn): void {
  const c = this[kConn];
  if (c) c.alive = true;
}

export class Hub extends EventEmitter<HubEvents> {
  readonly store: ConversationStore;
  readonly bus: Bus;
  readonly metrics: HubMetrics;
  readonly #o: ResolvedHubOptions;
  readonly #wss: WebSocketServer;
  readonly #conns = new Set<Connection>();
  readonly #index: LocalIndex;
  readonly #replay: ReplayContext;
  readonly #healer: GapHealer;
  #busDownSince = 0;
  #settle: NodeJS.Timeout | undefined;
  readonly #away = new Set<string>();
  readonly #commands = new Map<string, CommandHandler>();
  readonly #attached: Array<{ server: Server; listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void }> = [];
  readonly #idleTicks: number;
  readonly #limitsJson: string;
  readonly #out: SocketWriter;
  #timer: NodeJS.Timeout;
  #session = 0;
  #tick = 0;
  #slices = 1;
  #sliceLeft = 0;
  #sweepIt: Iterator<Connection> | undefined;
  #swept = 0;
  #inflight = 0;
  /** Sockets paused by back-pressure, resumed together when in-flight work falls to half. */
  #paused: Connection[] = [];
  #drainWaiters: Array<() => void> = [];
  #closing: Promise<void> | undefined;

  constructor(options: HubOptions) {
    super();
    this.#o = resolveHubOptions(options);
    this.store = this.#o.store;
    this.bus = this.#o.bus;
    this.metrics = new HubMetrics(() => this.#conns.size);
    this.#out = new SocketWriter(this.#o.highWaterMark, this.metrics.counts);
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      clientTracking: false,
      maxPayload: this.#o.maxPayload,
      handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
    });
    this.#idleTicks = this.#o.idleTimeoutMs === 0 ? 0 : Math.ceil(this.#o.idleTimeoutMs / this.#o.heartbeatMs);
    this.#limitsJson = JSON.stringify({
      maxPayload: this.#o.maxPayload, maxBody: this.#o.maxBody, ratePerSec: this.#o.rateLimit.perSec,
      rateBurst: this.#o.rateLimit.burst, maxConversations: this.#o.maxConversationsPerConnection,
    });
    this.#index = new LocalIndex(this.bus, (p) => this.#busCall(p), (conv) => this.#healer.forget(conv));
    this.#replay = { store: this.store, pageSize: this.#o.resumePageSize, highWaterMark: this.#o.highWaterMark, write: (c, s) => this.#out.write(c, s) };
    this.#healer = new GapHealer({
      store: this.store,
      pageSize: this.#o.resumePageSize,
      maxHeldBytes: this.#o.highWaterMark,
      hasRoom: (conv) => this.#index.rooms.has(conv),
      fanout: (conv, s, except) => this.#fanout(conv, s, except),
      healed: (conv, count) => {
        this.metrics.counts.healedMessages += count;
        this.emit('healed', { conv, count });
      },
      dropped: (n) => { this.metrics.counts.healDroppedFrames += n; },
      error: (err) => this.emit('error', err),
    });
    this.bus.on('message', (t, payload) => this.#fromBus(t, payload));
    this.bus.on('error', (err) => this.#busDown(err));
    this.bus.on('recovered', () => this.#busUp());
    // Deferred open: the first store operation would open it too; this surfaces failures early.
    this.store.open().catch((err: unknown) => this.emit('error', err as Error));
    this.#slices = sweepSlices(this.#o.heartbeatMs);
    this.#timer = setInterval(() => this.#sweep(), this.#o.heartbeatMs / this.#slices);
    this.#timer.unref();
  }

  /** Open sockets on this node. */
  get connections(): number {
    return this.#conns.size;
  }

  /** Bus and healing state, for a host's /health endpoint. */
  health(): HubHealth {
    const down = this.#busDownSince !== 0;
    const h: HubHealth = {
      ok: !down, bus: down ? 'down' : 'up', healing: this.#healer.healing, connections: this.#conns.size,
      inflight: this.#inflight, paused: this.#paused.length, closing: this.#closing !== undefined,
    };
    if (down) h.busDownSince = this.#busDownSince;
    return h;
  }

  /**
   * True when the user has at least one socket on this node. Node-local by design: the bus is
   * fire-and-forget and holds no state, so no node can know who is connected elsewhere (see
   * docs/scaling.md, "Presence across nodes").
   */
  isOnline(tenant: string, userId: string): boolean {
    return this.#index.users.has(userKey(tenant, userId));
  }

  /** Handles WebSocket upgrades on `server` for `path` (exact match, query ignored). */
  attach(server: Server, options: { path?: string } = {}): this {
    const path = options.path ?? '/kefu';
    if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError('options.path must start with "/"');
    const listener = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      if ((q === -1 ? url : url.slice(0, q)) !== path) {
        // Another listener may own that path; when there is none, answer rather than leave the socket hanging.
        if (server.listenerCount('upgrade') === 1) refuseUpgrade(socket, 404, 'KEFU_ERR_INVALID_ARGUMENT', 'no WebSocket endpoint at this path');
        return;
      }
      this.handleUpgrade(req, socket, head);
    };
    server.on('upgrade', listener);
    this.#attached.push({ server, listener });
    return this;
  }

  /**
   * Upgrades one request, after the origin, subprotocol and authentication checks. Refusals are
   * plain HTTP responses (403 origin, 400 subprotocol, 401/403 authentication, 503 shutting down).
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', noop);
    if (this.#closing) return refuseUpgrade(socket, 503, 'KEFU_ERR_SHUTTING_DOWN', 'server is shutting down');
    if (this.#o.origins) {
      const origin = req.headers.origin;
      if (typeof origin !== 'string' || !this.#o.origins.has(origin)) return refuseUpgrade(socket, 403, 'KEFU_ERR_ORIGIN_NOT_ALLOWED', 'origin not allowed');
    }
    if (!offersProtocol(req)) return refuseUpgrade(socket, 400, 'KEFU_ERR_INVALID_ARGUMENT', `subprotocol ${PROTOCOL} required`);
    let pending: ReturnType<HubOptions['authenticate']>;
    try {
      pending = this.#o.authenticate(req);
    } catch (err) {
      return this.#refuseAuth(socket, err);
    }
    Promise.resolve(pending).then((identity) => {
      if (this.#closing) return refuseUpgrade(socket, 503, 'KEFU_ERR_SHUTTING_DOWN', 'server is shutting down');
      if (!identity) return refuseUpgrade(socket, 401, 'KEFU_ERR_UNAUTHORIZED', 'not authenticated');
      const bad = identityProblem(identity);
      if (bad) {
        this.emit('error', new KefuError('KEFU_ERR_INTERNAL', `authenticate returned an invalid identity: ${bad}`));
        return refuseUpgrade(socket, 401, 'KEFU_ERR_UNAUTHORIZED', 'not authenticated');
      }
      if (socket.destroyed) return;
      socket.removeListener('error', noop);
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws as SocketWithConn, identity));
    }, (err: unknown) => this.#refuseAuth(socket, err));
  }

  #refuseAuth(socket: Duplex, err: unknown): void {
    if (isKefuError(err, 'KEFU_ERR_FORBIDDEN')) return refuseUpgrade(socket, 403, 'KEFU_ERR_FORBIDDEN', err.message);
    refuseUpgrade(socket, 401, 'KEFU_ERR_UNAUTHORIZED', isKefuError(err, 'KEFU_ERR_UNAUTHORIZED') ? err.message : 'not authenticated');
  }

  #accept(ws: SocketWithConn, identity: Identity): void {
    if (this.#closing) { ws.close(CloseCode.GOING_AWAY, 'server shutting down'); return; }
    const conn = new Connection(this, ws, identity, ++this.#session, this.#tick, this.#o.rateLimit.burst);
    ws[kConn] = conn;
    ws.on('message', onSocketMessage);
    ws.on('close', onSocketClose);
    ws.on('pong', onSocketPong);
    ws.on('error', noop);
    this.#conns.add(conn);
    this.metrics.counts.connectionsTotal++;
    const first = this.#index.addSocket(conn);
    const user: Sender & { tenant: string } = { ...conn.sender, tenant: identity.tenant };
    ws.send(`{"t":"welcome","v":${PROTOCOL_VERSION},"session":"${conn.session}","user":${JSON.stringify(user)},"heartbeatMs":${this.#o.heartbeatMs},"limits":${this.#limitsJson}}`);
    if (identity.role === 'agent' && first) this.#presence(identity.tenant, conn.sender, 'online');
    this.emit('connection', { session: conn.session, identity });
  }

  /** @internal Socket close: drop every index entry of the connection. */
  _closed(conn: Connection, code: number, reason: Buffer): void {
    conn.closed = true;
    if (!this.#conns.delete(conn)) return;
    const last = this.#index.removeSocket(conn);
    const { tenant, id, role } = conn.identity;
    if (role === 'agent' && last) {
      this.#away.delete(userKey(tenant, id));
      this.#presence(tenant, conn.sender, 'offline');
    }
    this.emit('disconnect', { session: conn.session, identity: conn.identity, code: conn.closeCode || code, reason: reason.toString() });
  }

  /** @internal One inbound frame. Synchronous until a handler needs the store. */
  _frame(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.closed) return;
    this.metrics.counts.framesIn++;
    conn.lastTick = this.#tick;
    conn.heard = true;
    const rl = this.#o.rateLimit;
    if (!takeToken(conn, Date.now(), rl.perSec, rl.burst)) {
      this.metrics.counts.rateLimited++;
      if (++conn.strikes > rl.strikes) return this.#out.close(conn, CloseCode.POLICY_VIOLATION, 'rate limit abuse');
      const echo = !isBinary && Buffer.isBuffer(data) ? refusedFrameIds(data) : undefined;
      return this.#out.error(conn, 'KEFU_ERR_RATE_LIMITED', `more than ${rl.perSec} frames/s (burst ${rl.burst})`, echo);
    }
    if (isBinary) return this.#out.error(conn, 'KEFU_ERR_BINARY_FRAME', 'binary frames are not part of kefu.v1');
    const r = decodeClientFrame((data as Buffer).toString(), { maxBody: this.#o.maxBody });
    if (!r.ok) return this.#out.error(conn, r.error.code, r.error.message, r.error);
    const f: ClientFrame = r.frame;
    switch (f.t) {
      case 'send':
        if (!conn.convs?.has(f.conv)) return this.#out.notMember(conn, f.conv, f.cid);
        return this.#run(conn, this.#send(conn, f), f);
      case 'open':
        if (conn.identity.role !== 'visitor') return this.#out.error(conn, 'KEFU_ERR_FORBIDDEN', 'only visitors open conversations', f);
        return this.#run(conn, this.#open(conn, f.ref, f.data), f);
      case 'join':
        return this.#run(conn, this.#join(conn, f.ref, f.conv, true), f);
      case 'resume':
        return this.#run(conn, this.#resume(conn, f), f);
      case 'leave':
        if (!conn.convs?.has(f.conv)) return this.#out.notMember(conn, f.conv);
        return this.#run(conn, this.#leave(conn, f.ref, f.conv), f);
      case 'typing':
        if (!conn.convs?.has(f.conv)) return this.#out.notMember(conn, f.conv);
        return this.#typing(conn, f.conv, f.on);
      case 'read':
        if (!conn.convs?.has(f.conv)) return this.#out.notMember(conn, f.conv);
        return this.#run(conn, this.#read(conn, f.conv, f.seq), f);
      case 'presence': {
        if (conn.identity.role !== 'agent') return this.#out.error(conn, 'KEFU_ERR_FORBIDDEN', 'only agents set presence');
        const key = userKey(conn.identity.tenant, conn.identity.id);
        const was = this.#away.has(key);
        if (f.status === 'away' && !was) { this.#away.add(key); this.#presence(conn.identity.tenant, conn.sender, 'away'); }
        else if (f.status === 'online' && was) { this.#away.delete(key); this.#presence(conn.identity.tenant, conn.sender, 'online'); }
        return;
      }
      case 'cmd':
        return this.#run(conn, this.#command(conn, f), f);
      case 'ping':
        return this.#out.write(conn, f.ref === undefined ? '{"t":"pong"}' : encodeFrame({ t: 'pong', ref: f.ref }));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // frame handlers
  // ---------------------------------------------------------------------------------------------

  /**
   * A client's message: stored, shown to the other members, acked to the sender. Without a
   * beforeMessage hook this is a plain promise chain, not an async function: it is the hub's
   * per-message path, and each async layer costs a generator and a promise per message (with the
   * store's, three layers were about 2 KB of the hub's 12 KB of garbage per message at 1,500
   * msg/s, and garbage is what makes the collector pause the hub).
   */
  #send(conn: Connection, f: SendFrame): Promise<unknown> {
    const t0 = performance.now();
    if (this.#o.beforeMessage) return this.#sendHooked(conn, f, t0, this.#o.beforeMessage);
    const input: AppendInput = f.data === undefined ? { cid: f.cid, from: conn.sender, body: f.body } : { cid: f.cid, from: conn.sender, body: f.body, data: f.data };
    return this.#append(f.conv, input, conn, (r) => this.#ack(conn, f, r, t0));
  }

  async #sendHooked(conn: Connection, f: SendFrame, t0: number, hook: NonNullable<HubOptions['beforeMessage']>): Promise<void> {
    const draft: MessageDraft = { body: f.body };
    if (f.data !== undefined) draft.data = f.data;
    // Hooks of one socket run in order, and each append starts right after its hook, so a
    // slow hook on one message cannot let the next one be stored first.
    const prev = conn.hookTail;
    const run = prev
      ? prev.then(() => hook({ identity: conn.identity, conversation: f.conv, cid: f.cid, message: draft }))
      : Promise.resolve(hook({ identity: conn.identity, conversation: f.conv, cid: f.cid, message: draft }));
    const tail = run.then(noop, noop);
    conn.hookTail = tail;
    let out: MessageDraft;
    try {
      out = await run;
    } finally {
      if (conn.hookTail === tail) conn.hookTail = undefined;
    }
    const bad = draftProblem(out, this.#o.maxBody);
    if (bad) throw new KefuError('KEFU_ERR_INTERNAL', `beforeMessage returned an invalid message: ${bad}`);
    const input: AppendInput = out.data === undefined ? { cid: f.cid, from: conn.sender, body: out.body } : { cid: f.cid, from: conn.sender, body: out.body, data: out.data };
    this.#ack(conn, f, await this.#append(f.conv, input, conn), t0);
  }

  #ack(conn: Connection, f: SendFrame, r: AppendResult, t0: number): void {
    if (r.dup) {
      this.metrics.counts.duplicates++;
      this.#out.write(conn, `{"t":"ack","conv":${JSON.stringify(f.conv)},"cid":${JSON.stringify(f.cid)},"seq":${r.seq},"ts":${r.ts},"dup":true}`);
      return;
    }
    this.#out.write(conn, `{"t":"ack","conv":${JSON.stringify(f.conv)},"cid":${JSON.stringify(f.cid)},"seq":${r.seq},"ts":${r.ts}}`);
    this.metrics.observeAck((performance.now() - t0) / 1000);
  }

  /**
   * Stores a message and fans it out to the other members as soon as the store lets them see it
   * (before it is durable, with a store that delivers ahead: LevelConversationStore), else once
   * stored. Resolves when it is durable; the `message` event waits for that too. `after` runs
   * then, in the same callback (one promise fewer per message than a then() of the caller's).
   */
  #append(conv: string, input: AppendInput, except?: Connection, after?: (r: AppendResult) => void): Promise<AppendResult> {
    let shown = false;
    const show = (seq: number, ts: number, publish = true): void => {
      shown = true;
      this.#fanOut(conv, seq, input.cid, input.from, input.body, ts, input.data, except, publish);
    };
    return this.store.append(conv, input, { onVisible: show }).then((r) => {
      if (!r.dup) {
        // A store linked to this hub's bus has published the frame for the other nodes already.
        if (!shown) show(r.seq, r.ts, r.published !== true);
        this.#stored(conv, r.seq, input.cid, input.from, input.body, r.ts, input.data);
      }
      after?.(r);
      return r;
    });
  }

  /** Encodes a message frame once, delivers it locally and (unless `publish` is false) publishes it for other nodes. */
  #fanOut(conv: string, seq: number, cid: string, from: Sender, body: string, ts: number, data: JsonObject | undefined, except: Connection | undefined, publish: boolean): void {
    const frame: MessageFrame = { t: 'msg', conv, seq, cid, from, body, ts };
    if (data !== undefined) frame.data = data;
    const s = encodeFrame(frame);
    this.#healer.frame(conv, s, except);
    if (publish && !this.bus.alone) this.#busCall(this.bus.publish(topic.conv(conv), s));
  }

  /** A durable message: counted, and announced to the application. */
  #stored(conv: string, seq: number, cid: string, from: Sender, body: string, ts: number, data: JsonObject | undefined): void {
    this.metrics.counts.messagesStored++;
    if (this.listenerCount('message') > 0) {
      const info: Parameters<HubEvents['message']>[0] = { conv, seq, cid, from, body, ts };
      if (data !== undefined) info.data = data;
      this.emit('message', info);
    }
  }

  async #open(conn: Connection, ref: string, data: JsonObject | undefined): Promise<void> {
    this.#checkCapacity(conn);
    const input = data === undefined
      ? { tenant: conn.identity.tenant, visitor: conn.sender }
      : { tenant: conn.identity.tenant, visitor: conn.sender, data };
    const rec = await this.store.createConversation(input);
    if (conn.closed) return;
    this.#checkCapacity(conn);
    this.#index.enterRoom(conn, rec.id);
    this.#healer.baseline(rec.id, 0);
    const joined: ServerFrame = { t: 'joined', ref, conv: rec.id, seq: 0, members: [{ ...conn.sender, readSeq: 0 }] };
    if (rec.data !== undefined) joined.data = rec.data;
    this.#out.write(conn, encodeFrame(joined));
    this.emit('conversation', rec);
    this.emit('join', { conv: rec.id, user: conn.sender });
  }

  #checkCapacity(conn: Connection): void {
    if ((conn.convs?.size ?? 0) >= this.#o.maxConversationsPerConnection) {
      throw new KefuError('KEFU_ERR_TOO_MANY_CONVERSATIONS', `a connection may be in at most ${this.#o.maxConversationsPerConnection} conversations`);
    }
  }

  /** Makes `conn` a member of `conv` (authorising when it is not in it yet). */
  async #admit(conn: Connection, conv: string): Promise<boolean> {
    if (conn.convs?.has(conv)) return true;
    this.#checkCapacity(conn);
    const rec = await this.store.getConversation(conv);
    // Another tenant's conversation answers exactly like a missing one: ids do not leak.
    if (!rec || rec.tenant !== conn.identity.tenant) throw new KefuError('KEFU_ERR_CONVERSATION_NOT_FOUND', `no conversation "${conv}"`);
    const identity = conn.identity;
    let allowed = await this.store.isMember(conv, identity.id);
    if (!allowed) {
      allowed = this.#o.authorizeJoin
        ? (await this.#o.authorizeJoin(identity, rec)) === true
        : identity.role === 'agent' || rec.visitor.id === identity.id;
    }
    if (!allowed) throw new KefuError('KEFU_ERR_FORBIDDEN', `may not join "${conv}"`);
    const { added } = await this.store.addMember(conv, conn.sender);
    if (conn.closed) return false;
    if (!conn.convs?.has(conv)) {
      this.#checkCapacity(conn);
      this.#index.enterRoom(conn, conv);
    }
    if (added) {
      this.#toConversation(conv, encodeFrame({ t: 'member', conv, user: conn.sender, joined: true }), conn);
      this.emit('join', { conv, user: conn.sender });
    }
    return true;
  }

  async #join(conn: Connection, ref: string | undefined, conv: string, reply: boolean): Promise<void> {
    if (!(await this.#admit(conn, conv)) || !reply) return;
    const { s, seq } = await this.#joinedFrame(conv, ref);
    this.#healer.baseline(conv, seq);
    this.#out.write(conn, s);
  }

  async #joinedFrame(conv: string, ref: string | undefined): Promise<{ s: string; seq: number }> {
    const [seq, members, rec] = await Promise.all([this.store.lastSeq(conv), this.store.members(conv), this.store.getConversation(conv)]);
    const f: ServerFrame = { t: 'joined', conv, seq, members };
    if (ref !== undefined) f.ref = ref;
    if (rec?.data !== undefined) f.data = rec.data;
    return { s: encodeFrame(f), seq };
  }

  /**
   * Replays seq > after page by page, then live messages, with no gap and no duplicate: the
   * socket enters the room before the first read, live frames for this conversation are held
   * back while replaying, and only those past the last replayed seq are flushed.
   */
  async #resume(conn: Connection, f: ResumeFrame): Promise<void> {
    if (conn.replay?.has(f.conv)) throw new KefuError('KEFU_ERR_INVALID_FRAME', `a resume of "${f.conv}" is already running`);
    if (!(await this.#admit(conn, f.conv))) return;
    const held = { frames: [] as string[], bytes: 0 };
    (conn.replay ??= new Map()).set(f.conv, held);
    let done: { last: number; count: number } | undefined;
    try {
      done = await replay(this.#replay, conn, f.conv, f.after);
    } finally {
      conn.replay?.delete(f.conv);
      if (conn.replay?.size === 0) conn.replay = undefined;
    }
    if (!done) return;
    const { last, count } = flushHeld(this.#replay, conn, held.frames, done.last, done.count);
    this.#healer.baseline(f.conv, last);
    this.metrics.counts.replayedMessages += count;
    this.#out.write(conn, encodeFrame({ t: 'resumed', ref: f.ref, conv: f.conv, after: f.after, seq: last, count }));
  }

  async #leave(conn: Connection, ref: string, conv: string): Promise<void> {
    await this.store.removeMember(conv, conn.identity.id);
    this.#applyMembership(conn.identity.tenant, conn.identity.id, { op: 'leave', conv }, conn, ref);
    this.#busCall(this.bus.publish(topic.user(userKey(conn.identity.tenant, conn.identity.id)), `!${JSON.stringify({ op: 'leave', conv })}`));
    this.#toConversation(conv, encodeFrame({ t: 'member', conv, user: conn.sender, joined: false }));
    this.emit('leave', { conv, user: conn.sender });
  }

  #typing(conn: Connection, conv: string, on: boolean): void {
    if (on && this.#o.typingThrottleMs > 0) {
      const now = Date.now();
      const at = conn.typingAt?.get(conv);
      if (at !== undefined && now - at < this.#o.typingThrottleMs) return;
      (conn.typingAt ??= new Map()).set(conv, now);
    } else if (!on) {
      conn.typingAt?.delete(conv);
    }
    this.#toConversation(conv, encodeFrame({ t: 'typing', conv, from: conn.sender, on }), conn);
    this.emit('typing', { conv, from: conn.sender, on });
  }

  async #read(conn: Connection, conv: string, seq: number): Promise<void> {
    const now = await this.store.markRead(conv, conn.identity.id, seq);
    this.#toConversation(conv, encodeFrame({ t: 'read', conv, from: conn.sender, seq: now }));
    this.emit('read', { conv, from: conn.sender, seq: now });
  }

  async #command(conn: Connection, f: CommandFrame): Promise<void> {
    const handler = this.#commands.get(f.name);
    if (!handler) throw new KefuError('KEFU_ERR_UNKNOWN_COMMAND', `no command "${f.name}"`);
    if (f.conv !== undefined && !conn.convs?.has(f.conv)) throw new KefuError('KEFU_ERR_NOT_MEMBER', `not a member of "${f.conv}"`);
    const ctx = f.conv === undefined ? { identity: conn.identity } : { identity: conn.identity, conv: f.conv };
    const out = await handler(ctx, f.args ?? {});
    const res: ServerFrame = { t: 'result', ref: f.ref };
    if (out !== undefined && out !== null) {
      const bad = checkData(out);
      if (bad) throw new KefuError('KEFU_ERR_INTERNAL', `command "${f.name}" returned invalid data: ${bad}`);
      res.data = out;
    }
    this.#out.write(conn, encodeFrame(res));
  }

  // ---------------------------------------------------------------------------------------------
  // server-side API
  // ---------------------------------------------------------------------------------------------

  /** Registers the handler of `{t:'cmd', name}` frames (replacing any previous one). */
  command(name: string, handler: CommandHandler): this {
    if (typeof name !== 'string' || !NAME_RE.test(name)) throw new TypeError('command name must be 1-64 characters: a letter, then letters, digits, . _ : -');
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    this.#commands.set(name, handler);
    return this;
  }

  async createConversation(input: { tenant: string; visitor: Sender; data?: JsonObject; id?: string }): Promise<ConversationInfo> {
    this.#notClosing();
    const rec = await this.store.createConversation(input);
    this.emit('conversation', rec);
    return rec;
  }

  /** Makes `sender` a member; their live sockets (any node) join and receive `joined`. */
  async addMember(conv: string, sender: Sender): Promise<void> {
    this.#notClosing();
    const rec = await this.store.getConversation(conv);
    if (!rec) throw new KefuError('KEFU_ERR_CONVERSATION_NOT_FOUND', `no conversation "${conv}"`);
    const { added, member } = await this.store.addMember(conv, sender);
    const user: Sender = { id: member.id, role: member.role };
    if (member.name !== undefined) user.name = member.name;
    if (added) {
      this.#toConversation(conv, encodeFrame({ t: 'member', conv, user, joined: true }));
      this.emit('join', { conv, user });
    }
    const { s: joined, seq } = await this.#joinedFrame(conv, undefined);
    const ctl: MembershipControl = { op: 'join', conv, joined, seq };
    this.#applyMembership(rec.tenant, user.id, ctl);
    this.#busCall(this.bus.publish(topic.user(userKey(rec.tenant, user.id)), `!${JSON.stringify(ctl)}`));
  }

  /** Removes a member; their live sockets (any node) leave and receive `left`. */
  async removeMember(conv: string, userId: string, reason?: string): Promise<boolean> {
    this.#notClosing();
    const rec = await this.store.getConversation(conv);
    if (!rec) throw new KefuError('KEFU_ERR_CONVERSATION_NOT_FOUND', `no conversation "${conv}"`);
    const members = await this.store.members(conv);
    const removed = await this.store.removeMember(conv, userId);
    const ctl: MembershipControl = reason === undefined ? { op: 'leave', conv } : { op: 'leave', conv, reason };
    this.#applyMembership(rec.tenant, userId, ctl);
    this.#busCall(this.bus.publish(topic.user(userKey(rec.tenant, userId)), `!${JSON.stringify(ctl)}`));
    if (removed) {
      const m = members.find((x) => x.id === userId);
      const user: Sender = m ? (m.name === undefined ? { id: m.id, role: m.role } : { id: m.id, role: m.role, name: m.name }) : { id: userId, role: 'visitor' };
      this.#toConversation(conv, encodeFrame({ t: 'member', conv, user, joined: false }));
      this.emit('leave', reason === undefined ? { conv, user } : { conv, user, reason });
    }
    return removed;
  }

  /** Stores a message from a bot or the system and fans it out. */
  async post(conv: string, from: Sender, body: string, data?: JsonObject): Promise<{ seq: number; ts: number }> {
    this.#notClosing();
    if (typeof body !== 'string' || body.length > this.#o.maxBody) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `body must be a string of at most ${this.#o.maxBody} characters`);
    const cid = `srv-${randomUUID()}`;
    const r = await this.#append(conv, data === undefined ? { cid, from, body } : { cid, from, body, data });
    return { seq: r.seq, ts: r.ts };
  }

  /** Sends an `event` frame to every socket of a user, on any node. */
  emitToUser(tenant: string, userId: string, name: string, data: JsonObject = {}): void {
    if (!isValidId(tenant) || !isValidId(userId)) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'tenant and userId must be valid ids');
    const s = encodeFrame({ t: 'event', name: checkEventName(name), data: checkEventData(data) });
    const key = userKey(tenant, userId);
    const mine = this.#index.users.get(key);
    if (mine) for (const c of mine) this.#out.write(c, s);
    this.#busCall(this.bus.publish(topic.user(key), s));
  }

  /** Sends an `event` frame to every socket in a conversation, on any node. */
  emitToConversation(conv: string, name: string, data: JsonObject = {}): void {
    if (!isValidId(conv)) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'conv must be a valid id');
    this.#toConversation(conv, encodeFrame({ t: 'event', name: checkEventName(name), conv, data: checkEventData(data) }));
  }

  /** Closes a conversation: later sends fail with KEFU_ERR_CONVERSATION_CLOSED; members get an event. */
  async closeConversation(conv: string, reason = 'closed'): Promise<void> {
    this.#notClosing();
    await this.store.closeConversation(conv, reason);
    this.emitToConversation(conv, 'conversation.closed', { reason });
  }

  /**
   * Graceful shutdown: refuse new upgrades, wait (bounded by drainTimeoutMs) for frames being
   * handled, close every socket with 1001, then close the bus and the store.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      clearTimeout(this.#settle);
      for (const { server, listener } of this.#attached) server.removeListener('upgrade', listener);
      this.#attached.length = 0;
      await this.#waitDrained(this.#o.drainTimeoutMs);
      const waits: Array<Promise<void>> = [];
      for (const c of this.#conns) {
        waits.push(new Promise<void>((resolve) => c.ws.once('close', () => resolve())));
        this.#out.close(c, CloseCode.GOING_AWAY, 'server shutting down');
      }
      const all = Promise.all(waits);
      let timer: NodeJS.Timeout | undefined;
      const late = await Promise.race([all.then(() => false), new Promise<boolean>((r) => { timer = setTimeout(() => r(true), 2000); })]);
      clearTimeout(timer);
      if (late) for (const c of [...this.#conns]) c.ws.terminate();
      this.#wss.close();
      await this.bus.close().catch((err: unknown) => this.emit('error', err as Error));
      await this.store.close();
    })();
    return this.#closing;
  }

  // ---------------------------------------------------------------------------------------------
  // plumbing
  // ---------------------------------------------------------------------------------------------

  #notClosing(): void {
    if (this.#closing) throw new KefuError('KEFU_ERR_SHUTTING_DOWN', 'hub is closing');
  }

  /** Membership change of one user on this node's sockets. */
  #applyMembership(tenant: string, userId: string, ctl: MembershipControl, origin?: Connection, ref?: string): void {
    const mine = this.#index.users.get(userKey(tenant, userId));
    if (!mine) return;
    for (const c of mine) {
      if (c.closed) continue;
      if (ctl.op === 'leave') {
        if (!c.convs?.has(ctl.conv)) continue;
        this.#index.leaveRoom(c, ctl.conv);
        const left: ServerFrame = { t: 'left', conv: ctl.conv };
        if (c === origin && ref !== undefined) left.ref = ref;
        if (ctl.reason !== undefined) left.reason = ctl.reason;
        this.#out.write(c, encodeFrame(left));
      } else if (!c.convs?.has(ctl.conv) && (c.convs?.size ?? 0) < this.#o.maxConversationsPerConnection) {
        this.#index.enterRoom(c, ctl.conv);
        if (typeof ctl.seq === 'number') this.#healer.baseline(ctl.conv, ctl.seq);
        if (ctl.joined !== undefined) this.#out.write(c, ctl.joined);
      }
    }
  }

  /** Local fan-out of an encoded frame: the same string goes to every socket. */
  #fanout(conv: string, s: string, except?: Connection): void {
    const room = this.#index.rooms.get(conv);
    if (!room) return;
    for (const c of room) {
      if (c === except) continue;
      const held = c.replay?.get(conv);
      if (held) {
        held.frames.push(s);
        held.bytes += s.length;
        if (held.bytes > this.#o.highWaterMark) this.#out.slow(c);
        continue;
      }
      this.#out.write(c, s);
    }
  }

  #toConversation(conv: string, s: string, except?: Connection): void {
    this.#healer.frame(conv, s, except);
    if (!this.bus.alone) this.#busCall(this.bus.publish(topic.conv(conv), s));
  }

  #busDown(err: Error): void {
    if (this.#busDownSince === 0) {
      this.#busDownSince = Date.now();
      this.emit('bus:down', err);
    }
    this.emit('error', err);
  }

  #busUp(): void {
    const downMs = this.#busDownSince === 0 ? 0 : Date.now() - this.#busDownSince;
    this.#busDownSince = 0;
    if (this.#closing) return;
    this.emit('bus:up', { downMs });
    void this.#healer.healAll();
    if (this.#o.healSettleMs > 0) {
      clearTimeout(this.#settle);
      this.#settle = setTimeout(() => {
        this.#settle = undefined;
        if (!this.#closing) void this.#healer.healAll();
      }, this.#o.healSettleMs);
      this.#settle.unref();
    }
  }

  #presence(tenant: string, user: Sender, status: PresenceStatus): void {
    const s = encodeFrame({ t: 'presence', user, status });
    const agents = this.#index.agents.get(tenant);
    if (agents) for (const c of agents) if (c.identity.id !== user.id) this.#out.write(c, s);
    this.#busCall(this.bus.publish(topic.agents(tenant), s));
    this.emit('presence', { tenant, user, status });
  }

  #fromBus(topic: string, payload: string): void {
    const kind = topic.charCodeAt(0);
    const rest = topic.slice(2);
    if (kind === 99 /* c */) return this.#healer.frame(rest, payload);
    if (kind === 97 /* a */) {
      const agents = this.#index.agents.get(rest);
      // An agent with sockets on several nodes is not told about itself, as on the local path.
      if (agents) for (const c of agents) if (!isPresenceOf(payload, c.identity.id)) this.#out.write(c, payload);
      return;
    }
    if (kind === 117 /* u */) {
      if (payload.charCodeAt(0) === 33 /* ! */) {
        const sep = rest.indexOf('\x00');
        let ctl: MembershipControl;
        try { ctl = JSON.parse(payload.slice(1)) as MembershipControl; } catch { return; }
        return this.#applyMembership(rest.slice(0, sep), rest.slice(sep + 1), ctl);
      }
      const mine = this.#index.users.get(rest);
      if (mine) for (const c of mine) this.#out.write(c, payload);
    }
  }

  /** Runs an async handler: counts it for the drain, turns failures into error frames. */
  #run(conn: Connection, p: Promise<unknown>, f: Echo): void {
    if (++this.#inflight >= this.#o.maxInflight && !conn.paused && !conn.closed) {
      conn.paused = true;
      conn.ws.pause();
      this.#paused.push(conn);
      this.metrics.counts.backpressurePauses++;
    }
    // One then() with both handlers, not then().finally(): a promise and two closures fewer per frame.
    p.then(this.#handled, (err: unknown) => {
      try {
        this.#failed(conn, f, err);
      } finally {
        this.#handled();
      }
    });
  }

  #failed(conn: Connection, f: Echo, err: unknown): void {
    if (isKefuError(err) && err.code !== 'KEFU_ERR_INTERNAL' && err.code !== 'KEFU_ERR_STORE') {
      this.#out.error(conn, err.code, err.message, f);
    } else {
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
      this.#out.error(conn, isKefuError(err) ? err.code : 'KEFU_ERR_INTERNAL', isKefuError(err, 'KEFU_ERR_STORE') ? 'store failure; nothing was applied' : 'internal error; nothing was applied', f);
    }
  }

  /** A handler settled: resume paused sockets at half the in-flight limit, wake drain waiters at zero. */
  readonly #handled = (): void => {
    if (--this.#inflight <= this.#o.maxInflight >> 1 && this.#paused.length > 0) this.#resumePaused();
    if (this.#inflight === 0 && this.#drainWaiters.length > 0) {
      const w = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const f2 of w) f2();
    }
  };

  #resumePaused(): void {
    const list = this.#paused;
    this.#paused = [];
    for (const c of list) {
      c.paused = false;
      // Its pongs waited unread: give the heartbeat a fresh interval instead of a timeout.
      c.alive = true;
      if (!c.closed) c.ws.resume();
    }
  }

  #waitDrained(timeoutMs: number): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.#drainWaiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  #busCall(p: Promise<void>): void {
    p.catch((err: unknown) => this.emit('error', err instanceof Error ? err : new Error(String(err))));
  }

  /**
   * One slice of the heartbeat sweep (heartbeat.ts), the only periodic timer of the hub. An
   * interval is `#slices` turns: each visits its share of the sockets not yet visited, the last
   * one all that are left; a new interval (tick) starts only when the old one's turns are used up,
   * so every socket is pinged once per heartbeatMs however many sockets come and go.
   */
  #sweep(): void {
    if (this.#sliceLeft === 0) {
      this.#tick++;
      this.#sweepIt = this.#conns.values();
      this.#swept = 0;
      this.#sliceLeft = this.#slices;
    }
    const last = --this.#sliceLeft === 0;
    const it = this.#sweepIt;
    if (it === undefined) return;
    const quota = last ? Infinity : Math.ceil(Math.max(0, this.#conns.size - this.#swept) / (this.#sliceLeft + 1));
    const r = sweep(it, quota, this.#tick, this.#idleTicks, Date.now(), this.#sweepActions);
    this.#swept += r.visited;
    if (r.done) this.#sweepIt = undefined;
  }

  readonly #sweepActions = {
    timeout: (c: Connection): void => {
      this.metrics.counts.heartbeatTimeouts++;
      c.closed = true;
      c.closeCode = CloseCode.HEARTBEAT_TIMEOUT;
      c.ws.terminate();
    },
    idle: (c: Connection): void => {
      this.metrics.counts.idleTimeouts++;
      this.#out.close(c, CloseCode.IDLE_TIMEOUT, 'idle timeout');
    },
    expired: (c: Connection): void => this.#out.close(c, CloseCode.AUTH_EXPIRED, 'credential expired'),
  };
}

