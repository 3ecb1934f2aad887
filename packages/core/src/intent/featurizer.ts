/**
 * Text -> hashed sparse features, shared byte for byte by the trainer and the inference workers.
 * Word uni/bi-grams catch phrasing; character n-grams inside each token (with < > boundaries)
 * catch morphology and typos, and make languages written without spaces (Chinese, Japanese)
 * work: a run of Han characters is one token whose character n-grams are the real signal.
 */

import { FNV_OFFSET, FNV_PRIME, fmix32 } from '../util/hash.js';

export interface FeaturizerSettings {
  /** Number of hash buckets is 2 ** hashBits. */
  hashBits: number;
  /** Word n-gram orders, inclusive range. */
  wordNgrams: [number, number];
  /** Character n-gram orders inside a token (with boundaries), inclusive range. */
  charNgrams: [number, number];
  /** Lower-case the text (after Unicode normalisation). */
  lowercase: boolean;
  /** Unicode normalisation form applied first. */
  normalization: 'NFKC' | 'NFC' | 'none';
  /** Text is truncated to this many UTF-16 code units before featurizing. */
  maxChars: number;
  /** At most this many distinct features per text (first come first kept). */
  maxFeatures: number;
}

export const defaultFeaturizerSettings: FeaturizerSettings = {
  hashBits: 16,
  wordNgrams: [1, 2],
  charNgrams: [2, 5],
  lowercase: true,
  normalization: 'NFKC',
  maxChars: 1000,
  maxFeatures: 1024,
};

export interface Features {
  /** Hash bucket of each distinct feature. */
  ids: Int32Array;
  /** Sublinear term frequency (1 + ln count) of each feature. */
  tf: Float32Array;
}

const TOKEN = /[\p{L}\p{M}\p{N}]+/gu;
const WIDE = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;

let scratch = { slots: new Int32Array(0), order: new Int32Array(0), counts: new Float32Array(0) };
const SEED_WORD = FNV_OFFSET ^ 0x1000;
const SEED_CHAR = FNV_OFFSET ^ 0x2000;
const SEED_WIDE = FNV_OFFSET ^ 0x3000;

/** Normalises and truncates text exactly as the model saw it in training. */
export function normalizeText(text: string, s: FeaturizerSettings): string {
  let t = text.length > s.maxChars ? text.slice(0, s.maxChars) : text;
  if (s.normalization !== 'none') t = t.normalize(s.normalization);
  if (s.lowercase) t = t.toLowerCase();
  return t;
}

/** Splits normalised text into tokens. */
export function tokenize(t: string): string[] {
  return t.match(TOKEN) ?? [];
}

/**
 * Features of one text. Deterministic; bounded by maxChars and maxFeatures. Hashes are FNV-1a
 * chains over UTF-16 code units, extended one unit at a time, so every n-gram starting at one
 * position costs one step more than the (n-1)-gram before it.
 */
export function featurize(text: string, s: FeaturizerSettings): Features {
  const mask = 2 ** s.hashBits - 1;
  const tokens = tokenize(normalizeText(text, s));
  // an open-addressing table (ids in first-seen order) instead of a Map: this is the hot path
  // of every prediction. Scratch space is reused between calls (each thread has its own module).
  const limit = s.maxFeatures;
  let cap = 256;
  while (cap < 2 * limit) cap *= 2;
  if (scratch.slots.length < cap) scratch = { slots: new Int32Array(cap).fill(-1), order: new Int32Array(cap), counts: new Float32Array(cap) };
  const { slots, order, counts } = scratch;
  const used: number[] = [];
  let size = 0;
  const add = (h: number): void => {
    const id = fmix32(h) & mask;
    let p = Math.imul(id, 0x9e3779b1) >>> 0;
    for (;;) {
      p &= slots.length - 1;
      const slot = slots[p]!;
      if (slot < 0) {
        if (size < limit) {
          used.push(p);
          slots[p] = size;
          order[size] = id;
          counts[size++] = 1;
        }
        return;
      }
      if (order[slot] === id) {
        counts[slot]! += 1;
        return;
      }
      p++;
    }
  };
  const [wmin, wmax] = s.wordNgrams;
  const [cmin, cmax] = s.charNgrams;
  for (let i = 0; i < tokens.length; i++) {
    // word n-grams: one chain over "tok_i tok_i+1 ..." emitting after each whole word
    let h = SEED_WORD;
    for (let n = 1; n <= wmax && i + n <= tokens.length; n++) {
      const w = tokens[i + n - 1]!;
      if (n > 1) h = Math.imul(h ^ 32, FNV_PRIME);
      for (let k = 0; k < w.length; k++) h = Math.imul(h ^ w.charCodeAt(k), FNV_PRIME);
      if (n >= wmin) add(h);
    }
    const tok = tokens[i]!;
    if (cmax >= cmin && cmin >= 1) {
      // character n-grams of "<tok>" (the boundaries mark prefixes and suffixes)
      const padded = `<${tok}>`;
      const len = padded.length;
      const whole = wmin <= 1 ? len : -1;
      for (let a = 0; a < len; a++) {
        let c = SEED_CHAR;
        const end = Math.min(len, a + cmax);
        for (let e = a; e < end; e++) {
          c = Math.imul(c ^ padded.charCodeAt(e), FNV_PRIME);
          const n = e - a + 1;
          // the whole padded token is already its word unigram
          if (n >= cmin && n !== whole) add(c);
        }
      }
    }
    // single CJK characters carry meaning on their own, like words in English
    if (tok.charCodeAt(0) >= 0x2e80 || WIDE.test(tok)) {
      for (let k = 0; k < tok.length; k++) {
        const code = tok.charCodeAt(k);
        if (code >= 0x2e80) add(Math.imul(SEED_WIDE ^ code, FNV_PRIME));
      }
    }
  }
  const ids = order.slice(0, size);
  const tf = new Float32Array(size);
  for (let k = 0; k < size; k++) tf[k] = 1 + Math.log(counts[k]!);
  for (const p of used) slots[p] = -1;
  return { ids, tf };
}

/**
 * The hash bucket of one token's word-unigram feature (the same chain `featurize` starts for it),
 * so a word's pretrained vector can be looked up by the bucket the model already receives.
 */
export function wordBucket(token: string, s: FeaturizerSettings): number {
  let h = SEED_WORD;
  for (let k = 0; k < token.length; k++) h = Math.imul(h ^ token.charCodeAt(k), FNV_PRIME);
  return fmix32(h) & (2 ** s.hashBits - 1);
}
