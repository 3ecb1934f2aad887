/** The refund saga against the real HTTP back ends, in process: failures at each step, retries. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startCrmNotesService, startErpService, startHelpdeskService, type CrmNotesService, type ErpService, type HelpdeskService } from '@kefu/mock-backends';
import { SagaOrchestrator } from '../../src/saga/orchestrator.js';
import { httpRefundSaga } from './fixtures/http-saga.js';

interface World {
  helpdesk: HelpdeskService;
  erp: ErpService;
  crm: CrmNotesService;
  orch: SagaOrchestrator;
}

async function world(fn: (w: World) => Promise<void>, erpOptions = {}, timeoutMs = 2_000): Promise<void> {
  const [helpdesk, erp, crm] = await Promise.all([startHelpdeskService(), startErpService(erpOptions), startCrmNotesService()]);
  const orch = new SagaOrchestrator({ sagas: [httpRefundSaga({ helpdesk: helpdesk.url, erp: erp.url, crm: crm.url }, timeoutMs)] });
  try {
    await fn({ helpdesk, erp, crm, orch });
  } finally {
    await orch.close();
    await Promise.all([helpdesk.close(), erp.close(), crm.close()]);
  }
}

const input = (i = 0, amount = 10) => ({ orderId: `o-${i}`, amount, customerId: `u-${i}` });

describe('refund saga over HTTP', () => {
  test('happy path: one ticket, one refund, one note', () => world(async (w) => {
    const out = await w.orch.run('refund', input());
    assert.equal(out.state, 'completed');
    assert.equal(w.helpdesk.ticketsCreated, 1);
    assert.equal(w.helpdesk.ticketsClosed, 0);
    assert.equal(w.erp.refundedOf('o-0'), 10);
    assert.equal(w.crm.notesOf('u-0').length, 1);
  }));

  test('helpdesk down: nothing to undo, compensated, no refund', () => world(async (w) => {
    w.helpdesk.faults.set({ mode: 'always', status: 400 });
    const out = await w.orch.run('refund', input());
    assert.equal(out.state, 'compensated');
    assert.equal(out.error?.step, 'ticket');
    assert.equal(w.helpdesk.ticketsCreated, 0);
    assert.equal(w.erp.refundsApplied, 0);
  }));

  test('ERP refuses: the ticket is closed again, no note', () => world(async (w) => {
    const out = await w.orch.run('refund', input(0, 500));
    assert.equal(out.state, 'compensated');
    assert.equal(out.error?.step, 'refund');
    assert.equal(w.helpdesk.ticketsCreated, 1);
    assert.equal(w.helpdesk.ticketsClosed, 1);
    assert.equal(w.erp.refundsApplied, 0);
    assert.equal(w.crm.notesCreated, 0);
  }, { maxRefundPerOrder: 100 }));

  test('CRM down after the pivot: forward-failed, refund kept, no compensation; retry() writes the note once', () => world(async (w) => {
    w.crm.faults.set({ mode: 'always' });
    const out = await w.orch.run('refund', input(), { id: 'fwd' });
    assert.equal(out.state, 'forward-failed');
    assert.equal(w.erp.refundedOf('o-0'), 10);
    assert.equal(w.helpdesk.ticketsClosed, 0);
    w.crm.faults.set({ mode: 'off' });
    assert.equal((await w.orch.retry('fwd')).state, 'completed');
    assert.equal(w.crm.notesCreated, 1);
  }));

  test('lost ERP answers are retried with the same key and never double a refund', () => world(async (w) => {
    w.erp.faults.set({ mode: 'next', count: 2, kind: 'fail-after-apply' });
    const out = await w.orch.run('refund', input(), { id: 'lost' });
    assert.equal(out.state, 'completed');
    assert.equal((await w.orch.get('lost'))!.steps[1]!.attempts, 3);
    assert.equal(w.erp.refundsApplied, 1);
    assert.equal(w.erp.refundedOf('o-0'), 10);
  }));

  test('30 concurrent sagas with 30% of ERP answers lost: no order is ever refunded twice', () => world(async (w) => {
    w.erp.faults.set({ mode: 'rate', rate: 0.3, kind: 'fail-after-apply' });
    const outs = await Promise.all(Array.from({ length: 30 }, (_, i) => w.orch.run('refund', input(i))));
    assert.ok(w.erp.faults.produced['fail-after-apply'] > 0);
    assert.ok(outs.filter((o) => o.state === 'completed').length >= 15);
    outs.forEach((o, i) => {
      assert.ok(w.erp.refundCountOf(`o-${i}`) <= 1, `order o-${i} refunded once at most`);
      // A saga whose refund kept failing (5 lost answers) reversed it by key and closed the ticket.
      if (o.state === 'completed') assert.equal(w.erp.refundedOf(`o-${i}`), 10);
      else {
        assert.equal(o.state, 'compensated');
        assert.equal(w.erp.refundedOf(`o-${i}`), 0);
      }
    });
    assert.ok(w.helpdesk.ticketsClosed <= outs.filter((o) => o.state === 'compensated').length);
  }));

  test('an ERP that hangs past the step timeout: the refund is reversed by key and the ticket closed', () => world(async (w) => {
    w.erp.faults.set({ mode: 'next', count: 5, kind: 'hang' });
    const out = await w.orch.run('refund', input());
    assert.equal(out.state, 'compensated');
    assert.equal(out.error?.code, 'KEFU_ERR_SAGA_STEP_TIMEOUT');
    assert.equal(w.helpdesk.ticketsClosed, 1);
    assert.equal(w.erp.refundsApplied, 0);
    // The reverse left a tombstone: a late refund with that key is refused.
    const late = await fetch(`${w.erp.url}/refunds`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': `${out.id}:refund` }, body: JSON.stringify({ orderId: 'o-0', amount: 10 }) });
    assert.equal(late.status, 409);
  }, {}, 300));
});
