/**
 * kefu.v1: every frame on the wire, as TypeScript types. Frames are JSON text objects with a
 * short type tag `t`. docs/protocol.md describes each one with examples; `codec.ts` validates.
 */
import type { KefuErrorCode } from './errors.js';

/** The WebSocket subprotocol a client must offer. */
export const PROTOCOL = 'kefu.v1';
/** Protocol version number carried in `welcome`. */
export const PROTOCOL_VERSION = 1;

export type Role = 'visitor' | 'agent' | 'bot' | 'system';

/** Any JSON value. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
/** A JSON object (frame `data` fields). */
export type JsonObject = { [key: string]: Json };

/** Who a message, typing indicator or receipt comes from. */
export interface Sender {
  id: string;
  role: Role;
  /** Display name, when the identity has one. */
  name?: string;
}

/** The public part of an authenticated identity, as sent in `welcome`. */
export interface PublicIdentity extends Sender {
  tenant: string;
}

export type PresenceStatus = 'online' | 'away' | 'offline';

// ---------------------------------------------------------------------------------------------
// Client -> server
// ---------------------------------------------------------------------------------------------

/** Visitor: open a new conversation. Answered by `joined` (same `ref`). */
export interface OpenFrame { t: 'open'; ref: string; data?: JsonObject }
/** Join an existing conversation (agents, or a visitor's second tab). Answered by `joined`. */
export interface JoinFrame { t: 'join'; ref: string; conv: string }
/** Leave a conversation. Answered by `left` (same `ref`). */
export interface LeaveFrame { t: 'leave'; ref: string; conv: string }
/**
 * Send a message. `cid` is the client's message id: a retried send with the same `cid` gets the
 * original `ack` and is stored once.
 */
export interface SendFrame { t: 'send'; conv: string; cid: string; body: string; data?: JsonObject }
/** Typing indicator, throttled by the server. */
export interface TypingFrame { t: 'typing'; conv: string; on: boolean }
/** Read receipt: everything up to and including `seq` has been read. */
export interface ReadFrame { t: 'read'; conv: string; seq: number }
/**
 * Resume after a reconnect: (re)join `conv` and receive every message with seq > `after`, in
 * order, then live ones. Answered by `msg` frames, then `resumed`.
 */
export interface ResumeFrame { t: 'resume'; ref: string; conv: string; after: number }
/** Set the sender's own presence (agents: online/away). */
export interface PresenceSetFrame { t: 'presence'; status: 'online' | 'away' }
/** Application command handled by a registered handler (desk: accept, transfer, close, rate...). */
export interface CommandFrame { t: 'cmd'; ref: string; name: string; conv?: string; args?: JsonObject }
/** Application-level ping, for clients that cannot send WebSocket pings. Answered by `pong`. */
export interface PingFrame { t: 'ping'; ref?: string }

export type ClientFrame =
  | OpenFrame
  | JoinFrame
  | LeaveFrame
  | SendFrame
  | TypingFrame
  | ReadFrame
  | ResumeFrame
  | PresenceSetFrame
  | CommandFrame
  | PingFrame;

export type ClientFrameType = ClientFrame['t'];

// ---------------------------------------------------------------------------------------------
// Server -> client
// ---------------------------------------------------------------------------------------------

/** Limits the server enforces on this connection, announced in `welcome`. */
export interface AnnouncedLimits {
  /** Largest frame accepted, in bytes (bigger: close 1009). */
  maxPayload: number;
  /** Longest message body, in UTF-16 code units. */
  maxBody: number;
  /** Sustained frames per second allowed (token bucket refill rate). */
  ratePerSec: number;
  /** Burst size of the token bucket. */
  rateBurst: number;
  /** Most conversations one connection may be in. */
  maxConversations: number;
}

/** First frame after the upgrade: who you are and the rules of this connection. */
export interface WelcomeFrame {
  t: 'welcome';
  v: typeof PROTOCOL_VERSION;
  /** Connection id, unique per node and connection; for logs. */
  session: string;
  user: PublicIdentity;
  /** The server pings this often; reconnect if nothing arrives for twice this long. */
  heartbeatMs: number;
  limits: AnnouncedLimits;
}

/** A conversation member as listed in `joined`. */
export interface Member extends Sender {
  /** Highest seq this member has read, 0 if none. */
  readSeq: number;
}

/** Reply to `open` / `join`: you are in the conversation; `seq` is its latest sequence number. */
export interface JoinedFrame { t: 'joined'; ref?: string; conv: string; seq: number; members: Member[]; data?: JsonObject }
/** You left (or were removed from) a conversation. */
export interface LeftFrame { t: 'left'; ref?: string; conv: string; reason?: string }
/** Someone joined or left a conversation you are in. */
export interface MemberFrame { t: 'member'; conv: string; user: Sender; joined: boolean }
/** Your `send` was stored durably with sequence number `seq`. `dup` marks a retried `cid`. */
export interface AckFrame { t: 'ack'; conv: string; cid: string; seq: number; ts: number; dup?: true }
/** A message in a conversation. */
export interface MessageFrame {
  t: 'msg';
  conv: string;
  seq: number;
  cid: string;
  from: Sender;
  body: string;
  /** Server time (ms since epoch) when the message was stored. */
  ts: number;
  data?: JsonObject;
}
export interface TypingEventFrame { t: 'typing'; conv: string; from: Sender; on: boolean }
export interface ReadEventFrame { t: 'read'; conv: string; from: Sender; seq: number }
export interface PresenceEventFrame { t: 'presence'; user: Sender; status: PresenceStatus }
/** End of a resume replay: every message in (after, seq] has been sent before this frame. */
export interface ResumedFrame { t: 'resumed'; ref: string; conv: string; after: number; seq: number; count: number }
/** An application event (desk: queue position, offer, assignment, bot answer...). */
export interface EventFrame { t: 'event'; name: string; conv?: string; data: JsonObject }
/** Successful reply to a `cmd`. */
export interface ResultFrame { t: 'result'; ref: string; data?: JsonObject }
export interface PongFrame { t: 'pong'; ref?: string }
/**
 * An error. `ref`, `conv` and `cid` echo the frame that caused it, when known. Nothing the
 * failed frame asked for was applied.
 */
export interface ErrorFrame { t: 'error'; code: KefuErrorCode; message: string; ref?: string; conv?: string; cid?: string }

export type ServerFrame =
  | WelcomeFrame
  | JoinedFrame
  | LeftFrame
  | MemberFrame
  | AckFrame
  | MessageFrame
  | TypingEventFrame
  | ReadEventFrame
  | PresenceEventFrame
  | ResumedFrame
  | EventFrame
  | ResultFrame
  | PongFrame
  | ErrorFrame;

export type ServerFrameType = ServerFrame['t'];
