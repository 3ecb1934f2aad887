/**
 * The profile bench's load client: keep-alive HTTP/1.1 GETs written on raw TCP sockets, one
 * request at a time per connection, answers framed by Content-Length (or a chunked body's end),
 * the body dropped. It replaces an undici Pool + dispatch() in the generator because the
 * generator shares the two cores with the system under test: undici builds a request object, a
 * handler and its parser state per request, and the generator's CPU per request was about that
 * of the whole do-nothing server (`timer_floor`). What the server sees is the same HTTP either
 * way: one GET per connection at a time, keep-alive, TCP_NODELAY.
 */
import { connect, type Socket } from 'node:net';

/** Gets the answer's status, or 0 for a failure (socket error or close, timeout, bad framing). */
export type Done = (status: number) => void;

export interface HttpLoadOptions {
  host: string;
  port: number;
  /** Most connections; further requests wait in line for a free one. */
  connections: number;
  /** A request not answered within this many ms fails (its connection is dropped). */
  timeoutMs: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('0\r\n\r\n');

class Conn {
  done: Done | null = null;
  since = 0;
  /** Body bytes still to come; -1 while the head is being read; -2 for a chunked body. */
  left = -1;
  status = 0;
  pending: Buffer | null = null;
  constructor(readonly socket: Socket) {}
}

export class HttpLoad {
  private readonly idle: Conn[] = [];
  private readonly live = new Set<Conn>();
  private readonly line: Array<[string, Done]> = [];
  private lineHead = 0;
  private readonly sweep: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly o: HttpLoadOptions) {
    // One timer for every request's timeout, not one per request.
    this.sweep = setInterval(() => {
      const late = performance.now() - this.o.timeoutMs;
      for (const c of this.live) if (c.done !== null && c.since < late) this.drop(c);
    }, 250);
    this.sweep.unref();
  }

  /** Sends `GET path`; `done` gets the status (0: failed). */
  get(path: string, done: Done): void {
    if (this.closed) {
      done(0);
      return;
    }
    const c = this.idle.pop();
    if (c !== undefined) this.send(c, path, done);
    else if (this.live.size < this.o.connections) this.open(path, done);
    else this.line.push([path, done]);
  }

  /**
   * Opens idle connections until `n` are open (at most `connections`), resolving once they are
   * connected. Called before a measured step: a connection opened inside it costs a handshake in
   * both processes, and a burst of them (a server stalled for a moment, hundreds of requests
   * waiting) overflows the server's accept queue. The kernel drops those SYNs and the client
   * sends them again after 1 s, so a few dropped SYNs set a step's p99 past 1,000 ms: in one quick
   * run at 3,000 req/s, 873 connections opened in the step, 205 SYNs dropped, p99 1,169.86 ms.
   */
  async warm(n: number): Promise<void> {
    const want = Math.min(n, this.o.connections) - this.live.size;
    const opening: Array<Promise<void>> = [];
    for (let i = 0; i < want; i++) {
      const socket = connect({ host: this.o.host, port: this.o.port, noDelay: true });
      const c = this.wire(socket);
      opening.push(
        new Promise<void>((resolve) => {
          socket.once('connect', () => {
            if (this.live.has(c) && c.done === null) this.idle.push(c);
            resolve();
          });
          socket.once('close', () => resolve());
        }),
      );
    }
    await Promise.all(opening);
  }

  /** Connections open now. */
  get connections(): number {
    return this.live.size;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweep);
    for (const c of [...this.live]) this.drop(c);
    for (let i = this.lineHead; i < this.line.length; i++) this.line[i]![1](0);
    this.line.length = 0;
  }

  private open(path: string, done: Done): void {
    const c = this.wire(connect({ host: this.o.host, port: this.o.port, noDelay: true }));
    this.send(c, path, done);
  }

  private wire(socket: Socket): Conn {
    const c = new Conn(socket);
    this.live.add(c);
    socket.on('data', (chunk: Buffer) => this.onData(c, chunk));
    socket.on('error', () => this.drop(c));
    socket.on('close', () => this.drop(c));
    return c;
  }

  private send(c: Conn, path: string, done: Done): void {
    c.done = done;
    c.since = performance.now();
    c.left = -1;
    c.pending = null;
    c.socket.write(`GET ${path} HTTP/1.1\r\nhost: ${this.o.host}\r\n\r\n`, 'latin1');
  }

  private onData(c: Conn, chunk: Buffer): void {
    if (c.done === null) return;
    let b = c.pending === null ? chunk : Buffer.concat([c.pending, chunk]);
    if (c.left === -1) {
      const end = b.indexOf(HEAD_END);
      if (end < 0) {
        c.pending = b;
        return;
      }
      c.status = (b[9]! - 48) * 100 + (b[10]! - 48) * 10 + (b[11]! - 48);
      const head = b.toString('latin1', 0, end).toLowerCase();
      const at = head.indexOf('\r\ncontent-length:');
      if (at >= 0) c.left = parseInt(head.slice(at + 17), 10);
      else if (head.includes('transfer-encoding: chunked')) c.left = -2;
      else {
        this.drop(c);
        return;
      }
      b = b.subarray(end + 4);
    }
    if (c.left === -2) {
      // Chunked answers are the server's error pages here: wait for the last chunk, keep nothing.
      const tail = b.indexOf(CHUNKED_END);
      if (tail < 0) {
        c.pending = b.length > 4096 ? b.subarray(b.length - 8) : b;
        return;
      }
      this.complete(c);
      return;
    }
    if (b.length >= c.left) this.complete(c);
    else {
      c.left -= b.length;
      c.pending = null;
    }
  }

  private complete(c: Conn): void {
    const done = c.done!;
    c.done = null;
    c.pending = null;
    const status = c.status;
    // The connection goes to the next request in line, or back to the idle list.
    if (this.lineHead < this.line.length) {
      const [path, next] = this.line[this.lineHead]!;
      this.line[this.lineHead++] = undefined as unknown as [string, Done];
      if (this.lineHead === this.line.length) {
        this.line.length = 0;
        this.lineHead = 0;
      }
      this.send(c, path, next);
    } else this.idle.push(c);
    done(status);
  }

  private drop(c: Conn): void {
    if (!this.live.delete(c)) return;
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    c.socket.destroy();
    const done = c.done;
    c.done = null;
    done?.(0);
  }
}
