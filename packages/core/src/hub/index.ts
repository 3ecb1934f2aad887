export { Hub } from './hub.js';
export { hubDefaults } from './options.js';
export { HubMetrics } from './metrics.js';
export { topic as hubTopics } from './local-index.js';
export type { HubMetricsSnapshot } from './metrics.js';
export { jwtAuthenticator, tokenFromRequest } from './jwt-authenticator.js';
export type { JwtAuthenticatorOptions } from './jwt-authenticator.js';
export type {
  Identity, Authenticate, AuthorizeJoin, MessageDraft, BeforeMessageContext, BeforeMessage, CommandContext, CommandHandler,
  RateLimitOptions, HubOptions, ConversationInfo, DisconnectInfo, HubEvents, HubHealth,
} from './types.js';
