/**
 * The slice of the Hub the desk uses. The real `Hub` satisfies it structurally; a host may pass
 * any object that does (a hub on another transport, or a recording double in a unit test).
 */
import type { JsonObject, PresenceStatus, Sender } from '@kefu/protocol';
import type { DeskIdentity } from './types.js';

export interface DeskCommandContext {
  identity: { tenant: string; id: string; role: string; name?: string };
  conv?: string;
}

export interface DeskHubEvents {
  conversation: (conversation: { id: string; tenant: string; visitor: Sender }) => void;
  message: (info: { conv: string; from: Sender; body: string; ts: number }) => void;
  presence: (info: { tenant: string; user: Sender; status: PresenceStatus }) => void;
  /** A socket was accepted (a visitor reconnecting hears their queue position again). */
  connection: (info: { identity: { tenant: string; id: string; role: string } }) => void;
}

export interface DeskHub {
  command(name: string, handler: (ctx: DeskCommandContext, args: JsonObject) => JsonObject | void | Promise<JsonObject | void>): unknown;
  post(conv: string, from: Sender, body: string, data?: JsonObject): Promise<{ seq: number; ts: number }>;
  emitToUser(tenant: string, userId: string, name: string, data?: JsonObject): void;
  emitToConversation(conv: string, name: string, data?: JsonObject): void;
  addMember(conv: string, sender: Sender): Promise<void>;
  removeMember(conv: string, userId: string, reason?: string): Promise<boolean>;
  closeConversation(conv: string, reason?: string): Promise<void>;
  isOnline(tenant: string, userId: string): boolean;
  on(event: 'conversation', listener: DeskHubEvents['conversation']): unknown;
  on(event: 'message', listener: DeskHubEvents['message']): unknown;
  on(event: 'presence', listener: DeskHubEvents['presence']): unknown;
  on(event: 'connection', listener: DeskHubEvents['connection']): unknown;
  off(event: 'conversation', listener: DeskHubEvents['conversation']): unknown;
  off(event: 'message', listener: DeskHubEvents['message']): unknown;
  off(event: 'presence', listener: DeskHubEvents['presence']): unknown;
  off(event: 'connection', listener: DeskHubEvents['connection']): unknown;
}

export type { DeskIdentity };
