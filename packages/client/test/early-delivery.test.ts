/**
 * With a hub that delivers messages before they are durable (LevelConversationStore's default),
 * the other side's reply can reach a sender before the sender's own ack. The client holds the
 * reply until the ack fills the gap: both are delivered in seq order, and no resume is needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { LevelConversationStore } from '@kefu/core';
import type { KefuClientOptions } from '../src/index.js';
import { client, startHub, until } from './helpers/hub.js';

/** Frames as they came off the visitor's socket, before the client handled them. */
const wire: string[] = [];
class ObservedWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    this.on('message', (d) => {
      const f = JSON.parse(String(d)) as { t: string; seq?: number };
      if (f.t === 'msg' || f.t === 'ack') wire.push(`${f.t} ${f.seq}`);
    });
  }
}

test('a reply that overtakes the sender\'s own ack is held until the ack: seq order, no resume', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-client-early-'));
  // Acks wait up to 300 ms for the next group commit; deliveries do not.
  const h = await startHub({ store: new LevelConversationStore({ location: dir, commitIntervalMs: 300 }) });
  const v = client(h.url, 'v1', 'visitor', { WebSocket: ObservedWebSocket as unknown as KefuClientOptions['WebSocket'] });
  const a = client(h.url, 'a1', 'agent');
  try {
    const { conv } = await v.open();
    await a.join(conv);
    const seen: Array<[number, string]> = [];
    let resumes = 0;
    v.on('message', (m) => seen.push([m.seq, m.body]));
    v.on('resumed', () => { resumes++; });
    // The agent answers the moment it sees the visitor's message, long before that one is durable.
    let reply: Promise<unknown> | undefined;
    // (Its own ack is not what this test is about: a failure there must not mask the assertions.)
    a.on('message', (m) => { if (m.body === 'hello?') reply = a.send(conv, 'hi, how can I help?').catch(() => undefined); });
    await v.send(conv, 'hello?');
    await until(() => seen.length === 2, 5000, 'both messages delivered');
    assert.ok(wire.includes('ack 1') && wire.indexOf('msg 2') < wire.indexOf('ack 1'), `the reply reached the visitor before its own ack (${wire.join(', ')})`);
    assert.deepEqual(seen, [[1, 'hello?'], [2, 'hi, how can I help?']], 'delivered in seq order');
    assert.equal(resumes, 0, 'no resume was needed');
    await reply;
  } finally {
    v.close();
    a.close();
    await h.close();
    await rm(dir, { recursive: true, force: true });
  }
});
