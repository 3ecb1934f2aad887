/**
 * LevelDB key layout of LevelQueueStore. Keys sort bytewise, so numbers are fixed-width hex:
 *
 *   i!<orderKey 16 hex><seq 12 hex>  -> JSON [id, priority, enqueuedAt, maxAttempts, payload]
 *   k!<id>                           -> <orderKey 16 hex><seq 12 hex>:<maxAttempts>
 *   m!<id>                           -> <state letter>:<attempts>:<dueAt>   (absent: ready, 0 attempts)
 *
 * `i!` keys are in serving order (priority with aging, then sequence). `k!` and `m!` are small,
 * so recovery scans them without reading a single payload.
 */

const view = new DataView(new ArrayBuffer(8));

/** Float64 as 16 hex digits that sort like the numbers (sign bit flipped, negatives inverted). */
export function encodeOrderKey(x: number): string {
  view.setFloat64(0, x + 0); // + 0 turns -0 into 0
  let hi = view.getUint32(0);
  let lo = view.getUint32(4);
  if (hi & 0x80000000) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  } else {
    hi = (hi | 0x80000000) >>> 0;
  }
  return hex8(hi) + hex8(lo);
}

export function decodeOrderKey(s: string): number {
  let hi = parseInt(s.slice(0, 8), 16);
  let lo = parseInt(s.slice(8, 16), 16);
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

export function itemKey(orderKey: number, seq: number): string {
  return 'i!' + encodeOrderKey(orderKey) + encodeSeq(seq);
}

export function idKey(id: string): string {
  return 'k!' + id;
}

export function markerKey(id: string): string {
  return 'm!' + id;
}

export type MarkerState = 'l' | 'd' | 'x' | 'r';

export function encodeMarker(state: MarkerState, attempts: number, dueAt: number): string {
  return `${state}:${attempts}:${dueAt}`;
}

export function decodeMarker(v: string): { state: MarkerState; attempts: number; dueAt: number } | undefined {
  const [s, a, t] = v.split(':');
  const attempts = Number(a);
  const dueAt = Number(t);
  if ((s !== 'l' && s !== 'd' && s !== 'x' && s !== 'r') || !Number.isInteger(attempts) || !Number.isFinite(dueAt)) return undefined;
  return { state: s, attempts, dueAt };
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
