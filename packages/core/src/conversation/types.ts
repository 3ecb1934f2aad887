import type { JsonObject, Sender, Member, MessageFrame } from '@kefu/protocol';

/** A conversation as the store keeps it. */
export interface ConversationRecord {
  id: string;
  tenant: string;
  /** The visitor who opened it; always a member unless removed. */
  visitor: Sender;
  /** Creation time, ms since epoch. */
  createdAt: number;
  /** Application data given at creation (channel, page, language...). */
  data?: JsonObject;
  /** True once closed: appends are refused with KEFU_ERR_CONVERSATION_CLOSED. */
  closed?: boolean;
  closedReason?: string;
}

export interface CreateConversationInput {
  /** Chosen by the store (a random UUID) when absent. */
  id?: string;
  tenant: string;
  visitor: Sender;
  data?: JsonObject;
}

/** One stored message: a `msg` frame without its type tag and conversation id. */
export type StoredMessage = Omit<MessageFrame, 't' | 'conv'>;

export interface AppendInput {
  /** Client message id: the idempotency key within the conversation. */
  cid: string;
  from: Sender;
  body: string;
  data?: JsonObject;
}

export interface AppendOptions {
  /**
   * Called once the message's seq is assigned and the other members may see it, which can be
   * before the append is durable; the returned promise still resolves only once it is. A store
   * calls it at most once per new message (never for a duplicate), in seq order within a
   * conversation, and no later than it resolves. A store that shows nothing before it is durable
   * may never call it: the caller then delivers when the append resolves. From the call on, the
   * message is readable through `range`.
   */
  onVisible?: (seq: number, ts: number) => void;
}

export interface AppendResult {
  seq: number;
  ts: number;
  /** True when `cid` was already stored: `seq`/`ts` are the original ones and nothing was written. */
  dup: boolean;
  /**
   * True when the store itself published the message frame on the bus it names in
   * `ConversationStore.publishesOn` (the hub's bus), as part of the append: the hub then does not
   * publish it again. Only such a store sets it.
   */
  published?: boolean;
}

export interface RangeOptions {
  /** Messages with seq strictly greater than this. @defaultValue 0 */
  after?: number;
  /** Most messages returned (1..maxRangeLimit). @defaultValue 100 */
  limit?: number;
}

export interface AddMemberResult {
  /** False when the user already was a member (nothing changed). */
  added: boolean;
  member: Member;
}

/** Optional capabilities of a store, in the manner of abstract-level's manifest. */
export interface ConversationStoreSupports {
  /** Data survives a process restart. */
  persistent: boolean;
  /** Several hub nodes may share one instance of the backing data (seq assignment is atomic there). */
  shared: boolean;
}

export type StoreStatus = 'new' | 'opening' | 'open' | 'closing' | 'closed';
