/**
 * This node's sockets indexed by conversation, by user and by tenant (agents), with the bus
 * subscriptions that follow them: a topic is subscribed when its first local socket arrives and
 * unsubscribed when the last one leaves (the bus ref-counts too; this keeps one reference per
 * index entry, not per socket).
 */
import type { Bus } from '../bus/bus.js';
import type { Connection } from './connection.js';

export function userKey(tenant: string, id: string): string {
  return `${tenant}\x00${id}`;
}

/**
 * Bus topics: a conversation's frames, a user's frames and controls, a tenant's agent presence.
 * Exported as `hubTopics`, for stores and buses that publish on the hub's behalf.
 */
export const topic = {
  conv: (conv: string): string => `c:${conv}`,
  user: (key: string): string => `u:${key}`,
  agents: (tenant: string): string => `a:${tenant}`,
};

export class LocalIndex {
  readonly rooms = new Map<string, Set<Connection>>();
  readonly users = new Map<string, Set<Connection>>();
  readonly agents = new Map<string, Set<Connection>>();
  readonly #bus: Bus;
  readonly #busCall: (p: Promise<void>) => void;
  readonly #roomGone: (conv: string) => void;

  constructor(bus: Bus, busCall: (p: Promise<void>) => void, roomGone: (conv: string) => void = () => {}) {
    this.#bus = bus;
    this.#busCall = busCall;
    this.#roomGone = roomGone;
  }

  /** Indexes a new socket; true when it is the user's first socket on this node. */
  addSocket(conn: Connection): boolean {
    const { tenant, id, role } = conn.identity;
    const key = userKey(tenant, id);
    let mine = this.users.get(key);
    if (!mine) {
      mine = new Set();
      this.users.set(key, mine);
      this.#busCall(this.#bus.subscribe(topic.user(key)));
    }
    mine.add(conn);
    if (role === 'agent') {
      let agents = this.agents.get(tenant);
      if (!agents) {
        agents = new Set();
        this.agents.set(tenant, agents);
        this.#busCall(this.#bus.subscribe(topic.agents(tenant)));
      }
      agents.add(conn);
    }
    return mine.size === 1;
  }

  /** Drops a socket from every index; true when it was the user's last socket on this node. */
  removeSocket(conn: Connection): boolean {
    if (conn.convs) for (const conv of conn.convs) this.leaveRoom(conn, conv);
    const { tenant, id, role } = conn.identity;
    const key = userKey(tenant, id);
    const mine = this.users.get(key);
    let last = false;
    if (mine) {
      mine.delete(conn);
      if (mine.size === 0) { last = true; this.users.delete(key); this.#busCall(this.#bus.unsubscribe(topic.user(key))); }
    }
    if (role === 'agent') {
      const agents = this.agents.get(tenant);
      if (agents) {
        agents.delete(conn);
        if (agents.size === 0) { this.agents.delete(tenant); this.#busCall(this.#bus.unsubscribe(topic.agents(tenant))); }
      }
    }
    return last;
  }

  enterRoom(conn: Connection, conv: string): void {
    (conn.convs ??= new Set()).add(conv);
    let room = this.rooms.get(conv);
    if (!room) {
      room = new Set();
      this.rooms.set(conv, room);
      this.#busCall(this.#bus.subscribe(topic.conv(conv)));
    }
    room.add(conn);
  }

  leaveRoom(conn: Connection, conv: string): void {
    conn.convs?.delete(conv);
    conn.typingAt?.delete(conv);
    const room = this.rooms.get(conv);
    if (!room) return;
    room.delete(conn);
    if (room.size === 0) {
      this.rooms.delete(conv);
      this.#roomGone(conv);
      this.#busCall(this.#bus.unsubscribe(topic.conv(conv)));
    }
  }
}
