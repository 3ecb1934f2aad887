/**
 * The validating codec of kefu.v1, shared by server and client. Decoding never throws: it
 * returns either the typed frame or a coded error that the server sends back as an `error`
 * frame. Validation is hand-written (no schema library): it runs for every inbound frame.
 */
import type { KefuErrorCode } from './errors.js';
import type { ClientFrame, ServerFrame, JsonObject } from './frames.js';
import { FieldLimits } from './limits.js';

export interface DecodeError {
  code: KefuErrorCode;
  message: string;
  /** Echoed from the offending frame when it could be read, so the sender can match the error. */
  ref?: string;
  conv?: string;
  cid?: string;
}

export type DecodeResult<F> = { ok: true; frame: F } | { ok: false; error: DecodeError };

export interface ClientDecodeOptions {
  /**
   * Longest message body accepted, in UTF-16 code units.
   * @defaultValue FieldLimits.maxBody (16,000)
   */
  maxBody?: number;
}

const ID_RE = /^[\x21-\x7e]+$/;
const NAME_RE = /^[A-Za-z][A-Za-z0-9._:-]*$/;

/** Allowed keys per client frame type: anything else is an unknown field. */
const CLIENT_KEYS: Record<ClientFrame['t'], ReadonlySet<string>> = {
  open: new Set(['t', 'ref', 'data']),
  join: new Set(['t', 'ref', 'conv']),
  leave: new Set(['t', 'ref', 'conv']),
  send: new Set(['t', 'conv', 'cid', 'body', 'data']),
  typing: new Set(['t', 'conv', 'on']),
  read: new Set(['t', 'conv', 'seq']),
  resume: new Set(['t', 'ref', 'conv', 'after']),
  presence: new Set(['t', 'status']),
  cmd: new Set(['t', 'ref', 'name', 'conv', 'args']),
  ping: new Set(['t', 'ref']),
};

const SERVER_TYPES: ReadonlySet<string> = new Set<ServerFrame['t']>([
  'welcome', 'joined', 'left', 'member', 'ack', 'msg', 'typing', 'read', 'presence', 'resumed', 'event', 'result', 'pong', 'error',
]);

/** Serialises a frame. Frames are plain data, so this is JSON.stringify; kept as one seam. */
export function encodeFrame(frame: ClientFrame | ServerFrame): string {
  return JSON.stringify(frame);
}

/** True for a valid id string: 1..128 printable ASCII characters, no spaces. */
export function isValidId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= FieldLimits.maxIdLength && ID_RE.test(v);
}

/** True for a non-negative safe integer (a sequence number). */
export function isValidSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks a `data` object's depth and key count. Values are already JSON (they came out of
 * JSON.parse), so only their size is at stake.
 */
export function checkData(v: unknown): string | undefined {
  if (!isPlainObject(v)) return 'must be a JSON object';
  let keys = 0;
  const walk = (node: unknown, depth: number): string | undefined => {
    if (depth > FieldLimits.maxDataDepth) return `nests deeper than ${FieldLimits.maxDataDepth} levels`;
    if (Array.isArray(node)) {
      keys += node.length;
      if (keys > FieldLimits.maxDataKeys * 4) return `has more than ${FieldLimits.maxDataKeys * 4} array items`;
      for (const item of node) { const e = walk(item, depth + 1); if (e) return e; }
    } else if (isPlainObject(node)) {
      for (const k in node) {
        if (++keys > FieldLimits.maxDataKeys * 4) return `has more than ${FieldLimits.maxDataKeys * 4} keys and items`;
        const e = walk(node[k], depth + 1); if (e) return e;
      }
    }
    return undefined;
  };
  if (Object.keys(v).length > FieldLimits.maxDataKeys) return `has more than ${FieldLimits.maxDataKeys} keys`;
  return walk(v, 1);
}

function fail(code: KefuErrorCode, message: string, o?: Record<string, unknown>): { ok: false; error: DecodeError } {
  const error: DecodeError = { code, message };
  if (o) {
    if (isValidId(o.ref)) error.ref = o.ref;
    if (isValidId(o.conv)) error.conv = o.conv;
    if (isValidId(o.cid)) error.cid = o.cid;
  }
  return { ok: false, error };
}

/**
 * Decodes and validates one text frame from a client. Unknown types, unknown fields, wrong types
 * and out-of-range values are all rejected with a coded error; nothing is coerced.
 */
export function decodeClientFrame(text: string, options: ClientDecodeOptions = {}): DecodeResult<ClientFrame> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return fail('KEFU_ERR_INVALID_JSON', 'frame is not valid JSON');
  }
  if (!isPlainObject(v)) return fail('KEFU_ERR_INVALID_FRAME', 'frame must be a JSON object');
  const t = v.t;
  if (typeof t !== 'string') return fail('KEFU_ERR_INVALID_FRAME', 'frame has no string type field "t"', v);
  const allowed = Object.prototype.hasOwnProperty.call(CLIENT_KEYS, t) ? CLIENT_KEYS[t as ClientFrame['t']] : undefined;
  if (!allowed) return fail('KEFU_ERR_UNKNOWN_FRAME', `unknown frame type "${t.slice(0, 32)}"`, v);
  for (const k in v) {
    if (!allowed.has(k)) return fail('KEFU_ERR_INVALID_FRAME', `unknown field "${k.slice(0, 32)}" in "${t}" frame`, v);
  }
  const bad = (field: string, rule: string) => fail('KEFU_ERR_INVALID_FRAME', `"${t}" frame: ${field} ${rule}`, v);
  const needId = (field: string) => (isValidId(v[field]) ? undefined : bad(field, 'must be 1-128 printable ASCII characters'));

  switch (t as ClientFrame['t']) {
    case 'open': {
      const e = needId('ref'); if (e) return e;
      if (v.data !== undefined) { const d = checkData(v.data); if (d) return bad('data', d); }
      break;
    }
    case 'join':
    case 'leave': {
      const e = needId('ref') ?? needId('conv'); if (e) return e;
      break;
    }
    case 'send': {
      const e = needId('conv') ?? needId('cid'); if (e) return e;
      const maxBody = options.maxBody ?? FieldLimits.maxBody;
      if (typeof v.body !== 'string') return bad('body', 'must be a string');
      if (v.body.length > maxBody) return fail('KEFU_ERR_PAYLOAD_TOO_LARGE', `"send" frame: body is longer than ${maxBody} characters`, v);
      if (v.data !== undefined) { const d = checkData(v.data); if (d) return bad('data', d); }
      if (v.body.length === 0 && v.data === undefined) return bad('body', 'must not be empty unless data is given');
      break;
    }
    case 'typing': {
      const e = needId('conv'); if (e) return e;
      if (typeof v.on !== 'boolean') return bad('on', 'must be a boolean');
      break;
    }
    case 'read': {
      const e = needId('conv'); if (e) return e;
      if (!isValidSeq(v.seq)) return bad('seq', 'must be a non-negative safe integer');
      break;
    }
    case 'resume': {
      const e = needId('ref') ?? needId('conv'); if (e) return e;
      if (!isValidSeq(v.after)) return bad('after', 'must be a non-negative safe integer');
      break;
    }
    case 'presence':
      if (v.status !== 'online' && v.status !== 'away') return bad('status', 'must be "online" or "away"');
      break;
    case 'cmd': {
      const e = needId('ref'); if (e) return e;
      if (typeof v.name !== 'string' || v.name.length > 64 || !NAME_RE.test(v.name)) return bad('name', 'must be 1-64 characters: a letter, then letters, digits, . _ : -');
      if (v.conv !== undefined) { const c = needId('conv'); if (c) return c; }
      if (v.args !== undefined) { const d = checkData(v.args); if (d) return bad('args', d); }
      break;
    }
    case 'ping':
      if (v.ref !== undefined) { const e = needId('ref'); if (e) return e; }
      break;
  }
  return { ok: true, frame: v as unknown as ClientFrame };
}

/**
 * Decodes a frame from the server (client side). Lenient on purpose: unknown fields are ignored
 * so that a newer server can add fields; an unknown `t` or a non-object is an error.
 */
export function decodeServerFrame(text: string): DecodeResult<ServerFrame> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return fail('KEFU_ERR_INVALID_JSON', 'frame is not valid JSON');
  }
  if (!isPlainObject(v) || typeof v.t !== 'string') return fail('KEFU_ERR_INVALID_FRAME', 'frame must be an object with a string "t"');
  if (!SERVER_TYPES.has(v.t)) return fail('KEFU_ERR_UNKNOWN_FRAME', `unknown frame type "${v.t.slice(0, 32)}"`);
  return { ok: true, frame: v as unknown as ServerFrame };
}

/** Builds an `error` frame from a decode error (server side). */
export function errorFrame(error: DecodeError): ServerFrame {
  return { t: 'error', ...error };
}

export type { JsonObject };
