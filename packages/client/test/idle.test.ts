/** A client that only reads stays connected: it pings often enough for the hub's idle timeout. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client, startHub, until } from './helpers/hub.js';

test('a reading-only client is not closed by the hub idle timeout (it pings while silent)', async () => {
  const h = await startHub({ heartbeatMs: 100, idleTimeoutMs: 300 });
  const v = client(h.url, 'v-idle', 'visitor');
  const a = client(h.url, 'a-idle', 'agent');
  try {
    const { conv } = await v.open();
    await a.connect();
    await a.join(conv);
    const closes: number[] = [];
    a.on('close', (info) => closes.push(info.code));
    a.on('disconnect', (info) => closes.push(info.code));
    const got: string[] = [];
    a.on('message', (m) => got.push(m.body));
    // The agent sends nothing for five idle timeouts while the visitor talks.
    for (let i = 0; i < 15; i++) {
      await v.send(conv, `m${i}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await until(() => got.length === 15, 5000, 'agent receives all');
    assert.deepEqual(closes, []);
    assert.equal(a.state, 'open');
  } finally {
    v.close();
    a.close();
    await h.close();
  }
});
