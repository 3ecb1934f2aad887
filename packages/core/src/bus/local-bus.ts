/**
 * In-process bus. Alone it connects nothing (a single node has no one to tell); several
 * LocalBus instances sharing one `LocalBusNetwork` behave like nodes on a shared bus, which is
 * how several hubs in one process (tests, workers) talk to each other.
 */
import { Bus, type BusOptions } from './bus.js';

/** A set of LocalBus instances that see each other's publications. */
export class LocalBusNetwork {
  /** @internal */
  readonly members = new Set<LocalBus>();
}

export interface LocalBusOptions extends BusOptions {
  /**
   * The network to join.
   * @defaultValue a private network (this bus alone)
   */
  network?: LocalBusNetwork;
}

export class LocalBus extends Bus {
  readonly #network: LocalBusNetwork;

  constructor(options: LocalBusOptions = {}) {
    super(options);
    this.#network = options.network ?? new LocalBusNetwork();
    this.#network.members.add(this);
  }

  override get alone(): boolean {
    return this.#network.members.size < 2;
  }

  protected async _publish(topic: string, payload: string): Promise<void> {
    if (this.#network.members.size < 2) return;
    for (const b of this.#network.members) {
      // Asynchronous like a real transport, so no caller relies on synchronous delivery.
      if (b !== this) queueMicrotask(() => b.receive(topic, payload, this.nodeId));
    }
  }

  /** @internal */
  receive(topic: string, payload: string, origin: string): void {
    this._deliver(topic, payload, origin);
  }

  protected async _subscribe(): Promise<void> {}
  protected async _unsubscribe(): Promise<void> {}
  protected async _close(): Promise<void> {
    this.#network.members.delete(this);
  }
}
