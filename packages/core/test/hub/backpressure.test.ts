import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hub } from '../../src/hub/hub.js';
import { MemoryConversationStore } from '../../src/conversation/memory-conversation-store.js';
import type { AppendInput, AppendResult } from '../../src/conversation/types.js';
import { startHub, TestClient, queryAuth, until } from './helpers.js';

/**
 * Test double: a memory store whose appends wait at a gate the test opens, standing in for a
 * store that is slower than the offered load (a saturated disk, a distant Redis).
 */
class GatedConversationStore extends MemoryConversationStore {
  #open = true;
  #waiting: Array<() => void> = [];
  waiting = 0;

  close_gate(): void { this.#open = false; }

  open_gate(): void {
    this.#open = true;
    const w = this.#waiting;
    this.#waiting = [];
    for (const f of w) f();
  }

  protected override async _append(conv: string, input: AppendInput): Promise<AppendResult> {
    if (!this.#open) {
      this.waiting++;
      await new Promise<void>((r) => this.#waiting.push(r));
      this.waiting--;
    }
    return super._append(conv, input);
  }
}

test('maxInflight is validated with an exact message', () => {
  assert.throws(() => new Hub({ authenticate: queryAuth, maxInflight: 1 }), { name: 'RangeError', message: 'options.maxInflight must be an integer >= 2' });
});

test('back-pressure: past maxInflight the sending socket is not read until the store catches up; nothing is lost, order is kept, the heartbeat spares it', async () => {
  const store = new GatedConversationStore();
  // A heartbeat several times shorter than the stall: a paused socket's pongs wait unread, and it
  // must survive. Not shorter still: a loaded CI machine can delay a live socket's pong that long.
  const h = await startHub({ store, maxInflight: 4, heartbeatMs: 300, idleTimeoutMs: 0 });
  const v = await TestClient.connect(h.url, 't1:v1:visitor');
  const a = await TestClient.connect(h.url, 't1:a1:agent');
  try {
    v.send({ t: 'open', ref: 'o' });
    const { conv } = await v.next('joined');
    a.send({ t: 'join', ref: 'j', conv });
    await a.next('joined');

    store.close_gate();
    // Each frame in its own write, so that the pause can take effect between them.
    for (let i = 0; i < 30; i++) {
      v.send({ t: 'send', conv, cid: `c${i}`, body: `m${i}` });
      await new Promise((r) => setImmediate(r));
    }
    await until(() => h.hub.health().paused === 1, 3000, 'the sender to be paused');
    assert.equal(h.hub.metrics.snapshot().backpressurePauses, 1);
    // Paused for several heartbeats: the frames it sent after the pause wait in the kernel, not in
    // the hub's memory.
    await new Promise((r) => setTimeout(r, 1_500));
    assert.ok(h.hub.health().inflight < 30, `all 30 frames were taken in (${h.hub.health().inflight} in flight)`);
    assert.equal(store.waiting, h.hub.health().inflight);

    store.open_gate();
    const acks = [];
    for (let i = 0; i < 30; i++) acks.push(await v.next('ack', (f) => f.cid === `c${i}`, 5000));
    assert.deepEqual(acks.map((f) => f.seq), Array.from({ length: 30 }, (_, i) => i + 1), 'stored once each, in the order sent');
    const got = [];
    for (let i = 0; i < 30; i++) got.push((await a.next('msg', undefined, 5000)).body);
    assert.deepEqual(got, Array.from({ length: 30 }, (_, i) => `m${i}`));
    assert.deepEqual(h.hub.health().paused, 0);
    assert.equal(h.hub.health().inflight, 0);
    assert.equal(v.closed, undefined, 'the paused socket was closed');
    assert.equal(h.hub.metrics.snapshot().heartbeatTimeouts, 0);
    v.send({ t: 'ping', ref: 'after' });
    assert.deepEqual(await v.next('pong'), { t: 'pong', ref: 'after' }, 'the socket is read again');
  } finally {
    store.open_gate();
    await v.close(); await a.close(); await h.close();
  }
});
