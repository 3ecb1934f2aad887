/**
 * @kefu/core/testing: the conformance suites that every store implementation must pass
 * (memory, LevelDB, Redis, and third-party stores), plus named test doubles.
 * Suites take node:test's `describe`/`it` style via the `TestApi` argument so they run under any
 * runner that offers them.
 */

// --- environment: real binaries, free ports, a real redis-server -------------------------------
export { requireAll, findBinary, freePort, startRedisServer } from './environment.js';
export type { RedisServerHandle, RedisServerOptions } from './environment.js';

// --- the test-runner API every suite takes -------------------------------------------------------
export type { SuiteTestApi } from './suite-api.js';

// --- hub: conversation store suite --------------------------------------------------------------
export { conversationStoreSuite } from './conversation-store-suite.js';
export type { ConversationStoreSuiteOptions } from './conversation-store-suite.js';

// --- queue: queue store suite ---------------------------------------------------------------------
export { queueStoreSuite } from './queue-store-suite.js';
export type { QueueStoreFixture, QueueStoreSuiteOptions } from './queue-store-suite.js';

// --- desk: desk store suite ------------------------------------------------------------------------
export { deskStoreSuite, sampleDeskConversation } from '../desk/testing/desk-store-suite.js';
export type { DeskStoreSuiteOptions } from '../desk/testing/desk-store-suite.js';

// --- desk: a real kefu.v1 client for tests of a hub with a desk -----------------------------------
export { DeskTestClient } from './desk-test-client.js';
export type { DeskTestClientOptions } from './desk-test-client.js';

// --- saga: saga log suite ----------------------------------------------------------------------------
export { sagaLogSuite, sampleSagaRecord } from './saga-log-suite.js';
export type { SagaLogFixture, SagaLogSuiteOptions } from './saga-log-suite.js';

// --- intent: transformer graphs for tests and benchmarks -------------------------------------
export { buildBertGraph, buildVocab } from '../intent/bert-graph.js';
export type { BertGraphOptions } from '../intent/bert-graph.js';
