import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isKefuError, type KefuErrorCode } from '@kefu/protocol';
import { IntentClassifier } from '../../src/intent/classifier.js';
import { encodeModel, DataType } from '../../src/intent/onnx-proto.js';
import { tempDir, tinyModel } from './helpers.js';

const code = (c: KefuErrorCode) => (e: unknown) => isKefuError(e, c);

describe('IntentClassifier on a hashed model', () => {
  let tmp: ReturnType<typeof tempDir>;
  let model: string;
  let c: IntentClassifier;
  before(async () => {
    tmp = tempDir();
    model = tinyModel(tmp.dir);
    c = new IntentClassifier({ model, workers: 2, topK: 3 });
    await c.open();
  });
  after(async () => {
    await c.close();
    tmp.cleanup();
  });

  it('returns intent, confidence, topK and the out-of-scope flag', async () => {
    const r = await c.classify('我想退款');
    assert.equal(r.intent, 'refund');
    assert.equal(r.topK.length, 3);
    assert.equal(r.topK[0]!.intent, r.intent);
    assert.equal(r.topK[0]!.confidence, r.confidence);
    assert.ok(r.topK[0]!.confidence >= r.topK[1]!.confidence && r.topK[1]!.confidence >= r.topK[2]!.confidence);
    assert.equal(r.outOfScope, false);
    assert.equal(r.truncated, false);
    assert.deepEqual(c.labels, ['human_agent', 'opening_hours', 'order_status', 'refund']);
  });

  it('classifies Chinese without spaces', async () => {
    const rs = await c.classifyMany(['快递到哪了', '营业时间是几点', '转人工']);
    assert.deepEqual(rs.map((r) => r.intent), ['order_status', 'opening_hours', 'human_agent']);
  });

  it('gives the same answer alone and inside a micro-batch', async () => {
    const alone = await c.classify('我的包裹还没到');
    const batch = await c.classifyMany(Array.from({ length: 200 }, (_, i) => (i === 137 ? '我的包裹还没到' : `第${i}个订单退款`)));
    assert.equal(batch[137]!.intent, alone.intent);
    assert.ok(Math.abs(batch[137]!.confidence - alone.confidence) < 1e-6);
  });

  it('rejects bad input with KEFU_ERR_INTENT_INVALID_TEXT', async () => {
    for (const bad of ['', '   \n\t', 'abc\u0000def', 'bin\u0001ary', 'half \ud800 pair', 'tail \udc00', 42, null, undefined, { text: 'x' }, Buffer.from('hi')]) {
      await assert.rejects(c.classify(bad as string), code('KEFU_ERR_INTENT_INVALID_TEXT'), `input ${JSON.stringify(String(bad))}`);
    }
  });

  it('truncates a huge text at maxChars (1000 by default) and says so', async () => {
    const huge = '我想退款'.repeat(250_000); // 1,000,000 characters
    const r = await c.classify(huge);
    assert.equal(r.truncated, true);
    assert.equal(r.intent, 'refund');
    // the verdict equals that of the first 1000 characters
    const head = await c.classify(huge.slice(0, 1000));
    assert.equal(head.truncated, false);
    assert.equal(head.confidence, r.confidence);
    // a cut inside a surrogate pair never produces an invalid text
    const emoji = 'a'.repeat(999) + '😀';
    assert.equal((await c.classify(emoji)).truncated, true);
  });

  it('limits waiting requests to maxQueue (KEFU_ERR_INTENT_QUEUE_FULL)', async () => {
    const small = new IntentClassifier({ model, workers: 1, maxQueue: 5, maxBatch: 1 });
    await small.open();
    try {
      const ps = Array.from({ length: 20 }, () => small.classify('我想退款'));
      const settled = await Promise.allSettled(ps);
      const full = settled.filter((s) => s.status === 'rejected' && isKefuError(s.reason, 'KEFU_ERR_INTENT_QUEUE_FULL'));
      const ok = settled.filter((s) => s.status === 'fulfilled');
      // one in flight + 5 waiting are accepted, the rest refused at once
      assert.equal(ok.length, 6);
      assert.equal(full.length, 14);
      assert.equal((await small.classify('我想退款')).intent, 'refund');
    } finally {
      await small.close();
    }
  });

  it('survives a crashed worker: in-flight requests fail, later ones succeed', async () => {
    const one = new IntentClassifier({ model, workers: 1 });
    await one.open();
    try {
      const failed = new Promise((resolve) => one.once('worker-failed', resolve));
      const replaced = new Promise<void>((resolve) => one.once('worker-replaced', () => resolve()));
      one.crashWorkerForTesting(0);
      const inflight = one.classify('我想退款');
      await assert.rejects(inflight, code('KEFU_ERR_INTENT_WORKER_FAILED'));
      const err = await failed;
      assert.ok(isKefuError(err, 'KEFU_ERR_INTENT_WORKER_FAILED'));
      await replaced;
      const r = await one.classify('我想退款');
      assert.equal(r.intent, 'refund');
      // requests made while the replacement starts wait for it instead of failing
      one.crashWorkerForTesting(0);
      await assert.rejects(one.classify('快递到哪了'), code('KEFU_ERR_INTENT_WORKER_FAILED'));
      const queued = one.classify('快递到哪了');
      assert.equal((await queued).intent, 'order_status');
    } finally {
      await one.close();
    }
  });

  it('gives up on a slot after 3 failed restarts and then fails fast instead of queueing forever', async () => {
    const copy = join(tmp.dir, 'doomed.onnx');
    writeFileSync(copy, readFileSync(model));
    const one = new IntentClassifier({ model: copy, workers: 1 });
    await one.open();
    try {
      const failures: unknown[] = [];
      one.on('worker-failed', (e) => failures.push(e));
      rmSync(copy); // every replacement now fails to start
      one.crashWorkerForTesting(0);
      const deadline = Date.now() + 30_000;
      let last: unknown;
      while (Date.now() < deadline) {
        try {
          await one.classify('我想退款');
        } catch (err) {
          last = err;
          if (failures.length >= 4) break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(failures.length >= 4, `${failures.length} worker failures`);
      assert.ok(isKefuError(last, 'KEFU_ERR_INTENT_WORKER_FAILED'));
      await assert.rejects(one.classify('我想退款'), code('KEFU_ERR_INTENT_WORKER_FAILED'));
    } finally {
      await one.close();
    }
  });

  it('fails a stuck batch with KEFU_ERR_TIMEOUT after timeoutMs and replaces the worker', async () => {
    const one = new IntentClassifier({ model, workers: 1, timeoutMs: 200 });
    await one.open();
    try {
      const replaced = new Promise<void>((resolve) => one.once('worker-replaced', () => resolve()));
      one.stallWorkerForTesting(0, 1500);
      await assert.rejects(one.classify('我想退款'), code('KEFU_ERR_TIMEOUT'));
      await replaced;
      assert.equal((await one.classify('我想退款')).intent, 'refund');
    } finally {
      await one.close();
    }
  });

  it('rejects calls before open() and after close()', async () => {
    const x = new IntentClassifier({ model, workers: 1 });
    await assert.rejects(x.classify('hi'), code('KEFU_ERR_NOT_OPEN'));
    await x.open();
    const pending = Promise.allSettled(Array.from({ length: 50 }, () => x.classify('我想退款')));
    await x.close();
    for (const s of await pending) {
      // each either finished before close() or was rejected by it
      if (s.status === 'rejected') assert.ok(isKefuError(s.reason, 'KEFU_ERR_CLOSED'));
    }
    await assert.rejects(x.classify('hi'), code('KEFU_ERR_CLOSED'));
    await assert.rejects(x.open(), code('KEFU_ERR_CLOSED'));
  });
});

describe('IntentClassifier model errors', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir();
  });
  after(() => tmp.cleanup());

  it('missing model file -> KEFU_ERR_INTENT_MODEL_NOT_FOUND', async () => {
    const c = new IntentClassifier({ model: join(tmp.dir, 'nope.onnx'), workers: 1 });
    await assert.rejects(c.open(), code('KEFU_ERR_INTENT_MODEL_NOT_FOUND'));
  });

  it('corrupt model file -> KEFU_ERR_INTENT_MODEL_CORRUPT', async () => {
    const junk = join(tmp.dir, 'junk.onnx');
    writeFileSync(junk, Buffer.from('this is not a protobuf at all \xff\xff\xff\xff'));
    await assert.rejects(new IntentClassifier({ model: junk, workers: 1 }).open(), code('KEFU_ERR_INTENT_MODEL_CORRUPT'));
    // a valid model cut in half
    const good = tinyModel(tmp.dir, 3);
    const half = join(tmp.dir, 'half.onnx');
    const bytes = (await import('node:fs')).readFileSync(good);
    writeFileSync(half, bytes.subarray(0, bytes.length >> 1));
    await assert.rejects(new IntentClassifier({ model: half, workers: 1 }).open(), code('KEFU_ERR_INTENT_MODEL_CORRUPT'));
  });

  it('an ONNX model without Kefu metadata -> KEFU_ERR_INTENT_MODEL_METADATA', async () => {
    // A valid identity graph carrying only `metadata`.
    const identityModel = (name: string, metadata: Record<string, string>): string => {
      const file = join(tmp.dir, name);
      writeFileSync(
        file,
        encodeModel({
          graphName: 'identity',
          nodes: [{ opType: 'Identity', input: ['tf'], output: ['probs'] }],
          initializers: [],
          inputs: [{ name: 'tf', elemType: DataType.FLOAT, shape: ['batch', 'n'] }],
          outputs: [{ name: 'probs', elemType: DataType.FLOAT, shape: ['batch', 'n'] }],
          metadata,
        }),
      );
      return file;
    };
    const bare = identityModel('bare.onnx', {});
    await assert.rejects(new IntentClassifier({ model: bare, workers: 1 }).open(), code('KEFU_ERR_INTENT_MODEL_METADATA'));
    const badLabels = identityModel('badlabels.onnx', { 'kefu.format': 'kefu-intent-hashed/3', 'kefu.labels': '"not a list"' });
    await assert.rejects(new IntentClassifier({ model: badLabels, workers: 1 }).open(), code('KEFU_ERR_INTENT_MODEL_METADATA'));
  });

  it('rejects impossible options with exact messages', () => {
    assert.throws(() => new IntentClassifier({ workers: 0 }), { name: 'RangeError', message: 'workers must be an integer between 1 and 64' });
    assert.throws(() => new IntentClassifier({ topK: 1.5 }), { name: 'RangeError', message: 'topK must be an integer between 1 and 1000' });
    assert.throws(() => new IntentClassifier({ maxBatch: 0 }), { name: 'RangeError', message: 'maxBatch must be an integer between 1 and 4096' });
    assert.throws(() => new IntentClassifier({ maxQueue: 0 }), { name: 'RangeError', message: 'maxQueue must be an integer between 1 and 10000000' });
    assert.throws(() => new IntentClassifier({ intraOpThreads: 0 }), { name: 'RangeError', message: 'intraOpThreads must be an integer between 1 and 64' });
    assert.throws(() => new IntentClassifier({ maxChars: 0 }), { name: 'RangeError', message: 'maxChars must be an integer between 1 and 1000000' });
    assert.throws(() => new IntentClassifier({ oosThreshold: 2 }), { name: 'RangeError', message: 'oosThreshold must be a number between 0 and 1' });
    assert.throws(() => new IntentClassifier({ kind: 'hashed', vocab: 'v.txt' }), { name: 'TypeError', message: 'vocab applies only to bert models, not to kind "hashed"' });
    assert.throws(() => new IntentClassifier({ kind: 'gpt' as 'bert' }), { name: 'TypeError', message: 'kind must be "auto", "hashed" or "bert"' });
    assert.throws(() => new IntentClassifier({ labels: ['one'] }), { name: 'TypeError', message: 'labels must be an array of at least 2 strings' });
  });
});
