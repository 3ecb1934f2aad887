/**
 * The profile a conversation keeps: a JSON-safe, bounded copy of what the profile source gave.
 * A ProfileAggregator's result (`{ uid, data, sources, complete }`) contributes its `data`.
 */
import { KefuError } from '@kefu/protocol';
import type { DeskProfile } from './types.js';

export function toProfile(p: unknown, maxBytes: number): { profile: DeskProfile; error?: KefuError } {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return { profile: {} };
  const o = p as Record<string, unknown>;
  const data = 'uid' in o && typeof o.data === 'object' && o.data !== null ? o.data : o;
  const json = JSON.stringify(data);
  if (json === undefined || json.length > maxBytes) {
    return { profile: {}, error: new KefuError('KEFU_ERR_PAYLOAD_TOO_LARGE', `profile of more than ${maxBytes} bytes dropped`) };
  }
  return { profile: JSON.parse(json) as DeskProfile };
}
