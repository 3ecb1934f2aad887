/** Open offers by id: the conversation each is for and the timer that expires it. */
export class OfferTimers {
  readonly #offers = new Map<string, { conv: string; timer: NodeJS.Timeout }>();

  get size(): number {
    return this.#offers.size;
  }

  /** Calls `onExpire` after `ms` unless the offer ends first; the timer does not keep the process alive. */
  start(offerId: string, convId: string, ms: number, onExpire: () => void): void {
    const timer = setTimeout(onExpire, ms);
    timer.unref();
    this.#offers.set(offerId, { conv: convId, timer });
  }

  /** The conversation of an open offer. */
  convOf(offerId: string): string | undefined {
    return this.#offers.get(offerId)?.conv;
  }

  /** Stops the offer's timer and forgets it (accepted, declined, expired or revoked). */
  end(offerId: string): void {
    const entry = this.#offers.get(offerId);
    if (entry) clearTimeout(entry.timer);
    this.#offers.delete(offerId);
  }

  clear(): void {
    for (const o of this.#offers.values()) clearTimeout(o.timer);
    this.#offers.clear();
  }
}
