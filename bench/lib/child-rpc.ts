/**
 * Child side of the bench RPC (see child.ts): registers handlers, announces `ready`, and exits
 * as soon as the parent goes away, so that an orphaned server or generator never lingers.
 */
export type Handler = (params: never) => unknown;

/** Longest a bench child may live, whatever happens to its parent. */
const MAX_LIFE_MS = 60 * 60_000;

export function serve(handlers: Record<string, Handler>, ready: unknown, onClose?: () => unknown): void {
  if (!process.send) throw new Error('this script runs as a bench child process (spawned by bench/lib/child.ts)');
  const send = process.send.bind(process);
  const close = async (): Promise<void> => {
    try { await onClose?.(); } finally { process.exit(0); }
  };
  process.on('disconnect', () => { void close(); });
  setTimeout(() => process.exit(3), MAX_LIFE_MS).unref();
  process.on('message', (m: unknown) => {
    const { id, method, params } = m as { id: number; method: string; params: unknown };
    if (method === 'close') {
      const done = Promise.resolve(onClose?.()).catch(() => undefined);
      void done.then(() => send({ id, result: true }, () => process.exit(0)));
      return;
    }
    const h = handlers[method];
    if (!h) { send({ id, error: `unknown method ${method}` }); return; }
    Promise.resolve()
      .then(() => (h as (p: unknown) => unknown)(params))
      .then((result) => send({ id, result: result ?? null }), (err: unknown) => send({ id, error: err instanceof Error ? err.stack ?? err.message : String(err) }));
  });
  send({ ready });
}
