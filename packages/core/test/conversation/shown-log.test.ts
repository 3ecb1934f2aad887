import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShownLog } from '../../src/conversation/shown-log.js';
import type { BatchOp } from '../../src/storage/index.js';

const msg = (i: number): BatchOp[] => [
  { type: 'put', key: `m\x00conv\x00${String(i).padStart(16, '0')}`, value: JSON.stringify({ seq: i, body: 'a "quoted"\ttab\nline' }) },
  { type: 'put', key: `i\x00conv\x00c${i}`, value: `${i},1700000000000` },
];
const size = async (dir: string, n: 0 | 1): Promise<number> => (await stat(join(dir, `KEFU-SHOWN-${n}.log`))).size;

test('what one run logged is recovered by the next, escapes and all; a torn last line is skipped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-shown-'));
  try {
    const log = new ShownLog(dir);
    log.add(msg(1));
    log.add(msg(2));
    log.flush();
    // A process that dies here leaves the lines behind; one more, torn by the crash:
    await appendFile(join(dir, 'KEFU-SHOWN-0.log'), 'm\x00conv\x000000000000000003\t{"seq":3,"bo');
    const ops = ShownLog.recover(dir);
    assert.deepEqual(ops, [...msg(1), ...msg(2)]);
    new ShownLog(dir).close(); // a new run starts with empty files
    assert.deepEqual(ShownLog.recover(dir), []);
    log.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the two files take turns: past maxBytes, the other file is emptied once all its messages are written', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-shown-'));
  const log = new ShownLog(dir, 150);
  try {
    const a = log.add(msg(1)); log.add(msg(2)); log.flush();
    assert.equal(a, 0);
    assert.ok((await size(dir, 0)) > 150);
    // File 0 is full and file 1 holds nothing pending: the next messages go to file 1.
    const b = log.add(msg(3)); log.flush();
    assert.equal(b, 1);
    log.add(msg(4)); log.flush();
    assert.ok((await size(dir, 1)) > 150);
    // File 0 still holds messages not yet in LevelDB: file 1 stays current and grows.
    assert.equal(log.add(msg(5)), 1); log.flush();
    log.written(0); log.written(0);
    assert.equal(await size(dir, 0), 0, 'emptied once its last message is written');
    assert.deepEqual(ShownLog.recover(dir), [...msg(3), ...msg(4), ...msg(5)]);
    // Now file 0 is free again: the next flush past maxBytes switches back.
    assert.equal(log.add(msg(6)), 1); log.flush();
    assert.equal(log.add(msg(7)), 0);
    log.flush();
  } finally {
    log.close();
    await rm(dir, { recursive: true, force: true });
  }
});
