/**
 * The desk's calls into the hub. None of them may fail the desk operation that caused them (the
 * state change is already stored): a throw or a rejection goes to `onError` (the desk's 'error'
 * event) instead. Without a hub every call is a no-op.
 */
import type { JsonObject } from '@kefu/protocol';
import type { DeskHub } from './hub-types.js';

export class HubOutlet {
  readonly #hub: DeskHub | undefined;
  readonly #onError: (err: unknown) => void;

  constructor(hub: DeskHub | undefined, onError: (err: unknown) => void) {
    this.#hub = hub;
    this.#onError = onError;
  }

  /** A desk event to everyone in the conversation. */
  toConversation(convId: string, name: string, data: JsonObject): void {
    const hub = this.#hub;
    if (hub) this.call(() => hub.emitToConversation(convId, name, data));
  }

  /** A desk event to every connection of one user. */
  toUser(tenant: string, userId: string, name: string, data: JsonObject): void {
    const hub = this.#hub;
    if (hub) this.call(() => hub.emitToUser(tenant, userId, name, data));
  }

  /** Runs `f` without waiting for it. */
  call(f: () => unknown): void {
    try {
      const r = f();
      if (r instanceof Promise) r.catch((err: unknown) => this.#onError(err));
    } catch (err) {
      this.#onError(err);
    }
  }

  /** Runs `f` and waits for it; resolves either way. */
  async callAsync(f: () => unknown): Promise<void> {
    try {
      await f();
    } catch (err) {
      this.#onError(err);
    }
  }
}
