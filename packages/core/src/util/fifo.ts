/**
 * A first-in first-out queue with O(1) removal from the head: an array and a head index, the array
 * compacted once the consumed prefix is most of it. Array#shift() is linear on long arrays, and a
 * linked list allocates a node per item; the waiting lines of the hot paths (slot waiters, call
 * deadlines, inference requests) use this instead.
 */
export class Fifo<T> {
  #items: Array<T | undefined> = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    this.#compact();
    return item;
  }

  /** Removes and returns the `n` oldest items (fewer when fewer wait). */
  take(n: number): T[] {
    const end = Math.min(this.#items.length, this.#head + n);
    const out = this.#items.slice(this.#head, end) as T[];
    this.#items.fill(undefined, this.#head, end);
    this.#head = end;
    this.#compact();
    return out;
  }

  /** Drops items from the head while `pred` holds for them. */
  dropWhile(pred: (item: T) => boolean): void {
    const q = this.#items;
    while (this.#head < q.length && pred(q[this.#head]!)) q[this.#head++] = undefined;
    this.#compact();
  }

  /** Removes and returns every item. */
  drain(): T[] {
    const out = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return out;
  }

  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
