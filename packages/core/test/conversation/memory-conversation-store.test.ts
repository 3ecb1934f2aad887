import { test, describe } from 'node:test';
import { conversationStoreSuite } from '../../src/testing/conversation-store-suite.js';
import { MemoryConversationStore } from '../../src/conversation/memory-conversation-store.js';

conversationStoreSuite({ test, describe }, { name: 'MemoryConversationStore', factory: () => new MemoryConversationStore() });
