/** The Desk's typed events: every state change, for hosts, metrics and tests. */
import type { AgentStatus, DeskConversation, DeskIntent, DeskOffer, DeskState, HandoffReason } from './types.js';

export interface DeskEvents {
  /** A conversation entered the desk (state 'bot'). */
  conversation: (conv: Readonly<DeskConversation>) => void;
  /** Any state transition, already persisted. */
  state: (conv: Readonly<DeskConversation>, from: DeskState | null, to: DeskState) => void;
  /** The bot answered. */
  bot_answer: (conv: Readonly<DeskConversation>, intent: DeskIntent, body: string) => void;
  /** The conversation joined the waiting queue. */
  handoff: (conv: Readonly<DeskConversation>, reason: HandoffReason) => void;
  /** An offer went to an agent. */
  offer: (conv: Readonly<DeskConversation>, offer: DeskOffer) => void;
  /** An offer ended without acceptance. */
  offer_ended: (conv: Readonly<DeskConversation>, agentId: string, why: 'declined' | 'timeout' | 'agent_offline' | 'closed') => void;
  /** An agent took the conversation. */
  assigned: (conv: Readonly<DeskConversation>, agentId: string) => void;
  /** Moved to another agent or a team. */
  transferred: (conv: Readonly<DeskConversation>, fromAgent: string, to: { agent: string | null; team: string | null }) => void;
  /** Put back in the queue at the head (agent gone after the grace period, or a transfer to a team). */
  requeued: (conv: Readonly<DeskConversation>, reason: 'agent_offline' | 'transfer') => void;
  closed: (conv: Readonly<DeskConversation>) => void;
  rated: (conv: Readonly<DeskConversation>) => void;
  /** An agent's status changed. */
  agent: (tenant: string, agentId: string, status: AgentStatus) => void;
  /** A failure that is not a caller's fault (store write, queue write, hub call, bot handler). */
  error: (err: unknown) => void;
}

export type TransferTarget = { agent?: string; team?: string; note?: string };
