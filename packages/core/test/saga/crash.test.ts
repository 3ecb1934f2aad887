/**
 * A saga process SIGKILLed at the worst moments, restarted, and checked at the real HTTP back
 * ends: each ticket, refund and note exists once, or the saga is compensated.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startCrmNotesService, startErpService, startHelpdeskService, type CrmNotesService, type ErpService, type HelpdeskService } from '@kefu/mock-backends';
import { tempDir } from './helpers.js';

const childPath = fileURLToPath(new URL('./fixtures/crash-child.ts', import.meta.url));

interface Child {
  lines: Array<Record<string, unknown>>;
  kill(): Promise<void>;
  /** Resolves with the child's report once it exits 0. */
  finished(ms?: number): Promise<Record<string, unknown>>;
}

function runChild(args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', childPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let buf = '';
  let err = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  proc.stderr.on('data', (d) => { err += String(d); });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    lines,
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
    async finished(ms = 20_000) {
      const t = setTimeout(() => proc.kill('SIGKILL'), ms);
      const code = await exited;
      clearTimeout(t);
      assert.equal(code, 0, `child failed: ${err}`);
      const r = lines.find((l) => 'report' in l);
      assert.ok(r, 'child printed a report');
      return r.report as Record<string, unknown>;
    },
  };
}

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface World {
  helpdesk: HelpdeskService;
  erp: ErpService;
  crm: CrmNotesService;
  dir: string;
  args: (...rest: string[]) => string[];
}

async function world(fn: (w: World) => Promise<void>, erpOptions = {}): Promise<void> {
  const [helpdesk, erp, crm] = await Promise.all([startHelpdeskService(), startErpService(erpOptions), startCrmNotesService()]);
  const { dir, cleanup } = await tempDir('kefu-saga-crash-');
  try {
    await fn({ helpdesk, erp, crm, dir, args: (...rest) => [dir, helpdesk.url, erp.url, crm.url, ...rest] });
  } finally {
    await Promise.all([helpdesk.close(), erp.close(), crm.close()]);
    await cleanup();
  }
}

const states = (report: Record<string, unknown>): string[] => (report.outcomes as Array<{ state: string }>).map((o) => o.state);

describe('saga crash recovery (SIGKILL, real LevelDB, real HTTP back ends)', () => {
  test('killed while the refund call hangs: the restart completes it, one ticket, one refund, one note', () => world(async (w) => {
    w.erp.faults.set({ mode: 'always', kind: 'hang' });
    const child = runChild(w.args('start', '1', '10'));
    await until('the ERP call', () => w.erp.faults.produced.hang >= 1);
    await child.kill();
    w.erp.faults.set({ mode: 'off' });
    assert.equal(w.erp.refundsApplied, 0);
    const report = await runChild(w.args('recover')).finished();
    assert.deepEqual(states(report), ['completed']);
    assert.equal(w.helpdesk.ticketsCreated, 1);
    assert.equal(w.erp.refundsApplied, 1);
    assert.equal(w.erp.refundedOf('o-0'), 10);
    assert.equal(w.crm.notesCreated, 1);
  }));

  test('killed after the ERP applied the refund but before the log heard of it: the retry replays, no second refund', () => world(async (w) => {
    // The answer is delayed, the effect is not: the refund exists while the saga still waits.
    w.erp.configure({ latencyMs: 30_000 });
    const child = runChild(w.args('start', '1', '25'));
    await until('the refund to be applied', () => w.erp.refundsApplied === 1);
    await child.kill();
    w.erp.configure({ latencyMs: 0 });
    const report = await runChild(w.args('recover')).finished();
    assert.deepEqual(states(report), ['completed']);
    assert.equal(w.erp.refundsApplied, 1, 'applied once');
    assert.equal(w.erp.replays, 1, 'the restarted saga re-sent the refund with the same key');
    assert.equal(w.erp.refundedOf('o-0'), 25);
    assert.equal(w.helpdesk.ticketsCreated, 1);
    assert.equal(w.crm.notesCreated, 1);
  }));

  test('killed in mid-compensation: the restart finishes compensating, the ticket closed once, no refund', () => world(async (w) => {
    // First refund call hangs (so the test can arm the helpdesk), the retry is refused for good.
    w.erp.faults.set({ mode: 'next', count: 1, kind: 'hang' });
    const child = runChild(w.args('start', '1', '500'));
    await until('the ERP call', () => w.erp.faults.produced.hang >= 1);
    w.helpdesk.faults.set({ mode: 'always', kind: 'hang' });
    await until('the compensation to reach the helpdesk', () => w.helpdesk.faults.produced.hang >= 1);
    await child.kill();
    w.helpdesk.faults.set({ mode: 'off' });
    assert.equal(w.helpdesk.ticketsClosed, 0);
    const report = await runChild(w.args('recover')).finished();
    assert.deepEqual(states(report), ['compensated']);
    assert.equal(w.helpdesk.ticketsCreated, 1);
    assert.equal(w.helpdesk.ticketsClosed, 1);
    assert.equal(w.erp.refundsApplied, 0);
    assert.equal(w.crm.notesCreated, 0);
  }, { maxRefundPerOrder: 100 }));

  test('20 sagas killed in flight: after the restart each has exactly one ticket, refund and note', () => world(async (w) => {
    w.erp.configure({ latencyMs: 50 });
    const child = runChild(w.args('start', '20', '5'));
    await until('a few refunds', () => w.erp.refundsApplied >= 5);
    await child.kill();
    w.erp.configure({ latencyMs: 0 });
    const before = w.erp.refundsApplied;
    const report = await runChild(w.args('recover')).finished();
    const finished = states(report);
    assert.ok(finished.every((s) => s === 'completed'), finished.join(','));
    assert.ok(finished.length >= 20 - before, `recovered ${finished.length}, ${before} refunds were made before the kill`);
    assert.equal(w.helpdesk.ticketsCreated, 20);
    assert.equal(w.erp.refundsApplied, 20);
    assert.equal(w.crm.notesCreated, 20);
    for (let i = 0; i < 20; i++) assert.equal(w.erp.refundCountOf(`o-${i}`), 1);
  }));
});
