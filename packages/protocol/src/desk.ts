/**
 * The desk's wire vocabulary, shared by the server's Desk and the client SDK / agent console.
 *
 * Desk actions are hub commands: `{t:'cmd', name:'desk.<action>', ref, conv?, args}`, answered by
 * a `result` frame (data typed below) or an `error` frame with a `KEFU_ERR_*` code.
 * Desk notifications are hub `event` frames: `{t:'event', name:'desk.<event>', conv?, data}`.
 * Bot answers are ordinary `msg` frames from a sender with role `'bot'`.
 *
 * Payloads are type aliases (not interfaces) so that they stay assignable to `JsonObject`.
 */
import type { Json, JsonObject, Role } from './frames.js';

/** `Sender` (frames.ts) as a type alias, so that payloads holding one stay JsonObject-compatible. */
export type DeskSender = { id: string; role: Role; name?: string };

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/** Command names (client -> server `cmd` frames). */
export const DeskCommand = {
  /** Visitor asks for a human (the same as typing "human" / "转人工"). Needs `conv`. */
  human: 'desk.human',
  /** Agent accepts an offer. */
  accept: 'desk.accept',
  /** Agent declines an offer; it passes to the next agent. */
  decline: 'desk.decline',
  /** Agent transfers an assigned conversation to another agent or a team. Needs `conv`. */
  transfer: 'desk.transfer',
  /** Agent or visitor closes a conversation. Needs `conv`. */
  close: 'desk.close',
  /** Visitor rates a closed conversation (CSAT 1-5). Needs `conv`. */
  rate: 'desk.rate',
  /** Agent lists the tenant's canned replies. */
  canned: 'desk.canned',
  /** Agent reads a snapshot of the tenant's waiting queue. */
  queue: 'desk.queue',
  /** Agent reads (and optionally sets) their own status and capacity use. */
  status: 'desk.status',
} as const;
export type DeskCommandName = (typeof DeskCommand)[keyof typeof DeskCommand];

/** Event names (server -> client `event` frames). */
export const DeskEvent = {
  /** To the visitor: their place in the waiting queue changed, or they connected again while waiting. */
  queuePosition: 'desk.queue_position',
  /** To one agent: a conversation is offered; answer with desk.accept / desk.decline before `expiresAt`. */
  offer: 'desk.offer',
  /** To one agent: an offer they held is void (timed out, conversation closed, or the agent went offline). */
  offerRevoked: 'desk.offer_revoked',
  /** To the conversation (visitor and agent): an agent took the conversation. */
  assigned: 'desk.assigned',
  /** To the conversation and both agents: the conversation moved to another agent or a team. */
  transferred: 'desk.transferred',
  /** To the conversation: it is closed; the visitor may now rate it. */
  closed: 'desk.closed',
  /** To the conversation: the bot answered (the answer itself is a `msg` frame from a 'bot' sender). */
  botAnswer: 'desk.bot_answer',
  /** To the conversation: the bot handed the conversation to the human queue. */
  handoff: 'desk.handoff',
  /** To the visitor: no agent is online; messages are kept and delivered when one comes. */
  offline: 'desk.offline',
  /** To the conversation: the visitor's rating was recorded. */
  rated: 'desk.rated',
  /** To every online agent of the tenant: the waiting queue changed (coalesced). */
  queueChanged: 'desk.queue_changed',
} as const;
export type DeskEventName = (typeof DeskEvent)[keyof typeof DeskEvent];

// ---------------------------------------------------------------------------------------------
// Shared shapes
// ---------------------------------------------------------------------------------------------

/** Lifecycle states: bot -> waiting -> offered -> assigned -> closed (see docs/desk.md). */
export type DeskState = 'bot' | 'waiting' | 'offered' | 'assigned' | 'closed';

/** Why a conversation left the bot for the human queue. */
export type HandoffReason =
  | 'requested'       // the visitor asked (desk.human or a human-request word)
  | 'low_confidence'  // the classifier was not sure enough
  | 'out_of_scope'    // the classifier said out of scope, or no bot answer exists for the intent
  | 'no_classifier'   // the desk has no classifier: every chat goes to humans
  | 'bot_error';      // the classifier or a bot handler failed

/** The classified intent of the first message(s), when there is one. */
export type DeskIntent = { name: string; confidence: number };

/** One transcript line carried in an offer. */
export type TranscriptLine = { from: DeskSender; body: string; ts: number };

/** A waiting-queue row as an agent sees it. */
export type QueueEntry = {
  conv: string;
  position: number;
  priority: number;
  waitingMs: number;
  visitor: DeskSender;
  intent: DeskIntent | null;
  team: string | null;
};

export type CannedReply = { id: string; title: string; body: string };

// ---------------------------------------------------------------------------------------------
// Command args and results
// ---------------------------------------------------------------------------------------------

export type DeskHumanArgs = Record<string, never>;
export type DeskHumanResult = { state: DeskState; position: number | null };

export type DeskAcceptArgs = { offerId: string };
export type DeskAcceptResult = { conv: string; state: 'assigned' };

export type DeskDeclineArgs = { offerId: string; reason?: string };
export type DeskDeclineResult = { conv: string };

/** Exactly one of `agent` (an agent id) or `team` (a team name). */
export type DeskTransferArgs = { agent?: string; team?: string; note?: string };
export type DeskTransferResult = { conv: string; state: DeskState; agent: string | null; team: string | null };

export type DeskCloseArgs = { reason?: string };
export type DeskCloseResult = { conv: string; state: 'closed' };

/** `score` is an integer 1-5; `comment` at most 1,000 characters. */
export type DeskRateArgs = { score: number; comment?: string };
export type DeskRateResult = { conv: string; score: number };

export type DeskCannedArgs = Record<string, never>;
export type DeskCannedResult = { replies: CannedReply[] };

/** `limit`: most rows returned (default 50, at most 500). */
export type DeskQueueArgs = { limit?: number };
export type DeskQueueResult = { size: number; entries: QueueEntry[] };

/** Optionally set the agent's status ('away' stops new offers) before reading it. */
export type DeskStatusArgs = { status?: 'online' | 'away' };
export type DeskStatusResult = {
  agent: string;
  status: 'online' | 'away' | 'offline';
  capacity: number;
  active: number;
  conversations: string[];
  teams: string[];
};

/** Command name -> [args, result]. */
export type DeskCommandMap = {
  'desk.human': [DeskHumanArgs, DeskHumanResult];
  'desk.accept': [DeskAcceptArgs, DeskAcceptResult];
  'desk.decline': [DeskDeclineArgs, DeskDeclineResult];
  'desk.transfer': [DeskTransferArgs, DeskTransferResult];
  'desk.close': [DeskCloseArgs, DeskCloseResult];
  'desk.rate': [DeskRateArgs, DeskRateResult];
  'desk.canned': [DeskCannedArgs, DeskCannedResult];
  'desk.queue': [DeskQueueArgs, DeskQueueResult];
  'desk.status': [DeskStatusArgs, DeskStatusResult];
};

// ---------------------------------------------------------------------------------------------
// Event payloads
// ---------------------------------------------------------------------------------------------

/** `position` is 1-based; `estimatedWaitMs` a rough guess from recent handling times. */
export type DeskQueuePositionEvent = { conv: string; position: number; size: number; estimatedWaitMs: number };
export type DeskOfferEvent = {
  offerId: string;
  conv: string;
  /** ms since epoch. */
  expiresAt: number;
  visitor: DeskSender;
  profile: JsonObject;
  intent: DeskIntent | null;
  transcript: TranscriptLine[];
  /** Set when the conversation comes from a transfer or a requeue. */
  reason: 'new' | 'transfer' | 'requeue';
};
export type DeskOfferRevokedEvent = { offerId: string; conv: string; reason: 'timeout' | 'closed' | 'agent_offline' };
export type DeskAssignedEvent = { conv: string; agent: DeskSender };
export type DeskTransferredEvent = { conv: string; from: DeskSender; agent: DeskSender | null; team: string | null; note: string | null };
export type DeskClosedEvent = {
  conv: string;
  by: 'agent' | 'visitor' | 'idle' | 'system';
  reason: string | null;
  /** True when the visitor may still send desk.rate. */
  canRate: boolean;
};
export type DeskBotAnswerEvent = { conv: string; intent: DeskIntent; seq: number };
export type DeskHandoffEvent = { conv: string; reason: HandoffReason; intent: DeskIntent | null };
export type DeskOfflineEvent = { conv: string; message: string };
export type DeskRatedEvent = { conv: string; score: number };
/** Coalesced: at most one per tenant per `queueChangedMs`. */
/** The same shape as the `desk.queue` result: the size and the first rows. */
export type DeskQueueChangedEvent = DeskQueueResult;

/** Event name -> payload. */
export type DeskEventMap = {
  'desk.queue_position': DeskQueuePositionEvent;
  'desk.offer': DeskOfferEvent;
  'desk.offer_revoked': DeskOfferRevokedEvent;
  'desk.assigned': DeskAssignedEvent;
  'desk.transferred': DeskTransferredEvent;
  'desk.closed': DeskClosedEvent;
  'desk.bot_answer': DeskBotAnswerEvent;
  'desk.handoff': DeskHandoffEvent;
  'desk.offline': DeskOfflineEvent;
  'desk.rated': DeskRatedEvent;
  'desk.queue_changed': DeskQueueChangedEvent;
};

/** True when `name` is a desk event name (for client-side dispatch). */
export function isDeskEventName(name: string): name is DeskEventName {
  return DESK_EVENT_NAMES.has(name);
}

const DESK_EVENT_NAMES: ReadonlySet<string> = new Set(Object.values(DeskEvent));

/** Compile-time check that every payload is a JsonObject (fails to build if one is not). */
type AssertJson<T extends { [k: string]: { [key: string]: Json } }> = T;
export type _DeskEventMapIsJson = AssertJson<DeskEventMap>;
