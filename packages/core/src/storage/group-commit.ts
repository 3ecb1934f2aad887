/**
 * Group commit for LevelDB: concurrent writers share one synced batch. A write resolves only
 * when the batch holding it is on disk (sync: true), or, with `sync: false`, when LevelDB has
 * taken it (a crash of the machine, not of the process, can then lose the last writes).
 *
 * Why: one synced put costs a fsync (4,000/s here); one synced batch of 256 costs about the
 * same, so batching many producers' writes multiplies durable throughput (ANCHORS.md: 27k-97k
 * items/s). No timer is armed: the next batch starts as soon as the previous one is durable,
 * so a lone writer pays no added delay.
 */
import { KefuError } from '@kefu/protocol';

/** One LevelDB batch operation (the shape classic-level / abstract-level take). */
export type BatchOp =
  | { type: 'put'; key: string; value: string }
  | { type: 'del'; key: string };

/** The slice of a `level` database the writer needs. */
export interface BatchTarget {
  batch(ops: BatchOp[], options: { sync: boolean }): Promise<void>;
}

export interface GroupCommitOptions {
  /**
   * Flush each batch to disk before resolving its writers.
   * @defaultValue true
   */
  sync?: boolean;
  /**
   * Most operations in one batch; more wait for the next one.
   * @defaultValue 4096
   */
  maxBatchOps?: number;
  /**
   * Least time in ms from the start of one batch to the start of the next. 0 starts the next
   * batch as soon as the previous one is durable. A few ms make batches larger under a light,
   * steady load: each batch costs a thread-pool hand-off and a fsync whatever its size, so this
   * trades up to `intervalMs` of added write latency for less CPU per write.
   * @defaultValue 0
   */
  intervalMs?: number;
}

interface Pending {
  ops: BatchOp[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommitWriter {
  readonly #db: BatchTarget;
  readonly #sync: boolean;
  readonly #maxBatchOps: number;
  readonly #intervalMs: number;
  /** performance.now() at the start of the last batch. */
  #lastStart = -Infinity;
  #queue: Pending[] = [];
  #queuedOps = 0;
  #writing = false;
  #scheduled = false;
  #closed = false;
  #idle: Array<() => void> = [];

  constructor(db: BatchTarget, options: GroupCommitOptions = {}) {
    const maxBatchOps = options.maxBatchOps ?? 4096;
    if (!Number.isInteger(maxBatchOps) || maxBatchOps < 1) throw new RangeError('maxBatchOps must be a positive integer');
    this.#db = db;
    const intervalMs = options.intervalMs ?? 0;
    if (!Number.isFinite(intervalMs) || intervalMs < 0 || intervalMs > 10_000) throw new RangeError('intervalMs must be a number from 0 to 10000');
    this.#sync = options.sync ?? true;
    this.#maxBatchOps = maxBatchOps;
    this.#intervalMs = intervalMs;
  }

  /** Operations waiting for the next batch. */
  get pendingOps(): number {
    return this.#queuedOps;
  }

  /** Writes `ops` atomically (all or none) in a shared batch; resolves once durable. */
  write(ops: BatchOp[]): Promise<void> {
    if (this.#closed) return Promise.reject(new KefuError('KEFU_ERR_CLOSED', 'group commit writer is closed'));
    if (ops.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ ops, resolve, reject });
      this.#queuedOps += ops.length;
      this.#schedule();
    });
  }

  /** Resolves when every write issued so far has settled. */
  flush(): Promise<void> {
    if (!this.#writing && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Waits for pending writes, then refuses new ones. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  #schedule(): void {
    if (this.#writing || this.#scheduled) return;
    this.#scheduled = true;
    const wait = this.#intervalMs - (performance.now() - this.#lastStart);
    // setImmediate lets every producer woken in this turn of the event loop join the batch.
    if (wait <= 0) setImmediate(this.#run);
    else setTimeout(this.#run, wait);
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    void this.#drain();
  };

  async #drain(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    while (this.#queue.length > 0) {
      if (this.#intervalMs > 0 && performance.now() - this.#lastStart < this.#intervalMs) {
        // Paced: let the queue fill until the interval is over, then drain from #schedule.
        this.#writing = false;
        this.#schedule();
        return;
      }
      this.#lastStart = performance.now();
      // Take whole writers (their ops stay atomic) up to the op budget; at least one writer. One
      // slice, not a shift() per writer: shifting a long queue is linear each time.
      const queue = this.#queue;
      let i = 0;
      let n = 0;
      while (i < queue.length) {
        const size = queue[i]!.ops.length;
        if (i > 0 && n + size > this.#maxBatchOps) break;
        n += size;
        i++;
      }
      const taken = i === queue.length ? queue : queue.slice(0, i);
      this.#queue = i === queue.length ? [] : queue.slice(i);
      this.#queuedOps -= n;
      const ops = taken.length === 1 ? taken[0]!.ops : taken.flatMap((p) => p.ops);
      try {
        await this.#db.batch(ops, { sync: this.#sync });
        for (const p of taken) p.resolve();
      } catch (err) {
        const e = new KefuError('KEFU_ERR_STORE', `batch write failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
        for (const p of taken) p.reject(e);
      }
    }
    this.#writing = false;
    const idle = this.#idle;
    this.#idle = [];
    for (const f of idle) f();
  }
}
