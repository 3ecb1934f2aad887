export { RedisBus } from './redis-bus.js';
export type { RedisBusOptions } from './redis-bus.js';
export type { RedisConnectionInput } from './connection.js';
export { RedisConversationStore } from './redis-conversation-store.js';
export type { RedisConversationStoreOptions } from './redis-conversation-store.js';
export { RedisQueueStore } from './redis-queue-store.js';
export type { RedisQueueStoreOptions } from './redis-queue-store.js';
export { RedisSagaLog } from './redis-saga-log.js';
export type { RedisSagaLogOptions } from './redis-saga-log.js';
