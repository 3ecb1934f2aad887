/**
 * A SagaLog in process memory: the zero-config default and a test double. Nothing survives the
 * process. Finished records (completed, compensated, resolved) are evicted oldest-first past
 * `maxFinished`, so a long-running process stays bounded; records that are open or wait for
 * repair are never evicted.
 */
import { SagaLog, type SagaLogOptions, type SagaLogSupports } from './saga-log.js';
import type { SagaRecord, SagaState } from './types.js';

export interface MemorySagaLogOptions extends SagaLogOptions {
  /**
   * Finished records kept; the oldest is dropped when one more finishes.
   * @defaultValue 10000
   */
  maxFinished?: number;
}

const FINISHED: ReadonlySet<SagaState> = new Set<SagaState>(['completed', 'compensated', 'resolved']);

interface Entry {
  json: string;
  state: SagaState;
  version: number;
}

export class MemorySagaLog extends SagaLog {
  readonly supports: SagaLogSupports = { durable: false, evictsFinished: true };
  readonly maxFinished: number;
  #records = new Map<string, Entry>();
  // Insertion-ordered: the first id is the oldest finished one.
  #finished = new Set<string>();

  constructor(options: MemorySagaLogOptions = {}) {
    super(options);
    const maxFinished = options.maxFinished ?? 10_000;
    if (!Number.isInteger(maxFinished) || maxFinished < 0) throw new RangeError('maxFinished must be a non-negative integer');
    this.maxFinished = maxFinished;
  }

  /** Records held, all states. */
  get size(): number {
    return this.#records.size;
  }

  protected async _open(): Promise<void> {}

  protected async _close(): Promise<void> {
    this.#records.clear();
    this.#finished.clear();
  }

  protected async _create(record: SagaRecord, json: string): Promise<'ok' | 'exists'> {
    if (this.#records.has(record.id)) return 'exists';
    this.#set(record, json);
    return 'ok';
  }

  protected async _update(record: SagaRecord, json: string, expectedVersion: number): Promise<'ok' | 'missing' | 'conflict'> {
    const cur = this.#records.get(record.id);
    if (cur === undefined) return 'missing';
    if (cur.version !== expectedVersion) return 'conflict';
    this.#set(record, json);
    return 'ok';
  }

  protected async _get(id: string): Promise<string | undefined> {
    return this.#records.get(id)?.json;
  }

  protected async _list(state: SagaState, limit: number, after: string | undefined): Promise<string[]> {
    const ids: string[] = [];
    for (const [id, e] of this.#records) if (e.state === state && (after === undefined || id > after)) ids.push(id);
    ids.sort();
    return ids.slice(0, limit).map((id) => this.#records.get(id)!.json);
  }

  protected async _delete(id: string): Promise<boolean> {
    this.#finished.delete(id);
    return this.#records.delete(id);
  }

  #set(record: SagaRecord, json: string): void {
    this.#records.set(record.id, { json, state: record.state, version: record.version });
    this.#finished.delete(record.id);
    if (!FINISHED.has(record.state)) return;
    this.#finished.add(record.id);
    while (this.#finished.size > this.maxFinished) {
      const oldest = this.#finished.values().next().value as string;
      this.#finished.delete(oldest);
      this.#records.delete(oldest);
    }
  }
}
