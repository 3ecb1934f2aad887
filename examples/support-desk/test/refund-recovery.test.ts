/**
 * A refund saga interrupted by a restart still tells the visitor how it ended: the desk is
 * closed while the ERP hangs on the refund, a new desk on the same data directory resumes the
 * saga (recover()), and its status messages land in the visitor's chat. Also: the options that
 * make the demo ERP fail and switch the demo controls off.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KefuClient } from '@kefu/client';
import { startSupportDesk, type SupportDesk } from '../src/app.js';
import { assignedChat, connectAs, waitFor, REFUND_VISITOR } from './desk-clients.js';

const desks: SupportDesk[] = [];
const clients: KefuClient[] = [];
let dir = '';
after(async () => {
  for (const c of clients) c.close();
  for (const d of desks) await d.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('impossible options are refused before anything starts, with exact messages', async () => {
  await assert.rejects(startSupportDesk({ port: 0, dataDir: '/nonexistent/never', erpFaults: { mode: 'sometimes' as 'always' } }), {
    name: 'TypeError', message: "erpFaults: mode must be 'off', 'always', 'next' or 'rate'",
  });
  await assert.rejects(startSupportDesk({ port: 0, dataDir: '/nonexistent/never', erpFaults: { mode: 'always', kind: 'explode' as 'hang' } }), {
    name: 'TypeError', message: "erpFaults: kind must be 'fail', 'fail-after-apply' or 'hang'",
  });
  await assert.rejects(startSupportDesk({ port: 0, dataDir: '/nonexistent/never', erpFaults: { mode: 'next', count: 0 } }), {
    name: 'RangeError', message: 'erpFaults: count must be a positive integer',
  });
  await assert.rejects(startSupportDesk({ port: 0, dataDir: '/nonexistent/never', erpFaults: { mode: 'always', status: 200 } }), {
    name: 'RangeError', message: 'erpFaults: status must be an HTTP error status (400-599)',
  });
  await assert.rejects(startSupportDesk({ port: 0, dataDir: '/nonexistent/never', demoControls: 'yes' as unknown as boolean }), {
    name: 'TypeError', message: 'demoControls must be a boolean',
  });
});

test('a saga interrupted by a restart is resumed and the visitor hears how it ended', { timeout: 120_000 }, async () => {
  dir = await mkdtemp(join(tmpdir(), 'kefu-demo-recover-'));
  // First life: the ERP never answers, so the refund step is in flight when the desk stops.
  const first = await startSupportDesk({ port: 0, dataDir: dir, erpFaults: { mode: 'always', kind: 'hang' }, demoControls: false });
  desks.push(first);
  const chat = await assignedChat(first);
  clients.push(chat.agent, chat.visitor);
  await assert.rejects(chat.agent.command('demo.erp', {}), { code: 'KEFU_ERR_UNKNOWN_COMMAND', message: 'no command "demo.erp"' }, 'demoControls: false');
  const r = await chat.agent.command('demo.refund', {}, chat.conv);
  const sagaId = String(r.sagaId);
  const orderId = String(r.orderId);
  await waitFor('the refund step to be in flight', async () => {
    const rec = await first.refunds.orchestrator.get(sagaId);
    return rec?.steps[1]?.status === 'running' && first.services.erp.faults.produced.hang >= 1;
  });
  assert.ok(chat.texts().some((t) => /^We opened ticket/.test(t)));
  chat.agent.close();
  chat.visitor.close();
  await first.close();

  // Second life on the same data: recover() finishes the saga against a working ERP.
  const second = await startSupportDesk({ port: 0, dataDir: dir });
  desks.push(second);
  const visitor = await connectAs(second, { role: 'visitor', id: REFUND_VISITOR });
  clients.push(visitor);
  const seen = new Map<number, string>();
  visitor.on('message', (m) => { if (m.conv === chat.conv && m.from.id === 'kefu-refunds') seen.set(m.seq, m.body); });
  await visitor.join(chat.conv);
  const texts = await waitFor('the refund to be complete in the visitor\'s chat', async () => {
    await visitor.history(chat.conv);
    const t = [...seen.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    return t.some((x) => /refund is complete/.test(x)) && t;
  });
  assert.equal(texts.length, 3, texts.join('\n'));
  assert.match(texts[1]!, /^Your refund was approved \(rf-\d+\)\.$/);
  assert.equal(texts[2], 'Your refund is complete. Thank you for your patience.');
  assert.equal((await second.refunds.orchestrator.get(sagaId))?.state, 'completed');
  assert.equal(second.services.erp.refundCountOf(orderId), 1, 'refunded once');
  assert.equal(second.services.crmNotes.notesOf(REFUND_VISITOR).length, 1, 'noted once');
  visitor.close();
});
