/**
 * The shown log: a message that the LevelConversationStore lets the other members see before its
 * LevelDB batch is written is first appended here, with one write() of its batch operations. A
 * process that dies (SIGKILL, out-of-memory kill, a crash) leaves that write in the page cache,
 * and the next open puts the logged operations into LevelDB before anything else: no message that
 * someone has seen is lost. Messages added in one turn of the event loop are written together
 * (`add`, then one `flush`), and shown only after it. Only a crash of the machine can lose it (the log is not fsynced: that
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

/**
 * One logged message per line: its puts as key TAB value TAB key TAB value. Keys (printable-ASCII
 * ids and \x00 separators) and values (JSON text, "seq,ts") never hold a raw tab or newline, so
 * the line needs no escaping (a JSON array would escape the message's JSON once more).
 */
const SEP = '\t';

export class ShownLog {
  readonly #fds: [number, number];
  readonly #sizes: [number, number] = [0, 0];
  /** Messages logged in each file and not yet in LevelDB. */
  readonly #pending: [number, number] = [0, 0];
  readonly #maxBytes: number;
  #current: 0 | 1 = 0;
  /** Lines added since the last flush. */
  #buf = '';

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
      const lines = readFileSync(path, 'utf8').split('\n');
      lines.pop(); // after the last newline: empty, or a line torn by the crash
      for (const line of lines) {
        const f = line.split(SEP);
        if (f.length % 2 !== 0) continue;
        for (let i = 0; i < f.length; i += 2) ops.push({ type: 'put', key: f[i]!, value: f[i + 1]! });
      }
    }
    return ops;
  }

  /** Queues one message's puts for the next `flush`; returns its file (pass it to `written`). */
  add(ops: BatchOp[]): 0 | 1 {
    let line = '';
    for (const op of ops) if (op.type === 'put') line += (line === '' ? '' : SEP) + op.key + SEP + op.value;
    this.#buf += line + '\n';
    this.#pending[this.#current]++;
    return this.#current;
  }

  /**
   * Writes what `add` queued, in one write(). Throws when the write fails: the caller then shows
   * those messages only once they are durable.
   */
  flush(): void {
    if (this.#buf === '') return;
    const f = this.#current;
    const buf = this.#buf;
    this.#buf = '';
    const bytes = Buffer.from(buf);
    // A regular file takes it all at once, barring a full disk: then the loop meets the error.
    for (let off = 0; off < bytes.length;) off += writeSync(this.#fds[f], bytes, off);
    this.#sizes[f] += bytes.length;
    const other = f === 0 ? 1 : 0;
    if (this.#sizes[f] > this.#maxBytes && this.#pending[other] === 0) {
      this.#empty(other);
      this.#current = other;
    }
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
