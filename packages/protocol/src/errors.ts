/**
 * The one registry of Kefu's stable error codes. Codes never change once released; the
 * descriptions (and the messages thrown with them) may. The same codes travel on the wire in
 * `error` frames, so a browser client can switch on them too.
 *
 * Each component owns one section below. Add a code to your section, document it in
 * docs/errors.md (a test checks that every code here is listed there), never rename one.
 */
export const errorCodes = {
  // --- protocol and hub ---------------------------------------------------------------------
  KEFU_ERR_INVALID_JSON: 'The frame is not valid JSON text.',
  KEFU_ERR_INVALID_FRAME: 'The frame is JSON but a field is missing, of the wrong type, out of range or unknown.',
  KEFU_ERR_UNKNOWN_FRAME: 'The frame type (`t`) is not one this protocol version defines.',
  KEFU_ERR_BINARY_FRAME: 'A binary WebSocket frame arrived; kefu.v1 uses text frames only.',
  KEFU_ERR_PAYLOAD_TOO_LARGE: 'A frame, message body or stored payload exceeds its size limit.',
  KEFU_ERR_RATE_LIMITED: 'The connection sends frames faster than its rate limit allows.',
  KEFU_ERR_UNAUTHORIZED: 'Authentication failed or is missing.',
  KEFU_ERR_FORBIDDEN: 'The identity may not do this (wrong role or wrong tenant).',
  KEFU_ERR_ORIGIN_NOT_ALLOWED: 'The Origin header is not in the allow-list.',
  KEFU_ERR_NOT_MEMBER: 'The connection is not a member of that conversation.',
  KEFU_ERR_TOO_MANY_CONVERSATIONS: 'The connection already holds its maximum number of conversations.',
  KEFU_ERR_CONVERSATION_NOT_FOUND: 'No conversation with that id exists for this tenant.',
  KEFU_ERR_CONVERSATION_CLOSED: 'The conversation is closed and takes no new messages.',
  KEFU_ERR_REJECTED: 'The host application rejected the frame (a beforeMessage or similar hook).',
  KEFU_ERR_UNKNOWN_COMMAND: 'No handler is registered for that command name.',
  KEFU_ERR_SLOW_CONSUMER: 'The connection does not read fast enough; its send buffer passed the high-water mark.',
  KEFU_ERR_SHUTTING_DOWN: 'The server is shutting down and accepts no new work.',
  KEFU_ERR_INTERNAL: 'An unexpected server error. Nothing was changed.',
  KEFU_ERR_STORE: 'The persistence layer failed (I/O error). The operation was not applied.',
  KEFU_ERR_CLOSED: 'The component was closed; it cannot be used any more.',
  KEFU_ERR_NOT_OPEN: 'The component is not open yet (call and await open()).',
  KEFU_ERR_INVALID_ARGUMENT: 'An argument passed to a public method is invalid.',
  KEFU_ERR_TIMEOUT: 'The operation did not complete within its time limit.',

  // --- priority queue -----------------------------------------------------------------------
  KEFU_ERR_QUEUE_INVALID_PRIORITY: 'The priority is not an integer within the allowed range.',
  KEFU_ERR_QUEUE_UNKNOWN_ITEM: 'No item with that id is in the queue.',
  KEFU_ERR_QUEUE_UNKNOWN_LEASE: 'The item is not leased (unknown id, already acked, or never leased).',
  KEFU_ERR_QUEUE_LEASE_EXPIRED: 'The lease expired before the ack; the item went back to the queue.',

  // --- profile aggregator -------------------------------------------------------------------
  KEFU_ERR_PROFILE_INVALID_UID: 'The user id is empty, too long or contains characters that are not allowed.',
  KEFU_ERR_PROFILE_SOURCE_TIMEOUT: 'A profile source did not answer within its timeout; the call was aborted.',
  KEFU_ERR_PROFILE_SOURCE_FAILED: 'A profile source failed (connection refused, HTTP error, thrown error).',
  KEFU_ERR_PROFILE_CIRCUIT_OPEN: 'The source\'s circuit breaker is open; the source was not called.',
  KEFU_ERR_PROFILE_BAD_RESPONSE: 'A profile source answered with a body that is not JSON or has the wrong shape.',
  KEFU_ERR_PROFILE_RESPONSE_TOO_LARGE: 'A profile source answered with a body larger than its limit.',
  KEFU_ERR_PROFILE_REQUIRED_SOURCE_FAILED: 'A source marked required failed, so no profile could be built.',

  // --- intent classifier --------------------------------------------------------------------
  KEFU_ERR_INTENT_INVALID_TEXT: 'The text to classify is not a non-empty string of valid characters.',
  KEFU_ERR_INTENT_MODEL_NOT_FOUND: 'The model file does not exist or cannot be read.',
  KEFU_ERR_INTENT_MODEL_CORRUPT: 'The model file is not a valid ONNX model the runtime can load.',
  KEFU_ERR_INTENT_MODEL_METADATA: 'The model lacks the metadata Kefu needs (labels, featurizer, threshold).',
  KEFU_ERR_INTENT_WORKER_FAILED: 'An inference worker crashed; the request failed and the worker was replaced.',
  KEFU_ERR_INTENT_DATA_INVALID: 'The training data file is missing, malformed or has too few examples.',
  KEFU_ERR_INTENT_QUEUE_FULL: 'Too many classifications are waiting (maxQueue); retry later.',

  // --- desk ---------------------------------------------------------------------------------
  KEFU_ERR_DESK_OFFER_EXPIRED: 'The offer expired or was already answered.',
  KEFU_ERR_DESK_OFFER_NOT_YOURS: 'The offer was made to another agent.',
  KEFU_ERR_DESK_AGENT_NOT_FOUND: 'No agent with that id is known in this tenant.',
  KEFU_ERR_DESK_TEAM_NOT_FOUND: 'No team with that name exists in this tenant.',
  KEFU_ERR_DESK_ALREADY_RATED: 'The conversation was already rated.',
  KEFU_ERR_DESK_INVALID_STATE: 'The conversation is not in a state that allows this action.',
  KEFU_ERR_DESK_AGENT_AT_CAPACITY: 'The agent has no free capacity.',
  KEFU_ERR_DESK_AGENT_OFFLINE: 'The agent is not online (or is away), so cannot take the conversation.',
  KEFU_ERR_DESK_QUEUE_FULL: 'The waiting queue (or the desk) holds its maximum number of conversations.',

  // --- saga ---------------------------------------------------------------------------------
  KEFU_ERR_SAGA_INVALID_DEFINITION: 'The saga definition is invalid (no steps, duplicate names, bad options).',
  KEFU_ERR_SAGA_NOT_FOUND: 'No saga with that id is in the log.',
  KEFU_ERR_SAGA_ALREADY_EXISTS: 'A saga with that id already exists.',
  KEFU_ERR_SAGA_STEP_TIMEOUT: 'A saga step did not finish within its timeout.',
  KEFU_ERR_SAGA_STEP_FAILED: 'A saga step failed after its retries.',
  KEFU_ERR_SAGA_CONFLICT: 'The saga record changed since it was read (another runner advanced it); this runner stopped.',
  KEFU_ERR_SAGA_UNKNOWN_DEFINITION: 'No saga definition with that name is registered with the orchestrator.',
  KEFU_ERR_SAGA_INVALID_STATE: 'The saga is not in a state that allows this action (e.g. retry of a completed saga).',
  KEFU_ERR_SAGA_TOO_MANY_ACTIVE: 'The orchestrator already runs its maximum number of sagas; start again later.',

  // --- client (@kefu/client) ----------------------------------------------------------------
  KEFU_ERR_CLIENT_OUTBOX_FULL: 'The client holds its maximum number of unacknowledged messages (maxOutbox); the send was refused.',
  KEFU_ERR_CLIENT_DISCONNECTED: 'The connection dropped before the server answered this request; it may or may not have been applied.',

  // --- scale-out (redis) --------------------------------------------------------------------
  KEFU_ERR_BUS_UNAVAILABLE: 'The cross-node bus (Redis) is unreachable; local delivery continues.',
  // desks across nodes (clusterDesk, RedisDeskStore)
  KEFU_ERR_DESK_FENCED: 'This node\'s desk no longer holds the leader lock: its write was refused (another node\'s desk is active).',
  KEFU_ERR_DESK_UNAVAILABLE: 'No active desk answered the command in time (a failover in progress, or Redis unreachable); it may be retried.',
} as const;

/** A stable Kefu error code, e.g. `KEFU_ERR_RATE_LIMITED`. */
export type KefuErrorCode = keyof typeof errorCodes;

/** True when `code` is a code from the registry. */
export function isKefuErrorCode(code: unknown): code is KefuErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(errorCodes, code);
}

export interface KefuErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** Structured, serialisable context (ids, limits) for logs and error frames. */
  details?: Record<string, unknown>;
}

/**
 * Base class of every error Kefu throws or rejects with. Switch on `code`, never on `message`.
 */
export class KefuError extends Error {
  readonly code: KefuErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: KefuErrorCode, message?: string, options: KefuErrorOptions = {}) {
    super(message ?? errorCodes[code], options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KefuError';
    this.code = code;
    this.details = options.details;
  }

  /** The error as it travels in an `error` frame's fields. */
  toJSON(): { code: KefuErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** True for a KefuError, optionally of one code. Works across package copies (checks the code). */
export function isKefuError(err: unknown, code?: KefuErrorCode): err is KefuError {
  if (typeof err !== 'object' || err === null) return false;
  const c = (err as { code?: unknown }).code;
  return isKefuErrorCode(c) && (code === undefined || c === code);
}
