/**
 * Racing a promise against an AbortSignal, so the aggregator never waits past a timeout even for a
 * source that ignores its signal or a call still queued for a concurrency slot.
 */

/** The rejection value used when the signal wins; the caller turns it into a coded error. */
export const aborted: unique symbol = Symbol('aborted');

export function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(aborted);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(aborted);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Waits `ms`, or rejects with `aborted` as soon as the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return raceSignal(
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => clearTimeout(t), { once: true });
    }),
    signal,
  );
}
