/**
 * 32-bit string hashing shared by the queue's id table and the intent featurizer. The intent
 * model was trained on buckets computed with exactly these constants and this finaliser: any
 * change here changes its features and breaks the shipped model.
 */

/** FNV-1a 32-bit offset basis. */
export const FNV_OFFSET = 0x811c9dc5;
/** FNV-1a 32-bit prime. */
export const FNV_PRIME = 0x01000193;

/**
 * murmur3's 32-bit finaliser. FNV-1a leaves the low bits clustered (strings that differ only in
 * their last characters), and both callers take buckets from the low bits.
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the UTF-16 code units of `s`, then fmix32: unsigned 32-bit. */
export function hashString(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return fmix32(h);
}
