/** Checks of what the host hands the hub (identities, hook results, event names and data). */
import { KefuError, isValidId, checkData, type JsonObject } from '@kefu/protocol';
import type { Identity, MessageDraft } from './types.js';

export const NAME_RE = /^[A-Za-z][A-Za-z0-9._:-]{0,63}$/;

export function identityProblem(i: Identity): string | undefined {
  if (typeof i !== 'object' || i === null) return 'not an object';
  if (!isValidId(i.tenant)) return 'tenant must be a valid id';
  if (!isValidId(i.id)) return 'id must be a valid id';
  if (i.role !== 'visitor' && i.role !== 'agent') return 'role must be visitor or agent';
  if (i.name !== undefined && (typeof i.name !== 'string' || i.name.length > 256)) return 'name must be a string of at most 256 characters';
  return undefined;
}

export function draftProblem(d: MessageDraft, maxBody: number): string | undefined {
  if (typeof d !== 'object' || d === null || typeof d.body !== 'string') return 'body must be a string';
  if (d.body.length > maxBody) return `body longer than ${maxBody}`;
  if (d.data !== undefined) return checkData(d.data);
  return undefined;
}

export function checkEventName(name: string): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'event name must be 1-64 characters: a letter, then letters, digits, . _ : -');
  return name;
}

export function checkEventData(data: JsonObject): JsonObject {
  const bad = checkData(data);
  if (bad) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `event data ${bad}`);
  return data;
}
