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

/**
 * A batch being filled: writers join the last one while it has room, and all of them get its one
 * promise. One promise per batch instead of one per write (with its executor, resolve and reject
 * functions and a queue entry): the LevelDB stores call this once per message, and at thousands of
 * messages per second that was about 200 bytes of garbage each (session 10).
 */
interface Batch {
  ops: BatchOp[];
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  return { ops: [], done, resolve, reject };
}

export class GroupCommitWriter {
  readonly #db: BatchTarget;
  readonly #sync: boolean;
  readonly #maxBatchOps: number;
  readonly #intervalMs: number;
  /** performance.now() at the start of the last batch. */
  #lastStart = -Infinity;
  /** Batches not started yet, oldest first; writers join the last one while it has room. */
  #batches: Batch[] = [];
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

  /**
   * Writes `ops` atomically (all or none) in a shared batch; resolves once durable. Writers of one
   * batch share its promise, and its failure (KEFU_ERR_STORE).
   */
  write(ops: BatchOp[]): Promise<void> {
    if (this.#closed) return Promise.reject(new KefuError('KEFU_ERR_CLOSED', 'group commit writer is closed'));
    if (ops.length === 0) return Promise.resolve();
    const batches = this.#batches;
    let b = batches[batches.length - 1];
    // A writer's ops are never split: a full batch leaves them to a new one (an empty batch takes
    // any writer, however many ops it has).
    if (b === undefined || (b.ops.length > 0 && b.ops.length + ops.length > this.#maxBatchOps)) {
      b = newBatch();
      batches.push(b);
    }
    for (const op of ops) b.ops.push(op);
    this.#queuedOps += ops.length;
    this.#schedule();
    return b.done;
  }

  /** Resolves when every write issued so far has settled. */
  flush(): Promise<void> {
    if (!this.#writing && this.#batches.length === 0) return Promise.resolve();
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
    while (this.#batches.length > 0) {
      if (this.#intervalMs > 0 && performance.now() - this.#lastStart < this.#intervalMs) {
        // Paced: let the batch fill until the interval is over, then drain from #schedule.
        this.#writing = false;
        this.#schedule();
        return;
      }
      this.#lastStart = performance.now();
      // Taken out before the write: writes from now on fill the next batch.
      const b = this.#batches.shift()!;
      this.#queuedOps -= b.ops.length;
      try {
        await this.#db.batch(b.ops, { sync: this.#sync });
        b.resolve();
      } catch (err) {
        b.reject(new KefuError('KEFU_ERR_STORE', `batch write failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
      }
    }
    this.#writing = false;
    const idle = this.#idle;
    this.#idle = [];
    for (const f of idle) f();
  }
}
