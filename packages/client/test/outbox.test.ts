/**
 * The outbox across disconnects, against a real hub on LevelDB: messages written while the
 * server is down are kept and sent once on reconnect; an ack lost to a dropped socket is
 * recovered by resending the same cid, which the hub stores once.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelConversationStore } from '@kefu/core';
import { client, startHub, until, type TestHub } from './helpers/hub.js';
import type { KefuClient } from '../src/index.js';

const clients: KefuClient[] = [];
const dirs: string[] = [];
let hub: TestHub | undefined;
after(async () => {
  for (const c of clients) c.close();
  await hub?.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('messages written while the server is down are sent once, in order, when it is back', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-client-outbox-'));
  dirs.push(dir);
  hub = await startHub({ store: new LevelConversationStore({ location: dir }) });
  const port = hub.port;
  const v = client(hub.url, 'v1', 'visitor');
  const a = client(hub.url, 'a1', 'agent');
  clients.push(v, a);
  const { conv } = await v.open();
  await a.join(conv);
  const agentSeen: Array<[number, string]> = [];
  a.on('message', (m) => agentSeen.push([m.seq, m.body]));
  await v.send(conv, 'before');

  await hub.close(); // the server goes away (graceful: 1001 going away)
  hub = undefined;
  await until(() => v.state === 'reconnecting' || v.state === 'connecting', 5000, 'visitor notices');
  const offline = ['o1', 'o2', 'o3', 'o4', 'o5'].map((b) => v.send(conv, b));
  assert.equal(v.pendingMessages(conv).length, 5, 'kept in the outbox');
  await new Promise((r) => setTimeout(r, 100));

  hub = await startHub({ store: new LevelConversationStore({ location: dir }) }, port);
  const acks = await Promise.all(offline);
  assert.deepEqual(acks.map((x) => x.seq), [2, 3, 4, 5, 6]);
  await until(() => agentSeen.length === 6, 10_000, 'agent gets all');
  assert.deepEqual(agentSeen, [[1, 'before'], [2, 'o1'], [3, 'o2'], [4, 'o3'], [5, 'o4'], [6, 'o5']]);
  const stored = await hub.hub.store.range(conv, { after: 0, limit: 100 });
  assert.deepEqual(stored.map((m) => m.body), ['before', 'o1', 'o2', 'o3', 'o4', 'o5']);
});

test('an ack lost with the socket: the same cid is resent and stored once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-client-outbox-'));
  dirs.push(dir);
  await hub?.close();
  hub = await startHub({ store: new LevelConversationStore({ location: dir }) });
  const h = hub;
  let dropped = 0;
  // Stored, fanned out, and then the connection dies before the ack is written.
  h.hub.on('message', (m) => { if (m.body === 'drop-my-ack' && dropped++ === 0) h.dropAll(); });
  const v = client(h.url, 'v2', 'visitor');
  clients.push(v);
  const { conv } = await v.open();
  const delivered: number[] = [];
  v.on('message', (m) => delivered.push(m.seq));
  const ack = await v.send(conv, 'drop-my-ack');
  assert.equal(dropped, 1);
  assert.equal(ack.seq, 1);
  assert.equal(ack.dup, true, 'the retry was answered from the cid index');
  await v.send(conv, 'next');
  const stored = await h.hub.store.range(conv, { after: 0, limit: 100 });
  assert.deepEqual(stored.map((m) => m.body), ['drop-my-ack', 'next']);
  assert.deepEqual(delivered, [1, 2], 'own messages delivered once each');
});
