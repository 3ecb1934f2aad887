/** Crash tests: run a TypeScript child until it reports "ready", SIGKILL it a little later. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

/**
 * Runs `script` (with tsx) with `args`, SIGKILLs it `killAfterMs` after it printed "ready" (or
 * after 30 s whatever happens), and returns its complete stdout lines: the last piece, which the
 * kill may have torn, is dropped. With `stallMs`, the parent stops reading that long before the
 * kill (and reads the rest after it), as a parent left unscheduled on a loaded machine would.
 */
export async function runAndKill(script: string, args: string[], killAfterMs: number, stallMs = 0): Promise<string[]> {
  const p = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  let started = false;
  // 'close', not 'exit': 'exit' can come before the last stdout chunks have been read.
  const exited = new Promise<void>((resolve) => p.once('close', () => resolve()));
  p.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    if (!started && buf.includes('ready\n')) {
      started = true;
      if (stallMs > 0) setTimeout(() => p.stdout.pause(), killAfterMs - stallMs);
      setTimeout(() => {
        p.kill('SIGKILL');
        p.stdout.resume();
      }, killAfterMs);
    }
  });
  const guard = setTimeout(() => p.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(guard);
  assert.ok(started, 'child never became ready');
  return buf.split('\n').slice(0, -1);
}
