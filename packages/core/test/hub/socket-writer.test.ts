import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { textFrame } from '../../src/hub/socket-writer.js';

// Lengths on both sides of each of the three length encodings (7-bit, 16-bit, 64-bit), ASCII and
// multi-byte UTF-8 (the length is in bytes, not UTF-16 units).
const texts = [
  '', 'a', 'x'.repeat(125), 'x'.repeat(126), 'é'.repeat(63), 'é'.repeat(64),
  'y'.repeat(65_535), 'y'.repeat(65_536), '€'.repeat(30_000), 'z'.repeat(200_000),
  '{"t":"msg","body":"日本語 and emoji 😀, a lone surrogate \ud800 becomes U+FFFD"}',
];

test('textFrame: header bytes of each length encoding', () => {
  assert.deepEqual([...textFrame('hi')], [0x81, 2, 0x68, 0x69]);
  const f126 = textFrame('x'.repeat(126));
  assert.deepEqual([...f126.subarray(0, 4)], [0x81, 126, 0, 126]);
  assert.equal(f126.length, 130);
  const f64k = textFrame('y'.repeat(65_536));
  assert.deepEqual([...f64k.subarray(0, 10)], [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
  assert.equal(f64k.length, 65_546);
});

test('textFrame: a real ws client reads every frame written straight to the socket, in order, between ws\'s own frames', async () => {
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  wss.on('connection', (ws) => {
    const sock = (ws as unknown as { _socket: Socket })._socket;
    ws.send('first, by ws');
    for (const t of texts) sock.write(textFrame(t));
    ws.ping();
    ws.send('last, by ws');
  });
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  const got: string[] = [];
  let pinged = -1;
  client.on('ping', () => { pinged = got.length; });
  try {
    await new Promise<void>((resolve, reject) => {
      client.on('error', reject);
      client.on('message', (data, isBinary) => {
        assert.equal(isBinary, false);
        got.push(data.toString());
        if (got.length === texts.length + 2) resolve();
      });
    });
    const want = ['first, by ws', ...texts.map((t) => Buffer.from(t).toString()), 'last, by ws'];
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++) assert.equal(got[i], want[i], `frame ${i}`);
    assert.equal(pinged, texts.length + 1, 'the ping came after the directly written frames');
  } finally {
    client.terminate();
    wss.close();
    server.close();
  }
});
