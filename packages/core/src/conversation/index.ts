export { ConversationStore, maxRangeLimit } from './conversation-store.js';
export { MemoryConversationStore } from './memory-conversation-store.js';
export { LevelConversationStore } from './level-conversation-store.js';
export type { LevelConversationStoreOptions } from './level-conversation-store.js';
export type {
  ConversationRecord, CreateConversationInput, StoredMessage, AppendInput, AppendOptions, AppendResult, RangeOptions,
  AddMemberResult, ConversationStoreSupports, StoreStatus,
} from './types.js';
