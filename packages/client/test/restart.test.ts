/**
 * Resume correctness after the server restarts: a LevelDB-backed hub runs in a child process
 * and is killed (SIGKILL) and started again on the same port and data directory. Clients
 * reconnect, resume from their last seq, flush their outboxes; nobody sees a gap or a duplicate.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@kefu/core/testing';
import type { AckFrame } from '@kefu/protocol';
import { client, until } from './helpers/hub.js';
import type { KefuClient } from '../src/index.js';

const fixture = fileURLToPath(new URL('./fixtures/hub-server.ts', import.meta.url));
let child: ChildProcess | undefined;
const clients: KefuClient[] = [];
let dir = '';

function startChild(port: number, ...extra: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fixture, String(port), dir, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error('hub child did not start within 20 s')); }, 20_000);
    p.stdout!.on('data', (d: Buffer) => { if (String(d).includes('ready')) { clearTimeout(t); resolve(p); } });
    p.once('exit', (code) => { clearTimeout(t); reject(new Error(`hub child exited early (${code})`)); });
  });
}

function kill(p: ChildProcess): Promise<void> {
  p.removeAllListeners('exit');
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => { p.once('exit', () => r()); p.kill('SIGKILL'); });
}

after(async () => {
  for (const c of clients) c.close();
  if (child) await kill(child);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A fresh data directory, a hub child on a free port, and a visitor and an agent that reconnect fast. */
async function setUp(name: string): Promise<{ port: number; url: string; v: KefuClient; a: KefuClient }> {
  if (child) await kill(child);
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = await mkdtemp(join(tmpdir(), `kefu-client-${name}-`));
  const port = await freePort();
  child = await startChild(port);
  const url = `ws://127.0.0.1:${port}/kefu`;
  const v = client(url, 'v1', 'visitor', { reconnect: { minDelayMs: 50, maxDelayMs: 300 } });
  const a = client(url, 'a1', 'agent', { reconnect: { minDelayMs: 50, maxDelayMs: 300 } });
  clients.push(v, a);
  return { port, url, v, a };
}

test('hub killed and restarted: acked messages survive, outboxes flush, resume has no gap and no duplicate', async () => {
  const { port, url, v, a } = await setUp('restart');
  const vSeen: number[] = [];
  const aSeen: number[] = [];
  v.on('message', (m) => vSeen.push(m.seq));
  a.on('message', (m) => aSeen.push(m.seq));
  const { conv } = await v.open();
  await a.join(conv);
  for (let i = 0; i < 10; i++) await v.send(conv, `v-before-${i}`);
  await a.send(conv, 'a-before');
  await until(() => aSeen.length === 11 && vSeen.length === 11, 10_000, 'both see 11');

  await kill(child!);
  child = undefined;
  await until(() => v.state !== 'open' && a.state !== 'open', 5000, 'both notice');
  const pending: Array<Promise<AckFrame>> = [];
  for (let i = 0; i < 5; i++) pending.push(v.send(conv, `v-offline-${i}`));
  for (let i = 0; i < 3; i++) pending.push(a.send(conv, `a-offline-${i}`));

  child = await startChild(port);
  const acks = await Promise.all(pending);
  assert.equal(new Set(acks.map((x) => x.seq)).size, 8, 'eight distinct seqs');
  const expected = Array.from({ length: 19 }, (_, i) => i + 1);
  await until(() => vSeen.length >= 19 && aSeen.length >= 19, 15_000, 'both see 19');
  await new Promise((r) => setTimeout(r, 100)); // a late duplicate would show up here
  assert.deepEqual(vSeen, expected, 'visitor: no gap, no duplicate');
  assert.deepEqual(aSeen, expected, 'agent: no gap, no duplicate');
  // A third client resuming from scratch reads the same 19 messages from disk.
  const late = client(url, 'a2', 'agent');
  clients.push(late);
  const bodies: string[] = [];
  late.on('message', (m) => bodies.push(m.body));
  await late.join(conv);
  await late.history(conv);
  assert.equal(bodies.length, 19);
  assert.deepEqual(bodies.slice(0, 11), [...Array.from({ length: 10 }, (_, i) => `v-before-${i}`), 'a-before']);
  assert.deepEqual(bodies.filter((b) => b.startsWith('v-offline')), ['v-offline-0', 'v-offline-1', 'v-offline-2', 'v-offline-3', 'v-offline-4']);
});

test('after a crash of the machine, a message the agent saw before it was durable comes back under a new seq and is delivered once', async () => {
  const { port, v, a } = await setUp('machine-crash');
  const aSeen: Array<[number, string]> = [];
  a.on('message', (m) => aSeen.push([m.seq, m.body]));
  const { conv } = await v.open();
  await a.join(conv);
  await v.send(conv, 'durable');

  // Again with a 5 s commit interval: after one batch, a message is shown to the agent long
  // before the next batch makes it durable.
  await kill(child!);
  child = await startChild(port, '5000');
  await v.send(conv, 'durable too'); // the first batch of this run goes at once
  const lost = v.send(conv, 'seen, then lost with the machine');
  await until(() => aSeen.length >= 3, 10_000, 'the agent sees the third message');
  assert.deepEqual(aSeen, [[1, 'durable'], [2, 'durable too'], [3, 'seen, then lost with the machine']]);

  await kill(child);
  child = await startChild(port, '0', 'after-machine-crash');
  // The visitor's outbox sends the unacked message again, with its cid: stored past the fence.
  const ack = await lost;
  assert.equal(ack.seq, 2 + 64 + 1, 'the fence skips deliverAhead (64) seqs: seq 3 is never reused');
  await v.send(conv, 'after');
  await until(() => aSeen.some(([, body]) => body === 'after'), 15_000, 'the agent sees the next message');
  await new Promise((r) => setTimeout(r, 100)); // a late duplicate would show up here
  assert.deepEqual(aSeen, [[1, 'durable'], [2, 'durable too'], [3, 'seen, then lost with the machine'], [68, 'after']], 'delivered once, by cid');
});
