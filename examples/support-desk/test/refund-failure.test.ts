/**
 * The refund saga's failure path, end to end against the real demo desk (hub, desk, durable
 * queue, LevelDB saga log, and the helpdesk / ERP / CRM services on loopback): the ERP declines,
 * the saga closes the ticket again, nothing is refunded or noted, and the visitor is told; an
 * ERP that is down leaves the saga for repair, and the console's retry finishes it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KefuClient } from '@kefu/client';
import { startSupportDesk, type SupportDesk } from '../src/app.js';
import { assignedChat, connectAs, waitFor, REFUND_VISITOR } from './desk-clients.js';

let desk: SupportDesk;
let dir: string;
const clients: KefuClient[] = [];
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kefu-demo-refund-'));
  desk = await startSupportDesk({ port: 0, dataDir: dir });
});
after(async () => {
  for (const c of clients) c.close();
  await desk.close();
  await rm(dir, { recursive: true, force: true });
});

const getJson = async (url: string): Promise<{ status: number; body: Record<string, unknown> }> => {
  const r = await fetch(url);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

async function ticketOf(sagaId: string): Promise<string> {
  const rec = await desk.refunds.orchestrator.get(sagaId);
  const id = (rec?.steps[0]?.result as { ticketId?: string } | undefined)?.ticketId;
  assert.ok(id, `saga ${sagaId} opened a ticket`);
  return id;
}

test('ERP declines (console switch): the ticket is closed again, no refund, no CRM note, the visitor is told', { timeout: 90_000 }, async () => {
  const chat = await assignedChat(desk);
  clients.push(chat.agent, chat.visitor);
  const sw = await chat.agent.command('demo.erp', { mode: 'decline-next' });
  assert.deepEqual([sw.mode, sw.demoOnly, (sw.faults as { status: number }).status], ['decline-next', true, 402]);

  const r = await chat.agent.command('demo.refund', {}, chat.conv);
  assert.equal(r.status, 'queued');
  const sagaId = String(r.sagaId);
  const orderId = String(r.orderId);
  const texts = await waitFor('the visitor to hear how the refund ended', () => {
    const t = chat.texts();
    return t.some((x) => /could not be made/.test(x)) && t;
  });
  assert.equal(texts.length, 3, texts.join('\n'));
  assert.match(texts[0]!, /^We opened ticket tk-\d+ for your refund\.$/);
  assert.equal(texts[1], 'We could not make the refund; we are undoing the request.');
  assert.equal(texts[2], 'The refund could not be made (our billing system declined it). Your ticket was closed; an agent will follow up.');

  const rec = await desk.refunds.orchestrator.get(sagaId);
  assert.equal(rec?.state, 'compensated');
  assert.equal(rec?.error?.step, 'refund');
  // Each system's own API says what happened there.
  const { helpdeskUrl, erpUrl, crmUrl } = desk.services.refundUrls;
  const ticket = await getJson(`${helpdeskUrl}/tickets/${await ticketOf(sagaId)}`);
  assert.equal(ticket.status, 200);
  assert.equal(ticket.body.status, 'closed');
  assert.equal(ticket.body.orderId, orderId);
  assert.deepEqual((await getJson(`${erpUrl}/orders/${orderId}/refunds`)).body, { orderId, refunded: 0, count: 0 });
  assert.equal((await getJson(`${erpUrl}/refunds/${encodeURIComponent(`${sagaId}:refund`)}`)).status, 404);
  assert.deepEqual((await getJson(`${crmUrl}/customers/${REFUND_VISITOR}/notes`)).body, { notes: [] });
  // The switch declined one request and is back to normal; nothing waits for repair.
  assert.equal((await chat.agent.command('demo.erp', {})).mode, 'normal');
  assert.deepEqual((await chat.agent.command('demo.refunds.failed', {})).refunds, []);
  // A second click answers from the saga log: one refund per order.
  assert.deepEqual(await chat.agent.command('demo.refund', {}, chat.conv), { status: 'compensated', sagaId, orderId });
  chat.agent.close();
  chat.visitor.close();
});

test('ERP down: the saga waits for repair in the console; retry after the ERP is back closes the ticket', { timeout: 90_000 }, async () => {
  // A fresh desk: the visitor's order must not carry the first test's saga.
  const d2 = await mkdtemp(join(tmpdir(), 'kefu-demo-refund-down-'));
  const desk2 = await startSupportDesk({ port: 0, dataDir: d2, erpFaults: { mode: 'always' } });
  try {
    assert.deepEqual(desk2.services.erp.faults.settings, { mode: 'always', kind: 'fail', count: 1, rate: 0, status: 503 });
    const chat = await assignedChat(desk2);
    clients.push(chat.agent, chat.visitor);
    assert.equal((await chat.agent.command('demo.erp', {})).mode, 'down');
    const sagaId = String((await chat.agent.command('demo.refund', {}, chat.conv)).sagaId);
    await waitFor('the visitor to hear the refund needs a check', () => chat.texts().includes('Your refund request needs a manual check; an agent has been notified.'));
    const failed = (await chat.agent.command('demo.refunds.failed', {})).refunds as Array<Record<string, unknown>>;
    assert.equal(failed.length, 1);
    assert.deepEqual([failed[0]!.sagaId, failed[0]!.state, failed[0]!.step], [sagaId, 'compensation-failed', 'refund']);
    const rec = await desk2.refunds.orchestrator.get(sagaId);
    const ticketId = (rec?.steps[0]?.result as { ticketId: string }).ticketId;
    assert.equal(desk2.services.helpdesk.ticket(ticketId)?.status, 'open', 'the reversal failed, so the ticket is not closed yet');

    // Once the ERP is back, the console's retry carries the compensation on from the reversal.
    assert.equal((await chat.agent.command('demo.erp', { mode: 'normal' })).mode, 'normal');
    assert.deepEqual(await chat.agent.command('demo.refunds.retry', { sagaId }), { status: 'retrying', sagaId, demoOnly: true });
    await waitFor('the visitor to hear the ticket was closed', () => chat.texts().some((t) => /could not be made/.test(t)));
    assert.equal(chat.texts().at(-1), 'The refund could not be made (our billing system was unavailable). Your ticket was closed; an agent will follow up.');
    assert.equal((await desk2.refunds.orchestrator.get(sagaId))?.state, 'compensated');
    assert.equal(desk2.services.helpdesk.ticket(ticketId)?.status, 'closed');
    assert.equal(desk2.services.erp.refundCountOf(String(failed[0]!.orderId)), 0);
    assert.deepEqual(desk2.services.crmNotes.notesOf(REFUND_VISITOR), []);
    assert.deepEqual((await chat.agent.command('demo.refunds.failed', {})).refunds, []);
    chat.agent.close();
    chat.visitor.close();
  } finally {
    await desk2.close();
    await rm(d2, { recursive: true, force: true });
  }
});

test('demo switches: agents only, exact argument errors, retry only of a saga waiting for repair', { timeout: 60_000 }, async () => {
  const agent = await connectAs(desk, { role: 'agent', id: 'bob' });
  const visitor = await connectAs(desk, { role: 'visitor', id: 'v-switch01' });
  clients.push(agent, visitor);
  for (const name of ['demo.erp', 'demo.refunds.failed', 'demo.refunds.retry']) {
    await assert.rejects(visitor.command(name, {}), { code: 'KEFU_ERR_FORBIDDEN', message: 'agents only' }, name);
  }
  await assert.rejects(agent.command('demo.erp', { mode: 'broken' }), {
    code: 'KEFU_ERR_INVALID_FRAME', message: 'args.mode must be one of "normal", "decline-next", "down"',
  });
  await assert.rejects(agent.command('demo.erp', { status: 500 }), { code: 'KEFU_ERR_INVALID_FRAME', message: 'demo.erp takes only "mode", not "status"' });
  await assert.rejects(agent.command('demo.refunds.retry', {}), { code: 'KEFU_ERR_INVALID_FRAME', message: 'args.sagaId must be a string of 1 to 256 characters' });
  await assert.rejects(agent.command('demo.refunds.retry', { sagaId: 'x'.repeat(257) }), { code: 'KEFU_ERR_INVALID_FRAME' });
  await assert.rejects(agent.command('demo.refunds.retry', { sagaId: 'refund-nope' }), { code: 'KEFU_ERR_SAGA_NOT_FOUND', message: 'no refund saga "refund-nope"' });
  const [done] = await desk.refunds.orchestrator.list('compensated', { limit: 1 });
  assert.ok(done, 'the first test left a compensated saga');
  await assert.rejects(agent.command('demo.refunds.retry', { sagaId: done.id }), {
    code: 'KEFU_ERR_SAGA_INVALID_STATE', message: `refund saga "${done.id}" is compensated, not waiting for repair`,
  });
  agent.close();
  visitor.close();
});
