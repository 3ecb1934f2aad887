export { PROTOCOL, PROTOCOL_VERSION } from './frames.js';
export type {
  Role, Json, JsonObject, Sender, PublicIdentity, PresenceStatus, Member, AnnouncedLimits,
  OpenFrame, JoinFrame, LeaveFrame, SendFrame, TypingFrame, ReadFrame, ResumeFrame, PresenceSetFrame, CommandFrame, PingFrame,
  ClientFrame, ClientFrameType,
  WelcomeFrame, JoinedFrame, LeftFrame, MemberFrame, AckFrame, MessageFrame, TypingEventFrame, ReadEventFrame,
  PresenceEventFrame, ResumedFrame, EventFrame, ResultFrame, PongFrame, ErrorFrame,
  ServerFrame, ServerFrameType,
} from './frames.js';
export { errorCodes, KefuError, isKefuError, isKefuErrorCode } from './errors.js';
export type { KefuErrorCode, KefuErrorOptions } from './errors.js';
export { CloseCode, isTerminalClose } from './close-codes.js';
export type { CloseCodeValue } from './close-codes.js';
export { FieldLimits } from './limits.js';
export { encodeFrame, decodeClientFrame, decodeServerFrame, errorFrame, isValidId, isValidSeq, checkData } from './codec.js';
export type { DecodeError, DecodeResult, ClientDecodeOptions } from './codec.js';
export { DeskCommand, DeskEvent, isDeskEventName } from './desk.js'; // desk
export type { DeskSender, DeskCommandName, DeskEventName, DeskState, HandoffReason, DeskIntent, TranscriptLine, QueueEntry, CannedReply, DeskHumanArgs, DeskHumanResult, DeskAcceptArgs, DeskAcceptResult, DeskDeclineArgs, DeskDeclineResult, DeskTransferArgs, DeskTransferResult, DeskCloseArgs, DeskCloseResult, DeskRateArgs, DeskRateResult, DeskCannedArgs, DeskCannedResult, DeskQueueArgs, DeskQueueResult, DeskStatusArgs, DeskStatusResult, DeskCommandMap, DeskQueuePositionEvent, DeskOfferEvent, DeskOfferRevokedEvent, DeskAssignedEvent, DeskTransferredEvent, DeskClosedEvent, DeskBotAnswerEvent, DeskHandoffEvent, DeskOfflineEvent, DeskRatedEvent, DeskQueueChangedEvent, DeskEventMap } from './desk.js'; // desk
