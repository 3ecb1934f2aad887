/**
 * The part of a desk across nodes that runs on every node: it appends the hub events the desk
 * needs to one Redis stream (the desk's inbox), and answers `desk.*` commands by appending them
 * there too and waiting for the active desk's reply on this node's reply channel.
 *
 * One stream for events and commands, written from one connection per node, so the active desk
 * sees each node's events in the order the hub emitted them (a visitor's `conversation` before
 * the `desk.human` they send next). A stream rather than pub/sub because a desk that takes over
 * must read what arrived while nobody was reading: it resumes from the cursor its predecessor
 * saved.
 */
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { DeskCommand, KefuError, isKefuErrorCode, type JsonObject } from '@kefu/protocol';
import type { DeskCommandContext, Hub } from '@kefu/core';
import { within } from './connection.js';

/** One stream entry: field `k` says what, field `d` carries JSON. */
export type RelayKind = 'conversation' | 'message' | 'presence' | 'connection' | 'cmd' | 'sync';

export interface RelayCommand {
  id: string;
  node: string;
  name: string;
  ctx: DeskCommandContext;
  args: JsonObject;
  /** ms since epoch after which the origin has answered KEFU_ERR_DESK_UNAVAILABLE: skip it. */
  deadline: number;
}

export type RelayReply = { id: string; ok: true; data?: JsonObject } | { id: string; ok: false; code: string; message: string };

/** An agent connected to a node, as that node last saw it. */
export interface RelayPresence {
  tenant: string;
  user: { id: string; role: string; name?: string };
  status: 'online' | 'away';
}

export interface NodeRelayOptions {
  hub: Hub;
  node: string;
  /** The connection that appends (owned by the caller). */
  writer: Redis;
  /** A subscriber connection (owned by the caller): replies and leader announcements. */
  sub: Redis;
  stream: string;
  replyChannel: (node: string) => string;
  leaderChannel: string;
  maxBacklog: number;
  commandTimeoutMs: number;
  maxPendingCommands: number;
  onError: (err: Error) => void;
}

interface Pending { resolve: (v: JsonObject | undefined) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }

/** Agents per `sync` entry: bounded entries even for a node holding many agents. */
const SYNC_CHUNK = 500;

export class NodeRelay {
  readonly #o: NodeRelayOptions;
  readonly #pending = new Map<string, Pending>();
  /** This node's connected agents (tenant\0id), replayed to a new leader in `sync` entries. */
  readonly #agents = new Map<string, RelayPresence>();
  readonly #off: Array<() => void> = [];
  #closed = false;

  constructor(o: NodeRelayOptions) {
    this.#o = o;
  }

  /** Subscribes to this node's replies and the leader channel, then relays the hub's events and commands. */
  async start(): Promise<void> {
    const o = this.#o;
    const mine = o.replyChannel(o.node);
    const onMessage = (channel: string, message: string): void => {
      if (channel === mine) this.#reply(message);
      else if (channel === o.leaderChannel) this.#sync();
    };
    o.sub.on('message', onMessage);
    this.#off.push(() => o.sub.off('message', onMessage));
    await o.sub.subscribe(mine, o.leaderChannel);

    const hub = o.hub;
    const onConversation = (c: { id: string; tenant: string; visitor: { id: string; role: string; name?: string } }): void => {
      this.#append('conversation', { id: c.id, tenant: c.tenant, visitor: c.visitor });
    };
    const onMessageEvt = (m: { conv: string; from: { id: string; role: string; name?: string }; body: string; ts: number }): void => {
      this.#append('message', { conv: m.conv, from: m.from, body: m.body, ts: m.ts });
    };
    const onPresence = (p: { tenant: string; user: { id: string; role: string; name?: string }; status: string }): void => {
      if (p.user.role !== 'agent') return;
      const k = `${p.tenant}\0${p.user.id}`;
      if (p.status === 'offline') this.#agents.delete(k);
      else this.#agents.set(k, { tenant: p.tenant, user: p.user, status: p.status === 'away' ? 'away' : 'online' });
      this.#append('presence', { tenant: p.tenant, user: p.user, status: p.status, node: o.node });
    };
    const onConnection = (c: { identity: { tenant: string; id: string; role: string } }): void => {
      if (c.identity.role === 'visitor') this.#append('connection', { identity: { tenant: c.identity.tenant, id: c.identity.id, role: c.identity.role } });
    };
    hub.on('conversation', onConversation);
    hub.on('message', onMessageEvt);
    hub.on('presence', onPresence);
    hub.on('connection', onConnection);
    this.#off.push(() => {
      hub.off('conversation', onConversation);
      hub.off('message', onMessageEvt);
      hub.off('presence', onPresence);
      hub.off('connection', onConnection);
    });
    for (const name of Object.values(DeskCommand)) hub.command(name, (ctx, args) => this.#forward(name, ctx, args));
  }

  #append(kind: RelayKind, data: object): Promise<void> {
    const o = this.#o;
    if (this.#closed) return Promise.resolve();
    return o.writer.xadd(o.stream, 'MAXLEN', '~', o.maxBacklog, '*', 'k', kind, 'd', JSON.stringify(data)).then(
      () => undefined,
      (err: unknown) => {
        const e = new KefuError('KEFU_ERR_DESK_UNAVAILABLE', `desk relay: could not append ${kind}: ${(err as Error).message}`, { cause: err });
        // Commands report to their caller; lost events go to the error listener.
        if (kind !== 'cmd') o.onError(e);
        throw e;
      },
    );
  }

  #forward(name: string, ctx: DeskCommandContext, args: JsonObject): Promise<JsonObject | undefined> {
    const o = this.#o;
    if (this.#closed) return Promise.reject(new KefuError('KEFU_ERR_SHUTTING_DOWN', 'desk relay is closed'));
    if (this.#pending.size >= o.maxPendingCommands) {
      return Promise.reject(new KefuError('KEFU_ERR_DESK_UNAVAILABLE', `this node has ${o.maxPendingCommands} desk commands waiting for the desk; retry`));
    }
    const id = randomUUID();
    const cmd: RelayCommand = { id, node: o.node, name, ctx, args, deadline: Date.now() + o.commandTimeoutMs };
    return new Promise<JsonObject | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new KefuError('KEFU_ERR_DESK_UNAVAILABLE', `no active desk answered "${name}" within ${o.commandTimeoutMs} ms`));
      }, o.commandTimeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#append('cmd', cmd).catch((err: Error) => {
        if (!this.#pending.delete(id)) return;
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  #reply(message: string): void {
    let r: RelayReply;
    try { r = JSON.parse(message) as RelayReply; } catch { return; }
    const p = this.#pending.get(r.id);
    if (!p) return; // timed out already, or a replayed command answered twice
    this.#pending.delete(r.id);
    clearTimeout(p.timer);
    if (r.ok) p.resolve(r.data);
    else p.reject(new KefuError(isKefuErrorCode(r.code) ? r.code : 'KEFU_ERR_INTERNAL', r.message));
  }

  /** A new leader: tell it which agents this node holds (it missed their presence events). */
  #sync(): void {
    const all = [...this.#agents.values()];
    let i = 0;
    do {
      const chunk = all.slice(i, i + SYNC_CHUNK);
      this.#append('sync', { node: this.#o.node, first: i === 0, last: i + SYNC_CHUNK >= all.length, agents: chunk }).catch(() => undefined);
      i += SYNC_CHUNK;
    } while (i < all.length);
  }

  /**
   * Tells the active desk this node holds no agents any more (a node shutting down: its hub's
   * offline events would come after the relay stopped). A node that dies cannot say it: the
   * leader expires its agents through the ledger instead.
   */
  async withdraw(): Promise<void> {
    this.#agents.clear();
    await within(this.#append('sync', { node: this.#o.node, first: true, last: true, agents: [] }), this.#o.commandTimeoutMs);
  }

  /** Stops relaying; commands still waiting fail with KEFU_ERR_SHUTTING_DOWN. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const off of this.#off.splice(0)) off();
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new KefuError('KEFU_ERR_SHUTTING_DOWN', 'desk relay is closed'));
      this.#pending.delete(id);
    }
  }
}
