/** Shared bits of the saga tests: a call journal and bounded waits. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SagaOrchestrator } from '../../src/saga/orchestrator.js';
import type { SagaEvents } from '../../src/saga/events.js';

export interface Journal {
  calls: string[];
  keys: string[];
}

export function journal(): Journal {
  return { calls: [], keys: [] };
}

/** Resolves with the first emission of `event` (bounded by `ms`). */
export function once<K extends keyof SagaEvents>(em: SagaOrchestrator, event: K, ms = 5_000): Promise<Parameters<SagaEvents[K]>[0]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    const listener = (arg: Parameters<SagaEvents[K]>[0]): void => {
      clearTimeout(t);
      resolve(arg);
    };
    em.once(event, listener as never);
  });
}

/** Resolves on the `n`th emission of `event` (attach before the action that emits). */
export function nth<K extends keyof SagaEvents>(em: SagaOrchestrator, event: K, n: number, ms = 5_000): Promise<Parameters<SagaEvents[K]>[0]> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const t = setTimeout(() => {
      em.off(event, listener as never);
      reject(new Error(`only ${seen} of ${n} ${event} within ${ms} ms`));
    }, ms);
    const listener = (arg: Parameters<SagaEvents[K]>[0]): void => {
      if (++seen < n) return;
      clearTimeout(t);
      em.off(event, listener as never);
      resolve(arg);
    };
    em.on(event, listener as never);
  });
}

/** A temp directory removed by the returned cleanup. */
export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Waits until `signal` aborts (a step that hangs until cut off). */
export function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
