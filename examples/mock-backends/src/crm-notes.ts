/**
 * CRM notes: the refund saga's last step (after the pivot, so it only moves forward). A small
 * service of its own so that the profile CRM stays read-only; it honours the Idempotency-Key
 * header and can be set to fail or hang like the ERP.
 *
 *   POST /customers/:uid/notes  {text}  Idempotency-Key required  -> 201 {noteId, uid, text}
 *   GET  /customers/:uid/notes          POST /_faults  FaultSettings
 */
import { startJsonService, type JsonReply, type JsonRequest, type JsonService, type JsonServiceOptions } from './json-service.js';
import { extendService } from './extend-service.js';
import { FaultSwitch, IdempotencyStore, defaultMaxIdempotencyKeys, faultRoute, idempotent, type FaultSettings } from './erp.js';

export interface CrmNotesServiceOptions extends JsonServiceOptions {
  /** @defaultValue 100000 */
  maxIdempotencyKeys?: number;
  /** Most notes kept per customer (the oldest dropped). @defaultValue 1000 */
  maxNotesPerCustomer?: number;
  /** Initial fault settings. @defaultValue { mode: 'off' } */
  faults?: FaultSettings;
}

export interface CrmNote {
  noteId: string;
  uid: string;
  text: string;
}

export interface CrmNotesService extends JsonService {
  readonly faults: FaultSwitch;
  /** Notes written (each idempotency key once). */
  readonly notesCreated: number;
  readonly replays: number;
  notesOf(uid: string): CrmNote[];
}

const uidPattern = /^[A-Za-z0-9_.:@-]{1,128}$/;

export async function startCrmNotesService(options: CrmNotesServiceOptions = {}): Promise<CrmNotesService> {
  const maxPer = options.maxNotesPerCustomer ?? 1000;
  if (!Number.isInteger(maxPer) || maxPer < 1) throw new RangeError('maxNotesPerCustomer must be a positive integer');
  const store = new IdempotencyStore(options.maxIdempotencyKeys ?? defaultMaxIdempotencyKeys);
  const sw = new FaultSwitch(options.seed ?? 1);
  if (options.faults) sw.set(options.faults);
  const notes = new Map<string, CrmNote[]>();
  let created = 0;

  const add = (req: JsonRequest): JsonReply => {
    const uid = req.params.uid ?? '';
    const t = (req.body as { text?: unknown } | undefined)?.text;
    if (!uidPattern.test(uid) || typeof t !== 'string' || t.length === 0 || t.length > 4000) {
      return { status: 400, body: { error: 'uid must match [A-Za-z0-9_.:@-]{1,128} and body must be {"text": string of 1 to 4000}', retryable: false } };
    }
    return idempotent(store, sw, req, () => {
      const note: CrmNote = { noteId: `nt-${++created}`, uid, text: t };
      const list = notes.get(uid) ?? [];
      list.push(note);
      if (list.length > maxPer) list.shift();
      notes.set(uid, list);
      return { status: 201, body: { ...note } };
    });
  };

  const service = await startJsonService(
    [
      { method: 'POST', path: '/customers/:uid/notes', handler: add },
      { method: 'GET', path: '/customers/:uid/notes', handler: (req) => ({ body: { notes: notes.get(req.params.uid ?? '') ?? [] } }) },
      { method: 'POST', path: '/_faults', handler: faultRoute(sw) },
    ],
    { name: 'crm-notes', faultsOnDemand: false, ...options },
  );

  return extendService<CrmNotesService>(service, {
    faults: sw,
    get notesCreated() { return created; },
    get replays() { return store.replays; },
    notesOf: (uid) => (notes.get(uid) ?? []).map((n) => ({ ...n })),
  });
}
