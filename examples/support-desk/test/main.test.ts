/**
 * What `npm start` runs (src/main.ts), as a child process on a free port with a temp data
 * directory: it prints its URLs (the demo-only token endpoint labelled as such) and the refund
 * back ends' (the ERP's fault switch set from KEFU_DEMO_ERP_FAULTS), they answer, and SIGTERM
 * stops it cleanly.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
let child: ChildProcess | undefined;
let dir = '';
after(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    await new Promise((r) => { child!.once('exit', r); child!.kill('SIGKILL'); });
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('npm start prints its URLs, serves them, and stops on SIGTERM', { timeout: 60_000 }, async () => {
  dir = await mkdtemp(join(tmpdir(), 'kefu-demo-main-'));
  const p = spawn(process.execPath, ['--import', 'tsx', main], {
    env: { ...process.env, PORT: '0', KEFU_DATA_DIR: dir, KEFU_DEMO_ERP_FAULTS: '{"mode":"next","count":1,"status":402}' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  child = p;
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no URLs printed within 45 s:\n${out}`)), 45_000);
    p.stdout!.on('data', (d: Buffer) => { out += String(d); if (out.includes('"demo: make the ERP decline refunds"')) { clearTimeout(t); resolve(); } });
    p.once('exit', (code) => { clearTimeout(t); reject(new Error(`exited early (${code}):\n${out}`)); });
  });
  const base = /visitor page \(chat widget\): (http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1];
  assert.ok(base, out);
  assert.match(out, new RegExp(`agent console: +${base}/agent`));
  assert.match(out, new RegExp(`metrics \\(Prometheus\\): +${base}/metrics`));
  assert.match(out, new RegExp(`health: +${base}/health`));
  assert.match(out, new RegExp(`demo-only token endpoint: +POST ${base}/demo/token +\\(DEMO ONLY`));
  const [, helpdesk, erp, crm] = /helpdesk: +(http:\/\/127\.0\.0\.1:\d+)\/tickets\/:id\n +ERP: +(http:\/\/127\.0\.0\.1:\d+)\/orders\/:orderId\/refunds\n +CRM notes: +(http:\/\/127\.0\.0\.1:\d+)\/customers\/:uid\/notes\n/.exec(out) ?? [];
  assert.ok(helpdesk && erp && crm, out);
  assert.match(out, new RegExp(`ERP fault switch: +POST ${erp}/_faults +\\(DEMO ONLY; now: decline-next \\{"mode":"next","kind":"fail","count":1,"rate":0,"status":402\\}\\)`));
  assert.deepEqual(await (await fetch(`${erp}/orders/o-1/refunds`)).json(), { orderId: 'o-1', refunded: 0, count: 0 });
  assert.equal((await fetch(`${helpdesk}/tickets/tk-1`)).status, 404);
  assert.deepEqual(await (await fetch(`${crm}/customers/v-1/notes`)).json(), { notes: [] });
  assert.equal((await fetch(`${base}/health`)).status, 200);
  assert.match(await (await fetch(`${base}/metrics`)).text(), /^kefu_hub_/m);
  p.removeAllListeners('exit');
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  p.kill('SIGTERM');
  assert.equal(await exited, 0, 'stops cleanly');
});
