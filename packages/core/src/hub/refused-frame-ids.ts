import { isValidId } from '@kefu/protocol';
import type { Echo } from './socket-writer.js';

/**
 * The top-level `ref`, `cid` and `conv` of a frame the rate limit refuses, without decoding it:
 * naming them lets a command's caller get the refusal now rather than at its own timeout. They
 * are read only before the first nested object or array, where an unescaped `"ref":"` can only
 * be a top-level key (inside a string every quote is escaped). Native byte searches over at most
 * maxPayload bytes; only valid ids are echoed.
 */
export function refusedFrameIds(data: Buffer): Echo {
  const echo: Echo = {};
  const nest = data.indexOf(0x7b, 1);
  const list = data.indexOf(0x5b);
  const head = data.subarray(0, Math.min(nest < 0 ? data.length : nest, list < 0 ? data.length : list));
  for (const k of ['ref', 'cid', 'conv'] as const) {
    const at = head.indexOf(`"${k}":"`);
    if (at < 0) continue;
    const from = at + k.length + 4;
    const to = head.indexOf(0x22, from);
    const v = to < 0 ? '' : head.toString('latin1', from, to);
    if (isValidId(v)) echo[k] = v;
  }
  return echo;
}
