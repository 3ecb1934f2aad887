/**
 * Training data readers: the CLINC150 JSON shape ({ train, val, test, oos_train, oos_val,
 * oos_test }: lists of [text, label]), a plain JSON list of [text, label], or CSV with a header
 * row (text in the first column, label in the second; RFC 4180 quoting).
 */
import { readFileSync } from 'node:fs';
import { KefuError } from '@kefu/protocol';

export interface Example {
  text: string;
  label: string;
}

/** Which split of a CLINC150-shaped file to read. */
export type Split = 'train' | 'val' | 'test';

function bad(file: string, why: string, cause?: unknown): KefuError {
  return new KefuError('KEFU_ERR_INTENT_DATA_INVALID', `${file}: ${why}`, { cause, details: { file } });
}

/** Parses CSV text into rows (quoted fields may hold commas, quotes and newlines). */
export function parseCsv(src: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = src.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < src.length; i++) {
    const ch = src[i]!;
    if (quoted) {
      if (ch === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && src[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else field += ch;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function pairs(file: string, list: unknown, what: string): Example[] {
  if (!Array.isArray(list)) throw bad(file, `${what} is not a list of [text, label]`);
  return list.map((p, i) => {
    if (!Array.isArray(p) || typeof p[0] !== 'string' || typeof p[1] !== 'string') {
      throw bad(file, `${what}[${i}] is not a [text, label] pair of strings`);
    }
    return { text: p[0], label: p[1] };
  });
}

/**
 * Reads one split. For the CLINC150 shape the out-of-scope list of the same split (e.g.
 * `oos_val`) is appended with the label `oosLabel`. CSV and plain lists have one split only and
 * return it whatever `split` says.
 */
export function readExamples(file: string, split: Split, oosLabel = 'oos'): Example[] {
  let src: string;
  try {
    src = readFileSync(file, 'utf8');
  } catch (err) {
    throw bad(file, 'cannot be read', err);
  }
  let out: Example[];
  if (/\.csv$/i.test(file)) {
    const rows = parseCsv(src);
    if (rows.length < 2) throw bad(file, 'needs a header row and at least one example');
    out = rows.slice(1).map((r, i) => {
      const text = r[0]?.trim();
      const label = r[1]?.trim();
      if (!text || !label) throw bad(file, `row ${i + 2} lacks a text or a label`);
      return { text, label };
    });
  } else {
    let json: unknown;
    try {
      json = JSON.parse(src);
    } catch (err) {
      throw bad(file, 'is neither CSV (by extension) nor valid JSON', err);
    }
    if (Array.isArray(json)) out = pairs(file, json, 'the list');
    else if (json && typeof json === 'object' && split in json) {
      const o = json as Record<string, unknown>;
      out = pairs(file, o[split], split);
      const oos = o[`oos_${split}`];
      if (oos !== undefined) out = out.concat(pairs(file, oos, `oos_${split}`).map((e) => ({ text: e.text, label: oosLabel })));
    } else throw bad(file, `has no "${split}" list`);
  }
  if (out.length === 0) throw bad(file, 'has no examples');
  return out;
}

/** True when the JSON file has the named split (CSV files never do). */
export function hasSplit(file: string, split: Split): boolean {
  if (/\.csv$/i.test(file)) return false;
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return !!json && typeof json === 'object' && !Array.isArray(json) && split in json;
  } catch {
    return false;
  }
}
