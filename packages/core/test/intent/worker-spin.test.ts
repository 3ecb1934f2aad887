import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { isKefuError, type KefuErrorCode } from '@kefu/protocol';
import { IntentClassifier, type IntentClassifierOptions, type IntentResult } from '../../src/intent/classifier.js';
import { tempDir, tinyModel } from './helpers.js';

const code = (c: KefuErrorCode) => (e: unknown) => isKefuError(e, c);
const texts = ['我想退款', '快递到哪了', '营业时间是几点', '转人工', '我的包裹还没到', '退款什么时候到账', 'hello there'];

describe('IntentClassifier workers: spinMicros, hotWaitMicros and directRun', () => {
  let tmp: ReturnType<typeof tempDir>;
  let model: string;
  before(() => {
    tmp = tempDir();
    model = tinyModel(tmp.dir);
  });
  after(() => tmp.cleanup());

  const withClassifier = async (o: IntentClassifierOptions, f: (c: IntentClassifier) => Promise<void>): Promise<void> => {
    const c = new IntentClassifier({ model, workers: 1, ...o });
    await c.open();
    try {
      await f(c);
    } finally {
      await c.close();
    }
  };

  it('rejects impossible values with exact messages', () => {
    for (const v of [-1, 1.5, 100_001, Number.NaN]) {
      assert.throws(() => new IntentClassifier({ spinMicros: v }), { name: 'RangeError', message: 'spinMicros must be an integer between 0 and 100000' });
    }
    for (const v of [-1, 0.5, 100_001]) {
      assert.throws(() => new IntentClassifier({ hotWaitMicros: v }), { name: 'RangeError', message: 'hotWaitMicros must be an integer between 0 and 100000' });
    }
    assert.throws(() => new IntentClassifier({ directRun: 'yes' as unknown as boolean }), { name: 'TypeError', message: 'directRun must be a boolean' });
    // the limits themselves are accepted
    new IntentClassifier({ spinMicros: 0 });
    new IntentClassifier({ spinMicros: 100_000, hotWaitMicros: 0, directRun: false });
    new IntentClassifier({ hotWaitMicros: 100_000 });
  });

  it('gives identical results with polling and the hot wait on and off, on the direct path and the public API', async () => {
    const many = Array.from({ length: 80 }, (_, i) => `${texts[i % texts.length]}${i}`);
    const runs: Array<{ one: IntentResult[]; batch: IntentResult[] }> = [];
    for (const o of [
      { directRun: false, spinMicros: 0, hotWaitMicros: 0 },
      { directRun: true, spinMicros: 0, hotWaitMicros: 0 },
      { directRun: false, spinMicros: 2000, hotWaitMicros: 0 },
      { directRun: true, spinMicros: 2000, hotWaitMicros: 0 },
      { directRun: true, spinMicros: 0, hotWaitMicros: 100_000 },
      { directRun: false, spinMicros: 2000, hotWaitMicros: 100_000 },
    ]) {
      await withClassifier(o, async (c) => {
        assert.equal(c.direct, o.directRun, `direct with ${JSON.stringify(o)}`);
        const one: IntentResult[] = [];
        // one at a time: each request arrives while the worker is still polling (or asleep)
        for (const t of texts) one.push(await c.classify(t));
        // and in batches larger than one runtime call (sliced in the worker)
        const batch = await c.classifyMany(many);
        runs.push({ one, batch });
      });
    }
    for (const r of runs.slice(1)) {
      assert.deepEqual(r.one, runs[0]!.one);
      assert.deepEqual(r.batch, runs[0]!.batch);
    }
    assert.equal(runs[0]!.one[0]!.intent, 'refund');
  });

  it('an answer that comes after the hot wait gave up still arrives, and timers run meanwhile', async () => {
    await withClassifier({ hotWaitMicros: 100_000, spinMicros: 0 }, async (c) => {
      // the worker is busy for 300 ms, longer than the 100 ms hot wait: the answer comes through
      // the port's own event, after the loop went back to sleeping
      c.stallWorkerForTesting(0, 300);
      const order: string[] = [];
      const answer = c.classify('我想退款').then((r) => order.push(`answer ${r.intent}`));
      setTimeout(() => order.push('timer'), 5);
      await answer;
      assert.deepEqual(order, ['timer', 'answer refund']);
      for (const t of texts.slice(0, 3)) await c.classify(t);
    });
  });

  it('uses the direct path by default', async () => {
    await withClassifier({}, async (c) => {
      assert.equal(c.direct, true);
      assert.equal((await c.classify('我想退款')).intent, 'refund');
    });
  });

  it('a polling worker and a hot-waiting pool still stop on close(): in-flight and waiting requests reject with KEFU_ERR_CLOSED', async () => {
    // the longest windows: the worker is polling and the main thread's loop turning when close() comes
    const c = new IntentClassifier({ model, workers: 1, spinMicros: 100_000, hotWaitMicros: 100_000 });
    await c.open();
    assert.equal((await c.classify('我想退款')).intent, 'refund');
    const lone = c.classify('转人工');
    const pending = Promise.allSettled([lone, ...Array.from({ length: 20 }, () => c.classify('快递到哪了'))]);
    await c.close();
    for (const s of await pending) if (s.status === 'rejected') assert.ok(isKefuError(s.reason, 'KEFU_ERR_CLOSED'));
    await assert.rejects(c.classify('hi'), code('KEFU_ERR_CLOSED'));
  });

  it('a polling worker that crashes during a hot wait is replaced and later requests succeed', async () => {
    await withClassifier({ spinMicros: 100_000, hotWaitMicros: 100_000 }, async (c) => {
      assert.equal((await c.classify('我想退款')).intent, 'refund');
      const replaced = new Promise<void>((resolve) => c.once('worker-replaced', () => resolve()));
      // sent while the worker polls: it reads the crash request from the port itself
      c.crashWorkerForTesting(0);
      await assert.rejects(c.classify('我想退款'), code('KEFU_ERR_INTENT_WORKER_FAILED'));
      await replaced;
      assert.equal((await c.classify('快递到哪了')).intent, 'order_status');
    });
  });

  it('a polling worker stuck in a batch times out (the hot wait gives up first) and is replaced', async () => {
    await withClassifier({ spinMicros: 100_000, hotWaitMicros: 100_000, timeoutMs: 200 }, async (c) => {
      assert.equal((await c.classify('我想退款')).intent, 'refund');
      const replaced = new Promise<void>((resolve) => c.once('worker-replaced', () => resolve()));
      c.stallWorkerForTesting(0, 1500);
      await assert.rejects(c.classify('我想退款'), code('KEFU_ERR_TIMEOUT'));
      await replaced;
      assert.equal((await c.classify('转人工')).intent, 'human_agent');
    });
  });
});
