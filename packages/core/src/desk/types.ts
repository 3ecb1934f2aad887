/**
 * The desk's domain model. Conversation records are plain JSON so that every store (memory,
 * LevelDB, Redis, a third party's) can persist them as they are.
 */
import type {
  DeskIntent, DeskSender, DeskState, HandoffReason, JsonObject, PublicIdentity, TranscriptLine,
} from '@kefu/protocol';

export type { DeskIntent, DeskSender, DeskState, HandoffReason, TranscriptLine };

/** Who acts on the desk: an authenticated hub identity (tenant, id, role, name). */
export type DeskIdentity = PublicIdentity;

/** An offer outstanding for a conversation. */
export interface DeskOffer {
  id: string;
  agentId: string;
  expiresAt: number;
  reason: 'new' | 'transfer' | 'requeue';
}

export interface DeskRating {
  score: number;
  comment: string | null;
  at: number;
}

/** One conversation as the desk sees it, persisted on every state change. */
export interface DeskConversation {
  id: string;
  tenant: string;
  visitor: DeskSender;
  state: DeskState;
  /** Higher is served first. */
  priority: number;
  /**
   * Place among equal priorities, smaller first. New arrivals take increasing numbers;
   * requeues at the head take decreasing negative ones, so a restart rebuilds the same order.
   */
  order: number;
  createdAt: number;
  queuedAt: number | null;
  assignedAt: number | null;
  closedAt: number | null;
  lastActivityAt: number;
  intent: DeskIntent | null;
  handoff: HandoffReason | null;
  /** Why it is (or was last) in the queue: shown in offers. */
  queueReason: 'new' | 'transfer' | 'requeue';
  /** Only agents of this team may take it (skills routing result or a transfer to a team). */
  team: string | null;
  agentId: string | null;
  /** The last agent who held it: the sticky strategy prefers them. */
  lastAgentId: string | null;
  offer: DeskOffer | null;
  /** Agents who declined or let an offer time out during this wait; skipped while others are free. */
  declined: Array<{ agentId: string; at: number }>;
  /** Last lines of the conversation, bounded by `maxTranscript`; shown in offers. */
  transcript: TranscriptLine[];
  profile: JsonObject;
  botAnswers: number;
  /** True when it entered the queue while no agent of the tenant was online. */
  offline: boolean;
  closedBy: 'agent' | 'visitor' | 'idle' | 'system' | null;
  closeReason: string | null;
  rating: DeskRating | null;
}

export type AgentStatus = 'online' | 'away' | 'offline';

/** Capacity and skills of an agent, from `agentProfile` or `desk.setAgent()`. */
export interface AgentSettings {
  /** Most conversations at once (offers count). */
  capacity?: number;
  teams?: string[];
  /** Accept offers without asking. */
  autoAccept?: boolean;
  name?: string;
}

/** What an assignment strategy sees of an agent: read-only. */
export interface AgentCandidate {
  readonly id: string;
  readonly tenant: string;
  readonly capacity: number;
  /** Assigned plus offered conversations. */
  readonly load: number;
  readonly teams: readonly string[];
  /** ms since epoch of the last offer or assignment, 0 if none. */
  readonly lastAssignedAt: number;
}

/** A customer profile: whatever the aggregator returns, a JSON object. */
export type DeskProfile = JsonObject;

/** The slice of the IntentClassifier the desk uses. */
export interface DeskClassifier {
  classify(text: string): Promise<DeskClassification>;
}

export interface DeskClassification {
  intent: string;
  confidence: number;
  /** True when the model says the text is out of scope. */
  outOfScope?: boolean;
}

/**
 * The slice of the ProfileAggregator the desk uses. A `ProfileAggregator` fits as it is: the desk
 * takes the `data` of its result (`{ uid, data: { crm, orders, membership } }`); any other
 * object is used whole. Multi-tenant hosts give a wrapper that routes by visitor id.
 */
export interface DeskProfiles {
  get(uid: string): Promise<unknown>;
}
