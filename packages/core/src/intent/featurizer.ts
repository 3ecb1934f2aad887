/**
 * Text -> hashed sparse features, shared byte for byte by the trainer and the inference workers.
 * Word uni/bi-grams catch phrasing; character n-grams inside each token (with < > boundaries)
 * catch morphology and typos, and make languages written without spaces (Chinese, Japanese)
 * work: a run of Han characters is one token whose character n-grams are the real signal.
 */

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

// FNV-1a over UTF-16 code units, seeded per feature kind so a word and a char n-gram differ.
function hashStr(s: string, seed: number, from = 0, to = s.length): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = from; i < to; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // final avalanche (murmur3 fmix) so low bits are well spread before masking
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

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

/** Features of one text. Deterministic; bounded by maxChars and maxFeatures. */
export function featurize(text: string, s: FeaturizerSettings): Features {
  const mask = 2 ** s.hashBits - 1;
  const counts = new Map<number, number>();
  const add = (h: number): void => {
    const id = h & mask;
    const c = counts.get(id);
    if (c !== undefined) counts.set(id, c + 1);
    else if (counts.size < s.maxFeatures) counts.set(id, 1);
  };
  const tokens = tokenize(normalizeText(text, s));
  const [wmin, wmax] = s.wordNgrams;
  const [cmin, cmax] = s.charNgrams;
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    for (let n = wmin; n <= wmax; n++) {
      if (n < 1 || i + n > tokens.length) continue;
      add(hashStr(n === 1 ? tok : tokens.slice(i, i + n).join(' '), 0x1000 + n));
    }
    if (cmax >= cmin && cmin >= 1) {
      const padded = `<${tok}>`;
      for (let n = cmin; n <= cmax; n++) {
        for (let a = 0; a + n <= padded.length; a++) {
          // the whole padded token is already a word unigram
          if (n === padded.length && wmin <= 1) continue;
          add(hashStr(padded, 0x2000 + n, a, a + n));
        }
      }
    }
    // single CJK characters carry meaning on their own, like words in English
    if (WIDE.test(tok)) for (const ch of tok) add(hashStr(ch, 0x3000));
  }
  const ids = new Int32Array(counts.size);
  const tf = new Float32Array(counts.size);
  let k = 0;
  for (const [id, c] of counts) {
    ids[k] = id;
    tf[k] = 1 + Math.log(c);
    k++;
  }
  return { ids, tf };
}
