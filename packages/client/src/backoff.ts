import type { ReconnectOptions } from './options.js';

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential, capped, with the top
 * `jitter` fraction randomised so that clients dropped together spread out their retries.
 */
export function backoffDelay(attempt: number, o: Required<ReconnectOptions>, random: () => number = Math.random): number {
  const base = Math.min(o.maxDelayMs, o.minDelayMs * Math.pow(o.factor, attempt));
  return Math.round(base * (1 - o.jitter) + base * o.jitter * random());
}
