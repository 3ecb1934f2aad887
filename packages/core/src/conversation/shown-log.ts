/**
 * The shown log: a message that the LevelConversationStore lets the other members see before its
 * LevelDB batch is written is first appended here, with one write() of its batch operations. A
 * process that dies (SIGKILL, out-of-memory kill, a crash) leaves that write in the page cache,
 * and the next open puts the logged operations into LevelDB before anything else: no message that
 * someone has seen is lost. Only a crash of the machine can lose it (the log is not fsynced: that
 * is the point); the store's seq fence covers that case.
 *
 * Two files take turns so that the log stays small under a steady load: when the current one
 * passes `maxBytes` and every message logged in the other has been written to LevelDB, the other
 * is emptied and becomes current. Entries of messages already in LevelDB are harmless on replay
 * (the same keys and values: messages are never rewritten).
 */
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BatchOp } from '../storage/index.js';

const FILES = ['KEFU-SHOWN-0.log', 'KEFU-SHOWN-1.log'] as const;

/** One logged message: the puts of its batch, as [key, value, key, value, ...]. */
type Entry = string[];

export class ShownLog {
  readonly #fds: [number, number];
  readonly #sizes: [number, number] = [0, 0];
  /** Messages logged in each file and not yet in LevelDB. */
  readonly #pending: [number, number] = [0, 0];
  readonly #maxBytes: number;
  #current: 0 | 1 = 0;

  /** Opens (creating) the two files in `dir`; call `recover` first to read what they hold. */
  constructor(dir: string, maxBytes = 4 * 1024 * 1024) {
    this.#maxBytes = maxBytes;
    this.#fds = [openSync(join(dir, FILES[0]), 'a'), openSync(join(dir, FILES[1]), 'a')];
    for (const fd of this.#fds) ftruncateSync(fd, 0);
  }

  /**
   * The put operations logged by an earlier run in `dir`, oldest first. A torn last line (the
   * process died inside a write) is skipped: its message was never shown.
   */
  static recover(dir: string): BatchOp[] {
    const ops: BatchOp[] = [];
    for (const name of FILES) {
      const path = join(dir, name);
      if (!existsSync(path)) continue;
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (line === '') continue;
        let entry: Entry;
        try { entry = JSON.parse(line) as Entry; } catch { continue; }
        if (!Array.isArray(entry) || entry.length % 2 !== 0) continue;
        for (let i = 0; i < entry.length; i += 2) ops.push({ type: 'put', key: String(entry[i]), value: String(entry[i + 1]) });
      }
    }
    return ops;
  }

  /**
   * Logs one message's puts; returns the file it went to (pass it to `written`). Throws when the
   * write fails: the caller then shows the message only once it is durable.
   */
  append(ops: BatchOp[]): 0 | 1 {
    const entry: Entry = [];
    for (const op of ops) if (op.type === 'put') entry.push(op.key, op.value);
    const line = JSON.stringify(entry) + '\n';
    const f = this.#current;
    this.#sizes[f] += writeSync(this.#fds[f], line);
    this.#pending[f]++;
    const other = f === 0 ? 1 : 0;
    if (this.#sizes[f] > this.#maxBytes && this.#pending[other] === 0) {
      this.#empty(other);
      this.#current = other;
    }
    return f;
  }

  /** A message logged in `file` is now in LevelDB. */
  written(file: 0 | 1): void {
    // An empty file costs nothing to keep; truncating after every message would cost a syscall.
    if (--this.#pending[file] === 0 && file !== this.#current) this.#empty(file);
  }

  close(): void {
    for (const fd of this.#fds) {
      try { ftruncateSync(fd, 0); } finally { closeSync(fd); }
    }
  }

  #empty(file: 0 | 1): void {
    ftruncateSync(this.#fds[file], 0);
    this.#sizes[file] = 0;
  }
}
