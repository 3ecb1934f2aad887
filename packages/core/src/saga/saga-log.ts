/**
 * The abstract saga log store, shaped like abstract-level: public methods validate and map
 * outcomes to KefuError codes, then call protected `_hooks` that a store implements. A store
 * never has to know the error registry: hooks answer with a plain status.
 *
 * Records travel to hooks already serialised (the size limit is checked on that same string), so
 * a store keeps the string and never aliases the caller's object.
 */
import { KefuError } from '@kefu/protocol';
import { sagaStates, type SagaRecord, type SagaState } from './types.js';

/** Optional capabilities, so a conformance suite and hosts can tell stores apart. */
export interface SagaLogSupports {
  /** Records survive a process restart (LevelDB, Redis), not only `close()`/`open()`. */
  durable: boolean;
  /** The store drops its oldest finished (`completed`, `compensated`, `resolved`) records past a bound. */
  evictsFinished: boolean;
}

export interface SagaLogOptions {
  /**
   * Largest serialised record, in bytes of UTF-16 length (input and every step result included).
   * @defaultValue 65536
   */
  maxRecordBytes?: number;
}

export interface SagaListOptions {
  /**
   * Most records returned.
   * @defaultValue 100
   */
  limit?: number;
  /** Return only ids sorting after this one (paging: pass the last id of the previous page). */
  after?: string;
}

export type SagaLogStatus = 'new' | 'opening' | 'open' | 'closing' | 'closed';

/** Largest `limit` a list call may ask for: bounds the memory of one page. */
export const MAX_LIST_LIMIT = 10_000;
/** Longest saga id; ids are keys in every store. */
export const MAX_SAGA_ID_LENGTH = 256;

const DEFAULTS: Required<SagaLogOptions> = { maxRecordBytes: 65_536 };

export abstract class SagaLog {
  abstract readonly supports: SagaLogSupports;
  readonly maxRecordBytes: number;
  #status: SagaLogStatus = 'new';
  #opening: Promise<void> | undefined;
  #inFlight = new Set<Promise<unknown>>();

  constructor(options: SagaLogOptions = {}) {
    const o = { ...DEFAULTS, ...options };
    if (!Number.isInteger(o.maxRecordBytes) || o.maxRecordBytes < 256) {
      throw new RangeError('maxRecordBytes must be an integer >= 256');
    }
    this.maxRecordBytes = o.maxRecordBytes;
  }

  get status(): SagaLogStatus {
    return this.#status;
  }

  /** Opens the store. Idempotent; concurrent calls share one open. */
  open(): Promise<void> {
    if (this.#status === 'open') return Promise.resolve();
    if (this.#status === 'closing' || this.#status === 'closed') {
      return Promise.reject(new KefuError('KEFU_ERR_CLOSED', 'saga log is closed'));
    }
    this.#opening ??= (async () => {
      this.#status = 'opening';
      try {
        await this._open();
        this.#status = 'open';
      } catch (err) {
        this.#status = 'new';
        this.#opening = undefined;
        throw new KefuError('KEFU_ERR_STORE', `saga log failed to open: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      }
    })();
    return this.#opening;
  }

  /** Waits for operations in flight, then closes. Idempotent. */
  async close(): Promise<void> {
    if (this.#status === 'closed' || this.#status === 'closing') return;
    if (this.#status === 'opening') await this.#opening?.catch(() => undefined);
    this.#status = 'closing';
    await Promise.allSettled([...this.#inFlight]);
    try {
      await this._close();
    } finally {
      this.#status = 'closed';
    }
  }

  /** Stores a new record (its `version` must be 0). Resolves with the stored copy (version 1). */
  create(record: SagaRecord): Promise<SagaRecord> {
    return this.#run(() => {
      this.#checkRecord(record);
      if (record.version !== 0) throw invalid('a new saga record must have version 0');
      const next = { ...record, version: 1 };
      const json = this.#serialise(next);
      return this._create(next, json).then((r) => {
        if (r === 'exists') throw new KefuError('KEFU_ERR_SAGA_ALREADY_EXISTS', `saga ${record.id} already exists`, { details: { id: record.id } });
        return next;
      });
    });
  }

  /**
   * Replaces a record. `record.version` must be the stored version (the one read or returned by
   * the last write); the stored copy gets version + 1 and is returned. Any other writer in
   * between makes this reject with KEFU_ERR_SAGA_CONFLICT and change nothing.
   */
  update(record: SagaRecord): Promise<SagaRecord> {
    return this.#run(() => {
      this.#checkRecord(record);
      if (record.version < 1) throw invalid('an updated saga record must have version >= 1');
      const next = { ...record, version: record.version + 1 };
      const json = this.#serialise(next);
      return this._update(next, json, record.version).then((r) => {
        if (r === 'missing') throw new KefuError('KEFU_ERR_SAGA_NOT_FOUND', `saga ${record.id} is not in the log`, { details: { id: record.id } });
        if (r === 'conflict') {
          throw new KefuError('KEFU_ERR_SAGA_CONFLICT', `saga ${record.id} changed since version ${record.version}`, { details: { id: record.id, version: record.version } });
        }
        return next;
      });
    });
  }

  /** The record, or undefined when no saga has that id. */
  get(id: string): Promise<SagaRecord | undefined> {
    return this.#run(() => {
      checkId(id);
      return this._get(id).then((json) => (json === undefined ? undefined : parse(json)));
    });
  }

  /** Records in one state, ordered by id, one page at a time. */
  list(state: SagaState, options: SagaListOptions = {}): Promise<SagaRecord[]> {
    return this.#run(() => {
      if (!sagaStates.includes(state)) throw invalid(`unknown saga state: ${String(state)}`);
      const limit = options.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw invalid(`limit must be an integer from 1 to ${MAX_LIST_LIMIT}`);
      if (options.after !== undefined) checkId(options.after);
      return this._list(state, limit, options.after).then((rows) => rows.map(parse));
    });
  }

  /** Removes a record. Resolves true when it existed. */
  delete(id: string): Promise<boolean> {
    return this.#run(() => {
      checkId(id);
      return this._delete(id);
    });
  }

  protected abstract _open(): Promise<void>;
  protected abstract _close(): Promise<void>;
  /** Store `json` under `record.id` unless that id exists (then answer 'exists'), atomically. */
  protected abstract _create(record: SagaRecord, json: string): Promise<'ok' | 'exists'>;
  /** Replace the record if its stored version is `expectedVersion`, atomically. */
  protected abstract _update(record: SagaRecord, json: string, expectedVersion: number): Promise<'ok' | 'missing' | 'conflict'>;
  protected abstract _get(id: string): Promise<string | undefined>;
  /** Up to `limit` serialised records in `state` with ids sorting after `after`, in id order. */
  protected abstract _list(state: SagaState, limit: number, after: string | undefined): Promise<string[]>;
  protected abstract _delete(id: string): Promise<boolean>;

  #run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#status !== 'open') {
      const closed = this.#status === 'closing' || this.#status === 'closed';
      return Promise.reject(closed ? new KefuError('KEFU_ERR_CLOSED', 'saga log is closed') : new KefuError('KEFU_ERR_NOT_OPEN', 'saga log is not open (call and await open())'));
    }
    let p: Promise<T>;
    try {
      p = fn().catch((err: unknown) => {
        if (err instanceof KefuError) throw err;
        throw new KefuError('KEFU_ERR_STORE', `saga log operation failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      });
    } catch (err) {
      return Promise.reject(err);
    }
    this.#inFlight.add(p);
    const done = (): void => { this.#inFlight.delete(p); };
    p.then(done, done);
    return p;
  }

  #checkRecord(record: SagaRecord): void {
    if (typeof record !== 'object' || record === null) throw invalid('record must be an object');
    checkId(record.id);
    if (typeof record.saga !== 'string' || record.saga.length === 0) throw invalid('record.saga must be a non-empty string');
    if (!sagaStates.includes(record.state)) throw invalid(`unknown saga state: ${String(record.state)}`);
    if (!Array.isArray(record.steps)) throw invalid('record.steps must be an array');
    if (!Number.isInteger(record.version) || record.version < 0) throw invalid('record.version must be a non-negative integer');
  }

  #serialise(record: SagaRecord): string {
    let json: string;
    try {
      json = JSON.stringify(record);
    } catch (err) {
      throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'saga record is not serialisable as JSON', { cause: err });
    }
    if (json.length > this.maxRecordBytes) {
      throw new KefuError('KEFU_ERR_PAYLOAD_TOO_LARGE', `saga record ${record.id} is ${json.length} bytes, over the ${this.maxRecordBytes}-byte limit`, {
        details: { id: record.id, size: json.length, limit: this.maxRecordBytes },
      });
    }
    return json;
  }
}

function invalid(message: string): KefuError {
  return new KefuError('KEFU_ERR_INVALID_ARGUMENT', message);
}

/** Ids are store keys: non-empty, bounded, no control characters (they would break key layouts). */
export function checkId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_SAGA_ID_LENGTH) {
    throw invalid(`saga id must be a string of 1 to ${MAX_SAGA_ID_LENGTH} characters`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(id)) throw invalid('saga id must not contain control characters');
}

function parse(json: string): SagaRecord {
  return JSON.parse(json) as SagaRecord;
}
