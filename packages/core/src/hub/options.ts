import { MemoryConversationStore } from '../conversation/memory-conversation-store.js';
import { LocalBus } from '../bus/local-bus.js';
import type { HubOptions, RateLimitOptions } from './types.js';
import type { ConversationStore } from '../conversation/conversation-store.js';
import type { Bus } from '../bus/bus.js';

export type ResolvedHubOptions = Required<Omit<HubOptions, 'origins' | 'beforeMessage' | 'authorizeJoin' | 'rateLimit' | 'store' | 'bus'>> & {
  origins: ReadonlySet<string> | undefined;
  beforeMessage: HubOptions['beforeMessage'];
  authorizeJoin: HubOptions['authorizeJoin'];
  rateLimit: Required<RateLimitOptions>;
  store: ConversationStore;
  bus: Bus;
};

export const hubDefaults = {
  maxPayload: 65_536,
  maxBody: 16_000,
  rateLimit: { perSec: 50, burst: 100, strikes: 20 },
  maxConversationsPerConnection: 100,
  highWaterMark: 1_048_576,
  maxInflight: 4096,
  heartbeatMs: 30_000,
  idleTimeoutMs: 300_000,
  typingThrottleMs: 2_000,
  resumePageSize: 200,
  drainTimeoutMs: 5_000,
  healSettleMs: 1_000,
} as const;

function positiveInt(name: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`options.${name} must be an integer >= ${min}`);
}

export function resolveHubOptions(options: HubOptions): ResolvedHubOptions {
  if (typeof options !== 'object' || options === null || typeof options.authenticate !== 'function') {
    throw new TypeError('options.authenticate must be a function');
  }
  const o = { ...hubDefaults, ...options, rateLimit: { ...hubDefaults.rateLimit, ...options.rateLimit } };
  positiveInt('maxPayload', o.maxPayload, 64);
  positiveInt('maxBody', o.maxBody);
  if (o.maxBody > o.maxPayload) throw new RangeError('options.maxBody must not exceed options.maxPayload');
  if (!(o.rateLimit.perSec > 0) || !Number.isFinite(o.rateLimit.perSec)) throw new RangeError('options.rateLimit.perSec must be a positive number');
  positiveInt('rateLimit.burst', o.rateLimit.burst);
  positiveInt('rateLimit.strikes', o.rateLimit.strikes, 0);
  positiveInt('maxConversationsPerConnection', o.maxConversationsPerConnection);
  positiveInt('highWaterMark', o.highWaterMark, 1024);
  positiveInt('maxInflight', o.maxInflight, 2);
  positiveInt('heartbeatMs', o.heartbeatMs, 10);
  positiveInt('idleTimeoutMs', o.idleTimeoutMs, 0);
  if (o.idleTimeoutMs !== 0 && o.idleTimeoutMs < o.heartbeatMs) throw new RangeError('options.idleTimeoutMs must be 0 or at least options.heartbeatMs');
  positiveInt('typingThrottleMs', o.typingThrottleMs, 0);
  positiveInt('resumePageSize', o.resumePageSize);
  if (o.resumePageSize > 1000) throw new RangeError('options.resumePageSize must be an integer >= 1 and <= 1000');
  positiveInt('drainTimeoutMs', o.drainTimeoutMs, 0);
  positiveInt('healSettleMs', o.healSettleMs, 0);
  if (o.origins !== undefined && (!Array.isArray(o.origins) || o.origins.some((x) => typeof x !== 'string'))) throw new TypeError('options.origins must be an array of strings');
  if (o.beforeMessage !== undefined && typeof o.beforeMessage !== 'function') throw new TypeError('options.beforeMessage must be a function');
  if (o.authorizeJoin !== undefined && typeof o.authorizeJoin !== 'function') throw new TypeError('options.authorizeJoin must be a function');
  const publishesOn = o.store?.publishesOn;
  if (publishesOn !== undefined && publishesOn !== o.bus) {
    throw new TypeError('options.store publishes message frames on a bus that is not options.bus: give the hub the bus the store was linked to');
  }
  return {
    ...o,
    origins: o.origins ? new Set(o.origins) : undefined,
    beforeMessage: o.beforeMessage,
    authorizeJoin: o.authorizeJoin,
    store: o.store ?? new MemoryConversationStore(),
    bus: o.bus ?? new LocalBus(),
  };
}
