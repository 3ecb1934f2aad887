/**
 * clusterDesk: one Desk for a cluster of hub nodes. Every node runs it; one node at a time holds
 * the desk's election lock and runs the active Desk, the others stand by.
 *
 *   every node   relays its hub's `conversation`, `message`, agent `presence` and visitor
 *                `connection` events, and its clients' `desk.*` commands, to one Redis stream
 *                (desk-relay-node.ts); feeds its agents into the RedisAgentLedger
 *   the leader   reads the stream from the cursor its predecessor saved, drives its Desk with it
 *                through a RelayHub (relay-hub.ts), answers commands on the origin's reply
 *                channel; the Desk acts through this node's hub, whose calls cross nodes
 *   failover     the lock (SET NX PX, renewed) expires when its holder dies; a standby takes it
 *                with a new fencing token, restores the Desk from the RedisDeskStore and the
 *                RedisQueueStore waiting lines, announces itself so that every node re-sends
 *                its agents, and reads on from the saved cursor
 *
 * Only the leader writes desk state, and each of its writes checks its token inside the write
 * script (RedisDeskStore `fence`), so a deposed leader cannot assign anything: the desk writes
 * an assignment before anyone hears of it.
 */
import type { Redis } from 'ioredis';
import { EventEmitter } from 'eventemitter3';
import { Desk, KefuError, type DeskHubEvents, type DeskOptions, type Hub } from '@kefu/core';
import type { PresenceStatus, Sender } from '@kefu/protocol';
import { ownConnection, checkPrefix, checkName, quit, type RedisConnectionInput } from './connection.js';
import { DeskLock } from './desk-lock.js';
import { NodeRelay, type RelayCommand, type RelayKind, type RelayPresence } from './desk-relay-node.js';
import { RelayHub } from './relay-hub.js';
import { RedisDeskStore, deskKeyBase } from './redis-desk-store.js';
import type { RedisAgentLedger } from './redis-agent-ledger.js';
import { trackPresence } from './track-presence.js';

export interface ClusterDeskOptions {
  /** This node's hub (with a RedisBus and a RedisConversationStore, like every node's). */
  hub: Hub;
  /**
   * The cluster's agent ledger; its `nodeId` is this node's id. clusterDesk feeds it this hub's
   * agents (trackPresence) and the leader uses it to forget the agents of a node that died.
   */
  ledger: RedisAgentLedger;
  /** Options of the Desk the leader runs (every node should pass the same). `hub` and `store` are clusterDesk's. */
  desk?: Omit<DeskOptions, 'hub' | 'store'>;
  /**
   * Desk name: nodes with the same name and prefix share one desk.
   * @defaultValue 'default'
   */
  name?: string;
  /** Key prefix. @defaultValue 'kefu:' */
  prefix?: string;
  /** How long closed conversations stay readable (RedisDeskStore). @defaultValue 604_800_000 */
  historyTtlMs?: number;
  /**
   * TTL of the election lock: a dead leader is replaced within about 1.1 times this (the lock
   * expires, a standby tries every tenth of it). Shorter fails over faster but a leader stalled
   * longer than this (GC, CPU starvation) loses the desk.
   * @defaultValue 10_000
   */
  lockTtlMs?: number;
  /**
   * How long a node waits for the active desk to answer a `desk.*` command before answering
   * KEFU_ERR_DESK_UNAVAILABLE (e.g. during a failover). A later leader skips commands past it.
   * @defaultValue 5_000
   */
  commandTimeoutMs?: number;
  /**
   * Entries the relay stream keeps (approximate trim): what a new leader can catch up on, and a
   * bound on Redis memory.
   * @defaultValue 100_000
   */
  maxBacklog?: number;
  /** Commands one node may have waiting for the desk; more fail with KEFU_ERR_DESK_UNAVAILABLE. @defaultValue 10_000 */
  maxPendingCommands?: number;
}

export interface ClusterDeskEvents {
  /** This node's desk is now the active one (opened, restored, reading the relay). */
  leader: (desk: Desk) => void;
  /** This node's desk stopped being the active one (lock lost, a fenced write, or close). */
  standby: (reason: string) => void;
  /** A relay, Redis or desk failure (the desk's own 'error' events are forwarded here). */
  error: (err: Error) => void;
}

const DEFAULTS = { name: 'default', prefix: 'kefu:', historyTtlMs: 604_800_000, lockTtlMs: 10_000, commandTimeoutMs: 5_000, maxBacklog: 100_000, maxPendingCommands: 10_000 };

// KEYS: lock, cursor. ARGV: token, id. The cursor moves only while this leader holds the lock.
const SAVE_CURSOR = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
`;

function int(name: string, v: unknown, min: number): void {
  if (!Number.isSafeInteger(v) || (v as number) < min) throw new RangeError(`options.${name} must be an integer >= ${min}`);
}

type CursorRedis = Redis & { kdCursor(lock: string, cursor: string, token: string, id: string): Promise<number> };

interface Term { n: number; desk: Desk; store: RedisDeskStore; relay: RelayHub; reader: Redis; expiry: NodeJS.Timeout }

export class ClusterDesk extends EventEmitter<ClusterDeskEvents> {
  readonly nodeId: string;
  readonly #o: typeof DEFAULTS & ClusterDeskOptions;
  readonly #input: RedisConnectionInput;
  readonly #redis: CursorRedis;
  readonly #sub: Redis;
  readonly #lock: DeskLock;
  readonly #node: NodeRelay;
  readonly #base: string;
  #untrack: (() => void) | undefined;
  #term: Term | undefined;
  /** Bumped on every lead and step-down: a term's loop stops once it changes. */
  #gen = 0;
  #closed = false;

  constructor(redis: RedisConnectionInput, options: ClusterDeskOptions) {
    super();
    if (typeof options?.hub?.command !== 'function') throw new TypeError('options.hub must be a Hub');
    if (typeof options.ledger?.livePairs !== 'function') throw new TypeError('options.ledger must be a RedisAgentLedger');
    const d = options.desk as DeskOptions | undefined;
    if (d !== undefined && (d.hub !== undefined || d.store !== undefined)) throw new TypeError('options.desk must not set hub or store: clusterDesk gives the desk its relay hub and a RedisDeskStore');
    const o = (this.#o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof DEFAULTS & ClusterDeskOptions);
    checkPrefix(o.prefix);
    checkName(o.name);
    int('lockTtlMs', o.lockTtlMs, 300);
    int('commandTimeoutMs', o.commandTimeoutMs, 1);
    int('maxBacklog', o.maxBacklog, 100);
    int('maxPendingCommands', o.maxPendingCommands, 1);
    this.nodeId = o.ledger.nodeId;
    this.#input = redis;
    this.#base = deskKeyBase(o.prefix, o.name);
    const client = ownConnection(redis);
    client.defineCommand('kdCursor', { numberOfKeys: 2, lua: SAVE_CURSOR });
    client.on('error', () => {}); // surfaced as rejected calls
    this.#redis = client as CursorRedis;
    this.#sub = ownConnection(redis, { enableReadyCheck: false });
    this.#sub.on('error', () => {});
    this.#lock = new DeskLock(client, `${this.#base}lock`, this.nodeId, o.lockTtlMs);
    this.#lock.on('acquired', (token) => void this.#lead(token));
    this.#lock.on('lost', (reason) => void this.#stepDown(reason));
    this.#node = new NodeRelay({
      hub: o.hub, node: this.nodeId, writer: client, sub: this.#sub, stream: `${this.#base}inbox`,
      replyChannel: (n) => `${this.#base}reply:${n}`, leaderChannel: `${this.#base}leader`,
      maxBacklog: o.maxBacklog, commandTimeoutMs: o.commandTimeoutMs, maxPendingCommands: o.maxPendingCommands,
      onError: (err) => this.#error(err),
    });
  }

  /** The active Desk when this node leads, else undefined. */
  get desk(): Desk | undefined {
    return this.#term?.desk;
  }

  get isLeader(): boolean {
    return this.#term !== undefined;
  }

  /** Starts relaying this node's hub and competing for the lock (resolves after the first try). */
  async start(): Promise<void> {
    if (this.#closed) throw new KefuError('KEFU_ERR_CLOSED', 'cluster desk is closed');
    try {
      await this.#node.start();
    } catch (err) {
      throw new KefuError('KEFU_ERR_DESK_UNAVAILABLE', `cluster desk: cannot subscribe: ${(err as Error).message}`, { cause: err });
    }
    this.#untrack = trackPresence(this.#o.hub, this.#o.ledger, (err) => this.#error(err));
    await this.#lock.start();
  }

  #error(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err instanceof Error ? err : new Error(String(err)));
  }

  async #lead(token: string): Promise<void> {
    const n = ++this.#gen;
    const o = this.#o;
    const store = new RedisDeskStore(this.#input, { name: o.name, prefix: o.prefix, historyTtlMs: o.historyTtlMs, fence: () => this.#lock.token });
    const relay = new RelayHub(o.hub);
    const desk = new Desk({ ...o.desk, hub: relay, store });
    desk.on('error', (err: unknown) => {
      // Only this term's desk: a deposed desk's last writes, refused while it closes, must not end a newer term.
      if ((err as { code?: string })?.code === 'KEFU_ERR_DESK_FENCED' && this.#term?.desk === desk) void this.#stepDown('a desk write was fenced off');
      this.#error(err);
    });
    const reader = ownConnection(this.#input);
    reader.on('error', () => {});
    let cursor: string;
    try {
      await desk.open();
      cursor = (await this.#redis.get(`${this.#base}inbox:cursor`)) ?? '0-0';
    } catch (err) {
      this.#error(err);
      await desk.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      reader.disconnect();
      // Give the lock up so another node may try, and wait a TTL before competing again: a desk
      // that cannot open (Redis failing, bad data) must not spin.
      if (n === this.#gen && !this.#closed) {
        await this.#lock.stop();
        setTimeout(() => { if (!this.#closed) void this.#lock.start(); }, o.lockTtlMs).unref();
      }
      return;
    }
    if (n !== this.#gen || this.#closed || this.#lock.token !== token) {
      await desk.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      reader.disconnect();
      return;
    }
    const ledger = o.ledger;
    const expiry = setInterval(() => {
      for (const t of relay.tenants()) {
        ledger.livePairs(t).then((live) => { if (this.#term?.n === n) relay.expire(t, live, ledger.presenceTtlMs); }, (err: unknown) => this.#error(err));
      }
    }, Math.max(100, Math.floor(ledger.presenceTtlMs / 2)));
    expiry.unref();
    this.#term = { n, desk, store, relay, reader, expiry };
    void this.#loop(n, reader, relay, cursor, token);
    // Every node re-sends its agents: presence events from before this term went to the last leader.
    await this.#redis.publish(`${this.#base}leader`, token).catch((err: unknown) => this.#error(err));
    this.emit('leader', desk);
  }

  async #loop(n: number, reader: Redis, relay: RelayHub, cursor: string, token: string): Promise<void> {
    const stream = `${this.#base}inbox`;
    while (n === this.#gen) {
      let res: Array<[string, Array<[string, string[]]>]> | null;
      try {
        res = (await reader.xread('COUNT', 500, 'BLOCK', 500, 'STREAMS', stream, cursor)) as typeof res;
      } catch (err) {
        if (n !== this.#gen) return;
        this.#error(new KefuError('KEFU_ERR_DESK_UNAVAILABLE', `cluster desk: reading the relay failed: ${(err as Error).message}`, { cause: err }));
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (n !== this.#gen) return;
      if (this.#lock.token !== token) return void this.#stepDown('the lease ran out');
      if (!res) continue;
      for (const [, entries] of res) {
        for (const [id, fields] of entries) {
          this.#dispatch(relay, fields);
          cursor = id;
        }
      }
      const saved = await this.#redis.kdCursor(`${this.#base}lock`, `${stream}:cursor`, token, cursor).catch(() => -1);
      if (saved === 0) return void this.#stepDown('another node holds the lock');
    }
  }

  #dispatch(relay: RelayHub, fields: string[]): void {
    let kind: RelayKind | undefined;
    let data: unknown;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 'k') kind = fields[i + 1] as RelayKind;
      else if (fields[i] === 'd') {
        try { data = JSON.parse(fields[i + 1]!); } catch { return; }
      }
    }
    if (typeof data !== 'object' || data === null) return;
    // Entries come from this desk's own nodes; a malformed one is dropped by the try below.
    type Ev = DeskHubEvents;
    try {
      if (kind === 'cmd') this.#command(relay, data as RelayCommand);
      else if (kind === 'conversation') relay.emit('conversation', data as Parameters<Ev['conversation']>[0]);
      else if (kind === 'message') relay.emit('message', data as Parameters<Ev['message']>[0]);
      else if (kind === 'connection') relay.emit('connection', data as Parameters<Ev['connection']>[0]);
      else if (kind === 'presence') {
        const p = data as { node: string; tenant: string; user: Sender; status: PresenceStatus };
        relay.presence(p.node, p.tenant, p.user, p.status);
      } else if (kind === 'sync') {
        const p = data as { node: string; first: boolean; last: boolean; agents: RelayPresence[] };
        relay.sync(p.node, p.first === true, p.last === true, p.agents);
      }
    } catch (err) {
      this.#error(err);
    }
  }

  #command(relay: RelayHub, cmd: RelayCommand): void {
    // Its origin has already answered KEFU_ERR_DESK_UNAVAILABLE: running it now would surprise the client.
    if (!(cmd.deadline > Date.now())) return;
    void relay.run(cmd).then((reply) => this.#redis.publish(`${this.#base}reply:${cmd.node}`, JSON.stringify(reply))).catch((err: unknown) => this.#error(err));
  }

  /** Ends this node's term as leader, if it has one: its desk flushes and closes. */
  async #endTerm(reason: string): Promise<boolean> {
    const t = this.#term;
    if (!t) return false;
    this.#term = undefined;
    this.#gen++;
    clearInterval(t.expiry);
    t.reader.disconnect();
    await t.desk.close().catch(() => undefined);
    await t.store.close().catch(() => undefined);
    this.emit('standby', reason);
    return true;
  }

  async #stepDown(reason: string): Promise<void> {
    if (!(await this.#endTerm(reason))) return;
    // A fenced write can come before the lock's own renewal notices: stop claiming, start competing again.
    if (!this.#closed && this.#lock.token !== undefined && reason === 'a desk write was fenced off') {
      await this.#lock.stop();
      await this.#lock.start();
    }
  }

  /**
   * Stops relaying and competing; a leader gives the lock up at once (its desk flushes and
   * closes first), so a standby takes over without waiting for the TTL.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#untrack?.();
    await this.#node.withdraw();
    this.#node.close();
    await this.#endTerm('closed');
    await this.#lock.stop();
    await quit(this.#sub);
    await quit(this.#redis);
  }
}

/** Creates a ClusterDesk for this node and starts it. */
export async function clusterDesk(redis: RedisConnectionInput, options: ClusterDeskOptions): Promise<ClusterDesk> {
  const c = new ClusterDesk(redis, options);
  await c.start();
  return c;
}
