/**
 * Test environment helpers shared by every package's tests: real binaries (redis-server,
 * chromium) are used when present; when missing the test skips with a loud message, unless
 * KEFU_REQUIRE_ALL=1 (set by .ci/run), in which case it fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** True when every optional test dependency must be present (CI). */
export const requireAll = process.env.KEFU_REQUIRE_ALL === '1';

/**
 * Finds an executable on PATH (or an absolute path). Returns its path, or a skip reason when it
 * is missing and KEFU_REQUIRE_ALL is not set. Throws when it is missing and KEFU_REQUIRE_ALL=1.
 */
export function findBinary(name: string): { path: string } | { skip: string } {
  const candidates = name.startsWith('/') ? [name] : (process.env.PATH ?? '').split(':').map((d) => join(d, name));
  const found = candidates.find((p) => existsSync(p));
  if (found) return { path: found };
  const msg = `${name} not found: install it (apt-get install ${name === '/usr/bin/chromium' ? 'chromium' : name}) to run these tests`;
  if (requireAll) throw new Error(`KEFU_REQUIRE_ALL=1 but ${msg}`);
  console.warn(`\n*** SKIPPING: ${msg} ***\n`);
  return { skip: msg };
}

/** Asks the OS for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RedisServerHandle {
  port: number;
  url: string;
  dir: string;
  process: ChildProcess;
  /** SIGKILL the server (a crash). */
  kill(): Promise<void>;
  /** Start it again on the same port and data directory (appendonly data survives). */
  restart(): Promise<void>;
  /** Stop it cleanly and wait for exit. */
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  /** appendonly yes|no. @defaultValue true */
  appendonly?: boolean;
  /** appendfsync policy. @defaultValue 'everysec' */
  appendfsync?: 'always' | 'everysec' | 'no';
  /** Extra `--key value` arguments. */
  args?: string[];
}

/**
 * Starts a real redis-server on a free loopback port in a fresh temp directory. Tests own it and
 * can kill and restart it. Call `findBinary('redis-server')` first to honour skip rules.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'kefu-redis-'));
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', options.appendonly === false ? 'no' : 'yes',
    '--appendfsync', options.appendfsync ?? 'everysec',
    '--protected-mode', 'no', '--loglevel', 'warning',
    ...(options.args ?? []),
  ];
  const handle: RedisServerHandle = {
    port, dir, url: `redis://127.0.0.1:${port}`,
    process: undefined as unknown as ChildProcess,
    async kill() { await stopProcess(handle.process, 'SIGKILL'); },
    async stop() { await stopProcess(handle.process, 'SIGTERM'); },
    async restart() { await stopProcess(handle.process, 'SIGTERM'); handle.process = await launch(args, port); },
  };
  handle.process = await launch(args, port);
  return handle;
}

async function launch(args: string[], port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => { out += String(d); });
  child.stderr?.on('data', (d) => { out += String(d); });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${out}`);
    const r = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' });
    if (r.stdout?.trim() === 'PONG') return child;
    await new Promise((res) => setTimeout(res, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer PING on port ${port} within 10 s: ${out}`);
}

function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}
