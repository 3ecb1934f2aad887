/**
 * A concurrency limit with a FIFO of waiters. It replaced p-limit on the call path: a call takes a
 * per-source and a global slot, and two nested p-limit wrappers cost about 2.2 µs and a dozen
 * promises per call (measured), most of the aggregator's garbage. Here a free slot is a counter
 * increment; only a call that must wait allocates a promise.
 */
import { Fifo } from '../util/fifo.js';

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
  private readonly queue = new Fifo<Waiter>();

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
    this.queue.dropWhile((x) => x.done);
  }

  /** Frees a slot, handing it straight to the first live waiter if there is one. */
  release(): void {
    for (let w = this.queue.shift(); w !== undefined; w = this.queue.shift()) {
      if (w.done) continue;
      w.done = true;
      this.pending--;
      w.resolve();
      return;
    }
    this.active--;
  }
}
