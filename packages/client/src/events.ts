import type {
  AckFrame, ErrorFrame, EventFrame, JoinedFrame, LeftFrame, MemberFrame, MessageFrame, PresenceEventFrame,
  ReadEventFrame, ResumedFrame, TypingEventFrame, WelcomeFrame, KefuError,
} from '@kefu/protocol';

/**
 * Connection state. `idle` before connect(); `connecting` until `welcome`; `open`;
 * `reconnecting` while waiting for the next attempt; `closed` for good (close() or a terminal code).
 */
export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface CloseInfo {
  /** WebSocket close code (1006 when the connection dropped without a close frame). */
  code: number;
  reason: string;
}

export interface ReconnectInfo extends CloseInfo {
  /** 1-based number of the attempt about to be made. */
  attempt: number;
  /** Delay before that attempt, in ms (backoff with jitter). */
  delayMs: number;
}

/** Events of KefuClient (eventemitter3, typed). */
export interface KefuClientEvents {
  /** The connection state changed. */
  state: [state: ClientState, previous: ClientState];
  /** The server accepted the connection (first frame after every (re)connect). */
  welcome: [frame: WelcomeFrame];
  /**
   * A message, delivered once and in seq order per conversation: duplicates after a reconnect
   * are dropped and a gap triggers a resume before later messages are delivered.
   */
  message: [frame: MessageFrame];
  /** One of your sends was stored durably (also resolves the promise send() returned). */
  ack: [frame: AckFrame];
  /** You are in a conversation (your open/join, or the server added you, e.g. a desk assignment). */
  joined: [frame: JoinedFrame];
  /** You left or were removed from a conversation. */
  left: [frame: LeftFrame];
  /** Someone else joined or left a conversation you are in. */
  member: [frame: MemberFrame];
  /** Someone is typing (or stopped). */
  typing: [frame: TypingEventFrame];
  /** Someone read up to a seq. */
  read: [frame: ReadEventFrame];
  /** Someone's presence changed. */
  presence: [frame: PresenceEventFrame];
  /** A resume replay finished: every message up to `seq` has been delivered. */
  resumed: [frame: ResumedFrame];
  /** An application event (desk: queue position, offer, assignment...). */
  event: [frame: EventFrame];
  /** An error frame that answered no pending request or send of this client, or a local failure. */
  error: [error: KefuError, frame?: ErrorFrame];
  /** The connection dropped (any close, terminal or not). */
  disconnect: [info: CloseInfo];
  /** A reconnect attempt is scheduled. */
  reconnecting: [info: ReconnectInfo];
  /** The client is closed for good; pending work was rejected. */
  close: [info: CloseInfo];
}
