import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startHelpdeskService, type HelpdeskService } from '../src/helpdesk.js';
import { startCrmNotesService } from '../src/crm-notes.js';

async function post(url: string, body: unknown, key?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== undefined) headers['idempotency-key'] = key;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function withHelpdesk(fn: (h: HelpdeskService) => Promise<void>, options = {}): Promise<void> {
  const h = await startHelpdeskService(options);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

describe('helpdesk mock', () => {
  test('creates a ticket once per idempotency key; closing is idempotent', () => withHelpdesk(async (h) => {
    const a = await post(`${h.url}/tickets`, { subject: 'Refund o-1', orderId: 'o-1' }, 'k');
    assert.equal(a.status, 201);
    const b = await post(`${h.url}/tickets`, { subject: 'Refund o-1', orderId: 'o-1' }, 'k');
    assert.equal(b.body.ticketId, a.body.ticketId);
    assert.equal(h.ticketsCreated, 1);
    const c1 = await post(`${h.url}/tickets/${String(a.body.ticketId)}/close`, { reason: 'refund failed' });
    const c2 = await post(`${h.url}/tickets/${String(a.body.ticketId)}/close`, {});
    assert.equal(c1.body.status, 'closed');
    assert.deepEqual(c2.body, c1.body);
    assert.equal(h.ticketsClosed, 1);
    assert.equal((await post(`${h.url}/tickets/tk-999/close`, {})).status, 404);
  }));

  test('close-by-key closes the ticket made with that key, or says there is none', () => withHelpdesk(async (h) => {
    await post(`${h.url}/tickets`, { subject: 's' }, 'key-1');
    assert.equal((await post(`${h.url}/tickets/close-by-key`, {}, 'key-1')).body.closed, true);
    assert.equal(h.ticketByKey('key-1')?.status, 'closed');
    assert.deepEqual((await post(`${h.url}/tickets/close-by-key`, {}, 'nope')).body, { closed: false });
    assert.equal((await post(`${h.url}/tickets/close-by-key`, {})).status, 400);
  }));

  test('bad bodies and a missing key -> 400; the ticket limit -> 507', () => withHelpdesk(async (h) => {
    assert.equal((await post(`${h.url}/tickets`, { subject: '' }, 'k')).status, 400);
    assert.equal((await post(`${h.url}/tickets`, { subject: 's' })).status, 400);
    assert.equal((await post(`${h.url}/tickets`, { subject: 's' }, 'k1')).status, 201);
    assert.equal((await post(`${h.url}/tickets`, { subject: 's' }, 'k2')).status, 507);
    await assert.rejects(startHelpdeskService({ maxTickets: 0 }), { name: 'RangeError', message: 'maxTickets must be a positive integer' });
  }, { maxTickets: 1 }));

  test('faults: failures make no ticket; fail-after-apply makes one that the retry replays', () => withHelpdesk(async (h) => {
    h.faults.set({ mode: 'next', count: 1 });
    assert.equal((await post(`${h.url}/tickets`, { subject: 's' }, 'k')).status, 503);
    assert.equal(h.ticketsCreated, 0);
    h.faults.set({ mode: 'next', count: 1, kind: 'fail-after-apply' });
    assert.equal((await post(`${h.url}/tickets`, { subject: 's' }, 'k')).status, 503);
    assert.equal(h.ticketsCreated, 1);
    assert.equal((await post(`${h.url}/tickets`, { subject: 's' }, 'k')).status, 201);
    assert.equal(h.ticketsCreated, 1);
  }));
});

describe('CRM notes mock', () => {
  test('writes a note once per key, keeps at most maxNotesPerCustomer, can fail', async () => {
    const crm = await startCrmNotesService({ maxNotesPerCustomer: 2 });
    try {
      const a = await post(`${crm.url}/customers/u-1/notes`, { text: 'refund 10' }, 'n1');
      const b = await post(`${crm.url}/customers/u-1/notes`, { text: 'refund 10' }, 'n1');
      assert.equal(a.status, 201);
      assert.deepEqual(b.body, a.body);
      assert.equal(crm.notesCreated, 1);
      await post(`${crm.url}/customers/u-1/notes`, { text: 'two' }, 'n2');
      await post(`${crm.url}/customers/u-1/notes`, { text: 'three' }, 'n3');
      assert.deepEqual(crm.notesOf('u-1').map((n) => n.text), ['two', 'three']);
      assert.equal((await post(`${crm.url}/customers/bad uid/notes`, { text: 'x' }, 'n4')).status, 400);
      crm.faults.set({ mode: 'always' });
      assert.equal((await post(`${crm.url}/customers/u-1/notes`, { text: 'x' }, 'n5')).status, 503);
      await assert.rejects(startCrmNotesService({ maxNotesPerCustomer: 0 }), { name: 'RangeError', message: 'maxNotesPerCustomer must be a positive integer' });
    } finally {
      await crm.close();
    }
  });
});
