/**
 * Field limits of kefu.v1, enforced by the codec on both sides. Hosts can set `maxBody` per hub,
 * lower or higher, up to the hub's `maxPayload` (announced in `welcome`); the id limits are fixed
 * by the protocol.
 */
export const FieldLimits = {
  /** Longest `ref`, `cid`, `conv`, user id or command name, in characters. */
  maxIdLength: 128,
  /** Default longest message body, in UTF-16 code units. */
  maxBody: 16_000,
  /** Largest sequence number (safe integer). */
  maxSeq: Number.MAX_SAFE_INTEGER,
  /** Deepest nesting of a `data` object. */
  maxDataDepth: 8,
  /** Most top-level keys of a `data` object; keys and array items at all levels together may total 4x this. */
  maxDataKeys: 64,
} as const;
