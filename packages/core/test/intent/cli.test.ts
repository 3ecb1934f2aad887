import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixtures, tempDir } from './helpers.js';

const cli = fileURLToPath(new URL('../../src/intent/cli.ts', import.meta.url));
const run = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const lastLine = (s: string): string => s.trim().split('\n').at(-1) ?? '';

describe('kefu-intent CLI', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir();
  });
  after(() => tmp.cleanup());

  it('train --data --test --out writes model.onnx, a human report, then one JSON line', () => {
    const out = join(tmp.dir, 'zh');
    const r = run(['train', '--data', join(fixtures, 'zh-train.csv'), '--test', join(fixtures, 'zh-test.csv'), '--out', out, '--epochs', '20', '--dim', '16', '--hash-bits', '12']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /in-scope accuracy/);
    const report = JSON.parse(lastLine(r.stdout)) as Record<string, unknown>;
    for (const key of ['accuracy', 'labels', 'train_seconds', 'model_bytes', 'oos_recall']) assert.ok(key in report, key);
    assert.equal(report.model_bytes, statSync(join(out, 'model.onnx')).size);
    assert.deepEqual(report.labels, ['human_agent', 'opening_hours', 'order_status', 'refund']);
  });

  it('--hidden adds a hidden layer after the bag (another graph, other bytes)', () => {
    const args = ['train', '--data', join(fixtures, 'zh-train.csv'), '--epochs', '5', '--dim', '8', '--hash-bits', '10', '--quiet'];
    const plain = run([...args, '--out', join(tmp.dir, 'plain')]);
    const hidden = run([...args, '--hidden', '12', '--out', join(tmp.dir, 'hidden')]);
    assert.equal(hidden.status, 0, hidden.stderr);
    const bytes = (r: { stdout: string }): number => (JSON.parse(lastLine(r.stdout)) as { model_bytes: number }).model_bytes;
    assert.notEqual(bytes(hidden), bytes(plain));
    assert.equal(bytes(hidden), statSync(join(tmp.dir, 'hidden', 'model.onnx')).size);
  });

  it('--cnn-filters adds a TextCNN (--cnn-widths, --cnn-weight reach the trainer)', () => {
    const args = ['train', '--data', join(fixtures, 'zh-train.csv'), '--epochs', '3', '--dim', '8', '--hash-bits', '10', '--quiet'];
    const cnn = run([...args, '--cnn-filters', '4', '--cnn-widths', '1,2', '--cnn-epochs', '2', '--cnn-weight', '0.4', '--out', join(tmp.dir, 'cnn')]);
    assert.equal(cnn.status, 0, cnn.stderr);
    assert.equal((JSON.parse(lastLine(cnn.stdout)) as { model_bytes: number }).model_bytes, statSync(join(tmp.dir, 'cnn', 'model.onnx')).size);
    const bad = run([...args, '--cnn-filters', '4', '--cnn-widths', '1,9', '--out', join(tmp.dir, 'cnn-bad')]);
    assert.equal(bad.status, 1);
    assert.equal(JSON.parse(lastLine(bad.stdout)).message, 'cnnWidths must be 1 to 8 integers between 1 and 8');
  });

  it('--member-average and --oos-rule members-margin reach the trainer', () => {
    const args = ['train', '--data', join(fixtures, 'zh-train.csv'), '--epochs', '3', '--dim', '8', '--hash-bits', '10', '--quiet'];
    const probs = run([...args, '--out', join(tmp.dir, 'avg-probs')]);
    const logits = run([...args, '--member-average', 'logits', '--out', join(tmp.dir, 'avg-logits')]);
    assert.equal(logits.status, 0, logits.stderr);
    const model = (dir: string): Buffer => readFileSync(join(tmp.dir, dir, 'model.onnx'));
    assert.notDeepEqual(model('avg-logits'), model('avg-probs'), `${probs.stderr}`);
    const bad = run([...args, '--member-average', 'median', '--out', join(tmp.dir, 'avg-bad')]);
    assert.equal(JSON.parse(lastLine(bad.stdout)).message, 'memberAverage must be "probs" or "logits"');
    const mm = run([...args, '--oos-rule', 'members-margin', '--out', join(tmp.dir, 'mm')]);
    assert.equal(mm.status, 1);
    assert.equal(JSON.parse(lastLine(mm.stdout)).message, 'oosRule "members-margin" needs a CNN (cnnFilters > 0)');
  });

  it('--label-smoothing reaches the trainer (out of range: a RangeError, exit status 1)', () => {
    const r = run(['train', '--data', join(fixtures, 'zh-train.csv'), '--label-smoothing', '0.6', '--out', join(tmp.dir, 'ls')]);
    assert.equal(r.status, 1);
    assert.equal(JSON.parse(lastLine(r.stdout)).message, 'labelSmoothing must be a number between 0 and 0.5');
  });

  it('reports bad data with its code and exit status 1', () => {
    const r = run(['train', '--data', join(tmp.dir, 'missing.csv'), '--out', join(tmp.dir, 'x')]);
    assert.equal(r.status, 1);
    assert.equal(JSON.parse(lastLine(r.stdout)).error, 'KEFU_ERR_INTENT_DATA_INVALID');
    assert.equal(existsSync(join(tmp.dir, 'x', 'model.onnx')), false);
  });

  it('prints usage and exits 2 without the required arguments', () => {
    const r = run(['train', '--data', 'x.csv']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /usage: kefu-intent train/);
  });
});
