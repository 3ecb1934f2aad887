/** @kefu/client: every export is named here. */
export { KefuClient } from './client.js';
export type { KefuClientEvents, ClientState, CloseInfo, ReconnectInfo } from './events.js';
export type { KefuClientOptions, ReconnectOptions, TokenSource, WebSocketConstructor, WebSocketLike } from './options.js';
export { reconnectDefaults } from './options.js';
export { backoffDelay } from './backoff.js';
export { KefuError, isKefuError, CloseCode, isTerminalClose } from '@kefu/protocol';
export type { KefuErrorCode, MessageFrame, AckFrame, JoinedFrame, EventFrame, WelcomeFrame, JsonObject, Sender } from '@kefu/protocol';
export { deskCommand, onDeskEvent } from './desk.js';
export { DeskCommand, DeskEvent } from '@kefu/protocol';
export type { DeskCommandMap, DeskEventMap } from '@kefu/protocol';
