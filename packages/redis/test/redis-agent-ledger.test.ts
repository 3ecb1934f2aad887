/**
 * RedisAgentLedger on a real redis-server: several ledgers stand for several hub nodes, each with
 * its own connection, racing on one Redis.
 */
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { RedisAgentLedger } from '../src/index.js';
import { redisServerForFile } from './redis-server.js';

const redis = redisServerForFile({ appendonly: false });
const { skip } = redis;
let n = 0;
/** A fresh prefix per test, so tests never see each other's keys. */
const prefix = (): string => `t${++n}:`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function nodes(count: number, options: { presenceTtlMs?: number } = {}): Promise<RedisAgentLedger[]> {
  const p = prefix();
  return Array.from({ length: count }, (_, i) => new RedisAgentLedger(redis.url, { prefix: p, nodeId: `node${i}`, ...options }));
}

async function closeAll(ls: RedisAgentLedger[]): Promise<void> {
  await Promise.all(ls.map((l) => l.close()));
}

test('options and arguments are checked with exact messages and codes', { skip }, async () => {
  assert.throws(() => new RedisAgentLedger(redis.url, { presenceTtlMs: 10 }), { name: 'RangeError', message: 'options.presenceTtlMs must be an integer >= 300' });
  assert.throws(() => new RedisAgentLedger(redis.url, { nodeId: '' }), { name: 'TypeError', message: 'options.nodeId must be 1-128 printable ASCII characters' });
  assert.throws(() => new RedisAgentLedger(redis.url, { prefix: 'x'.repeat(65) }), { name: 'TypeError', message: 'options.prefix must be a string of at most 64 characters' });
  const [l] = await nodes(1);
  try {
    await assert.rejects(l!.reserve('t', 'c1', 'a1', 0), { code: 'KEFU_ERR_INVALID_ARGUMENT', message: 'capacity must be an integer from 1 to 10000' });
    await assert.rejects(l!.reserve('t', 'c1', 'a1', 1.5), { code: 'KEFU_ERR_INVALID_ARGUMENT' });
    await assert.rejects(l!.reserve('', 'c1', 'a1', 1), { code: 'KEFU_ERR_INVALID_ARGUMENT', message: 'tenant must be 1-128 printable ASCII characters' });
    await assert.rejects(l!.reserve('t', 'c 1', 'a1', 1), { code: 'KEFU_ERR_INVALID_ARGUMENT', message: 'conv must be 1-128 printable ASCII characters' });
    await assert.rejects(l!.online('t', 'x'.repeat(129)), { code: 'KEFU_ERR_INVALID_ARGUMENT', message: 'agent must be 1-128 printable ASCII characters' });
    assert.equal(await l!.holder('t', 'c1'), undefined, 'a refused call wrote nothing');
  } finally {
    await l!.close();
  }
  await assert.rejects(l!.holder('t', 'c1'), { code: 'KEFU_ERR_CLOSED' });
});

test('three nodes race to give one conversation to different agents: exactly one wins, the others learn who', { skip }, async () => {
  const ls = await nodes(3);
  try {
    for (let round = 0; round < 20; round++) {
      const conv = `c${round}`;
      const rs = await Promise.all(ls.flatMap((l, i) => [l.reserve('t', conv, `a${i}`, 100), l.reserve('t', conv, `b${i}`, 100)]));
      const won = rs.filter((r) => r.ok);
      assert.equal(won.length, 1, `round ${round}: ${JSON.stringify(rs)}`);
      const holder = await ls[0]!.holder('t', conv);
      for (const r of rs) if (!r.ok) assert.deepEqual(r, { ok: false, reason: 'taken', holder });
    }
  } finally {
    await closeAll(ls);
  }
});

test('an agent never holds more than its capacity, however many nodes reserve for it at once', { skip }, async () => {
  const ls = await nodes(3);
  try {
    const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => ls[i % 3]!.reserve('t', `c${i}`, 'a1', 3)));
    assert.equal(rs.filter((r) => r.ok).length, 3);
    for (const r of rs) if (!r.ok) assert.deepEqual(r, { ok: false, reason: 'full', load: 3 });
    assert.equal((await ls[1]!.held('t', 'a1')).length, 3);
    // The holder reserving again is idempotent and costs no capacity.
    const mine = (await ls[2]!.held('t', 'a1'))[0]!;
    assert.deepEqual(await ls[0]!.reserve('t', mine, 'a1', 3), { ok: true, held: true });
    assert.equal((await ls[0]!.held('t', 'a1')).length, 3);
  } finally {
    await closeAll(ls);
  }
});

test('release frees capacity; transfer moves atomically and respects the target\'s capacity; tenants are apart', { skip }, async () => {
  const [a, b] = await nodes(2);
  try {
    assert.deepEqual(await a!.reserve('t', 'c1', 'a1', 1), { ok: true, held: false });
    assert.deepEqual(await b!.reserve('t', 'c2', 'a1', 1), { ok: false, reason: 'full', load: 1 });
    assert.equal(await b!.release('t', 'c1'), 'a1');
    assert.equal(await b!.release('t', 'c1'), undefined, 'released twice');
    assert.deepEqual(await b!.reserve('t', 'c2', 'a1', 1), { ok: true, held: false });

    assert.deepEqual(await a!.reserve('t', 'c3', 'a2', 1), { ok: true, held: false });
    assert.deepEqual(await a!.transfer('t', 'c2', 'a2', 1), { ok: false, reason: 'full' });
    assert.equal(await a!.holder('t', 'c2'), 'a1', 'a refused transfer changed nothing');
    assert.deepEqual(await a!.transfer('t', 'c2', 'a3', 1), { ok: true, from: 'a1' });
    assert.deepEqual([await a!.held('t', 'a1'), await a!.held('t', 'a3')], [[], ['c2']]);
    assert.deepEqual(await a!.transfer('t', 'nope', 'a3', 5), { ok: false, reason: 'missing' });

    // Another tenant has its own conversations and agents with the same names.
    assert.deepEqual(await b!.reserve('u', 'c2', 'a9', 1), { ok: true, held: false });
    assert.equal(await a!.holder('t', 'c2'), 'a3');
    assert.equal(await a!.holder('u', 'c2'), 'a9');
  } finally {
    await closeAll([a!, b!]);
  }
});

test('presence spans nodes: online while any node announces the agent; offline on one node leaves the other\'s', { skip }, async () => {
  const [a, b] = await nodes(2);
  try {
    await a!.online('t', 'ag1');
    await b!.online('t', 'ag2');
    assert.deepEqual(await b!.onlineAgents('t'), ['ag1', 'ag2']);
    assert.equal(await b!.isOnline('t', 'ag1'), true);
    assert.deepEqual(await a!.onlineAgents('other'), [], 'tenants are apart');
    await b!.online('t', 'ag1');
    await a!.offline('t', 'ag1');
    assert.equal(await a!.isOnline('t', 'ag1'), true, 'still on node b');
    await b!.offline('t', 'ag1');
    assert.equal(await a!.isOnline('t', 'ag1'), false);
    await b!.close();
    assert.deepEqual(await a!.onlineAgents('t'), [], 'a closing node withdraws its announcements');
  } finally {
    await closeAll([a!, b!]);
  }
});

test('a node killed with SIGKILL: its agents drop out after presenceTtlMs; a live node keeps its own fresh', { skip, timeout: 30_000 }, async () => {
  const p = prefix();
  const live = new RedisAgentLedger(redis.url, { prefix: p, nodeId: 'live', presenceTtlMs: 600 });
  const fixture = fileURLToPath(new URL('./fixtures/ledger-node.ts', import.meta.url));
  const doomed = spawn(process.execPath, ['--import', 'tsx', fixture], {
    env: { ...process.env, REDIS_URL: redis.url, PREFIX: p, NODE_ID: 'doomed', TTL_MS: '600', AGENTS: 'goes' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      doomed.stdout!.on('data', (d: Buffer) => { if (String(d).includes('ready')) resolve(); });
      doomed.once('exit', (code) => reject(new Error(`ledger node exited early (${String(code)})`)));
    });
    await live.online('t', 'stays');
    assert.deepEqual(await live.onlineAgents('t'), ['goes', 'stays']);
    await sleep(900);
    assert.deepEqual(await live.onlineAgents('t'), ['goes', 'stays'], 'both nodes refresh past one ttl');
    doomed.kill('SIGKILL');
    await new Promise((r) => doomed.once('exit', r));
    await sleep(1_200);
    assert.deepEqual(await live.onlineAgents('t'), ['stays'], 'the dead node\'s agent expired, the live one was refreshed');
  } finally {
    doomed.kill('SIGKILL');
    await live.close();
  }
});

test('Redis unreachable: calls reject with KEFU_ERR_STORE naming the call', { skip }, async () => {
  const l = new RedisAgentLedger({ host: '127.0.0.1', port: 1, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  try {
    await assert.rejects(l.reserve('t', 'c1', 'a1', 1), (err: Error & { code?: string }) => err.code === 'KEFU_ERR_STORE' && /redis agent ledger: reserve failed/.test(err.message));
  } finally {
    await l.close();
  }
});
