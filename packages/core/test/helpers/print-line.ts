/**
 * How crash-test children report what has happened: one line, written to fd 1 with blocking
 * writes, so that a printed line is in the kernel's pipe buffer before the child goes on and
 * survives a later SIGKILL.
 *
 * Not process.stdout.write: when the parent reads slowly (a loaded machine) and the pipe fills,
 * Node queues the rest in the child's memory and returns at once (13 MB queued in a test of a
 * parent that paused reading for 1 s); a SIGKILL then loses lines of operations that had
 * happened, and the parent's check fails on the test's own bookkeeping (the queue crash test's
 * one unexplained failure, "resolved its push but is missing", in 42 runs).
 */
import { writeSync } from 'node:fs';

const pause = new Int32Array(new SharedArrayBuffer(4));

export function printLine(line: string): void {
  const b = Buffer.from(line + '\n');
  for (let off = 0; off < b.length;) {
    try {
      off += writeSync(1, b, off);
    } catch (err) {
      // fd 1 may be non-blocking: wait for the parent to read, without returning to the loop.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
