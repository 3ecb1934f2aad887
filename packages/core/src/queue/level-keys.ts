/**
 * LevelDB key layout of LevelQueueStore. Keys sort bytewise, so numbers are fixed-width hex:
 *
 *   i!<orderKey 16 hex><seq 12 hex><maxAttempts 4 hex><id>  -> row: see encodeRow
 *   m!<id>                           -> <state letter>:<attempts>:<dueAt>:<gen>   (absent: ready, 0 attempts)
 *   l!<lease number 12 hex>          -> JSON [seq, attempt, seq, attempt, ...]
 *
 * `i!` keys are in serving order (priority with aging, then sequence) and carry everything the
 * in-memory index needs, so an item costs one put and one delete over its life, and recovery
 * reads keys only (classic-level then copies no value into JS). One `l!` record covers every
 * item of one lease() call; `gen` of a marker is the next lease number when it was written, so
 * recovery knows which of the two is newer.
 *
 * Older versions kept `i!<orderKey><seq>` plus a `k!<id>` index entry (encodeIdValue); a store
 * opening such a database rewrites it to this layout first.
 */

const view = new DataView(new ArrayBuffer(8));

/** The two sortable 32-bit halves of an order key, left in `sortable` (no allocation per key). */
const sortable = { hi: 0, lo: 0 };

/** Float64 bits that sort like the numbers: sign bit flipped, negatives inverted. */
function toSortable(x: number): void {
  view.setFloat64(0, x + 0); // + 0 turns -0 into 0
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  if (hi & 0x80000000) {
    sortable.hi = ~hi >>> 0;
    sortable.lo = ~lo >>> 0;
  } else {
    sortable.hi = (hi | 0x80000000) >>> 0;
    sortable.lo = lo;
  }
}

/** Float64 as 16 hex digits that sort like the numbers. */
export function encodeOrderKey(x: number): string {
  toSortable(x);
  return hex8(sortable.hi) + hex8(sortable.lo);
}

export function decodeOrderKey(s: string): number {
  return orderKeyOf(parseInt(s.slice(0, 8), 16), parseInt(s.slice(8, 16), 16));
}

/** The float64 of an order key's two 32-bit halves. */
function orderKeyOf(hi: number, lo: number): number {
  if (hi & 0x80000000) {
    hi = (hi & 0x7fffffff) >>> 0;
  } else {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  }
  view.setUint32(0, hi);
  view.setUint32(4, lo);
  return view.getFloat64(0);
}

/** Highest sequence a key can hold (12 hex digits). */
export const MAX_SEQ = 2 ** 48 - 1;

export function encodeSeq(seq: number): string {
  const hi = Math.floor(seq / 2 ** 32);
  return HEX[(hi >>> 8) & 255]! + HEX[hi & 255]! + hex8(seq >>> 0);
}

/** The serving-order prefix of an item key (also a range bound). */
export function itemPrefix(orderKey: number, seq: number): string {
  return 'i!' + encodeOrderKey(orderKey) + encodeSeq(seq);
}

/** Scratch bytes of itemKey: grown to the longest key seen (ids are at most 255 characters). */
let keyBytes = Buffer.allocUnsafe(64);
const HEX_CODES = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

function hexInto(b: Buffer, at: number, n: number, digits: number): void {
  for (let i = at + digits - 1; i >= at; i--) {
    b[i] = HEX_CODES[n & 15]!;
    n >>>= 4;
  }
}

/**
 * Written into scratch bytes and read back as one flat string: the `+` form built a tree of
 * about ten string pieces per key, all alive while the push batch awaits its write, which is
 * what grew V8's young generation to its maximum when filling a large backlog.
 */
export function itemKey(orderKey: number, seq: number, maxAttempts: number, id: string): string {
  const n = id.length;
  for (let i = 0; i < n; i++) if (id.charCodeAt(i) > 0x7e) return itemPrefix(orderKey, seq) + HEX[(maxAttempts >>> 8) & 255]! + HEX[maxAttempts & 255]! + id;
  if (keyBytes.length < 34 + n) keyBytes = Buffer.allocUnsafe(34 + n);
  const b = keyBytes;
  toSortable(orderKey);
  b[0] = 0x69; // i
  b[1] = 0x21; // !
  hexInto(b, 2, sortable.hi, 8);
  hexInto(b, 10, sortable.lo, 8);
  hexInto(b, 18, Math.floor(seq / 2 ** 32), 4);
  hexInto(b, 22, seq >>> 0, 8);
  hexInto(b, 30, maxAttempts, 4);
  for (let i = 0; i < n; i++) b[34 + i] = id.charCodeAt(i);
  return b.toString('latin1', 0, 34 + n);
}

export interface ItemKey { orderKey: number; seq: number; maxAttempts: number; id: string }

/** Parses the item key without slicing it (recovery decodes a million of them). */
export function decodeItemKey(k: string): ItemKey | undefined {
  if (k.length < 35 || k.charCodeAt(0) !== 0x69 || k.charCodeAt(1) !== 0x21) return undefined;
  const hi = hexAt(k, 2, 8);
  const lo = hexAt(k, 10, 8);
  const seq = hexAt(k, 18, 12);
  const maxAttempts = hexAt(k, 30, 4);
  if (Number.isNaN(hi + lo + seq) || !(maxAttempts >= 1)) return undefined;
  return { orderKey: orderKeyOf(hi, lo), seq, maxAttempts, id: k.slice(34) };
}

/** `len` hex digits of `s` from `start` as a number (exact up to 13 digits), NaN if one is not hex. */
function hexAt(s: string, start: number, len: number): number {
  let n = 0;
  for (let i = start; i < start + len; i++) {
    const c = s.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return NaN;
    n = n * 16 + d;
  }
  return n;
}

/** Index entry of the older layout (read by the migration only). */
export function idKey(id: string): string {
  return 'k!' + id;
}

export function markerKey(id: string): string {
  return 'm!' + id;
}

export function leaseKey(n: number): string {
  return 'l!' + encodeSeq(n);
}

export function decodeLeaseKey(k: string): number {
  return k.length === 14 ? parseInt(k.slice(2), 16) : NaN;
}

/** `l` markers are only written by older versions (one per leased item); they still recover. */
export type MarkerState = 'l' | 'd' | 'x' | 'r';

export function encodeMarker(state: MarkerState, attempts: number, dueAt: number, gen: number): string {
  return `${state}:${attempts}:${dueAt}:${gen}`;
}

export function decodeMarker(v: string): { state: MarkerState; attempts: number; dueAt: number; gen: number } | undefined {
  const [s, a, t, g] = v.split(':');
  const attempts = Number(a);
  const dueAt = Number(t);
  const gen = g === undefined ? 0 : Number(g);
  if ((s !== 'l' && s !== 'd' && s !== 'x' && s !== 'r') || !Number.isInteger(attempts) || !Number.isFinite(dueAt) || !Number.isInteger(gen)) return undefined;
  return { state: s, attempts, dueAt, gen };
}

/** Item row as stored: header, then the payload (a string payload raw, others as JSON). */
export type Row = [id: string, priority: number, enqueuedAt: number, maxAttempts: number, payload: unknown];

/**
 * `s<header JSON>\n<string payload>` or `j<header JSON>\n<payload JSON>`: a string payload is
 * not JSON-escaped (that scan over every 1 KB payload showed in profiles). The header is a JSON
 * array, which never contains a raw newline. Rows of older versions are one JSON array (`[`...).
 */
export function encodeRow(id: string, priority: number, enqueuedAt: number, maxAttempts: number, payload: unknown): string {
  const head = JSON.stringify([id, priority, enqueuedAt, maxAttempts]);
  return typeof payload === 'string' ? 's' + head + '\n' + payload : 'j' + head + '\n' + (JSON.stringify(payload) ?? 'null');
}

export function decodeRow(v: string): Row {
  const tag = v.charCodeAt(0);
  if (tag === 0x5b) return JSON.parse(v) as Row; // '['
  const nl = v.indexOf('\n');
  if ((tag !== 0x73 && tag !== 0x6a) || nl < 0) throw new SyntaxError('not an item row');
  const [id, priority, enqueuedAt, maxAttempts] = JSON.parse(v.slice(1, nl)) as [string, number, number, number];
  const body = v.slice(nl + 1);
  return [id, priority, enqueuedAt, maxAttempts, tag === 0x73 ? body : JSON.parse(body)];
}

export function encodeIdValue(orderKey: number, seq: number, maxAttempts: number): string {
  return encodeOrderKey(orderKey) + encodeSeq(seq) + ':' + maxAttempts;
}

export function decodeIdValue(v: string): { orderKey: number; seq: number; maxAttempts: number } | undefined {
  if (v.length < 30 || v[28] !== ':') return undefined;
  const seq = parseInt(v.slice(16, 28), 16);
  const maxAttempts = Number(v.slice(29));
  if (!Number.isInteger(seq) || !Number.isInteger(maxAttempts)) return undefined;
  return { orderKey: decodeOrderKey(v.slice(0, 16)), seq, maxAttempts };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** 8 hex digits of a uint32: a table per byte, since toString(16) + padStart showed in profiles. */
function hex8(n: number): string {
  return HEX[n >>> 24]! + HEX[(n >>> 16) & 255]! + HEX[(n >>> 8) & 255]! + HEX[n & 255]!;
}
