/**
 * One dispatch pass's matching, in line order: each waiting conversation gets at most one free
 * agent of its team that has not declined it (or, when only decliners are free, one whose decline
 * cooldown has passed), chosen by the strategy. Picked agents are reserved at once (their
 * `offered` set and lastAssignedAt), so later conversations of the same pass see their new load.
 */
import type { DeskAgent } from './agents.js';
import type { AssignmentStrategy } from './strategies.js';
import type { DeskConversation } from './types.js';

export interface MatchInput {
  line: Iterable<DeskConversation>;
  /** Agents of the tenant that are available now. */
  free: DeskAgent[];
  now: number;
  declineCooldownMs: number;
  strategy: AssignmentStrategy;
  /** A strategy that throws skips that conversation for this pass. */
  onError: (err: unknown) => void;
}

export function matchAgents({ line, free, now, declineCooldownMs, strategy, onError }: MatchInput): Array<[DeskConversation, DeskAgent]> {
  free.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const picks: Array<[DeskConversation, DeskAgent]> = [];
  for (const conv of line) {
    if (conv.state !== 'waiting') continue;
    const eligible = free.filter((a) => a.available && (conv.team === null || a.teams.includes(conv.team)));
    if (eligible.length === 0) { if (!free.some((a) => a.available)) break; continue; }
    let candidates = eligible.filter((a) => !conv.declined.some((d) => d.agentId === a.id));
    // Only decliners are free: offer again once their cooldown has passed.
    if (candidates.length === 0) candidates = eligible.filter((a) => conv.declined.some((d) => d.agentId === a.id && now - d.at >= declineCooldownMs));
    if (candidates.length === 0) continue;
    let id: string | undefined;
    try {
      id = strategy.pick(conv, candidates);
    } catch (err) {
      onError(err);
      continue;
    }
    const agent = id === undefined ? undefined : candidates.find((a) => a.id === id);
    if (!agent) continue;
    agent.offered.add(conv.id);
    agent.lastAssignedAt = now;
    picks.push([conv, agent]);
    if (!free.some((a) => a.available)) break;
  }
  return picks;
}
