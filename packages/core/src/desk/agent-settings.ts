/** Validation of agent settings given by the host (`agentProfile`, `desk.setAgent()`). */
import type { AgentSettings } from './types.js';

export function validateSettings(s: AgentSettings): void {
  if (typeof s !== 'object' || s === null) throw new TypeError('agent settings must be an object');
  if (s.capacity !== undefined && (!Number.isSafeInteger(s.capacity) || s.capacity < 0)) throw new RangeError('agent capacity must be an integer >= 0');
  if (s.teams !== undefined && (!Array.isArray(s.teams) || s.teams.some((t) => typeof t !== 'string'))) throw new TypeError('agent teams must be an array of strings');
  if (s.autoAccept !== undefined && typeof s.autoAccept !== 'boolean') throw new TypeError('agent autoAccept must be a boolean');
}
