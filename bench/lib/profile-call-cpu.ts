/**
 * What one pooled HTTP call costs on this machine, in CPU, by how the calls arrive: the profile
 * bench's floor spends over a millisecond of CPU per profile here where ANCHORS.md's machine spent
 * 44 µs per undici `Pool.request`. This script tells a costly exchange from costly wake-ups: the
 * same calls (undici Pool, `request()` + `body.json()`, to a `node:http` child answering at once)
 * open-loop at a few rates, where calls arrive apart and each wakes both processes, and
 * closed-loop with 64 in flight, where the processes stay busy. CPU per call of the caller (this
 * process, `process.cpuUsage()`) and of the server (the child, /proc on Linux).
 *
 *   flock /tmp/kefu-bench.lock nice -n 10 node --import tsx bench/lib/profile-call-cpu.ts [seconds=2]
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

if (process.argv.includes('--serve')) {
  const body = JSON.stringify({ uid: 'u', level: 'gold', vip: 2, points: 1234, since: '2025-01-01T00:00:00.000Z' });
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`));
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
} else {
  const seconds = Number(process.argv[2] ?? 2);
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('server did not start')), 30_000);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l.startsWith('READY ')) {
        clearTimeout(t);
        resolve(Number(l.slice(6)));
      }
    });
  });
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 256, pipelining: 1 });
  const childCpuUs = (): number => {
    try {
      const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').slice(0, 10_000);
      const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
      return (Number(x[11]) + Number(x[12])) * 10_000;
    } catch {
      return NaN;
    }
  };
  const call = async (): Promise<void> => {
    const { body } = await pool.request({ method: 'GET', path: '/users/u' });
    await body.json();
  };
  /** Runs `load` and prints CPU per call of both processes. */
  const measure = async (label: string, load: () => Promise<number>): Promise<void> => {
    const c0 = process.cpuUsage();
    const s0 = childCpuUs();
    const n = await load();
    const c = process.cpuUsage(c0);
    const s = childCpuUs() - s0;
    console.log(`${label.padEnd(28)} calls ${String(n).padStart(6)}  caller ${((c.user + c.system) / n).toFixed(1).padStart(7)} µs/call  server ${(s / n).toFixed(1).padStart(7)} µs/call`);
  };
  const openLoop = (rate: number) => async (): Promise<number> => {
    const total = Math.round(rate * seconds);
    const start = performance.now();
    let sent = 0;
    const inflight: Array<Promise<void>> = [];
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      while (sent < due) {
        inflight.push(call());
        sent++;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, Math.floor(start + (sent * 1000) / rate - performance.now()))));
    }
    await Promise.all(inflight);
    return total;
  };
  const closedLoop = (concurrency: number) => async (): Promise<number> => {
    const end = performance.now() + seconds * 1000;
    let n = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await call();
        n++;
      }
    }));
    return n;
  };
  await closedLoop(16)(); // warm-up: connections, JIT
  for (const rate of [250, 1000, 4000]) await measure(`open loop ${rate}/s`, openLoop(rate));
  await measure('closed loop, 64 in flight', closedLoop(64));
  await pool.destroy();
  child.kill();
  process.exit(0);
}
