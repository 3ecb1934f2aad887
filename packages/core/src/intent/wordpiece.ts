/**
 * BERT's tokenizer: basic tokenisation (clean-up, CJK characters split apart, optional lower
 * case with accents stripped, punctuation split) then greedy longest-match WordPiece against a
 * vocab file (one token per line, the line number is the id).
 */
import { readFileSync } from 'node:fs';
import { KefuError } from '@kefu/protocol';

export interface WordPieceOptions {
  /** Lower-case and strip accents (uncased models). @defaultValue true */
  lowercase?: boolean;
  /** Longest sequence, [CLS] and [SEP] included; longer texts are truncated. @defaultValue 128 */
  maxLength?: number;
}

export interface Encoded {
  ids: number[];
}

const CJK = /[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\u{20000}-\u{2a6df}\u{2a700}-\u{2ceaf}\u{2f800}-\u{2fa1f}]/u;
const PUNCT = /[\p{P}\p{S}]/u;
const MAX_WORD = 100;

export class WordPieceTokenizer {
  readonly vocab: Map<string, number>;
  readonly lowercase: boolean;
  readonly maxLength: number;
  readonly cls: number;
  readonly sep: number;
  readonly unk: number;
  readonly pad: number;

  constructor(vocab: Map<string, number>, options: WordPieceOptions = {}) {
    this.vocab = vocab;
    this.lowercase = options.lowercase ?? true;
    this.maxLength = options.maxLength ?? 128;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 3) throw new RangeError('maxLength must be an integer of at least 3');
    const need = (t: string): number => {
      const id = vocab.get(t);
      if (id === undefined) throw new KefuError('KEFU_ERR_INTENT_MODEL_METADATA', `the vocab lacks the special token ${t}`);
      return id;
    };
    this.cls = need('[CLS]');
    this.sep = need('[SEP]');
    this.unk = need('[UNK]');
    this.pad = need('[PAD]');
  }

  /** Reads a BERT vocab.txt. */
  static fromFile(file: string, options: WordPieceOptions = {}): WordPieceTokenizer {
    let src: string;
    try {
      src = readFileSync(file, 'utf8');
    } catch (err) {
      throw new KefuError('KEFU_ERR_INTENT_MODEL_NOT_FOUND', `vocab file ${file} cannot be read`, { cause: err });
    }
    const vocab = new Map<string, number>();
    src.split(/\r?\n/).forEach((line, i) => {
      if (line !== '' && !vocab.has(line)) vocab.set(line, i);
    });
    return new WordPieceTokenizer(vocab, options);
  }

  /** Basic tokenisation: words and single punctuation / CJK characters. */
  basic(text: string): string[] {
    let t = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp === 0 || cp === 0xfffd || (cp < 32 && ch !== '\t' && ch !== '\n' && ch !== '\r')) continue;
      t += CJK.test(ch) ? ` ${ch} ` : ch;
    }
    if (this.lowercase) t = t.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
    const out: string[] = [];
    for (const word of t.split(/\s+/)) {
      let cur = '';
      for (const ch of word) {
        if (PUNCT.test(ch)) {
          if (cur) out.push(cur);
          out.push(ch);
          cur = '';
        } else cur += ch;
      }
      if (cur) out.push(cur);
    }
    return out;
  }

  /** WordPiece ids of one word (or [UNK]). */
  wordPieces(word: string, out: number[]): void {
    const chars = [...word];
    if (chars.length > MAX_WORD) {
      out.push(this.unk);
      return;
    }
    const pieces: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found = -1;
      while (start < end) {
        const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
        const id = this.vocab.get(sub);
        if (id !== undefined) {
          found = id;
          break;
        }
        end--;
      }
      if (found < 0) {
        out.push(this.unk);
        return;
      }
      pieces.push(found);
      start = end;
    }
    for (const p of pieces) out.push(p);
  }

  /** [CLS] pieces... [SEP], truncated to maxLength. */
  encode(text: string): number[] {
    const ids = [this.cls];
    for (const w of this.basic(text)) {
      this.wordPieces(w, ids);
      if (ids.length >= this.maxLength - 1) break;
    }
    ids.length = Math.min(ids.length, this.maxLength - 1);
    ids.push(this.sep);
    return ids;
  }
}
