import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startDesk, Client, closeAll, until } from './helpers.js';
import { IntentClassifier } from '../../src/intent/classifier.js';
import type { BotTable } from '../../src/desk/bot.js';
import type { DeskClassifier } from '../../src/desk/types.js';

const model = fileURLToPath(new URL('../../../intent-model/model.onnx', import.meta.url));
const haveModel = existsSync(model);
if (!haveModel) console.warn(`\n*** SKIPPING the real-classifier desk test: ${model} is missing ***\n`);

const bot: BotTable = {
  balance: 'You can see your balance under Accounts in the app.',
  order_status: async ({ profile }) => `Your last order ${String((profile.orders as { last?: string } | undefined)?.last ?? '')} ships today.`,
};

let classifier: IntentClassifier | undefined;
/** Opened by the first test that needs it, so that the test-double test does not depend on the model. */
async function real(): Promise<IntentClassifier> {
  if (!classifier) {
    classifier = new IntentClassifier({ model, workers: 1 });
    await classifier.open();
  }
  return classifier;
}
after(async () => { await classifier?.close(); });

test('real IntentClassifier: the bot answers confident, known intents and hands off the rest with intent and transcript', { skip: !haveModel }, async () => {
  const rig = await startDesk({ classifier: await real(), bot, botThreshold: 0.6, profiles: { get: async () => ({ orders: { last: 'A-17' } }) } });
  const clients: Client[] = [];
  try {
    const v = await Client.connect(rig.url, 't1:v1:visitor');
    clients.push(v);
    const conv = await v.open();
    v.say(conv, 'what is my bank account balance');
    const m1 = await v.wait((f) => f.t === 'msg' && f.from.role === 'bot', 'bot answer');
    assert.ok(m1.t === 'msg');
    assert.equal(m1.body, 'You can see your balance under Accounts in the app.');
    assert.equal(m1.from.id, 'kefu-bot');
    const ev = await v.event<{ intent: { name: string; confidence: number }; seq: number }>('desk.bot_answer');
    assert.equal(ev.intent.name, 'balance');
    assert.ok(ev.intent.confidence >= 0.6);
    assert.equal(ev.seq, m1.seq);

    v.say(conv, 'where is my package, can you track my order');
    const m2 = await v.wait((f) => f.t === 'msg' && f.from.role === 'bot', 'second bot answer');
    assert.ok(m2.t === 'msg' && m2.body === 'Your last order A-17 ships today.');
    assert.equal(rig.desk.conversation(conv)!.state, 'bot');

    v.say(conv, 'blah blah qwerty');
    const h = await v.event<{ reason: string; intent: { name: string } | null }>('desk.handoff');
    assert.equal(h.reason, 'out_of_scope');
    assert.ok(h.intent !== null);
    await v.event('desk.queue_position', (d) => d.position === 1);

    const a1 = await Client.connect(rig.url, 't1:a1:agent');
    clients.push(a1);
    const offer = await a1.event<{ intent: { name: string } | null; transcript: Array<{ from: { role: string }; body: string }> }>('desk.offer');
    assert.deepEqual(offer.transcript.map((l) => l.from.role), ['visitor', 'bot', 'visitor', 'bot', 'visitor']);
    assert.equal(offer.transcript[4]!.body, 'blah blah qwerty');
    assert.deepEqual(offer.intent, h.intent);
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});

test('real IntentClassifier: human-request words and the desk.human command hand off at once', { skip: !haveModel }, async () => {
  const rig = await startDesk({ classifier: await real(), bot });
  const clients: Client[] = [];
  try {
    const v1 = await Client.connect(rig.url, 't1:v1:visitor');
    const v2 = await Client.connect(rig.url, 't1:v2:visitor');
    const v3 = await Client.connect(rig.url, 't1:v3:visitor');
    clients.push(v1, v2, v3);
    const c1 = await v1.open();
    v1.say(c1, '转人工');
    assert.equal((await v1.event('desk.handoff')).reason, 'requested');
    const c2 = await v2.open();
    v2.say(c2, 'Can I talk to an AGENT please?');
    assert.equal((await v2.event('desk.handoff')).reason, 'requested');
    const c3 = await v3.open();
    const r = await v3.cmd('desk.human', c3);
    assert.deepEqual(r, { ok: true, data: { state: 'waiting', position: 3 } });
    assert.equal((await v3.event('desk.handoff')).reason, 'requested');
    // "agents" inside another word does not count as asking for one ("reagent" is not "agent").
    const v4 = await Client.connect(rig.url, 't1:v4:visitor');
    clients.push(v4);
    const c4 = await v4.open();
    v4.say(c4, 'what is my bank account balance, reagent');
    await v4.wait((f) => f.t === 'msg' && f.from.role === 'bot', 'bot answer');
    assert.equal(rig.desk.conversation(c4)!.state, 'bot');
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});

/** Named test double: answers a fixed result, or fails; for the paths the real model cannot be steered to. */
class ScriptedClassifier implements DeskClassifier {
  constructor(private readonly result: { intent: string; confidence: number } | Error) {}
  async classify(): Promise<{ intent: string; confidence: number }> {
    if (this.result instanceof Error) throw this.result;
    return this.result;
  }
}

test('test double: low confidence and a failing classifier hand off; maxBotAnswers caps the bot', async () => {
  for (const [cls, reason] of [
    [new ScriptedClassifier({ intent: 'balance', confidence: 0.2 }), 'low_confidence'],
    [new ScriptedClassifier(new Error('model crashed')), 'bot_error'],
  ] as const) {
    const rig = await startDesk({ classifier: cls, bot });
    const v = await Client.connect(rig.url, 't1:v1:visitor');
    try {
      const conv = await v.open();
      v.say(conv, 'hello');
      assert.equal((await v.event('desk.handoff')).reason, reason);
      assert.equal(rig.desk.conversation(conv)!.state, 'waiting');
    } finally {
      await closeAll(v);
      await rig.close();
    }
  }
  const rig = await startDesk({ classifier: new ScriptedClassifier({ intent: 'balance', confidence: 0.99 }), bot, maxBotAnswers: 2 });
  const v = await Client.connect(rig.url, 't1:v1:visitor');
  try {
    const conv = await v.open();
    for (let i = 0; i < 3; i++) v.say(conv, `question ${i}`);
    assert.equal((await v.event('desk.handoff')).reason, 'low_confidence');
    await until(() => rig.desk.conversation(conv)!.botAnswers === 2, 'two bot answers');
  } finally {
    await closeAll(v);
    await rig.close();
  }
});
