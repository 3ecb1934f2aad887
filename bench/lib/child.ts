/**
 * Parent side of the bench process orchestration: every server and load generator runs as a
 * child process with an IPC channel, a raised open-file limit and a small request/reply RPC.
 * Every child started here is SIGKILLed when the bench exits, whatever the reason, so that a
 * failed run never leaves 10,000 sockets behind on a shared machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ChildOptions {
  /** Name shown in errors and logs. */
  name: string;
  /** Extra node flags, e.g. --expose-gc or --cpu-prof. @defaultValue [] */
  execArgv?: string[];
  /** How long to wait for the child's `ready` message. @defaultValue 30,000 ms */
  readyTimeoutMs?: number;
  /** Soft open-file limit for the child (the hard limit here is 20,000). @defaultValue 20,000 */
  nofile?: number;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const live = new Set<ChildProcess>();

function killAll(): void {
  for (const cp of live) {
    try { cp.kill('SIGKILL'); } catch { /* already gone */ }
  }
  live.clear();
}

process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => { killAll(); process.exit(130); });
}
process.on('uncaughtException', (err) => { console.error(err); killAll(); process.exit(1); });
process.on('unhandledRejection', (err) => { console.error(err); killAll(); process.exit(1); });

/** A running child process speaking the bench RPC (see child-rpc.ts). */
export class Child<Ready = unknown> {
  readonly name: string;
  readonly ready: Ready;
  private readonly cp: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exited: Promise<void>;
  private exitCode: number | null = null;

  private constructor(name: string, cp: ChildProcess, ready: Ready, exited: Promise<void>) {
    this.name = name;
    this.cp = cp;
    this.ready = ready;
    this.exited = exited;
    cp.on('message', (m: unknown) => this.onMessage(m));
    void exited.then(() => {
      this.exitCode = cp.exitCode;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`${name} exited (code ${String(cp.exitCode)}, signal ${String(cp.signalCode)})`));
      }
      this.pending.clear();
    });
  }

  /** Spawns `script` (a .ts file, run through tsx) and waits for its `ready` message. */
  static async start<R = unknown>(script: string | URL, args: string[], options: ChildOptions): Promise<Child<R>> {
    const { name, execArgv = [], readyTimeoutMs = 30_000, nofile = 20_000 } = options;
    const path = script instanceof URL ? fileURLToPath(script) : script;
    // `exec` keeps the node process's pid, so the kill below reaches it, not a shell.
    const cp = spawn('bash', ['-c', `ulimit -n ${nofile} 2>/dev/null; exec "$0" "$@"`, process.execPath, ...execArgv, '--import', 'tsx', path, ...args], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(cp);
    const exited = new Promise<void>((resolve) => cp.once('exit', () => { live.delete(cp); resolve(); }));
    const ready = await new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => { cp.kill('SIGKILL'); reject(new Error(`${name}: no ready message within ${readyTimeoutMs} ms`)); }, readyTimeoutMs);
      const onMsg = (m: unknown): void => {
        if (typeof m === 'object' && m !== null && (m as { ready?: unknown }).ready !== undefined) {
          clearTimeout(timer);
          cp.off('message', onMsg);
          resolve((m as { ready: R }).ready);
        }
      };
      cp.on('message', onMsg);
      void exited.then(() => { clearTimeout(timer); reject(new Error(`${name} exited before ready (code ${String(cp.exitCode)})`)); });
    });
    return new Child<R>(name, cp, ready, exited);
  }

  get pid(): number | undefined { return this.cp.pid; }

  /** Calls `method` in the child; rejects on error, exit or timeout. */
  call<T = unknown>(method: string, params: unknown = {}, timeoutMs = 60_000): Promise<T> {
    if (this.exitCode !== null || !this.cp.connected) return Promise.reject(new Error(`${this.name} is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}.${method}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.cp.send({ id, method, params });
    });
  }

  private onMessage(m: unknown): void {
    if (typeof m !== 'object' || m === null) return;
    const { id, result, error } = m as { id?: number; result?: unknown; error?: string };
    if (id === undefined) return;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (error !== undefined) p.reject(new Error(`${this.name}: ${error}`));
    else p.resolve(result);
  }

  /** Asks the child to close cleanly, then SIGKILLs it if it has not exited within `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exitCode === null && this.cp.connected) {
      await this.call('close', {}, graceMs).catch(() => undefined);
    }
    const timer = setTimeout(() => this.cp.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Stops every child given, in parallel, never throwing. */
export async function stopAll(children: Array<Child | undefined>): Promise<void> {
  await Promise.all(children.map((c) => c?.stop().catch(() => undefined)));
}
