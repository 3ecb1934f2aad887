/**
 * KefuClient: one kefu.v1 connection with reconnect, resume and an outbox. Works with the
 * browser's WebSocket and with `ws` in Node.
 */
import { EventEmitter } from 'eventemitter3';
import {
  PROTOCOL, KefuError, isKefuErrorCode, isTerminalClose, decodeServerFrame,
  type AckFrame, type ClientFrame, type ErrorFrame, type JoinedFrame, type JsonObject, type LeftFrame,
  type MessageFrame, type ResumedFrame, type ServerFrame, type WelcomeFrame,
} from '@kefu/protocol';
import { backoffDelay } from './backoff.js';
import type { ClientState, CloseInfo, KefuClientEvents } from './events.js';
import { idGenerator } from './ids.js';
import { resolveOptions, type KefuClientOptions, type ResolvedOptions, type WebSocketConstructor, type WebSocketLike } from './options.js';
import { Outbox } from './outbox.js';

const OPEN = 1;
const noop = (): void => undefined;

/** Per-conversation delivery state. */
interface ConvState {
  /** Highest seq delivered through the `message` event. */
  lastSeq: number;
  /** Joined or resumed on the current socket: sends and reads may go out. */
  ready: boolean;
  /** A resume is in flight on the current socket. */
  resuming: boolean;
  /** The in-flight resume, so that the app's own resume() waits for it. */
  replay: Promise<ResumedFrame> | undefined;
  /**
   * Messages that arrived past the next expected seq, delivered in order later: during a replay
   * (own messages from acks, a live frame that overtook it, replayed ones after a gap in seqs: the
   * hub skips seqs after a machine crash), until `resumed`; outside one, others' messages that came
   * before this client's own acks, until those acks are in. Bounded by the replay / the outbox.
   */
  held: MessageFrame[];
  /** Highest seq the app marked read, and the highest actually sent. */
  readWanted: number;
  readSent: number;
  typingOn: boolean;
  typingSentAt: number;
  /**
   * cids of the latest messages delivered (insertion order, at most RECENT_CIDS). After a crash of
   * the hub's machine, a message shown before it was durable can come back under a new seq when
   * its sender retries it (docs/hub.md, "Delivery before durability"): it is delivered once.
   */
  recent: Set<string>;
}

const RECENT_CIDS = 256;

interface Pending {
  frame: ClientFrame & { ref: string };
  sent: boolean;
  timer: ReturnType<typeof setTimeout>;
  resolve: (frame: ServerFrame) => void;
  reject: (err: unknown) => void;
  /** Internal resumes are not the app's requests: their failures surface differently. */
  internal: boolean;
}

export class KefuClient extends EventEmitter<KefuClientEvents> {
  readonly options: ResolvedOptions;
  #state: ClientState = 'idle';
  #ws: WebSocketLike | undefined;
  #welcome: WelcomeFrame | undefined;
  #attempt = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #lastInbound = 0;
  #lastOutbound = 0;
  #convs = new Map<string, ConvState>();
  #pending = new Map<string, Pending>();
  #outbox: Outbox;
  #id = idGenerator();
  #waiters: Array<{ resolve: (w: WelcomeFrame) => void; reject: (e: unknown) => void }> = [];

  constructor(options: KefuClientOptions) {
    super();
    this.options = resolveOptions(options);
    this.#outbox = new Outbox(this.options.maxOutbox);
  }

  /** Current connection state. */
  get state(): ClientState { return this.#state; }
  /** The last `welcome` (who you are, limits), once connected. */
  get welcome(): WelcomeFrame | undefined { return this.#welcome; }
  /** Unacknowledged messages, oldest first (for "sending..." bubbles). */
  pendingMessages(conv?: string): ReturnType<Outbox['list']> { return this.#outbox.list(conv); }
  /** Conversations this client follows (resumed automatically after a reconnect). */
  get conversations(): string[] { return [...this.#convs.keys()]; }
  /** Highest seq delivered for a conversation, or undefined when not followed. */
  lastSeq(conv: string): number | undefined { return this.#convs.get(conv)?.lastSeq; }

  /** Connects (idempotent); resolves with the next `welcome`. Reconnects on its own afterwards. */
  connect(): Promise<WelcomeFrame> {
    if (this.#state === 'closed') return Promise.reject(new KefuError('KEFU_ERR_CLOSED', 'the client was closed'));
    if (this.#state === 'open' && this.#welcome) return Promise.resolve(this.#welcome);
    const p = new Promise<WelcomeFrame>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#state === 'idle') { this.#watchNetwork(); void this.#dial(); }
    return p;
  }

  #unwatch: (() => void) | undefined;

  /** Browser network events: a dead network is noticed at once, not after two heartbeats. */
  #watchNetwork(): void {
    const w = globalThis as { addEventListener?: (t: string, f: () => void) => void; removeEventListener?: (t: string, f: () => void) => void; window?: unknown };
    if (!this.options.watchNetwork || w.window === undefined || typeof w.addEventListener !== 'function') return;
    const offline = (): void => {
      const ws = this.#ws;
      if (!ws) return;
      this.#detach();
      try { ws.close(4000, 'network offline'); } catch { /* already closing */ }
      this.#dropped({ code: 1006, reason: 'network offline' });
    };
    const online = (): void => {
      if (this.#state !== 'reconnecting') return;
      if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = undefined;
      this.#attempt = 0;
      void this.#dial();
    };
    w.addEventListener('offline', offline);
    w.addEventListener('online', online);
    this.#unwatch = () => { w.removeEventListener?.('offline', offline); w.removeEventListener?.('online', online); };
  }

  /** Closes for good: rejects pending requests and unacknowledged sends with KEFU_ERR_CLOSED. */
  close(): void {
    if (this.#state === 'closed') return;
    const ws = this.#ws;
    this.#detach();
    if (ws && ws.readyState <= OPEN) ws.close(1000, 'client closed');
    this.#terminate({ code: 1000, reason: 'client closed' }, new KefuError('KEFU_ERR_CLOSED', 'the client was closed'));
  }

  // --- requests -------------------------------------------------------------------------------

  /** Visitor: opens a new conversation and follows it. */
  async open(data?: JsonObject): Promise<JoinedFrame> {
    const f: ClientFrame & { ref: string } = data === undefined ? { t: 'open', ref: this.#id('o') } : { t: 'open', ref: this.#id('o'), data };
    return (await this.#request(f)) as JoinedFrame;
  }

  /** Joins an existing conversation and follows it from its latest seq (call history() for older ones). */
  async join(conv: string): Promise<JoinedFrame> {
    return (await this.#request({ t: 'join', ref: this.#id('j'), conv })) as JoinedFrame;
  }

  /** Leaves a conversation and stops following it. */
  async leave(conv: string): Promise<LeftFrame> {
    const left = (await this.#request({ t: 'leave', ref: this.#id('l'), conv })) as LeftFrame;
    this.#forget(conv);
    return left;
  }

  /**
   * (Re)joins `conv` and replays every message with seq > `after` through the `message` event
   * (default: from the last delivered seq, or 0 for a conversation not yet followed, i.e. the
   * whole history). Resolves with `resumed` once the replay is complete.
   */
  async resume(conv: string, after?: number): Promise<ResumedFrame> {
    let st = this.#conv(conv);
    // The hub runs one replay per conversation and connection at a time.
    while (st.replay) { await st.replay.catch(() => undefined); st = this.#conv(conv); }
    const from = after ?? st.lastSeq;
    if (from < st.lastSeq) { st.lastSeq = from; st.recent.clear(); } // the app asked to see these again
    return this.#resumeNow(conv, st, false);
  }

  /** Whole history of a conversation (seq > 0), delivered through `message`. */
  history(conv: string): Promise<ResumedFrame> { return this.resume(conv, 0); }

  /**
   * Sends a message. Resolves with the durable `ack`. Offline, the message waits in the outbox
   * and is written once the conversation is resumed; its cid makes a retry store it once.
   */
  send(conv: string, body: string, data?: JsonObject, cid: string = this.#id('c')): Promise<AckFrame> {
    if (this.#state === 'closed') return Promise.reject(new KefuError('KEFU_ERR_CLOSED', 'the client was closed'));
    return new Promise<AckFrame>((resolve, reject) => {
      this.#outbox.add({ conv, cid, body, data, sent: false, resolve, reject });
      this.#conv(conv);
      if (this.#state === 'idle') void this.connect().catch(() => undefined);
      this.#flush(conv);
    });
  }

  /**
   * Typing indicator. `true` is sent at most once per `typingThrottleMs`; `false` is sent at once
   * if `true` was sent. Dropped while offline (stale typing is worse than none).
   */
  typing(conv: string, on: boolean): void {
    const st = this.#convs.get(conv);
    if (!st || !st.ready) return;
    const now = Date.now();
    if (on) {
      if (st.typingOn && now - st.typingSentAt < this.options.typingThrottleMs) return;
      st.typingOn = true;
      st.typingSentAt = now;
      this.#write({ t: 'typing', conv, on: true });
    } else if (st.typingOn) {
      st.typingOn = false;
      st.typingSentAt = 0;
      this.#write({ t: 'typing', conv, on: false });
    }
  }

  /** Read receipt up to `seq`. Coalesced: only a higher seq goes out; offline, the latest is sent after resume. */
  read(conv: string, seq: number): void {
    const st = this.#convs.get(conv);
    if (!st || seq <= st.readWanted) return;
    st.readWanted = seq;
    this.#flushRead(conv, st);
  }

  /** Sets this user's presence (agents). */
  presence(status: 'online' | 'away'): void {
    this.#write({ t: 'presence', status });
  }

  /** Runs an application command (desk: accept, transfer, close, rate...). Resolves with the result data. */
  async command(name: string, args?: JsonObject, conv?: string): Promise<JsonObject> {
    const f: ClientFrame & { ref: string } = { t: 'cmd', ref: this.#id('r'), name };
    if (conv !== undefined) (f as { conv?: string }).conv = conv;
    if (args !== undefined) (f as { args?: JsonObject }).args = args;
    const r = await this.#request(f);
    return (r.t === 'result' ? r.data : undefined) ?? {};
  }

  /** Application-level round trip. */
  async ping(): Promise<void> { await this.#request({ t: 'ping', ref: this.#id('p') }); }

  // --- connection -----------------------------------------------------------------------------

  #setState(s: ClientState): void {
    const prev = this.#state;
    if (prev === s) return;
    this.#state = s;
    this.emit('state', s, prev);
  }

  async #dial(): Promise<void> {
    this.#setState('connecting');
    let url = this.options.url;
    try {
      const Ctor = this.options.WebSocket ?? (await defaultWebSocket());
      const tok = this.options.token;
      const token = typeof tok === 'function' ? await tok() : tok;
      if (this.#state !== 'connecting') return; // closed meanwhile
      if (token) url += (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
      const ws = new Ctor(url, PROTOCOL);
      this.#ws = ws;
      ws.onmessage = (ev) => this.#onText(ev.data);
      ws.onclose = (ev) => { if (this.#ws === ws) this.#dropped({ code: ev.code, reason: ev.reason }); };
      ws.onerror = () => { /* a close event follows; errors carry no useful detail in browsers */ };
    } catch (err) {
      this.emit('error', err instanceof KefuError ? err : new KefuError('KEFU_ERR_INTERNAL', `cannot connect: ${String(err)}`, { cause: err }));
      this.#dropped({ code: 1006, reason: 'connect failed' });
    }
  }

  #detach(): void {
    const ws = this.#ws;
    this.#ws = undefined;
    // onerror stays a no-op: `ws` emits an error when closed while connecting, unhandled otherwise.
    if (ws) { ws.onmessage = null; ws.onclose = null; ws.onerror = noop; ws.onopen = null; }
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  #dropped(info: CloseInfo): void {
    this.#detach();
    if (this.#state === 'closed') return;
    this.#welcome = undefined;
    // Held own messages are stored: the next resume replays them.
    for (const st of this.#convs.values()) { st.ready = false; st.resuming = false; st.replay = undefined; st.held.length = 0; st.typingOn = false; st.readSent = 0; }
    this.#outbox.markAllUnsent();
    // Requests already written may or may not have been applied: the app decides. Unsent ones wait.
    for (const [ref, p] of this.#pending) {
      if (!p.sent) continue;
      this.#pending.delete(ref);
      clearTimeout(p.timer);
      p.reject(new KefuError('KEFU_ERR_CLIENT_DISCONNECTED', `connection closed (${info.code}) before "${p.frame.t}" was answered`));
    }
    this.emit('disconnect', info);
    const r = this.options.reconnect;
    if (isTerminalClose(info.code) || !r.enabled || this.#attempt >= r.maxAttempts) {
      const code = isTerminalClose(info.code) ? 'KEFU_ERR_CLOSED' : 'KEFU_ERR_CLIENT_DISCONNECTED';
      this.#terminate(info, new KefuError(code, `connection closed (${info.code} ${info.reason})`, { details: { closeCode: info.code } }));
      return;
    }
    const delayMs = backoffDelay(this.#attempt++, r);
    this.#setState('reconnecting');
    this.emit('reconnecting', { ...info, attempt: this.#attempt, delayMs });
    this.#reconnectTimer = setTimeout(() => { this.#reconnectTimer = undefined; void this.#dial(); }, delayMs);
  }

  #terminate(info: CloseInfo, err: KefuError): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#setState('closed');
    for (const p of this.#pending.values()) { clearTimeout(p.timer); p.reject(err); }
    this.#pending.clear();
    this.#outbox.rejectAll(err);
    for (const w of this.#waiters.splice(0)) w.reject(err);
    this.emit('close', info);
  }

  #startHeartbeat(serverMs: number): void {
    const hb = this.options.heartbeatMs || serverMs;
    if (!(hb > 0)) return;
    this.#heartbeat = setInterval(() => {
      const idle = Date.now() - this.#lastInbound;
      const ws = this.#ws;
      if (!ws) return;
      if (idle >= 2 * hb) {
        // Half-open connection: close frames may never arrive, so do not wait for onclose.
        this.#detach();
        try { ws.close(4000, 'heartbeat timeout'); } catch { /* already closing */ }
        this.#dropped({ code: 4000, reason: 'heartbeat timeout (client side)' });
      } else if (idle >= hb || Date.now() - this.#lastOutbound >= hb) {
        // Also when only we are silent: the hub's idle timeout counts frames from the client, and
        // an agent who only reads must not be closed with 4001.
        this.#write({ t: 'ping' });
      }
    }, Math.max(50, Math.floor(hb / 2)));
  }

  #write(frame: ClientFrame): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN || !this.#welcome) return false;
    ws.send(JSON.stringify(frame));
    this.#lastOutbound = Date.now();
    return true;
  }

  #request(frame: ClientFrame & { ref: string }, internal = false): Promise<ServerFrame> {
    if (this.#state === 'closed') return Promise.reject(new KefuError('KEFU_ERR_CLOSED', 'the client was closed'));
    return new Promise<ServerFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(frame.ref);
        if (frame.t === 'resume') {
          // Unanswered: the conversation would wait for a `resumed` that never comes. Its next
          // flush resumes it again (a late answer to this one is dropped as a duplicate).
          const st = this.#convs.get(frame.conv);
          if (st?.replay && st.resuming) { st.resuming = false; this.#retryLater(frame.conv); }
        }
        const err = new KefuError('KEFU_ERR_TIMEOUT', `"${frame.t}" got no answer within ${this.options.requestTimeoutMs} ms`);
        reject(err);
        if (internal) this.emit('error', err);
      }, this.options.requestTimeoutMs);
      const p: Pending = { frame, sent: false, timer, resolve, reject, internal };
      this.#pending.set(frame.ref, p);
      p.sent = this.#write(frame);
      if (this.#state === 'idle') void this.connect().catch(() => undefined);
    });
  }

  // --- inbound --------------------------------------------------------------------------------

  #onText(data: unknown): void {
    this.#lastInbound = Date.now();
    if (typeof data !== 'string') return; // kefu.v1 is text only
    const r = decodeServerFrame(data);
    if (!r.ok) { this.emit('error', new KefuError(r.error.code, `bad frame from server: ${r.error.message}`)); return; }
    const f = r.frame;
    switch (f.t) {
      case 'welcome': return this.#onWelcome(f);
      case 'msg': return this.#onMessage(f);
      case 'ack': {
        const e = this.#outbox.take(f.cid);
        this.emit('ack', f);
        // The hub does not echo a message to its sender: the ack stands for it, so that
        // `message` carries every seq of the conversation (own messages included).
        const me = this.#welcome?.user;
        if (e && me) {
          const from = me.name === undefined ? { id: me.id, role: me.role } : { id: me.id, role: me.role, name: me.name };
          const m: MessageFrame = { t: 'msg', conv: f.conv, seq: f.seq, cid: f.cid, from, body: e.body, ts: f.ts };
          if (e.data !== undefined) m.data = e.data;
          const st = this.#convs.get(f.conv);
          // During a replay an ack may overtake older replayed messages: hold it until `resumed`.
          if (st?.resuming) st.held.push(m);
          else { this.#onMessage(m); this.#releaseHeld(f.conv); }
        }
        e?.resolve(f);
        return;
      }
      case 'joined': {
        const st = this.#conv(f.conv, f.seq);
        if (!st.resuming) st.ready = true; // during a replay, `resumed` makes it ready
        this.emit('joined', f);
        this.#settle(f.ref, f);
        this.#flush(f.conv);
        this.#flushRead(f.conv, st);
        return;
      }
      case 'left':
        if (!f.ref) this.#forget(f.conv, new KefuError('KEFU_ERR_NOT_MEMBER', `removed from ${f.conv}${f.reason ? `: ${f.reason}` : ''}`));
        this.emit('left', f);
        this.#settle(f.ref, f);
        return;
      case 'resumed': return this.#onResumed(f);
      case 'result':
      case 'pong':
        this.#settle(f.ref, f);
        return;
      case 'error': return this.#onError(f);
      case 'member': this.emit('member', f); return;
      case 'typing': this.emit('typing', f); return;
      case 'read': this.emit('read', f); return;
      case 'presence': this.emit('presence', f); return;
      case 'event': this.emit('event', f); return;
    }
  }

  #onWelcome(f: WelcomeFrame): void {
    this.#welcome = f;
    this.#tokens = Math.max(1, Math.floor(f.limits.rateBurst / 2));
    this.#tokensAt = Date.now();
    this.#attempt = 0;
    this.#setState('open');
    this.#startHeartbeat(f.heartbeatMs);
    this.emit('welcome', f);
    for (const w of this.#waiters.splice(0)) w.resolve(f);
    // Resume before anything else so that the outbox and reads go out after the replay.
    for (const [conv, st] of this.#convs) if (!st.resuming) void this.#resumeNow(conv, st, true).catch(() => undefined);
    for (const p of this.#pending.values()) if (!p.sent) p.sent = this.#write(p.frame);
  }

  #onMessage(f: MessageFrame): void {
    const st = this.#convs.get(f.conv);
    if (!st) { this.emit('message', f); return; } // not followed (should not happen): pass through
    if (f.seq <= st.lastSeq) return; // duplicate (replay overlap)
    if (f.seq > st.lastSeq + 1) {
      // During a replay, a live frame sent before the hub began it can overtake it: held until
      // the replay ends, so that it does not skip the messages before it.
      if (st.resuming) { st.held.push(f); return; }
      if (st.ready) {
        // The missing seqs may be this client's own messages: the hub delivers others' messages
        // before they are durable but acks only durable ones (docs/hub.md), so an ack can come
        // after a later message. Held until the acks are in; then a gap left means a resume.
        if (this.#outbox.has(f.conv)) { st.held.push(f); return; }
        // A gap outside a replay: fetch what is missing (this message included) before going on.
        void this.#resumeNow(f.conv, st, true).catch(() => undefined);
        return;
      }
    }
    this.#deliver(st, f);
  }

  /**
   * Outside a replay, after an own message's ack (or failure): delivers the held messages that now
   * follow on; a gap that no awaited ack can fill any more is fetched with a resume.
   */
  #releaseHeld(conv: string): void {
    const st = this.#convs.get(conv);
    if (!st || st.resuming || st.held.length === 0) return;
    const held = st.held.sort((a, b) => a.seq - b.seq);
    let i = 0;
    for (; i < held.length; i++) {
      const m = held[i]!;
      if (m.seq <= st.lastSeq) continue;
      if (m.seq !== st.lastSeq + 1) break;
      this.#deliver(st, m);
    }
    held.splice(0, i);
    if (held.length > 0 && !this.#outbox.has(conv)) void this.#resumeNow(conv, st, true).catch(() => undefined);
  }

  #deliver(st: ConvState, f: MessageFrame): void {
    st.lastSeq = f.seq;
    if (st.recent.has(f.cid)) return;
    st.recent.add(f.cid);
    if (st.recent.size > RECENT_CIDS) st.recent.delete(st.recent.values().next().value!);
    this.emit('message', f);
  }

  #onResumed(f: ResumedFrame): void {
    const st = this.#convs.get(f.conv);
    if (st) {
      st.resuming = false;
      st.ready = true;
      // The server vouches that everything in (after, seq] came before this frame: what was held
      // in that range is delivered in order whatever the gaps; later ones as live frames.
      const held = st.held.splice(0).sort((a, b) => a.seq - b.seq);
      for (const m of held) if (m.seq > st.lastSeq && m.seq <= f.seq) this.#deliver(st, m);
      if (f.seq > st.lastSeq) st.lastSeq = f.seq;
      for (const m of held) if (m.seq > f.seq) this.#onMessage(m);
    }
    this.emit('resumed', f);
    this.#settle(f.ref, f);
    if (st) { this.#flush(f.conv); this.#flushRead(f.conv, st); }
  }

  #onError(f: ErrorFrame): void {
    const err = new KefuError(isKefuErrorCode(f.code) ? f.code : 'KEFU_ERR_INTERNAL', f.message);
    if (f.code === 'KEFU_ERR_RATE_LIMITED' && f.cid === undefined && f.ref === undefined) {
      // A refused frame without ids (typing, read, ping), or one whose ids the hub could not
      // name (older hubs name none): every written, unacknowledged send goes out again a second
      // later, the cid making the ones that got through answer with their original ack; the
      // latest read receipt too (idempotent). Typing is not repeated: stale typing is worse.
      const convs = this.#outbox.markSentUnsent();
      for (const [conv, st] of this.#convs) {
        if ((f.conv === undefined || f.conv === conv) && st.readSent > 0) { st.readSent = 0; convs.add(conv); }
      }
      for (const c of convs) this.#retryLater(c);
      this.emit('error', err, f);
      return;
    }
    if (f.cid !== undefined) {
      const e = this.#outbox.get(f.cid);
      if (e) {
        if (f.code === 'KEFU_ERR_RATE_LIMITED') {
          // Not applied: it keeps its place in the outbox and is written again a second later.
          e.sent = false;
          this.#retryLater(e.conv);
          return;
        }
        this.#outbox.take(f.cid);
        e.reject(err);
        this.#releaseHeld(e.conv);
        return;
      }
    }
    if (f.ref !== undefined) {
      const p = this.#pending.get(f.ref);
      if (p) {
        if (p.frame.t === 'resume' || p.frame.t === 'join') {
          const st = this.#convs.get(p.frame.conv);
          if (st) st.resuming = false;
          // A followed conversation must be re-entered on this socket: tried again a second later.
          if (st && f.code === 'KEFU_ERR_RATE_LIMITED') this.#retryLater(p.frame.conv);
          // The conversation cannot be re-entered: its queued sends cannot succeed either.
          if (f.code === 'KEFU_ERR_CONVERSATION_NOT_FOUND' || f.code === 'KEFU_ERR_FORBIDDEN' || f.code === 'KEFU_ERR_NOT_MEMBER') this.#forget(p.frame.conv, err);
        }
        this.#pending.delete(f.ref);
        clearTimeout(p.timer);
        p.reject(err);
        if (p.internal) this.emit('error', err, f);
        return;
      }
    }
    this.emit('error', err, f);
  }

  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #retryConvs = new Set<string>();
  #tokens = 0;
  #tokensAt = 0;

  /** One timer for all deferred flushes, so a burst of refusals does not make a burst of timers. */
  #retryLater(conv: string, delayMs = 1000): void {
    this.#retryConvs.add(conv);
    this.#retryTimer ??= setTimeout(() => {
      this.#retryTimer = undefined;
      const convs = [...this.#retryConvs];
      this.#retryConvs.clear();
      for (const c of convs) {
        this.#flush(c);
        const st = this.#convs.get(c);
        if (st) this.#flushRead(c, st);
      }
    }, delayMs);
  }

  /**
   * Sends are paced to half the rate and burst the hub announced in `welcome`, leaving the other
   * half to typing, reads and commands: an outbox flushed after a long offline spell must not
   * trip the hub's limit (whose repeated refusals end in a terminal 1008).
   */
  #sendToken(): number {
    const l = this.#welcome?.limits;
    if (!l) return 0;
    const rate = Math.max(0.5, l.ratePerSec / 2);
    const burst = Math.max(1, Math.floor(l.rateBurst / 2));
    const now = Date.now();
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#tokensAt) * rate) / 1000);
    this.#tokensAt = now;
    if (this.#tokens >= 1) { this.#tokens -= 1; return 0; }
    return Math.ceil(((1 - this.#tokens) * 1000) / rate);
  }

  #settle(ref: string | undefined, f: ServerFrame): void {
    if (ref === undefined) return;
    const p = this.#pending.get(ref);
    if (!p) return;
    this.#pending.delete(ref);
    clearTimeout(p.timer);
    p.resolve(f);
  }

  // --- conversations --------------------------------------------------------------------------

  #conv(conv: string, seq?: number): ConvState {
    let st = this.#convs.get(conv);
    if (!st) {
      st = { lastSeq: seq ?? 0, ready: false, resuming: false, replay: undefined, held: [], readWanted: 0, readSent: 0, typingOn: false, typingSentAt: 0, recent: new Set() };
      this.#convs.set(conv, st);
    }
    return st;
  }

  #forget(conv: string, err?: KefuError): void {
    this.#convs.delete(conv);
    if (err) this.#outbox.rejectAll(err, conv);
  }

  #resumeNow(conv: string, st: ConvState, internal: boolean): Promise<ResumedFrame> {
    st.resuming = true;
    st.ready = false;
    const p = this.#request({ t: 'resume', ref: this.#id('s'), conv, after: st.lastSeq }, internal) as Promise<ResumedFrame>;
    st.replay = p;
    const done = (): void => { if (st.replay === p) st.replay = undefined; };
    p.then(done, done);
    return p;
  }

  #flush(conv: string): void {
    const st = this.#convs.get(conv);
    if (!this.#welcome) return;
    if (!st || !st.ready) {
      // A conversation this socket has not entered yet: resume it first, the outbox follows.
      if (st && !st.resuming) void this.#resumeNow(conv, st, true).catch(() => undefined);
      return;
    }
    for (const e of this.#outbox.unsent(conv)) {
      const wait = this.#sendToken();
      if (wait > 0) { this.#retryLater(conv, wait); return; }
      const f: ClientFrame = e.data === undefined ? { t: 'send', conv, cid: e.cid, body: e.body } : { t: 'send', conv, cid: e.cid, body: e.body, data: e.data };
      if (!this.#write(f)) return;
      e.sent = true;
    }
  }

  #flushRead(conv: string, st: ConvState): void {
    if (st.ready && st.readWanted > st.readSent && this.#write({ t: 'read', conv, seq: st.readWanted })) st.readSent = st.readWanted;
  }
}

let wsCtor: Promise<WebSocketConstructor> | undefined;

/** The platform WebSocket, or `ws` imported lazily in Node (kept out of browser bundles). */
function defaultWebSocket(): Promise<WebSocketConstructor> {
  const g = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (g) return Promise.resolve(g);
  const name = 'ws';
  wsCtor ??= import(/* @vite-ignore */ name).then((m: { default: WebSocketConstructor }) => m.default);
  return wsCtor;
}
