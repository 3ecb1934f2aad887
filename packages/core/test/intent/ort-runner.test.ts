import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openRunner, type Feeds, type Runner } from '../../src/intent/ort-runner.js';
import { featurize } from '../../src/intent/featurizer.js';
import { weights } from '../../src/intent/hashed-model.js';
import { decodeModelInfo, readFloatInitializer } from '../../src/intent/onnx-proto.js';
import { parseHashedMeta } from '../../src/intent/metadata.js';
import { tempDir, tinyModel } from './helpers.js';

type Ort = typeof import('onnxruntime-node');
const options = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', logSeverityLevel: 3 } as const;

describe('openRunner: the direct (synchronous native) path and the public API', () => {
  let tmp: ReturnType<typeof tempDir>;
  let ort: Ort;
  let bytes: Uint8Array;
  let feedsOf: (text: string) => Feeds;
  const opened: Runner[] = [];
  before(async () => {
    tmp = tempDir();
    const file = tinyModel(tmp.dir);
    bytes = readFileSync(file);
    ort = await import('onnxruntime-node');
    const fz = parseHashedMeta(file, decodeModelInfo(bytes).metadata).featurizer;
    const idf = readFloatInitializer(bytes, 'idf')!;
    feedsOf = (text) => {
      const f = featurize(text, fz);
      const w = new Float32Array(f.ids.length);
      weights(f, idf, w);
      return { ids: new ort.Tensor('int32', f.ids, [1, f.ids.length]), w: new ort.Tensor('float32', w, [1, w.length]) };
    };
  });
  after(async () => {
    for (const r of opened) await r.release();
    tmp.cleanup();
  });
  const open = async (direct: boolean, probe: (inputs: readonly string[]) => Feeds[]): Promise<Runner> => {
    const r = await openRunner(ort, bytes, options, direct, probe);
    opened.push(r);
    return r;
  };

  it('takes the direct path when asked and it checks out, and answers synchronously with the same bits', async () => {
    const direct = await open(true, () => [feedsOf('我想退款'), feedsOf('快递到哪了')]);
    const pub = await open(false, () => []);
    assert.equal(direct.direct, true);
    assert.equal(pub.direct, false);
    assert.deepEqual(direct.inputNames, pub.inputNames);
    assert.deepEqual(direct.outputNames, pub.outputNames);
    for (const text of ['营业时间是几点', '转人工', '我的包裹还没到，已经三天了']) {
      const a = direct.run(feedsOf(text), ['probs']);
      assert.ok(!(a instanceof Promise), 'the direct path returns a value, not a promise');
      const b = await pub.run(feedsOf(text), ['probs']);
      assert.deepEqual(Array.from((a as Awaited<typeof b>).probs!.data as Float32Array), Array.from(b.probs!.data as Float32Array), text);
    }
  });

  it('falls back to the public API when the probe does not run on the native session', async () => {
    // a feed the model does not take: the native run throws (the runtime logs it), so the check fails
    const r = await open(true, () => [{ nope: new ort.Tensor('float32', new Float32Array(1), [1, 1]) }]);
    assert.equal(r.direct, false);
    const out = r.run(feedsOf('转人工'), ['probs']);
    assert.ok(out instanceof Promise);
    assert.equal(((await out).probs!.data as Float32Array).length, 4);
  });
});
