/**
 * One system call per turn of the event loop for a connection's commands.
 *
 * ioredis writes every command to its socket at once; on a busy node each is its own send
 * syscall, and on loopback that syscall also runs Redis's receive path. Corking the socket at
 * the first command of a turn and uncorking it in setImmediate (after the poll phase, so the
 * commands issued by every socket read in that phase go together) sends them in one writev.
 * ioredis's enableAutoPipelining batches too, but through a Pipeline object per batch and per
 * slot on every command; a cork leaves ioredis's own send path as it is. What it saves:
 * docs/scaling.md, "The node's Redis traffic per message".
 *
 * Order and replies are unchanged: the commands go out in issue order, only later by at most
 * one turn.
 */
import type { Redis } from 'ioredis';
import type { Socket } from 'node:net';

export interface BatchedWrites {
  /** Turns in which at least one command was written (each one writev). */
  readonly flushes: number;
  /** Commands written through the corked socket. */
  readonly commands: number;
}

/** Validates the `batchWrites` option both the bus and the store take. */
export function checkBatchWrites(v: unknown): boolean {
  if (v === undefined) return true;
  if (typeof v !== 'boolean') throw new TypeError('options.batchWrites must be a boolean');
  return v;
}

/** Patches `client.sendCommand` to cork per turn; returns live counters. */
export function batchWrites(client: Redis): BatchedWrites {
  const stats = { flushes: 0, commands: 0 };
  const send = client.sendCommand.bind(client);
  let corked: Socket | undefined;
  const uncork = (): void => {
    const s = corked;
    corked = undefined;
    // A socket replaced by a reconnect in between is destroyed: uncorking it is harmless.
    s?.uncork();
  };
  client.sendCommand = (command, stream) => {
    // Pipelines pass their own pseudo-stream, and commands issued while not ready go to the
    // offline queue: neither touches the socket now.
    if (stream === undefined && client.status === 'ready') {
      if (corked === undefined) {
        const s = client.stream as Socket;
        if (typeof s.cork === 'function') {
          s.cork();
          corked = s;
          stats.flushes++;
          setImmediate(uncork);
        }
      }
      if (corked !== undefined) stats.commands++;
    }
    return send(command, stream);
  };
  return stats;
}
