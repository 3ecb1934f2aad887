/**
 * One tenant's waiting line, ordered by (priority desc, order asc). A sorted array with binary
 * search: positions are array indexes, so a visitor's position is O(log n) and a snapshot of the
 * head is a slice. Insert and remove are O(n) memmoves, cheap for the tens of thousands a tenant
 * holds (bounded by `maxWaiting`).
 *
 * Why not the PriorityQueue: a lease queue hands out its head, but the desk needs positions for
 * every visitor, removal from the middle (a visitor leaves, skills routing takes the third) and
 * offers that keep their place; the desk's records are persisted by the DeskStore instead.
 */
import type { DeskConversation } from './types.js';

type Entry = Pick<DeskConversation, 'id' | 'priority' | 'order'>;

function before(a: Entry, b: Entry): boolean {
  return a.priority !== b.priority ? a.priority > b.priority : a.order < b.order;
}

export class WaitingLine<T extends Entry = DeskConversation> {
  readonly #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  /** Index where `e` is or would go. */
  #lowerBound(e: Entry): number {
    let lo = 0;
    let hi = this.#items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.#items[mid]!, e)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(item: T): void {
    this.#items.splice(this.#lowerBound(item), 0, item);
  }

  /** Removes the item with the same id at the same (priority, order); false when absent. */
  remove(item: Entry): boolean {
    const i = this.indexOf(item);
    if (i < 0) return false;
    this.#items.splice(i, 1);
    return true;
  }

  /** 0-based index, or -1. (priority, order) must be the ones it was inserted with. */
  indexOf(item: Entry): number {
    for (let i = this.#lowerBound(item); i < this.#items.length; i++) {
      const x = this.#items[i]!;
      if (x.id === item.id) return i;
      if (x.priority !== item.priority || x.order !== item.order) break;
    }
    return -1;
  }

  at(i: number): T | undefined {
    return this.#items[i];
  }

  /** In queue order. Do not mutate the line while iterating. */
  [Symbol.iterator](): IterableIterator<T> {
    return this.#items[Symbol.iterator]();
  }

  slice(start: number, end: number): T[] {
    return this.#items.slice(start, end);
  }
}
