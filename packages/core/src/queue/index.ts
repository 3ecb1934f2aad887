export { PriorityQueue, payloadBytes } from './priority-queue.js';
export type { PushOptions, PushResult, Lease, LeaseOptions, NackOptions, IterateOptions } from './priority-queue.js';
export type { PriorityQueueEvents } from './events.js';
export { MIN_PRIORITY, MAX_PRIORITY, MAX_ID_LENGTH, MAX_ATTEMPTS_LIMIT, backoffDelay } from './options.js';
export type { PriorityQueueOptions, BackoffOptions } from './options.js';
export { QueueStore } from './queue-store.js';
export type { QueueStoreStatus } from './queue-store.js';
export { MemoryQueueStore } from './memory-queue-store.js';
export type { MemoryQueueStoreOptions } from './memory-queue-store.js';
export type {
  ItemState, PushRecord, PushOutcome, StoredItem, LeaseGrant, TickOutcome, QueueCounts, NackDisposition, QueueStoreSupports,
} from './types.js';
export { LevelQueueStore } from './level-queue-store.js';
export type { LevelQueueStoreOptions } from './level-queue-store.js';
