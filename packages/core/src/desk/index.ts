export { Desk } from './desk.js';
export type { DeskEvents, TransferTarget } from './events.js';
export type { TransferResult } from './transfer.js';
export type { DeskOptions, ResolvedDeskOptions } from './options.js';
export { defaultPriority, defaultHumanWords } from './options.js';
export { leastBusy, roundRobin, skills, sticky } from './strategies.js';
export type { AssignmentStrategy, SkillsOptions } from './strategies.js';
export { humanRequestMatcher } from './bot.js';
export type { BotTable, BotAnswer, BotContext } from './bot.js';
export { HEAD_PRIORITY, queuePriority } from './waiting-queues.js';
export type { DeskQueueItem, DeskQueueStoreFactory } from './waiting-queues.js';
export { DeskStore } from './store/desk-store.js';
export type { DeskStoreOp, DeskStoreSupports, StoredAgent, StoredLastAgent } from './store/desk-store.js';
export { MemoryDeskStore } from './store/memory-desk-store.js';
export { LevelDeskStore } from './store/level-desk-store.js';
export type { LevelDeskStoreOptions } from './store/level-desk-store.js';
export type { DeskHub, DeskHubEvents, DeskCommandContext } from './hub-types.js';
export type {
  DeskConversation, DeskOffer, DeskRating, AgentStatus, AgentSettings, AgentCandidate, DeskProfile,
  DeskClassifier, DeskClassification, DeskProfiles, DeskIdentity,
} from './types.js';
