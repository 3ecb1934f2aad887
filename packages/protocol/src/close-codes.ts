/**
 * WebSocket close codes Kefu uses. 1000-1015 are RFC 6455's; 4000-4999 are Kefu's own
 * (the range RFC 6455 leaves to applications). A client reconnects after any code except
 * the ones `isTerminalClose` names.
 */
export const CloseCode = {
  /** Normal closure (client or server asked for it). */
  NORMAL: 1000,
  /** Server shutting down gracefully; reconnect (to another node) and resume. */
  GOING_AWAY: 1001,
  /** Repeated protocol violations (invalid frames past the allowance). */
  PROTOCOL_ERROR: 1002,
  /** Policy violation, e.g. rate-limit abuse after the warning error frames. */
  POLICY_VIOLATION: 1008,
  /** A frame larger than `maxPayload`. */
  MESSAGE_TOO_BIG: 1009,
  /** Unexpected server error. */
  INTERNAL_ERROR: 1011,
  /** Server overloaded; try again later with backoff. */
  TRY_AGAIN_LATER: 1013,
  /** No pong to the server's ping within the heartbeat window. */
  HEARTBEAT_TIMEOUT: 4000,
  /** No frame from the client within the idle timeout. */
  IDLE_TIMEOUT: 4001,
  /** The client read too slowly: its send buffer passed the high-water mark. */
  SLOW_CONSUMER: 4002,
  /** The identity is no longer valid (e.g. token expired); reconnect with a fresh token. */
  AUTH_EXPIRED: 4003,
  /** Closed by the host application (kick, ban). Do not reconnect automatically. */
  KICKED: 4004,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** Close codes after which a client should not reconnect on its own. */
export function isTerminalClose(code: number): boolean {
  return code === CloseCode.NORMAL || code === CloseCode.KICKED || code === CloseCode.POLICY_VIOLATION || code === CloseCode.MESSAGE_TOO_BIG;
}
