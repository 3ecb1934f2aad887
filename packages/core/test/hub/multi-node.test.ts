import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryConversationStore } from '../../src/conversation/memory-conversation-store.js';
import { LocalBus, LocalBusNetwork } from '../../src/bus/local-bus.js';
import { startHub, TestClient, sleep } from './helpers.js';

test('two hub nodes on one bus network and one shared store: fan-out, membership and events cross nodes, no echo', async () => {
  const network = new LocalBusNetwork();
  const store = new MemoryConversationStore();
  const n1 = await startHub({ store, bus: new LocalBus({ network, nodeId: 'n1' }) });
  const n2 = await startHub({ store, bus: new LocalBus({ network, nodeId: 'n2' }) });
  const v = await TestClient.connect(n1.url, 't1:v1:visitor');
  const a = await TestClient.connect(n2.url, 't1:a1:agent');
  const aOnN1 = await TestClient.connect(n1.url, 't1:a1:agent');
  try {
    v.send({ t: 'open', ref: 'r' });
    const { conv } = await v.next('joined');
    await n1.hub.addMember(conv, { id: 'a1', role: 'agent' });
    // both of the agent's sockets, on both nodes, joined
    assert.equal((await a.next('joined')).conv, conv);
    assert.equal((await aOnN1.next('joined')).conv, conv);
    v.send({ t: 'send', conv, cid: 'c1', body: 'across' });
    assert.equal((await v.next('ack')).seq, 1);
    assert.equal((await a.next('msg')).body, 'across');
    assert.equal((await aOnN1.next('msg')).body, 'across');
    a.send({ t: 'send', conv, cid: 'c2', body: 'back' });
    assert.equal((await v.next('msg')).seq, 2);
    assert.equal((await aOnN1.next('msg')).seq, 2, "the sender's other socket (other node) gets it too");
    n1.hub.emitToUser('t1', 'a1', 'ping', {});
    assert.equal((await a.next('event')).name, 'ping');
    assert.equal((await aOnN1.next('event')).name, 'ping');
    await sleep(50);
    assert.equal(v.frames.filter((f) => f.t === 'msg').length, 0, 'no duplicate delivery to the sender node');
    assert.equal(aOnN1.frames.filter((f) => f.t === 'msg' || f.t === 'event').length, 0, 'no echo');
    await n2.hub.removeMember(conv, 'a1');
    assert.equal((await aOnN1.next('left')).conv, conv);
    assert.equal((await a.next('left')).conv, conv);
  } finally {
    await v.close(); await a.close(); await aOnN1.close();
    await n1.close(); await n2.close();
  }
});

test('a hub alone on its LocalBus publishes nothing; once another node shares the network, its messages reach it', async () => {
  /** A real LocalBus that counts what the hub publishes on it. */
  class CountingBus extends LocalBus {
    published = 0;
    override publish(topic: string, payload: string): Promise<void> {
      this.published++;
      return super.publish(topic, payload);
    }
  }
  const network = new LocalBusNetwork();
  const store = new MemoryConversationStore();
  const bus = new CountingBus({ network, nodeId: 'n1' });
  const n1 = await startHub({ store, bus });
  const v = await TestClient.connect(n1.url, 't1:v1:visitor');
  let n2: Awaited<ReturnType<typeof startHub>> | undefined;
  let a: TestClient | undefined;
  try {
    v.send({ t: 'open', ref: 'r' });
    const { conv } = await v.next('joined');
    v.send({ t: 'send', conv, cid: 'c1', body: 'alone' });
    assert.equal((await v.next('ack')).seq, 1);
    v.send({ t: 'typing', conv, on: true });
    await sleep(20);
    assert.equal(bus.alone, true);
    assert.equal(bus.published, 0, 'no message or typing frame published with no other node');
    n2 = await startHub({ store, bus: new LocalBus({ network, nodeId: 'n2' }) });
    a = await TestClient.connect(n2.url, 't1:a1:agent');
    await n2.hub.addMember(conv, { id: 'a1', role: 'agent' });
    await a.next('joined');
    v.send({ t: 'send', conv, cid: 'c2', body: 'shared' });
    assert.equal((await a.next('msg')).body, 'shared', 'delivered through the bus to the other node');
    assert.ok(bus.published > 0);
  } finally {
    await v.close(); await a?.close();
    await n1.close(); await n2?.close();
  }
});
