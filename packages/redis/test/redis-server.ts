/**
 * One real redis-server per test file, shared by the store and bus tests: started before the
 * file's tests, stopped after them, or a skip reason when redis-server is not installed.
 */
import { before, after } from 'node:test';
import { findBinary, startRedisServer, type RedisServerHandle, type RedisServerOptions } from '@kefu/core/testing';

export interface FileRedisServer extends RedisServerHandle {
  /** node:test's `skip` option for tests that need the server. */
  readonly skip: string | false;
}

/**
 * Registers the before/after hooks (so call it at the top level of a test file) and returns the
 * server's handle, usable inside tests once the before hook has run.
 */
export function redisServerForFile(options: RedisServerOptions = {}): FileRedisServer {
  const bin = findBinary('redis-server');
  const skip = 'skip' in bin ? bin.skip : false;
  let handle: RedisServerHandle | undefined;
  const started = (): RedisServerHandle => {
    if (handle === undefined) throw new Error('redis-server is not running (skipped, or used outside a test)');
    return handle;
  };
  before(async () => { if (!skip) handle = await startRedisServer(options); });
  after(async () => { await handle?.stop(); });
  return {
    skip,
    get port() { return started().port; },
    get url() { return started().url; },
    get dir() { return started().dir; },
    get process() { return started().process; },
    kill: () => started().kill(),
    restart: () => started().restart(),
    stop: () => started().stop(),
  };
}
