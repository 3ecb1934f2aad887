/**
 * A concurrency limit with a FIFO of waiters. It replaced p-limit on the call path: a call takes a
 * per-source and a global slot, and two nested p-limit wrappers cost about 2.2 µs and a dozen
 * promises per call (measured), most of the aggregator's garbage. Here a free slot is a counter
 * increment; only a call that must wait allocates a promise.
 */
const noop = (): void => undefined;

/** One caller waiting for a slot. */
export class Waiter {
  /** Handed a slot, or cancelled: either way no longer waiting. */
  done = false;
  resolve: () => void = noop;
  readonly promise = new Promise<void>((resolve) => {
    this.resolve = resolve;
  });
}

export class Slots {
  /** Slots held now. */
  active = 0;
  /** Callers waiting now. */
  pending = 0;
  private queue: Array<Waiter | undefined> = [];
  private head = 0;

  constructor(readonly max: number) {}

  /** Takes a slot if one is free and nobody waits (FIFO fairness); false otherwise. */
  tryTake(): boolean {
    if (this.active < this.max && this.pending === 0) {
      this.active++;
      return true;
    }
    return false;
  }

  /** Queues for a slot; `waiter.promise` resolves holding it. */
  wait(): Waiter {
    const w = new Waiter();
    this.queue.push(w);
    this.pending++;
    return w;
  }

  /** A waiter gave up (its call timed out): leaves the queue, or frees the slot it was just handed. */
  cancel(w: Waiter): void {
    if (w.done) {
      this.release();
      return;
    }
    w.done = true;
    this.pending--;
    // Waiters of one source time out in the order they queued, so the cancelled sit at the head.
    const q = this.queue;
    while (this.head < q.length && q[this.head]!.done) q[this.head++] = undefined;
    this.compact();
  }

  /** Frees a slot, handing it straight to the first live waiter if there is one. */
  release(): void {
    const q = this.queue;
    while (this.head < q.length) {
      const w = q[this.head]!;
      q[this.head++] = undefined;
      if (w.done) continue;
      w.done = true;
      this.pending--;
      this.compact();
      w.resolve();
      return;
    }
    this.compact();
    this.active--;
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
