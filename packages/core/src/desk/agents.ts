/**
 * The agents of each tenant: status, capacity, teams, and which conversations they hold.
 * Keyed by tenant first, so no lookup can cross tenants.
 */
import type { AgentCandidate, AgentSettings, AgentStatus } from './types.js';

export class DeskAgent implements AgentCandidate {
  readonly id: string;
  readonly tenant: string;
  name: string | undefined;
  capacity: number;
  teams: string[];
  autoAccept: boolean;
  status: AgentStatus = 'offline';
  /** Assigned conversation ids. */
  readonly active = new Set<string>();
  /** Conversation ids offered to this agent, not answered yet. */
  readonly offered = new Set<string>();
  lastAssignedAt = 0;
  graceTimer: NodeJS.Timeout | undefined;

  constructor(tenant: string, id: string, settings: Required<Pick<AgentSettings, 'capacity' | 'teams' | 'autoAccept'>> & { name?: string | undefined }) {
    this.tenant = tenant;
    this.id = id;
    this.name = settings.name;
    this.capacity = settings.capacity;
    this.teams = settings.teams;
    this.autoAccept = settings.autoAccept;
  }

  get load(): number {
    return this.active.size + this.offered.size;
  }

  get free(): number {
    return this.capacity - this.load;
  }

  /** Online, not away, with room for one more. */
  get available(): boolean {
    return this.status === 'online' && this.load < this.capacity;
  }

  sender(): { id: string; role: 'agent'; name?: string } {
    return this.name === undefined ? { id: this.id, role: 'agent' } : { id: this.id, role: 'agent', name: this.name };
  }
}

export class AgentRegistry {
  readonly #tenants = new Map<string, Map<string, DeskAgent>>();

  get(tenant: string, id: string): DeskAgent | undefined {
    return this.#tenants.get(tenant)?.get(id);
  }

  add(agent: DeskAgent): DeskAgent {
    let m = this.#tenants.get(agent.tenant);
    if (!m) this.#tenants.set(agent.tenant, (m = new Map()));
    m.set(agent.id, agent);
    return agent;
  }

  /** Agents of one tenant, in insertion order. */
  of(tenant: string): Iterable<DeskAgent> {
    return this.#tenants.get(tenant)?.values() ?? [];
  }

  tenants(): Iterable<string> {
    return this.#tenants.keys();
  }

  hasTeam(tenant: string, team: string): boolean {
    for (const a of this.of(tenant)) if (a.teams.includes(team)) return true;
    return false;
  }

  anyOnline(tenant: string): boolean {
    for (const a of this.of(tenant)) if (a.status === 'online') return true;
    return false;
  }

  /** Total capacity of the tenant's online agents (for wait estimates). */
  onlineCapacity(tenant: string): number {
    let n = 0;
    for (const a of this.of(tenant)) if (a.status === 'online') n += a.capacity;
    return n;
  }

  all(): Iterable<DeskAgent> {
    const self = this;
    return (function* () { for (const m of self.#tenants.values()) yield* m.values(); })();
  }
}
