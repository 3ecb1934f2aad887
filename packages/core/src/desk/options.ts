/**
 * DeskOptions: one interface, defaults merged by spreading, impossible combinations rejected
 * with exact messages (tested in test/desk/options.test.ts).
 */
import type { CannedReply } from '@kefu/protocol';
import type { AssignmentStrategy } from './strategies.js';
import type { BotTable } from './bot.js';
import type { DeskStore } from './store/desk-store.js';
import type { AgentSettings, DeskClassifier, DeskIdentity, DeskProfile, DeskProfiles } from './types.js';
import type { DeskHub } from './hub-types.js';
import type { DeskQueueStoreFactory } from './waiting-queues.js';

export interface DeskOptions {
  /** The hub to bind to: commands `desk.*`, events, membership. Without one, drive the desk by its methods. */
  hub?: DeskHub;
  /** Persistence of conversations, agents and sticky routing memory. @defaultValue new MemoryDeskStore() */
  store?: DeskStore;
  /**
   * The store of each tenant's waiting queue (a PriorityQueue per tenant; called once per tenant).
   * E.g. `(t) => new RedisQueueStore(redis, { name: `desk-${t}` })`.
   * @defaultValue `store.queueStore(tenant)`: memory for a MemoryDeskStore, a sublevel of the same LevelDB for a LevelDeskStore
   */
  queueStore?: DeskQueueStoreFactory;
  /**
   * Aging of waiting conversations, in priority points per second of waiting (the queue's
   * `agingRate`), so a long wait eventually passes a VIP level; 0 is strict priority. Keep it
   * constant for a persistent queue (it is applied when a conversation joins the queue).
   * @defaultValue 1/60 (one VIP level per minute of waiting)
   */
  agingRate?: number;
  /**
   * Close a tenant's queue after it has been empty this long (its index buffers are freed; the
   * next hand-off reopens it); 0 keeps every queue open.
   * @defaultValue 60_000
   */
  queueIdleCloseMs?: number;
  /**
   * Visitors whose last agent is remembered (sticky routing), per tenant; the least recently
   * served are forgotten first. Persisted in the DeskStore.
   * @defaultValue 10_000
   */
  maxStickyPerTenant?: number;
  /** Classifies visitors' messages while the bot holds the chat. Without one, every chat goes to humans. */
  classifier?: DeskClassifier;
  /** Fetches the visitor's profile when a conversation starts. Without one, the profile is `{}`. */
  profiles?: DeskProfiles;
  /** Intent -> answer (string) or async handler. @defaultValue {} */
  bot?: BotTable;
  /**
   * Lowest classifier confidence at which the bot answers; below it the chat is handed off.
   * @defaultValue 0.7
   */
  botThreshold?: number;
  /**
   * Most bot answers in one conversation; the next message is handed off.
   * @defaultValue 5
   */
  maxBotAnswers?: number;
  /**
   * Phrases that hand the chat to a human at once. Latin ones match as whole words,
   * case-insensitively; others (Chinese) match as substrings.
   * @defaultValue ['human', 'agent', '人工', '转人工']
   */
  humanWords?: string[];
  /** Display name of the bot's sender (`{ id: 'kefu-bot', role: 'bot' }`) in `msg` frames. @defaultValue 'Kefu bot' */
  botName?: string;
  /** Priority of a conversation from the visitor's profile (higher first). @defaultValue defaultPriority: the VIP level (`vip`, top level or in a source), 0..9 */
  priority?: (profile: DeskProfile) => number;
  /** Chooses the agent. @defaultValue leastBusy() */
  strategy?: AssignmentStrategy;
  /** Capacity of an agent without settings. @defaultValue 3 */
  defaultCapacity?: number;
  /** Capacity, teams, auto-accept of an agent when they connect. @defaultValue `() => ({})` */
  agentProfile?: (identity: DeskIdentity) => AgentSettings | Promise<AgentSettings>;
  /** Assign without an offer (agents need not accept). @defaultValue false */
  autoAccept?: boolean;
  /** How long an agent has to accept an offer. @defaultValue 20_000 */
  offerTimeoutMs?: number;
  /** How long a decliner is skipped for the same conversation while others are free. @defaultValue 30_000 */
  declineCooldownMs?: number;
  /** How long an agent may stay disconnected before their chats are requeued at the head. @defaultValue 30_000 */
  agentGraceMs?: number;
  /** Close an assigned or bot conversation with no message for this long; 0 never. @defaultValue 1_800_000 */
  idleCloseMs?: number;
  /** How long a closed conversation stays in memory (for rating). @defaultValue 600_000 */
  closedRetentionMs?: number;
  /** Most waiting conversations per tenant; more hand-offs fail with KEFU_ERR_DESK_QUEUE_FULL. @defaultValue 10_000 */
  maxWaiting?: number;
  /** Most open (not closed) conversations the desk holds in memory. @defaultValue 100_000 */
  maxConversations?: number;
  /** Transcript lines kept per conversation and shown in offers. @defaultValue 20 */
  maxTranscript?: number;
  /** Coalescing window of queue position and queue_changed events; 0 = next tick. @defaultValue 500 */
  positionUpdateMs?: number;
  /**
   * Most `desk.queue_position` events per second, all tenants together: after a flush of n events the next
   * one waits at least n / rate seconds, so a long queue moving fast costs bounded work (each
   * visitor then hears less often, never a wrong position).
   * @defaultValue 2000
   */
  maxPositionEventsPerSec?: number;
  /** Period of the one sweep that closes idle chats and evicts closed ones. @defaultValue 1_000 */
  sweepMs?: number;
  /** Handle time assumed before any chat closed, for estimated waits. @defaultValue 300_000 */
  initialHandleMs?: number;
  /** Largest profile kept with a conversation (JSON bytes); a bigger one is replaced by `{}`. @defaultValue 16_384 */
  maxProfileBytes?: number;
  /** Canned replies per tenant. @defaultValue {} */
  canned?: Record<string, CannedReply[]>;
  /** Shown to a visitor who enters the queue while no agent is online. */
  offlineMessage?: string;
}

export type ResolvedDeskOptions = Required<Omit<DeskOptions, 'hub' | 'classifier' | 'profiles' | 'store' | 'queueStore'>> &
  Pick<DeskOptions, 'hub' | 'classifier' | 'profiles' | 'store' | 'queueStore'>;

export const defaultHumanWords = ['human', 'agent', '人工', '转人工'];

function vipOf(v: unknown): number {
  const n = v === true ? 1 : typeof v === 'number' ? v : 0;
  return Number.isFinite(n) ? Math.max(0, Math.min(9, Math.trunc(n))) : 0;
}

/**
 * VIP level as priority: `profile.vip`, or `vip` inside one of the profile's sources (e.g. an
 * aggregator's `membership.vip`); `true` counts 1, numbers are clamped to 0..9.
 */
export function defaultPriority(profile: DeskProfile): number {
  if (profile.vip !== undefined) return vipOf(profile.vip);
  let best = 0;
  for (const v of Object.values(profile)) {
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && v.vip !== undefined) best = Math.max(best, vipOf(v.vip));
  }
  return best;
}

const DEFAULTS = {
  bot: {},
  agingRate: 1 / 60,
  maxStickyPerTenant: 10_000,
  queueIdleCloseMs: 60_000,
  botThreshold: 0.7,
  maxBotAnswers: 5,
  humanWords: defaultHumanWords,
  botName: 'Kefu bot',
  priority: defaultPriority,
  defaultCapacity: 3,
  agentProfile: () => ({}),
  autoAccept: false,
  offerTimeoutMs: 20_000,
  declineCooldownMs: 30_000,
  agentGraceMs: 30_000,
  idleCloseMs: 1_800_000,
  closedRetentionMs: 600_000,
  maxWaiting: 10_000,
  maxConversations: 100_000,
  maxTranscript: 20,
  positionUpdateMs: 500,
  maxPositionEventsPerSec: 2_000,
  sweepMs: 1_000,
  initialHandleMs: 300_000,
  maxProfileBytes: 16_384,
  canned: {},
  offlineMessage: 'No agent is online right now. Leave a message: an agent will answer as soon as one is back.',
} satisfies Omit<ResolvedDeskOptions, 'hub' | 'classifier' | 'profiles' | 'store' | 'queueStore' | 'strategy'>;

function nonNegInt(name: string, v: number, min = 0): void {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}`);
}

export function resolveDeskOptions(options: DeskOptions, strategy: AssignmentStrategy): ResolvedDeskOptions {
  const o = { ...DEFAULTS, strategy, ...stripUndefined(options) } as ResolvedDeskOptions;
  if (typeof o.botThreshold !== 'number' || !(o.botThreshold >= 0 && o.botThreshold <= 1)) {
    throw new RangeError('botThreshold must be a number from 0 to 1');
  }
  nonNegInt('maxBotAnswers', o.maxBotAnswers);
  nonNegInt('defaultCapacity', o.defaultCapacity, 1);
  nonNegInt('offerTimeoutMs', o.offerTimeoutMs, 1);
  nonNegInt('declineCooldownMs', o.declineCooldownMs);
  nonNegInt('agentGraceMs', o.agentGraceMs);
  nonNegInt('idleCloseMs', o.idleCloseMs);
  nonNegInt('closedRetentionMs', o.closedRetentionMs);
  nonNegInt('maxWaiting', o.maxWaiting, 1);
  nonNegInt('maxConversations', o.maxConversations, 1);
  nonNegInt('maxTranscript', o.maxTranscript);
  nonNegInt('positionUpdateMs', o.positionUpdateMs);
  nonNegInt('maxPositionEventsPerSec', o.maxPositionEventsPerSec, 1);
  nonNegInt('sweepMs', o.sweepMs, 10);
  nonNegInt('initialHandleMs', o.initialHandleMs, 1);
  nonNegInt('maxProfileBytes', o.maxProfileBytes);
  nonNegInt('maxStickyPerTenant', o.maxStickyPerTenant, 1);
  nonNegInt('queueIdleCloseMs', o.queueIdleCloseMs);
  if (typeof o.agingRate !== 'number' || !Number.isFinite(o.agingRate) || o.agingRate < 0) throw new RangeError('agingRate must be a finite number >= 0');
  if (options.queueStore !== undefined && typeof options.queueStore !== 'function') throw new TypeError('queueStore must be a function (tenant) => QueueStore');
  if (o.maxWaiting > o.maxConversations) throw new RangeError('maxWaiting must not exceed maxConversations');
  if (o.autoAccept && options.offerTimeoutMs !== undefined) {
    throw new TypeError('offerTimeoutMs has no meaning with autoAccept: true (no offers are made)');
  }
  if (!Array.isArray(o.humanWords) || o.humanWords.some((w) => typeof w !== 'string' || w.trim() === '')) {
    throw new TypeError('humanWords must be an array of non-empty strings');
  }
  if (typeof o.priority !== 'function') throw new TypeError('priority must be a function');
  if (typeof o.strategy?.pick !== 'function') throw new TypeError('strategy must have a pick() method');
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
