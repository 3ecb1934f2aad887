/**
 * Assignment strategies: given a waiting conversation and the agents who could take it now
 * (same tenant, online, free capacity, in the required team, not a recent decliner), pick one.
 * A strategy never sees another tenant's agents: the desk filters before calling it.
 */
import type { AgentCandidate, DeskConversation } from './types.js';

export interface AssignmentStrategy {
  /** For logs and docs. */
  readonly name: string;
  /**
   * Returns the id of the chosen candidate, or undefined to leave the conversation waiting.
   * `candidates` is never empty and is sorted by agent id.
   */
  pick(conversation: Readonly<DeskConversation>, candidates: readonly AgentCandidate[]): string | undefined;
}

/** Fewest conversations (relative to capacity), then the one who waited longest since their last. */
export function leastBusy(): AssignmentStrategy {
  return {
    name: 'least-busy',
    pick(_conv, candidates) {
      let best: AgentCandidate | undefined;
      for (const c of candidates) {
        if (!best) { best = c; continue; }
        // Cross-multiplied ratio comparison: no float rounding between e.g. 1/3 and 2/6.
        const d = c.load * best.capacity - best.load * c.capacity;
        if (d < 0 || (d === 0 && c.lastAssignedAt < best.lastAssignedAt)) best = c;
      }
      return best?.id;
    },
  };
}

/** Takes agents in id order, one after the other, per tenant, skipping those who cannot take it. */
export function roundRobin(): AssignmentStrategy {
  const cursor = new Map<string, string>();
  return {
    name: 'round-robin',
    pick(conv, candidates) {
      const last = cursor.get(conv.tenant);
      const next = (last === undefined ? undefined : candidates.find((c) => c.id > last)) ?? candidates[0];
      if (next) cursor.set(conv.tenant, next.id);
      return next?.id;
    },
  };
}

export interface SkillsOptions {
  /** Intent name -> team name. Intents not listed go to any agent. */
  teams: Record<string, string>;
  /**
   * When no agent of the team is free: `'wait'` keeps the conversation for the team,
   * `'any'` gives it to any free agent.
   * @defaultValue 'wait'
   */
  fallback?: 'wait' | 'any';
  /** Picks among the team's free agents. @defaultValue leastBusy() */
  within?: AssignmentStrategy;
}

/** Routes by the classified intent to a team (skills-based routing). */
export function skills(options: SkillsOptions): AssignmentStrategy {
  const opts = { fallback: 'wait' as const, within: leastBusy(), ...options };
  if (opts.fallback !== 'wait' && opts.fallback !== 'any') throw new TypeError('skills: fallback must be "wait" or "any"');
  return {
    name: 'skills',
    pick(conv, candidates) {
      const team = conv.intent ? opts.teams[conv.intent.name] : undefined;
      if (team === undefined) return opts.within.pick(conv, candidates);
      const inTeam = candidates.filter((c) => c.teams.includes(team));
      if (inTeam.length > 0) return opts.within.pick(conv, inTeam);
      return opts.fallback === 'any' ? opts.within.pick(conv, candidates) : undefined;
    },
  };
}

/** Prefers the visitor's last agent when they can take it; otherwise defers to `fallback`. */
export function sticky(fallback: AssignmentStrategy = leastBusy()): AssignmentStrategy {
  return {
    name: `sticky(${fallback.name})`,
    pick(conv, candidates) {
      if (conv.lastAgentId !== null && candidates.some((c) => c.id === conv.lastAgentId)) return conv.lastAgentId;
      return fallback.pick(conv, candidates);
    },
  };
}
