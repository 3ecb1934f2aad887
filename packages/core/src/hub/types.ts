import type { IncomingMessage } from 'node:http';
import type { JsonObject, Sender, Role, PresenceStatus, Json } from '@kefu/protocol';
import type { KefuError } from '@kefu/protocol';
import type { ConversationRecord } from '../conversation/types.js';

/** Who is on a connection, as `authenticate` returns it. */
export interface Identity {
  tenant: string;
  id: string;
  role: Extract<Role, 'visitor' | 'agent'>;
  name?: string;
  /** When the credential expires (ms since epoch): the hub then closes the socket with 4003. */
  expiresAt?: number;
}

/**
 * Resolves the identity of an upgrade request. Return null/undefined or throw to refuse with
 * HTTP 401 (throw `KefuError('KEFU_ERR_FORBIDDEN')` for 403).
 */
export type Authenticate = (req: IncomingMessage) => Identity | null | undefined | Promise<Identity | null | undefined>;

/** Decides whether `identity` may join `conversation` (already checked: same tenant). */
export type AuthorizeJoin = (identity: Identity, conversation: ConversationRecord) => boolean | Promise<boolean>;

/** A message about to be stored. */
export interface MessageDraft {
  body: string;
  data?: JsonObject;
}

export interface BeforeMessageContext {
  identity: Identity;
  conversation: string;
  cid: string;
  message: MessageDraft;
}

/** Return the message to store (possibly changed), or throw KefuError('KEFU_ERR_REJECTED'). */
export type BeforeMessage = (ctx: BeforeMessageContext) => MessageDraft | Promise<MessageDraft>;

export interface CommandContext {
  identity: Identity;
  /** The conversation named in the frame; the connection is a member of it. */
  conv?: string;
}

export type CommandHandler = (ctx: CommandContext, args: JsonObject) => JsonObject | void | Promise<JsonObject | void>;

export interface RateLimitOptions {
  /** Frames per second refilled. @defaultValue 50 */
  perSec?: number;
  /** Bucket size. @defaultValue 100 */
  burst?: number;
  /** Rate-limited frames tolerated (each answered by an error frame) before close 1008. @defaultValue 20 */
  strikes?: number;
}

export interface HubOptions {
  /** Identity of an upgrade request. Required. */
  authenticate: Authenticate;
  /** Message log. @defaultValue new MemoryConversationStore() */
  store?: import('../conversation/conversation-store.js').ConversationStore;
  /** Cross-node bus. @defaultValue new LocalBus() */
  bus?: import('../bus/bus.js').Bus;
  /** Allowed Origin header values; requests without an allowed Origin get 403. @defaultValue undefined (any origin) */
  origins?: string[];
  /** Largest inbound frame in bytes; bigger closes the socket with 1009. @defaultValue 65536 */
  maxPayload?: number;
  /** Longest message body in UTF-16 code units. @defaultValue 16000 */
  maxBody?: number;
  /** Per-connection token bucket. @defaultValue { perSec: 50, burst: 100, strikes: 20 } */
  rateLimit?: RateLimitOptions;
  /** Most conversations one connection may be in. @defaultValue 100 */
  maxConversationsPerConnection?: number;
  /** Bytes buffered for one socket above which it is closed with 4002. @defaultValue 1048576 */
  highWaterMark?: number;
  /**
   * Back-pressure: frames being handled at once (appends waiting for the store, joins, commands)
   * across the hub. A socket whose frame takes the count to this limit stops being read until the
   * count falls to half of it, so a store slower than the offered load pushes back through TCP
   * to the senders instead of queueing in memory. Nothing is dropped and no error is sent.
   * @defaultValue 4096
   */
  maxInflight?: number;
  /** Interval of the shared heartbeat sweep; a socket that missed a whole interval's pong is closed with 4000. @defaultValue 30000 */
  heartbeatMs?: number;
  /** A socket that sends no frame for this long is closed with 4001 (0 disables). @defaultValue 300000 */
  idleTimeoutMs?: number;
  /** Least interval between two forwarded `typing on` of one connection in one conversation. @defaultValue 2000 */
  typingThrottleMs?: number;
  /** Messages read from the store per page during a resume. @defaultValue 200 */
  resumePageSize?: number;
  /** How long `close()` waits for in-flight work before closing sockets. @defaultValue 5000 */
  drainTimeoutMs?: number;
  /**
   * After the bus reports `recovered`, every local room is healed from the store at once and again
   * this long later (0: only once): a Redis client reports ready before its resubscription reaches
   * the server, so a message published in between would otherwise stay missing until the next one.
   * @defaultValue 1000
   */
  healSettleMs?: number;
  /** Interception hook run before a client message is stored. @defaultValue undefined */
  beforeMessage?: BeforeMessage;
  /** Join policy. @defaultValue visitors: their own conversations; agents: any in their tenant */
  authorizeJoin?: AuthorizeJoin;
}

/** What `hub.health()` returns: enough for a host's /health endpoint. */
export interface HubHealth {
  /** False while the bus is down (this node still serves its own sockets). */
  ok: boolean;
  bus: 'up' | 'down';
  /** When the current bus outage began (ms since epoch); absent while up. */
  busDownSince?: number;
  /** Rooms being healed from the store right now (plus pending recovery sweeps). */
  healing: number;
  connections: number;
  /** Frames being handled right now (see `maxInflight`). */
  inflight: number;
  /** Sockets not being read because `maxInflight` was reached (back-pressure). */
  paused: number;
  closing: boolean;
}

export interface ConversationInfo extends ConversationRecord {}

export interface DisconnectInfo {
  session: number;
  identity: Identity;
  code: number;
  reason: string;
}

/** Typed events of the Hub (eventemitter3). */
export interface HubEvents {
  /** A socket was accepted and welcomed. */
  connection: (info: { session: number; identity: Identity }) => void;
  /** A socket closed (code is the close code Kefu chose, or the peer's). */
  disconnect: (info: DisconnectInfo) => void;
  /** A conversation was created (visitor `open` or `createConversation`). */
  conversation: (conversation: ConversationInfo) => void;
  /** A message was stored (not emitted for duplicate cids). */
  message: (info: { conv: string; seq: number; cid: string; from: Sender; body: string; ts: number; data?: JsonObject }) => void;
  /** A user became a member of a conversation. */
  join: (info: { conv: string; user: Sender }) => void;
  /** A user stopped being a member of a conversation. */
  leave: (info: { conv: string; user: Sender | { id: string }; reason?: string }) => void;
  /** A typing indicator passed the throttle. */
  typing: (info: { conv: string; from: Sender; on: boolean }) => void;
  /** A read receipt was stored. */
  read: (info: { conv: string; from: Sender; seq: number }) => void;
  /** An agent's presence changed on this node. */
  presence: (info: { tenant: string; user: Sender; status: PresenceStatus }) => void;
  /** The bus reported a transport failure (once per outage): cross-node frames are being lost; local delivery goes on. */
  'bus:down': (err: Error) => void;
  /** The bus is back; every local room is being healed from the store. */
  'bus:up': (info: { downMs: number }) => void;
  /** Messages a room's local sockets had missed on the bus were delivered from the store. */
  healed: (info: { conv: string; count: number }) => void;
  /** A failure that is not a client's fault (store, bus, hook crash). */
  error: (err: KefuError | Error) => void;
}

export type { Json };
