/**
 * The bot table and the human-request detector. The bot answers only when the classifier is
 * sure enough and the table has an answer for the intent; anything else hands off to a human,
 * carrying the intent and the transcript.
 */
import type { DeskConversation, DeskIdentity, DeskProfile } from './types.js';

export interface BotContext {
  conversation: Readonly<DeskConversation>;
  text: string;
  intent: string;
  confidence: number;
  profile: DeskProfile;
}

/**
 * An answer: a fixed text, or an async handler (order lookup, FAQ search...) returning the text,
 * or null to hand off instead.
 */
export type BotAnswer = string | ((ctx: BotContext) => string | null | Promise<string | null>);

/** Intent name -> answer. */
export type BotTable = Record<string, BotAnswer>;

const LATIN = /^[\x20-\x7e]+$/;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Builds a matcher for human-request phrases: whole words for Latin ones, substrings otherwise. */
export function humanRequestMatcher(words: readonly string[]): (text: string) => boolean {
  const latin = words.filter((w) => LATIN.test(w)).map((w) => escapeRegExp(w.trim()));
  const other = words.filter((w) => !LATIN.test(w)).map((w) => w.trim());
  const re = latin.length > 0 ? new RegExp(`(?:^|[^\\p{L}\\p{N}])(?:${latin.join('|')})(?:$|[^\\p{L}\\p{N}])`, 'iu') : null;
  return (text) => (re !== null && re.test(text)) || other.some((w) => text.includes(w));
}

/** The bot's sender. */
export function botSender(name: string): { id: string; role: 'bot'; name: string } {
  return { id: 'kefu-bot', role: 'bot', name };
}

export type { DeskIdentity };
