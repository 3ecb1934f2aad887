/**
 * The hub the active desk sees: a DeskHub whose events are every node's hub events (read from the
 * relay stream) and whose actions are this node's hub calls, which already cross nodes (emitToUser
 * and addMember reach sockets anywhere through the RedisBus; post and closeConversation write the
 * shared RedisConversationStore). Commands registered here are run for every node's clients.
 *
 * Presence is aggregated across nodes: an agent is online while some node has them online, away
 * while every node that has them has them away, offline once no node has them. A node that dies
 * says nothing; `expire()` drops what it announced once the RedisAgentLedger no longer holds a
 * fresh entry for that agent on that node.
 */
import { EventEmitter } from 'eventemitter3';
import { KefuError, isKefuErrorCode, type JsonObject, type PresenceStatus, type Sender } from '@kefu/protocol';
import type { DeskCommandContext, DeskHub, DeskHubEvents, Hub } from '@kefu/core';
import type { RelayCommand, RelayPresence, RelayReply } from './desk-relay-node.js';

type Handler = (ctx: DeskCommandContext, args: JsonObject) => JsonObject | void | Promise<JsonObject | void>;

interface Seen { status: 'online' | 'away'; since: number }
interface Agent { tenant: string; user: Sender; nodes: Map<string, Seen> }

function aggregate(a: Agent | undefined): PresenceStatus {
  if (!a || a.nodes.size === 0) return 'offline';
  for (const s of a.nodes.values()) if (s.status === 'online') return 'online';
  return 'away';
}

export class RelayHub extends EventEmitter<DeskHubEvents> implements DeskHub {
  readonly #hub: Hub;
  readonly #handlers = new Map<string, Handler>();
  readonly #agents = new Map<string, Agent>();
  /** node -> agents listed so far by its sync in progress. */
  readonly #syncing = new Map<string, Set<string>>();

  constructor(hub: Hub) {
    super();
    this.#hub = hub;
  }

  command(name: string, handler: Handler): this {
    this.#handlers.set(name, handler);
    return this;
  }

  post(conv: string, from: Sender, body: string, data?: JsonObject): Promise<{ seq: number; ts: number }> {
    return this.#hub.post(conv, from, body, data);
  }
  emitToUser(tenant: string, userId: string, name: string, data?: JsonObject): void {
    this.#hub.emitToUser(tenant, userId, name, data);
  }
  emitToConversation(conv: string, name: string, data?: JsonObject): void {
    this.#hub.emitToConversation(conv, name, data);
  }
  addMember(conv: string, sender: Sender): Promise<void> {
    return this.#hub.addMember(conv, sender);
  }
  removeMember(conv: string, userId: string, reason?: string): Promise<boolean> {
    return this.#hub.removeMember(conv, userId, reason);
  }
  closeConversation(conv: string, reason?: string): Promise<void> {
    return this.#hub.closeConversation(conv, reason);
  }

  /** Cluster-wide: some node has the user's agent sockets (as relayed, and not expired). */
  isOnline(tenant: string, userId: string): boolean {
    return aggregate(this.#agents.get(`${tenant}\0${userId}`)) !== 'offline';
  }

  /** Runs a relayed command; answers what goes back to the origin node. */
  async run(cmd: RelayCommand): Promise<RelayReply> {
    const h = this.#handlers.get(cmd.name);
    try {
      if (!h) throw new KefuError('KEFU_ERR_UNKNOWN_COMMAND', `no command "${cmd.name}"`);
      const out = await h(cmd.ctx, cmd.args);
      return out === undefined || out === null ? { id: cmd.id, ok: true } : { id: cmd.id, ok: true, data: out };
    } catch (err) {
      const code = err instanceof KefuError && isKefuErrorCode(err.code) ? err.code : 'KEFU_ERR_INTERNAL';
      return { id: cmd.id, ok: false, code, message: err instanceof Error ? err.message : String(err) };
    }
  }

  /** A node says an agent's status there changed. */
  presence(node: string, tenant: string, user: Sender, status: PresenceStatus): void {
    const k = `${tenant}\0${user.id}`;
    let a = this.#agents.get(k);
    const before = aggregate(a);
    if (status === 'offline') a?.nodes.delete(node);
    else {
      if (!a) this.#agents.set(k, (a = { tenant, user, nodes: new Map() }));
      a.user = user;
      a.nodes.set(node, { status, since: Date.now() });
    }
    this.#changed(k, a, before);
  }

  /**
   * A node's full list of agents, in chunks (`first` starts it, `last` ends it): once the last
   * chunk is in, what the node did not list is offline there. Agents are not dropped before the
   * end, so a long list never shows a listed agent offline for a moment.
   */
  sync(node: string, first: boolean, last: boolean, agents: RelayPresence[]): void {
    let listed = this.#syncing.get(node);
    if (first || !listed) this.#syncing.set(node, (listed = new Set()));
    for (const p of agents) {
      const user: Sender = p.user.name === undefined ? { id: p.user.id, role: 'agent' } : { id: p.user.id, role: 'agent', name: p.user.name };
      listed.add(`${p.tenant}\0${user.id}`);
      this.presence(node, p.tenant, user, p.status);
    }
    if (!last) return;
    this.#syncing.delete(node);
    for (const [k, a] of [...this.#agents]) {
      if (a.nodes.has(node) && !listed.has(k)) this.presence(node, a.tenant, a.user, 'offline');
    }
  }

  /** Tenants with agents seen, for the expiry check. */
  tenants(): Set<string> {
    const out = new Set<string>();
    for (const a of this.#agents.values()) out.add(a.tenant);
    return out;
  }

  /**
   * Drops (agent, node) pairs of `tenant` that the ledger no longer holds fresh (the node died or
   * lost Redis), unless seen within `graceMs` (the node's ledger write may still be on its way).
   */
  expire(tenant: string, live: Set<string>, graceMs: number): void {
    const now = Date.now();
    for (const a of [...this.#agents.values()]) {
      if (a.tenant !== tenant) continue;
      for (const [node, seen] of [...a.nodes]) {
        if (now - seen.since > graceMs && !live.has(`${a.user.id}\0${node}`)) this.presence(node, tenant, a.user, 'offline');
      }
    }
  }

  #changed(k: string, a: Agent | undefined, before: PresenceStatus): void {
    const after = aggregate(a);
    if (a && a.nodes.size === 0) this.#agents.delete(k);
    if (after !== before && a) this.emit('presence', { tenant: a.tenant, user: a.user, status: after });
  }
}
