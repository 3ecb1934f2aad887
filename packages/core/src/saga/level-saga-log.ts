/**
 * A SagaLog on LevelDB (`level`). Layout: `r!<id>` holds the record JSON; `s!<state>!<id>` is an
 * empty index entry so that recovery lists open sagas without scanning finished ones. A record
 * and its index change in one atomic batch, sent through the shared GroupCommitWriter so that
 * many concurrent sagas share each fsync.
 *
 * Version checks need the stored version and state. LevelDB is single-process (its LOCK file
 * keeps a second process out), so this process's own memory of what it last wrote is
 * authoritative: a bounded cache of (version, state) for records not yet finished spares a read
 * per write. A per-id lock makes check-then-batch atomic.
 */
import { Level } from 'level';
import { chainedBatchTarget, GroupCommitWriter } from '../storage/index.js';
import type { BatchOp } from '../storage/group-commit.js';
import { SagaLog, type SagaLogOptions, type SagaLogSupports } from './saga-log.js';
import type { SagaRecord, SagaState } from './types.js';

export interface LevelSagaLogOptions extends SagaLogOptions {
  /** Directory of a LevelDB database this log opens and owns. Give this or `db`. */
  location?: string;
  /** An already created database (string keys and values) the host owns; this log never closes it. */
  db?: Level<string, string>;
  /**
   * fsync each group-committed batch before a write resolves. Off, a machine crash (not a
   * process crash) can lose the last steps written.
   * @defaultValue true
   */
  sync?: boolean;
  /**
   * Most operations per group-committed batch.
   * @defaultValue 4096
   */
  maxBatchOps?: number;
  /**
   * Open records whose version this log remembers to skip a read before each write; past it,
   * the oldest is forgotten and read from disk when next written.
   * @defaultValue 10000
   */
  maxCachedVersions?: number;
}

const recordKey = (id: string): string => `r!${id}`;
const indexPrefix = (state: SagaState): string => `s!${state}!`;
// '"' is the character after '!': the upper bound of one state's index range.
const indexEnd = (state: SagaState): string => `s!${state}"`;
const FINISHED: ReadonlySet<SagaState> = new Set<SagaState>(['completed', 'compensated', 'resolved']);

export class LevelSagaLog extends SagaLog {
  readonly supports: SagaLogSupports = { durable: true, evictsFinished: false };
  readonly #db: Level<string, string>;
  readonly #ownsDb: boolean;
  readonly #writer: GroupCommitWriter;
  readonly #maxKnown: number;
  #locks = new Map<string, Promise<void>>();
  // id -> what the store holds now; only for records whose state may still change.
  #known = new Map<string, { version: number; state: SagaState }>();

  constructor(options: LevelSagaLogOptions) {
    super(options);
    if (options === null || typeof options !== 'object') throw new TypeError('LevelSagaLog needs options with location or db');
    if (options.location !== undefined && options.db !== undefined) throw new TypeError('pass either location or db, not both');
    if (options.db === undefined && !(typeof options.location === 'string' && options.location.length > 0)) {
      throw new TypeError('LevelSagaLog needs a location (a directory) or a db');
    }
    // Every option is checked before the database is created: a Level instance opens itself.
    if (options.sync !== undefined && typeof options.sync !== 'boolean') throw new TypeError('sync must be a boolean');
    const maxBatchOps = options.maxBatchOps ?? 4096;
    if (!Number.isInteger(maxBatchOps) || maxBatchOps < 1) throw new RangeError('maxBatchOps must be a positive integer');
    const maxKnown = options.maxCachedVersions ?? 10_000;
    if (!Number.isInteger(maxKnown) || maxKnown < 0) throw new RangeError('maxCachedVersions must be a non-negative integer');
    this.#maxKnown = maxKnown;
    if (options.db !== undefined) {
      this.#db = options.db;
      this.#ownsDb = false;
    } else {
      this.#db = new Level<string, string>(options.location as string, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
      this.#ownsDb = true;
    }
    this.#writer = new GroupCommitWriter(chainedBatchTarget(this.#db), { sync: options.sync ?? true, maxBatchOps });
  }

  protected async _open(): Promise<void> {
    await this.#db.open();
  }

  protected async _close(): Promise<void> {
    await this.#writer.close();
    if (this.#ownsDb) await this.#db.close();
  }

  protected _create(record: SagaRecord, json: string): Promise<'ok' | 'exists'> {
    return this.#locked(record.id, async () => {
      if (this.#known.has(record.id) || (await this.#db.get(recordKey(record.id))) !== undefined) return 'exists';
      await this.#write(record.id, [
        { type: 'put', key: recordKey(record.id), value: json },
        { type: 'put', key: indexPrefix(record.state) + record.id, value: '' },
      ], record);
      return 'ok';
    });
  }

  protected _update(record: SagaRecord, json: string, expectedVersion: number): Promise<'ok' | 'missing' | 'conflict'> {
    return this.#locked(record.id, async () => {
      let old = this.#known.get(record.id);
      if (old === undefined) {
        const cur = await this.#db.get(recordKey(record.id));
        if (cur === undefined) return 'missing';
        old = JSON.parse(cur) as Pick<SagaRecord, 'state' | 'version'>;
      }
      if (old.version !== expectedVersion) return 'conflict';
      const ops: BatchOp[] = [{ type: 'put', key: recordKey(record.id), value: json }];
      if (old.state !== record.state) {
        ops.push({ type: 'del', key: indexPrefix(old.state) + record.id }, { type: 'put', key: indexPrefix(record.state) + record.id, value: '' });
      }
      await this.#write(record.id, ops, record);
      return 'ok';
    });
  }

  protected async _get(id: string): Promise<string | undefined> {
    return (await this.#db.get(recordKey(id))) ?? undefined;
  }

  protected async _list(state: SagaState, limit: number, after: string | undefined): Promise<string[]> {
    const prefix = indexPrefix(state);
    const range = after === undefined ? { gte: prefix, lt: indexEnd(state), limit } : { gt: prefix + after, lt: indexEnd(state), limit };
    const ids = await this.#db.keys(range).all();
    if (ids.length === 0) return [];
    const values = await this.#db.getMany(ids.map((k) => recordKey(k.slice(prefix.length))));
    // A record deleted between the two reads is simply left out.
    return values.filter((v): v is string => typeof v === 'string');
  }

  protected _delete(id: string): Promise<boolean> {
    return this.#locked(id, async () => {
      const cur = await this.#db.get(recordKey(id));
      if (cur === undefined) return false;
      const old = JSON.parse(cur) as Pick<SagaRecord, 'state'>;
      await this.#write(id, [
        { type: 'del', key: recordKey(id) },
        { type: 'del', key: indexPrefix(old.state) + id },
      ], undefined);
      return true;
    });
  }

  /** Writes, then remembers what the store now holds (only once the batch is durable). */
  async #write(id: string, ops: BatchOp[], now: Pick<SagaRecord, 'version' | 'state'> | undefined): Promise<void> {
    try {
      await this.#writer.write(ops);
    } catch (err) {
      // The batch may or may not be on disk: forget, so the next write reads the truth.
      this.#known.delete(id);
      throw err;
    }
    this.#known.delete(id);
    if (now === undefined || FINISHED.has(now.state) || this.#maxKnown === 0) return;
    this.#known.set(id, { version: now.version, state: now.state });
    if (this.#known.size > this.#maxKnown) this.#known.delete(this.#known.keys().next().value as string);
  }

  async #locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(id);
    let release!: () => void;
    const mine = new Promise<void>((r) => { release = r; });
    const tail = prev === undefined ? mine : prev.then(() => mine);
    this.#locks.set(id, tail);
    if (prev !== undefined) await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    }
  }
}
