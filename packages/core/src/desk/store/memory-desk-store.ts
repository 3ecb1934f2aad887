/**
 * In-process DeskStore: nothing survives the process. The default when no store is given, and
 * the reference the conformance suite checks the others against. Records are copied on the way
 * in and out (structuredClone) so callers cannot change stored state by mutating an object.
 */
import { DeskStore, type DeskStoreOp, type DeskStoreSupports, type StoredAgent, type StoredLastAgent } from './desk-store.js';
import type { DeskConversation } from '../types.js';

const key = (tenant: string, id: string) => `${tenant}\u0000${id}`;

export class MemoryDeskStore extends DeskStore {
  readonly supports: DeskStoreSupports = { persistent: false, history: true };
  readonly #active = new Map<string, DeskConversation>();
  readonly #closed = new Map<string, DeskConversation>();
  readonly #agents = new Map<string, StoredAgent>();
  readonly #lastAgents = new Map<string, StoredLastAgent>();

  protected async _open(): Promise<void> {}
  protected async _close(): Promise<void> {}

  protected async _write(ops: DeskStoreOp[]): Promise<void> {
    for (const op of ops) {
      if (op.type === 'conversation') {
        const k = key(op.value.tenant, op.value.id);
        const copy = structuredClone(op.value);
        if (copy.state === 'closed') { this.#active.delete(k); this.#closed.set(k, copy); }
        else { this.#closed.delete(k); this.#active.set(k, copy); }
      } else if (op.type === 'agent') {
        this.#agents.set(key(op.tenant, op.id), { tenant: op.tenant, id: op.id, settings: structuredClone(op.value) });
      } else if (op.type === 'delete-agent') {
        this.#agents.delete(key(op.tenant, op.id));
      } else if (op.type === 'last-agent') {
        this.#lastAgents.set(key(op.tenant, op.visitor), { tenant: op.tenant, visitor: op.visitor, agent: op.agent, at: op.at });
      } else {
        this.#lastAgents.delete(key(op.tenant, op.visitor));
      }
    }
  }

  protected async _loadActive(): Promise<DeskConversation[]> {
    return [...this.#active.values()].map((c) => structuredClone(c));
  }

  protected async _get(tenant: string, id: string): Promise<DeskConversation | undefined> {
    const k = key(tenant, id);
    const c = this.#active.get(k) ?? this.#closed.get(k);
    return c && structuredClone(c);
  }

  protected async _loadAgents(): Promise<StoredAgent[]> {
    return [...this.#agents.values()].map((a) => structuredClone(a));
  }

  protected async _loadLastAgents(): Promise<StoredLastAgent[]> {
    return [...this.#lastAgents.values()].map((r) => ({ ...r }));
  }
}
