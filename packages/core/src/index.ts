/**
 * @kefu/core: every export is named here. Importing this module loads no heavy optional
 * dependency (onnxruntime-node is imported lazily, inside the intent workers).
 * Each component owns one section; add your exports in your section only.
 */

// --- errors and protocol essentials (re-exported so hosts need one import) -------------------
export { KefuError, isKefuError, errorCodes, CloseCode, PROTOCOL } from '@kefu/protocol';
export type { KefuErrorCode } from '@kefu/protocol';

// --- storage primitives ------------------------------------------------------------------------
export { chainedBatchTarget, GroupCommitWriter } from './storage/index.js';
export type { BatchOp, BatchTarget, ChainedBatchDb, GroupCommitOptions } from './storage/index.js';

// --- hub ---------------------------------------------------------------------------------------
export { Hub, hubDefaults, HubMetrics, hubTopics, jwtAuthenticator, tokenFromRequest } from './hub/index.js';
export type {
  HubMetricsSnapshot, JwtAuthenticatorOptions, Identity, Authenticate, AuthorizeJoin, MessageDraft, BeforeMessageContext,
  BeforeMessage, CommandContext, CommandHandler, RateLimitOptions, HubOptions, ConversationInfo, DisconnectInfo, HubEvents,
  HubHealth,
} from './hub/index.js';
export { ConversationStore, maxRangeLimit, MemoryConversationStore, LevelConversationStore } from './conversation/index.js';
export type {
  LevelConversationStoreOptions, ConversationRecord, CreateConversationInput, StoredMessage, AppendInput, AppendOptions, AppendResult,
  RangeOptions, AddMemberResult, ConversationStoreSupports, StoreStatus,
} from './conversation/index.js';
export { Bus, LocalBus, LocalBusNetwork } from './bus/index.js';
export type { BusEvents, BusOptions, LocalBusOptions } from './bus/index.js';

// --- queue -------------------------------------------------------------------------------------
export {
  PriorityQueue, QueueStore, MemoryQueueStore, LevelQueueStore, payloadBytes,
  MIN_PRIORITY, MAX_PRIORITY, MAX_ID_LENGTH, MAX_ATTEMPTS_LIMIT,
} from './queue/index.js';
export type {
  PriorityQueueOptions, BackoffOptions, PriorityQueueEvents, PushOptions, PushResult, Lease, LeaseOptions, NackOptions,
  IterateOptions, QueueStoreStatus, MemoryQueueStoreOptions, LevelQueueStoreOptions, ItemState, PushRecord, PushOutcome,
  StoredItem, LeaseGrant, TickOutcome, QueueCounts, NackDisposition, QueueStoreSupports,
} from './queue/index.js';

// --- profile -----------------------------------------------------------------------------------
export { ProfileAggregator, HttpProfileSource, defaultUidPattern } from './profile/index.js';
export type {
  GetOptions, HttpProfileSourceOptions, HttpBatchOptions, ProfileAggregatorOptions, CacheOptions, BreakerOptions,
  RetryOptions, ProfileAggregatorEvents, FetchEvent, ProfileSource, FetchContext, BatchAnswer, BatchOptions,
  SourceStatus, SourceReport, AnyProfileSource, SourceValue, ProfileData, Profile, SourceCounters, BreakerState,
} from './profile/index.js';

// --- intent ------------------------------------------------------------------------------------
export { IntentClassifier, trainIntentModel, readExamples, readWordVectors, parseCsv, featurize, normalizeText, defaultFeaturizerSettings, WordPieceTokenizer, encodeModel, decodeModelInfo, readFloatInitializer, tfidfWeights, DataType, AttributeType } from './intent/index.js';
export type { IntentClassifierOptions, IntentClassifierEvents, IntentResult, RankedIntent, TrainOptions, TrainReport, TrainResult, WordVectors, Example, Split, FeaturizerSettings, Features, WordPieceOptions, ModelInit, NodeInit, TensorInit, AttributeInit, ValueInfoInit, DecodedModel } from './intent/index.js';

// --- desk --------------------------------------------------------------------------------------
export {
  Desk, defaultPriority, defaultHumanWords, leastBusy, roundRobin, skills, sticky, humanRequestMatcher, HEAD_PRIORITY, queuePriority,
  DeskStore, MemoryDeskStore, LevelDeskStore,
} from './desk/index.js';
export type {
  DeskEvents, TransferTarget, DeskOptions, ResolvedDeskOptions, AssignmentStrategy, SkillsOptions, BotTable, BotAnswer,
  BotContext, DeskStoreOp, DeskStoreSupports, StoredAgent, StoredLastAgent, LevelDeskStoreOptions, DeskHub, DeskHubEvents,
  DeskQueueItem, DeskQueueStoreFactory, TransferResult,
  DeskCommandContext, DeskConversation, DeskOffer, DeskRating, AgentStatus, AgentSettings, AgentCandidate, DeskProfile,
  DeskClassifier, DeskClassification, DeskProfiles, DeskIdentity,
} from './desk/index.js';

// --- saga --------------------------------------------------------------------------------------
export {
  Saga, MAX_SAGA_STEPS, NonRetryableError, defaultIsRetryable, backoffDelay, SagaOrchestrator, MAX_RESOLUTION_LENGTH,
  SagaLog, MAX_LIST_LIMIT, MAX_SAGA_ID_LENGTH, MemorySagaLog, LevelSagaLog, sagaStates, openStates, repairStates,
} from './saga/index.js';
export type {
  SagaDefinition, SagaStep, StepContext, CompensationContext, ResolvedStep, RetryPolicy, ResolvedRetryPolicy,
  AnySaga, SagaOrchestratorOptions, StartOptions, StartedSaga, RecoverReport, RecoverSettled, SagaEvents, SagaEventInfo, StepEventInfo,
  SagaOutcome, SagaLogOptions, SagaLogSupports, SagaListOptions, SagaLogStatus, MemorySagaLogOptions, LevelSagaLogOptions,
  SagaState, StepStatus, SagaErrorInfo, StepRecord, SagaRecord,
} from './saga/index.js';
