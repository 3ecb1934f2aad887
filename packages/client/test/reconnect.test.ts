/**
 * Reconnect storms against a real hub: every TCP socket is destroyed several times while
 * visitors send. Afterwards each conversation holds every message once, in the order each
 * visitor wrote them, and the agent saw seqs 1..N with no gap and no duplicate.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { AckFrame } from '@kefu/protocol';
import { client, startHub, until, type TestHub } from './helpers/hub.js';
import type { KefuClient } from '../src/index.js';

let h: TestHub;
const clients: KefuClient[] = [];
before(async () => { h = await startHub({ rateLimit: { perSec: 1000, burst: 1000 } }); });
after(async () => { for (const c of clients) c.close(); await h.close(); });

test('reconnect storm: 20 visitors + 1 agent, all sockets destroyed 5 times while sending', async () => {
  const VISITORS = 20, ROUNDS = 5, PER_ROUND = 4;
  const agent = client(h.url, 'agent', 'agent');
  clients.push(agent);
  const seen = new Map<string, number[]>();
  agent.on('message', (m) => { let a = seen.get(m.conv); if (!a) seen.set(m.conv, (a = [])); a.push(m.seq); });
  let reconnects = 0;
  const visitors: Array<{ c: KefuClient; conv: string; sent: string[] }> = [];
  for (let i = 0; i < VISITORS; i++) {
    const c = client(h.url, `v${i}`, 'visitor');
    clients.push(c);
    c.on('reconnecting', () => reconnects++);
    const { conv } = await c.open();
    await agent.join(conv);
    visitors.push({ c, conv, sent: [] });
  }
  const acks: Array<Promise<AckFrame>> = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < PER_ROUND; k++) {
      for (const v of visitors) {
        const body = `r${r}-k${k}`;
        v.sent.push(body);
        acks.push(v.c.send(v.conv, body));
      }
      if (k === 1) h.dropAll(); // mid-round: some sends are acked, some in flight, some not yet written
      await new Promise((res) => setTimeout(res, 5));
    }
    await new Promise((res) => setTimeout(res, 30));
  }
  const all = await Promise.all(acks);
  assert.equal(all.length, VISITORS * ROUNDS * PER_ROUND);
  assert.ok(reconnects >= VISITORS, `every visitor reconnected at least once (${reconnects} reconnects)`);
  const total = ROUNDS * PER_ROUND;
  await until(() => visitors.every((v) => (seen.get(v.conv)?.length ?? 0) >= total), 15_000, 'agent received everything');
  for (const v of visitors) {
    const stored = await h.hub.store.range(v.conv, { after: 0, limit: 1000 });
    assert.deepEqual(stored.map((m) => m.body), v.sent, 'stored once each, in the order written');
    assert.deepEqual(seen.get(v.conv), Array.from({ length: total }, (_, i) => i + 1), 'agent: no gap, no duplicate');
    assert.equal(v.c.lastSeq(v.conv), total);
    assert.equal(v.c.pendingMessages().length, 0);
  }
});
