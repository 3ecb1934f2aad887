/**
 * Options of KefuClient. One interface, defaults merged by spreading (see `resolveOptions`).
 */

/** The part of the WebSocket API the client uses: the browser's WebSocket and `ws` both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: `globalThis.WebSocket` in browsers, `ws`'s default export in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** A token, or a function returning one; called again before every (re)connect so a fresh JWT can be fetched. */
export type TokenSource = string | (() => string | Promise<string>);

export interface ReconnectOptions {
  /**
   * Reconnect automatically after a non-terminal close.
   * @defaultValue true
   */
  enabled?: boolean;
  /**
   * Delay before the first retry, in ms.
   * @defaultValue 250
   */
  minDelayMs?: number;
  /**
   * Longest delay between retries, in ms.
   * @defaultValue 10000
   */
  maxDelayMs?: number;
  /**
   * Growth factor of the delay per failed attempt.
   * @defaultValue 2
   */
  factor?: number;
  /**
   * Fraction of the delay that is randomised (0: none, 1: "full jitter"), so a server restart
   * does not bring back every client at the same instant.
   * @defaultValue 0.5
   */
  jitter?: number;
  /**
   * Give up after this many consecutive failed attempts (then state `closed`).
   * @defaultValue Infinity
   */
  maxAttempts?: number;
}

export interface KefuClientOptions {
  /** Hub URL, e.g. `wss://shop.example/kefu`. The token is added as `?token=`. */
  url: string;
  /** JWT (or a function returning one), sent as the `token` query parameter. Omit for cookie auth. */
  token?: TokenSource;
  /**
   * WebSocket constructor. Defaults to `globalThis.WebSocket`; in Node 20 (no global WebSocket)
   * the `ws` package is imported lazily.
   * @defaultValue globalThis.WebSocket, else `(await import('ws')).default`
   */
  WebSocket?: WebSocketConstructor;
  /** Reconnect policy; each field has its own default. */
  reconnect?: ReconnectOptions;
  /**
   * How long open/join/leave/resume/command/ping may take before they reject with
   * KEFU_ERR_TIMEOUT, in ms. Sends do not time out: they stay in the outbox until acked, refused,
   * or the client is closed. An automatic resume that times out is sent again.
   * @defaultValue 15000
   */
  requestTimeoutMs?: number;
  /**
   * Most unacknowledged messages kept while offline; one more rejects with KEFU_ERR_CLIENT_OUTBOX_FULL.
   * @defaultValue 500
   */
  maxOutbox?: number;
  /**
   * Typing-on indicators are sent at most once per this interval per conversation.
   * @defaultValue 2000
   */
  typingThrottleMs?: number;
  /**
   * Send an application `ping` after this long without any inbound frame; reconnect after twice
   * this long. 0 uses the server's `heartbeatMs` from `welcome`.
   * @defaultValue 0
   */
  heartbeatMs?: number;
  /**
   * In browsers, follow the window's `offline` / `online` events: drop the socket at once when
   * the network goes (instead of waiting for the heartbeat) and reconnect at once when it is back.
   * @defaultValue true (no effect where `window` has no such events, e.g. Node)
   */
  watchNetwork?: boolean;
}

export interface ResolvedOptions {
  url: string;
  token: TokenSource | undefined;
  WebSocket: WebSocketConstructor | undefined;
  reconnect: Required<ReconnectOptions>;
  requestTimeoutMs: number;
  maxOutbox: number;
  typingThrottleMs: number;
  heartbeatMs: number;
  watchNetwork: boolean;
}

export const reconnectDefaults: Required<ReconnectOptions> = {
  enabled: true,
  minDelayMs: 250,
  maxDelayMs: 10_000,
  factor: 2,
  jitter: 0.5,
  maxAttempts: Infinity,
};

function nonNegative(name: string, v: number): void {
  if (!(v >= 0) || Number.isNaN(v)) throw new RangeError(`${name} must be a non-negative number`);
}

/** Merges defaults and rejects impossible combinations with exact messages. */
export function resolveOptions(o: KefuClientOptions): ResolvedOptions {
  if (o === null || typeof o !== 'object') throw new TypeError('options must be an object');
  if (typeof o.url !== 'string' || !/^wss?:\/\//.test(o.url)) throw new TypeError('options.url must be a ws:// or wss:// URL');
  if (o.token !== undefined && typeof o.token !== 'string' && typeof o.token !== 'function') {
    throw new TypeError('options.token must be a string or a function');
  }
  const reconnect = { ...reconnectDefaults, ...o.reconnect };
  nonNegative('reconnect.minDelayMs', reconnect.minDelayMs);
  nonNegative('reconnect.maxDelayMs', reconnect.maxDelayMs);
  if (reconnect.maxDelayMs < reconnect.minDelayMs) throw new RangeError('reconnect.maxDelayMs must be >= reconnect.minDelayMs');
  if (!(reconnect.factor >= 1)) throw new RangeError('reconnect.factor must be >= 1');
  if (!(reconnect.jitter >= 0 && reconnect.jitter <= 1)) throw new RangeError('reconnect.jitter must be between 0 and 1');
  if (!(reconnect.maxAttempts >= 1)) throw new RangeError('reconnect.maxAttempts must be >= 1');
  const r: ResolvedOptions = {
    url: o.url,
    token: o.token,
    WebSocket: o.WebSocket,
    reconnect,
    requestTimeoutMs: o.requestTimeoutMs ?? 15_000,
    maxOutbox: o.maxOutbox ?? 500,
    typingThrottleMs: o.typingThrottleMs ?? 2_000,
    heartbeatMs: o.heartbeatMs ?? 0,
    watchNetwork: o.watchNetwork ?? true,
  };
  if (!(r.requestTimeoutMs > 0)) throw new RangeError('requestTimeoutMs must be > 0');
  if (!Number.isInteger(r.maxOutbox) || r.maxOutbox < 1) throw new RangeError('maxOutbox must be an integer >= 1');
  nonNegative('typingThrottleMs', r.typingThrottleMs);
  nonNegative('heartbeatMs', r.heartbeatMs);
  return r;
}
