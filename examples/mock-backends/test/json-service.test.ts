import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { startJsonService, type JsonService } from '../src/json-service.js';

function get(url: string, headers: Record<string, string> = {}, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function post(url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function withService(fn: (s: JsonService) => Promise<void>, opts = {}): Promise<void> {
  const s = await startJsonService(
    [
      { method: 'GET', path: '/things/:id', handler: (req) => ({ body: { id: req.params.id } }) },
      { method: 'POST', path: '/things:echo', handler: (req) => ({ body: req.body }) },
    ],
    { name: 'things', ...opts },
  );
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

test('routes params, JSON bodies, 404 for unknown routes and counts per route', async () => {
  await withService(async (s) => {
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const a = await get(`${s.url}/things/a%20b`);
    assert.equal(a.status, 200);
    assert.deepEqual(JSON.parse(a.body), { id: 'a b' });
    const e = await post(`${s.url}/things:echo`, '{"x":1}');
    assert.deepEqual(JSON.parse(e.body), { x: 1 });
    assert.equal((await post(`${s.url}/things:echo`, '{nope')).status, 400);
    assert.equal((await get(`${s.url}/nothing`)).status, 404);
    assert.equal(s.stats.byRoute['GET /things/:id'], 1);
    assert.equal(s.stats.byRoute['POST /things:echo'], 2);
    assert.equal(s.stats.byRoute['GET *'], 1);
    assert.equal(s.stats.requests, 4);
  });
});

test('request bodies over maxRequestBytes answer 413', async () => {
  await withService(async (s) => {
    const r = await post(`${s.url}/things:echo`, JSON.stringify({ pad: 'x'.repeat(2048) }));
    assert.equal(r.status, 413);
  }, { maxRequestBytes: 1024 });
});

test('faults on demand: error, invalid, huge, reset, hang', async () => {
  await withService(async (s) => {
    assert.equal((await get(`${s.url}/things/1`, { 'x-mock-fault': 'error' })).status, 500);
    const inv = await get(`${s.url}/things/1?fault=invalid`);
    assert.throws(() => JSON.parse(inv.body));
    const huge = await get(`${s.url}/things/1?fault=huge`);
    assert.equal(huge.body.length, 4096 + '{"pad":""}'.length);
    await assert.rejects(get(`${s.url}/things/1?fault=reset`));
    await assert.rejects(get(`${s.url}/things/1?fault=hang`, {}, 100), /timeout/);
    // The service sees the client give up on the hanging request.
    const deadline = Date.now() + 2000;
    while (s.stats.aborted < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(s.stats.aborted, 2); // the reset and the hang
  }, { hugeBytes: 4096 });
});

test('latency delays answers; errorRate and hangRate are applied; configure changes them live', async () => {
  await withService(async (s) => {
    const t0 = performance.now();
    await get(`${s.url}/things/1`);
    assert.ok(performance.now() - t0 >= 25, 'answer came before the configured latency');
    s.configure({ latencyMs: 0, errorRate: 1 });
    assert.equal((await get(`${s.url}/things/1`)).status, 500);
    s.configure({ errorRate: 0, hangRate: 1 });
    await assert.rejects(get(`${s.url}/things/1`, {}, 100));
    assert.throws(() => s.configure({ errorRate: 2 }), { name: 'RangeError', message: 'errorRate must be a number between 0 and 1' });
  }, { latencyMs: 30 });
});

test('invalid options throw RangeError', async () => {
  await assert.rejects(startJsonService([], { hangRate: -1 }), { name: 'RangeError', message: 'hangRate must be a number between 0 and 1' });
  await assert.rejects(startJsonService([], { latencyMs: Number.NaN }), { name: 'RangeError', message: 'latencyMs must be a finite number >= 0' });
  await assert.rejects(startJsonService([], { keepAliveTimeoutMs: -1 }), { name: 'RangeError', message: 'keepAliveTimeoutMs must be a finite number >= 0' });
  await assert.rejects(startJsonService([], { backlog: 0 }), { name: 'RangeError', message: 'backlog must be an integer >= 1' });
  await assert.rejects(startJsonService([], { backlog: 1.5 }), { name: 'RangeError', message: 'backlog must be an integer >= 1' });
});

/** One keep-alive GET on a raw socket, left open after its answer; resolves with the socket. */
async function idleAfterOneGet(s: JsonService): Promise<{ closed: Promise<void> }> {
  const socket = connect(s.port, '127.0.0.1');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('data', () => resolve());
    socket.write('GET /x HTTP/1.1\r\nhost: x\r\n\r\n');
  });
  return { closed };
}

test('keepAliveTimeoutMs: an idle connection is closed after it, or never with 0', async () => {
  const routes = [{ method: 'GET' as const, path: '/x', handler: () => ({ body: { ok: true } }) }];
  const short = await startJsonService(routes, { keepAliveTimeoutMs: 50, backlog: 4096 });
  const forever = await startJsonService(routes, { keepAliveTimeoutMs: 0 });
  try {
    const a = await idleAfterOneGet(short);
    const b = await idleAfterOneGet(forever);
    // The short one closes by itself (generous bound for a loaded machine).
    await Promise.race([a.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('not closed within 5 s')), 5000))]);
    // The other is still open well past the short timeout.
    const state = await Promise.race([b.closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('open'), 300))]);
    assert.equal(state, 'open');
    assert.equal(forever.stats.connections, 1);
  } finally {
    await short.close();
    await forever.close();
  }
});

test('close() ends hanging requests and open keep-alive connections', async () => {
  const s = await startJsonService([{ method: 'GET', path: '/x', handler: () => ({ fault: 'hang' }) }]);
  const p = get(`${s.url}/x`, {}, 5000).catch((e: unknown) => e);
  while (s.stats.inFlight < 1) await new Promise((r) => setTimeout(r, 5));
  await s.close();
  assert.ok((await p) instanceof Error);
});

test('a delayed reply is never written before its latency, and onAnswered says how long it took', async () => {
  const answered: Array<{ route: string; latencyMs: number; elapsedMs: number }> = [];
  await withService(async (s) => {
    const t0 = performance.now();
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => get(`${s.url}/things/${i}`)));
    const took = performance.now() - t0;
    assert.ok(rs.every((r) => r.status === 200));
    assert.ok(took >= 12, `answered after ${took} ms`);
    assert.equal(answered.length, 20);
    for (const a of answered) {
      assert.equal(a.route, 'GET /things/:id');
      assert.equal(a.latencyMs, 12);
      assert.ok(a.elapsedMs >= 12, `elapsed ${a.elapsedMs} ms`);
    }
    // Faults and zero-latency replies are not reported.
    assert.equal((await get(`${s.url}/things/x`, { 'x-mock-fault': 'error' })).status, 500);
    s.configure({ latencyMs: 0 });
    assert.equal((await get(`${s.url}/things/y`)).status, 200);
    assert.equal(answered.length, 20);
  }, { latencyMs: 12, onAnswered: (a: { route: string; latencyMs: number; elapsedMs: number }) => answered.push(a) });
});
