/**
 * @kefu/mock-backends: real HTTP services on loopback standing in for the business systems a desk
 * talks to. Used by tests, the demo desk and the benchmarks. Not for production.
 */

// --- shared HTTP service helper (stable signature: startJsonService(routes, options)) -----------
export { startJsonService, faults } from './json-service.js';
export type {
  Fault, HttpMethod, JsonRequest, JsonReply, Route, RouteHandler, JsonService, JsonServiceOptions,
  JsonServiceBehaviour, JsonServiceStats, AnsweredInfo,
} from './json-service.js';

// --- profile sources: CRM, orders, membership ----------------------------------------------------
export {
  startProfileService, startCrmService, startOrdersService, startMembershipService, startProfileBackends,
  uidPattern, defaultMaxBatch, defaultLatencyMs,
} from './profile-services.js';
export type { ProfileService, ProfileServiceKind, ProfileServiceOptions, ProfileBackends } from './profile-services.js';
export { crmRecord, ordersRecord, membershipRecord, hashUid } from './profile-data.js';
export type { CrmRecord, OrdersRecord, Order, MembershipRecord, MembershipLevel } from './profile-data.js';

// --- saga back ends: helpdesk, ERP ------------------------------------------------------------------
export {
  startErpService, IdempotencyStore, FaultSwitch, idempotencyKey, idempotent, faultRoute, defaultMaxIdempotencyKeys,
  maxIdempotencyKeyLength,
} from './erp.js';
export type { ErpService, ErpServiceOptions, Refund, FaultKind, FaultSettings } from './erp.js';
export { startHelpdeskService } from './helpdesk.js';
export type { HelpdeskService, HelpdeskServiceOptions, Ticket } from './helpdesk.js';
export { startCrmNotesService } from './crm-notes.js';
export type { CrmNotesService, CrmNotesServiceOptions, CrmNote } from './crm-notes.js';
