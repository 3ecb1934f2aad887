import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/testing/environment.js';
import { TestClient } from './helpers.js';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'level-hub.ts');

async function startChild(dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('hub child did not start within 20 s')), 20_000);
    child.stdout!.on('data', (d: Buffer) => { if (String(d).includes('ready')) { clearTimeout(t); resolve(); } });
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`hub child exited with ${code}`)); });
  });
  return child;
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => { child.once('exit', () => r()); child.kill('SIGKILL'); });
}

test('LevelDB hub killed with SIGKILL mid-traffic keeps every acked message; clients resume with no gap, no duplicate', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-crash-'));
  const port = await freePort();
  const url = `ws://127.0.0.1:${port}/kefu`;
  let child = await startChild(dir, port);
  try {
    const v = await TestClient.connect(url, 't1:v1:visitor');
    const a = await TestClient.connect(url, 't1:a1:agent');
    v.send({ t: 'open', ref: 'r' });
    const { conv } = await v.next('joined');
    a.send({ t: 'join', ref: 'j', conv });
    await a.next('joined');

    // The agent records what it has seen live; the visitor what was acked.
    let agentSeen = 0;
    a.ws.on('message', (d) => { const f = JSON.parse(String(d)) as { t: string; seq?: number }; if (f.t === 'msg') agentSeen = f.seq!; });
    const acked = new Map<string, number>();
    v.ws.on('message', (d) => { const f = JSON.parse(String(d)) as { t: string; cid?: string; seq?: number }; if (f.t === 'ack') acked.set(f.cid!, f.seq!); });
    const total = 400;
    let sent = 0;
    const killed = new Promise<void>((resolve) => {
      const pump = setInterval(() => {
        // About 50 sends in flight, so the kill lands while appends are being written.
        for (; sent < total && sent - acked.size < 50; sent++) v.send({ t: 'send', conv, cid: `m${sent}`, body: `message ${sent}` });
        if (acked.size >= 150 || sent >= total) {
          clearInterval(pump);
          void kill(child).then(resolve);
        }
      }, 2);
    });
    await killed;
    await Promise.all([v.waitClose(), a.waitClose()]);
    const ackedBeforeKill = new Map(acked);
    assert.ok(ackedBeforeKill.size >= 100, `only ${ackedBeforeKill.size} acks before the kill`);

    child = await startChild(dir, port);
    // Every acked message survived, under its acked seq.
    const reader = await TestClient.connect(url, 't1:a2:agent');
    reader.send({ t: 'resume', ref: 'all', conv, after: 0 });
    const stored = new Map<number, string>();
    const done = await (async () => {
      for (;;) {
        const f = await reader.nextAny(['msg', 'resumed']);
        if (f.t === 'resumed') return f;
        if (f.t !== 'msg') continue;
        assert.ok(!stored.has(f.seq), `duplicate seq ${f.seq}`);
        stored.set(f.seq, f.cid);
      }
    })();
    const seqs = [...stored.keys()];
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'contiguous, in order');
    assert.equal(done.count, seqs.length);
    for (const [cid, seq] of ackedBeforeKill) assert.equal(stored.get(seq), cid, `acked ${cid}@${seq} lost`);

    // The visitor retries every unacked send with the same cid: each is stored exactly once.
    const v2 = await TestClient.connect(url, 't1:v1:visitor');
    v2.send({ t: 'resume', ref: 'v', conv, after: seqs.length });
    await v2.next('resumed');
    const retry = Array.from({ length: sent }, (_, i) => `m${i}`).filter((cid) => !ackedBeforeKill.has(cid));
    for (const cid of retry) v2.send({ t: 'send', conv, cid, body: 'retry' });
    for (let i = 0; i < retry.length; i++) await v2.next('ack');

    // The agent resumes from the last seq it saw live: exactly the rest, then live.
    const a2 = await TestClient.connect(url, 't1:a1:agent');
    a2.send({ t: 'resume', ref: 'z', conv, after: agentSeen });
    const replayed: number[] = [];
    for (;;) {
      const f = await a2.nextAny(['msg', 'resumed']);
      if (f.t === 'resumed') break;
      if (f.t === 'msg') replayed.push(f.seq);
    }
    assert.deepEqual(replayed, Array.from({ length: sent - agentSeen }, (_, i) => agentSeen + i + 1));
    v2.send({ t: 'send', conv, cid: 'after-restart', body: 'live' });
    assert.equal((await a2.next('msg')).seq, sent + 1);
    // Audit with a fresh socket (the reader above also got the retries live).
    await reader.close();
    const audit = await TestClient.connect(url, 't1:a3:agent');
    const all = new Set<string>();
    for (let after = 0; ; ) {
      audit.send({ t: 'resume', ref: `p${after}`, conv, after });
      const page: number[] = [];
      for (;;) {
        const f = await audit.nextAny(['msg', 'resumed']);
        if (f.t === 'resumed') break;
        if (f.t !== 'msg') continue;
        assert.ok(!all.has(f.cid), `cid ${f.cid} stored twice`);
        all.add(f.cid);
        page.push(f.seq);
      }
      if (page.length === 0) break;
      after = page[page.length - 1]!;
    }
    assert.equal(all.size, sent + 1);
    for (const c of [audit, v2, a2]) await c.close();
  } finally {
    await kill(child);
    await rm(dir, { recursive: true, force: true });
  }
});
