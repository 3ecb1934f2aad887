/**
 * What every Redis component shares: how it gets a connection of its own, how it validates its
 * key options, and how a Redis failure becomes a coded error.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { KefuError } from '@kefu/core';

/** An ioredis client (duplicated: each component owns its connections), a redis:// URL, or options. */
export type RedisConnectionInput = Redis | string | RedisOptions;

/**
 * A new connection for one component. `extra` options apply on top (e.g. lazyConnect, or
 * enableReadyCheck false for a subscriber).
 */
export function ownConnection(input: RedisConnectionInput, extra: RedisOptions = {}): Redis {
  if (input instanceof Redis) return input.duplicate(extra);
  if (typeof input === 'string') return new Redis(input, extra);
  return new Redis({ ...input, ...extra });
}

/** Validates the `prefix` option every component takes. */
export function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || prefix.length > 64) throw new TypeError('options.prefix must be a string of at most 64 characters');
  return prefix;
}

/** Validates a `name` option (queue or log name): it becomes part of a key. */
export function checkName(name: unknown): string {
  if (typeof name !== 'string' || !/^[\w.:-]{1,128}$/.test(name)) throw new TypeError('options.name must be 1-128 characters of letters, digits, _ . : -');
  return name;
}

/** Runs one Redis call; a Redis failure rejects with KEFU_ERR_STORE naming the component and call. */
export async function storeCall<R>(component: string, what: string, fn: () => Promise<R>): Promise<R> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof KefuError) throw err;
    throw new KefuError('KEFU_ERR_STORE', `${component}: ${what} failed: ${(err as Error).message}`, { cause: err });
  }
}

/** Connects a lazily created client (first use) and checks it answers. */
export async function connectOnce(client: Redis): Promise<void> {
  if (client.status === 'wait') await client.connect();
  await client.ping();
}

/** Closes a component's connection, forcibly when QUIT cannot be sent. */
export async function quit(client: Redis): Promise<void> {
  await client.quit().catch(() => client.disconnect());
}

/** Waits for `p` at most `ms` (a call queued on a connection to a Redis that is down may wait for long). */
export async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise<void>((r) => { timer = setTimeout(r, ms); })]);
  clearTimeout(timer);
}
