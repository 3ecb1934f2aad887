/**
 * Coalescing of the desk's reactions to change: a burst of arrivals or closes marks tenants
 * dirty, and one dispatch pass per tenant runs on the next turn; positions are flushed at most
 * every `positionUpdateMs`, and after a flush of n events not before n / maxPositionEventsPerSec
 * seconds, so a long queue moving fast costs bounded work.
 */
export interface SchedulerHooks {
  dispatch(tenant: string): void;
  /** Sends the changed positions of these tenants; resolves with the number of events sent. */
  flush(tenants: string[]): Promise<number>;
  onError(err: unknown): void;
}

export class DirtyScheduler {
  readonly #hooks: SchedulerHooks;
  readonly #positionUpdateMs: number;
  readonly #maxEventsPerSec: number;
  readonly #dispatchDirty = new Set<string>();
  readonly #positionsDirty = new Set<string>();
  #dispatchScheduled = false;
  #positionTimer: NodeJS.Timeout | undefined;
  #flushing = false;
  #nextFlushAt = 0;
  #stopped = false;

  constructor(options: { positionUpdateMs: number; maxPositionEventsPerSec: number }, hooks: SchedulerHooks) {
    this.#hooks = hooks;
    this.#positionUpdateMs = options.positionUpdateMs;
    this.#maxEventsPerSec = options.maxPositionEventsPerSec;
  }

  /** Something changed in `tenant`: dispatch again, and recompute its positions. */
  mark(tenant: string): void {
    if (this.#stopped) return;
    this.#dispatchDirty.add(tenant);
    this.#positionsDirty.add(tenant);
    if (!this.#dispatchScheduled) {
      this.#dispatchScheduled = true;
      setImmediate(() => this.runDispatch());
    }
    this.#armFlush();
  }

  /** Runs the pending dispatch passes now (the sweep calls it too). */
  runDispatch(): void {
    this.#dispatchScheduled = false;
    if (this.#stopped) return;
    const tenants = [...this.#dispatchDirty];
    this.#dispatchDirty.clear();
    for (const t of tenants) this.#hooks.dispatch(t);
  }

  /** Marks `tenant` for the next dispatch pass without touching positions. */
  markDispatch(tenant: string): void {
    this.#dispatchDirty.add(tenant);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#positionTimer);
    this.#positionTimer = undefined;
  }

  #armFlush(): void {
    if (this.#positionTimer !== undefined || this.#flushing) return;
    const wait = Math.max(this.#positionUpdateMs, this.#nextFlushAt - Date.now());
    this.#positionTimer = setTimeout(() => void this.#flush(), wait);
    this.#positionTimer.unref();
  }

  async #flush(): Promise<void> {
    this.#positionTimer = undefined;
    if (this.#stopped) return;
    const tenants = [...this.#positionsDirty];
    this.#positionsDirty.clear();
    this.#flushing = true;
    let sent = 0;
    try {
      sent = await this.#hooks.flush(tenants);
    } catch (err) {
      this.#hooks.onError(err);
    } finally {
      this.#flushing = false;
    }
    this.#nextFlushAt = Date.now() + Math.ceil((sent * 1000) / this.#maxEventsPerSec);
    // Changes that came in while the flush awaited the queue.
    if (this.#positionsDirty.size > 0) this.#armFlush();
  }
}
