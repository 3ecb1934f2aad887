/**
 * The bot's turn: while the bot holds a conversation, each visitor message is checked for a
 * human request, classified, and answered from the bot table when the classifier is sure enough;
 * anything else hands off. Work of one conversation runs one step at a time (a message and a
 * desk.human would race otherwise).
 */
import { DeskEvent } from '@kefu/protocol';
import { botSender, humanRequestMatcher } from './bot.js';
import type { DeskRuntime } from './runtime.js';
import type { DeskConversation, DeskIntent, DeskProfile, HandoffReason, TranscriptLine } from './types.js';

export interface BotTurnHooks {
  handoff(conv: DeskConversation, reason: HandoffReason): Promise<void>;
  appendTranscript(conv: DeskConversation, line: TranscriptLine): void;
  profile(conv: DeskConversation): Promise<DeskProfile>;
}

export class BotTurns {
  readonly #rt: DeskRuntime;
  readonly #hooks: BotTurnHooks;
  readonly #isHumanRequest: (text: string) => boolean;
  readonly #bot: ReturnType<typeof botSender>;
  readonly #chains = new Map<string, Promise<void>>();

  constructor(rt: DeskRuntime, hooks: BotTurnHooks) {
    this.#rt = rt;
    this.#hooks = hooks;
    this.#isHumanRequest = humanRequestMatcher(rt.o.humanWords);
    this.#bot = botSender(rt.o.botName);
  }

  /** Runs bot-state work of one conversation after the work queued before it. */
  chain(conv: DeskConversation, work: () => Promise<void>): Promise<void> {
    const prev = this.#chains.get(conv.id) ?? Promise.resolve();
    const next = prev.then(work);
    const tail = next.catch(() => {}).finally(() => {
      if (this.#chains.get(conv.id) === tail) this.#chains.delete(conv.id);
    });
    this.#chains.set(conv.id, tail);
    return next;
  }

  /** Waits for the bot work in flight (desk close). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#chains.values()]);
  }

  async turn(conv: DeskConversation, text: string): Promise<void> {
    const rt = this.#rt;
    const o = rt.o;
    if (conv.state !== 'bot') return;
    if (this.#isHumanRequest(text)) return this.#hooks.handoff(conv, 'requested');
    const classifier = o.classifier;
    if (!classifier) return this.#hooks.handoff(conv, 'no_classifier');
    if (conv.botAnswers >= o.maxBotAnswers) return this.#hooks.handoff(conv, 'low_confidence');
    let answer: string | null;
    let intent: DeskIntent;
    try {
      const r = await classifier.classify(text);
      intent = { name: r.intent, confidence: r.confidence };
      conv.intent = intent;
      if (r.outOfScope) return this.#hooks.handoff(conv, 'out_of_scope');
      if (!(r.confidence >= o.botThreshold)) return this.#hooks.handoff(conv, 'low_confidence');
      const entry = Object.prototype.hasOwnProperty.call(o.bot, r.intent) ? o.bot[r.intent] : undefined;
      if (entry === undefined) return this.#hooks.handoff(conv, 'out_of_scope');
      const profile = await this.#hooks.profile(conv);
      answer = typeof entry === 'string'
        ? entry
        : await entry({ conversation: conv, text, intent: r.intent, confidence: r.confidence, profile });
    } catch (err) {
      rt.error(err);
      return this.#hooks.handoff(conv, 'bot_error');
    }
    if (answer === null || typeof answer !== 'string' || answer.length === 0) return this.#hooks.handoff(conv, 'out_of_scope');
    if (conv.state !== 'bot') return;
    conv.botAnswers++;
    let seq = 0;
    const ts = Date.now();
    if (o.hub) {
      try {
        seq = (await o.hub.post(conv.id, this.#bot, answer, { intent: intent.name, confidence: intent.confidence })).seq;
      } catch (err) {
        rt.error(err);
        return;
      }
    }
    // With a hub, the stored message comes back through the hub's `message` event.
    if (!o.hub) this.#hooks.appendTranscript(conv, { from: this.#bot, body: answer, ts });
    await rt.save([conv]);
    rt.out.toConversation(conv.id, DeskEvent.botAnswer, { conv: conv.id, intent, seq });
    rt.events.emit('bot_answer', conv, intent, answer);
  }
}
