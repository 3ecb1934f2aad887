/**
 * Agents on the desk: settings (capacity, teams, auto-accept), online / away / offline, and the
 * grace period after which a disconnected agent's conversations go back to the queue head.
 */
import { KefuError } from '@kefu/protocol';
import { validateSettings } from './agent-settings.js';
import { requeueAtHead } from './requeue.js';
import type { DeskAgent } from './agents.js';
import type { Offers } from './offers.js';
import type { Positions } from './positions.js';
import type { DeskRuntime } from './runtime.js';
import type { AgentSettings, AgentStatus, DeskConversation, DeskIdentity } from './types.js';

export class Presence {
  readonly #rt: DeskRuntime;
  readonly #offers: Offers;
  readonly #positions: Positions;

  constructor(rt: DeskRuntime, offers: Offers, positions: Positions) {
    this.#rt = rt;
    this.#offers = offers;
    this.#positions = positions;
  }

  /** Sets an agent's capacity, teams, auto-accept (persisted); applies at once if they are known. */
  async setAgent(tenant: string, id: string, settings: AgentSettings): Promise<void> {
    const rt = this.#rt;
    rt.assertOpen();
    validateSettings(settings);
    rt.storedSettings.set(`${tenant}\0${id}`, settings);
    await rt.write([{ type: 'agent', tenant, id, value: settings }]);
    const a = rt.agents.get(tenant, id);
    if (a) { applySettings(a, settings); rt.markDirty(tenant); }
  }

  /** An agent came online (the hub binding calls this on `presence` online). */
  async agentOnline(identity: DeskIdentity): Promise<void> {
    const rt = this.#rt;
    rt.assertOpen();
    if (identity.role !== 'agent') throw new KefuError('KEFU_ERR_FORBIDDEN', 'only agents go online on the desk');
    const fromHost = await rt.o.agentProfile(identity);
    validateSettings(fromHost);
    // The socket may have gone while agentProfile ran: the offline event came first, keep it.
    if (rt.o.hub && !rt.o.hub.isOnline(identity.tenant, identity.id)) return;
    const agent = rt.agent(identity.tenant, identity.id);
    applySettings(agent, { ...fromHost, ...rt.storedSettings.get(`${identity.tenant}\0${identity.id}`) });
    if (identity.name !== undefined) agent.name = identity.name;
    clearTimeout(agent.graceTimer);
    agent.graceTimer = undefined;
    this.#setStatus(agent, 'online');
  }

  /** The agent's last socket closed: offers pass on now, chats are requeued after the grace period. */
  agentOffline(tenant: string, id: string): void {
    const rt = this.#rt;
    const agent = rt.agents.get(tenant, id);
    if (!agent || agent.status === 'offline') return;
    this.#setStatus(agent, 'offline');
    for (const convId of [...agent.offered]) {
      const conv = rt.convs.get(convId);
      if (conv?.offer) this.#offers.endOffer(conv, 'agent_offline');
    }
    this.startGrace(agent);
  }

  /** 'away' keeps current chats but takes no new offers. */
  setAgentStatus(identity: DeskIdentity, status: 'online' | 'away'): void {
    const agent = this.#rt.requireAgent(identity);
    if (agent.status === 'offline') throw new KefuError('KEFU_ERR_DESK_AGENT_OFFLINE', 'the agent is not connected');
    this.#setStatus(agent, status);
  }

  agentStatus(identity: DeskIdentity): { agent: string; status: AgentStatus; capacity: number; active: number; conversations: string[]; teams: string[] } {
    const a = this.#rt.requireAgent(identity);
    return { agent: a.id, status: a.status, capacity: a.capacity, active: a.active.size, conversations: [...a.active], teams: [...a.teams] };
  }

  /** Requeues the agent's chats once the grace period passes with the agent still offline. */
  startGrace(agent: DeskAgent): void {
    const rt = this.#rt;
    if (agent.active.size === 0 || agent.graceTimer) return;
    agent.graceTimer = setTimeout(() => {
      agent.graceTimer = undefined;
      if (agent.status === 'offline' && rt.status === 'open') this.#requeueAgent(agent).catch((err: unknown) => rt.error(err));
    }, rt.o.agentGraceMs);
    agent.graceTimer.unref();
  }

  #setStatus(agent: DeskAgent, status: AgentStatus): void {
    if (agent.status === status) return;
    agent.status = status;
    this.#rt.events.emit('agent', agent.tenant, agent.id, status);
    if (status === 'online') this.#rt.markDirty(agent.tenant);
  }

  async #requeueAgent(agent: DeskAgent): Promise<void> {
    const rt = this.#rt;
    const changed: DeskConversation[] = [];
    const queued: Array<Promise<void>> = [];
    for (const convId of [...agent.active]) {
      const conv = rt.convs.get(convId);
      agent.active.delete(convId);
      if (!conv || conv.state !== 'assigned') continue;
      queued.push(requeueAtHead(rt, conv, 'requeue'));
      changed.push(conv);
    }
    if (changed.length === 0) return;
    await Promise.all([rt.save(changed), ...queued]);
    for (const conv of changed) {
      rt.out.call(() => rt.o.hub?.removeMember(conv.id, agent.id, 'agent offline'));
      rt.events.emit('state', conv, 'assigned', 'waiting');
      rt.events.emit('requeued', conv, 'agent_offline');
      this.#positions.send(conv).catch((err: unknown) => rt.error(err));
    }
    rt.markDirty(agent.tenant);
  }
}

export function applySettings(a: DeskAgent, s: AgentSettings): void {
  if (s.capacity !== undefined) a.capacity = s.capacity;
  if (s.teams !== undefined) a.teams = [...s.teams];
  if (s.autoAccept !== undefined) a.autoAccept = s.autoAccept;
  if (s.name !== undefined) a.name = s.name;
}
