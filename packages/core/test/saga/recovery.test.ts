import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isKefuError } from '@kefu/protocol';
import { Saga, type SagaDefinition } from '../../src/saga/saga.js';
import { SagaOrchestrator } from '../../src/saga/orchestrator.js';
import { LevelSagaLog } from '../../src/saga/level-saga-log.js';
import { MemorySagaLog } from '../../src/saga/memory-saga-log.js';
import type { SagaRecord, SagaState } from '../../src/saga/types.js';
import { nth, once, tempDir, untilAborted } from './helpers.js';

/** Effects per idempotency key, as an idempotent back end would keep them. */
class Effects {
  applied = new Map<string, number>();
  calls: string[] = [];
  apply(key: string): void {
    this.calls.push(key);
    if (!this.applied.has(key)) this.applied.set(key, this.applied.size + 1);
  }
}

function definition(fx: Effects, hangAt: string | undefined, recovery: 'resume' | 'compensate' = 'resume'): SagaDefinition {
  const mk = (name: string) => ({
    name,
    action: async (ctx: { idempotencyKey: string; signal: AbortSignal }) => {
      if (name === hangAt) await untilAborted(ctx.signal);
      fx.apply(ctx.idempotencyKey);
      return name;
    },
    compensate: (ctx: { idempotencyKey: string }) => fx.apply(`undo:${ctx.idempotencyKey}`),
  });
  return { name: 'r', recovery, retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2 }, steps: [mk('a'), mk('b'), mk('c')] };
}

describe('SagaOrchestrator: recovery from the log', () => {
  test('close in mid-step leaves the step running in the log; recover() on a new instance re-runs it once, with the same key', async () => {
    const { dir, cleanup } = await tempDir('kefu-saga-rec-');
    const fx = new Effects();
    try {
      const log1 = new LevelSagaLog({ location: dir });
      const orch1 = new SagaOrchestrator({ log: log1, sagas: [new Saga(definition(fx, 'b'))] });
      const second = nth(orch1, 'step:started', 2);
      const started = await orch1.start('r', { order: 1 }, { id: 'rec-1' });
      await second;
      await orch1.close();
      await assert.rejects(started.done, (e: unknown) => isKefuError(e, 'KEFU_ERR_CLOSED'));
      await log1.close();

      const log2 = new LevelSagaLog({ location: dir });
      await log2.open();
      const rec = (await log2.get('rec-1'))!;
      assert.equal(rec.state, 'running');
      assert.deepEqual(rec.steps.map((s) => s.status), ['done', 'running', 'pending']);
      const orch2 = new SagaOrchestrator({ log: log2, sagas: [new Saga(definition(fx, undefined))] });
      const resumed = once(orch2, 'saga:resumed');
      const report = await orch2.recover();
      assert.equal((await resumed).state, 'running');
      assert.deepEqual(report.resumed, [{ id: 'rec-1', saga: 'r', state: 'running' }]);
      const settled = await report.settled;
      assert.deepEqual(settled.outcomes.map((o) => [o.id, o.state]), [['rec-1', 'completed']]);
      assert.deepEqual(settled.errors, []);
      assert.deepEqual(fx.calls, ['rec-1:a', 'rec-1:b', 'rec-1:c']);
      assert.deepEqual((await orch2.recover()).resumed, [], 'nothing left to recover');
      await orch2.close();
      await log2.close();
    } finally {
      await cleanup();
    }
  });

  test("recovery: 'compensate' undoes an interrupted saga, the interrupted step included", async () => {
    const log = new MemorySagaLog();
    const fx = new Effects();
    try {
      const orch1 = new SagaOrchestrator({ log, sagas: [new Saga(definition(fx, 'c', 'compensate'))] });
      const third = nth(orch1, 'step:started', 3);
      const started = await orch1.start('r', {}, { id: 'cmp' });
      await third;
      await orch1.close();
      await started.done.catch(() => undefined);
      const orch2 = new SagaOrchestrator({ log, sagas: [new Saga(definition(fx, undefined, 'compensate'))] });
      const report = await orch2.recover();
      assert.deepEqual(report.resumed.map((r) => r.state), ['compensating']);
      assert.deepEqual((await report.settled).outcomes.map((o) => o.state), ['compensated']);
      assert.deepEqual(fx.calls, ['cmp:a', 'cmp:b', 'undo:cmp:c', 'undo:cmp:b', 'undo:cmp:a']);
      await orch2.close();
    } finally {
      await log.close();
    }
  });

  test('recover() skips sagas whose definition is not registered, and leaves them in the log', async () => {
    const log = new MemorySagaLog();
    try {
      const orch1 = new SagaOrchestrator({ log, sagas: [new Saga(definition(new Effects(), 'a'))] });
      const first = nth(orch1, 'step:started', 1);
      await orch1.start('r', {}, { id: 'orphan' });
      await first;
      await orch1.close();
      const orch2 = new SagaOrchestrator({ log });
      const report = await orch2.recover();
      assert.deepEqual(report.skipped, [{ id: 'orphan', saga: 'r', reason: 'no saga named r is registered' }]);
      assert.equal((await log.get('orphan'))!.state, 'running');
      await orch2.close();
    } finally {
      await log.close();
    }
  });

  test('a definition whose steps changed since the record was logged: recover() skips it with the reason, retry() refuses it', async () => {
    const log = new MemorySagaLog();
    const fx = new Effects();
    try {
      const orch1 = new SagaOrchestrator({ log, sagas: [new Saga(definition(fx, 'b'))] });
      const second = nth(orch1, 'step:started', 2);
      await orch1.start('r', {}, { id: 'changed' });
      await second;
      await orch1.close();
      // Step b renamed: running the new action under the old step's key would be wrong.
      const renamed: SagaDefinition = { ...definition(fx, undefined), steps: definition(fx, undefined).steps.map((s) => (s.name === 'b' ? { ...s, name: 'b2' } : s)) };
      const orch2 = new SagaOrchestrator({ log, sagas: [new Saga(renamed)] });
      const report = await orch2.recover();
      assert.deepEqual(report.resumed, []);
      assert.deepEqual(report.skipped, [{ id: 'changed', saga: 'r', reason: 'logged with steps a,b,c, but the registered definition r has steps a,b2,c' }]);
      assert.equal((await log.get('changed'))!.state, 'running', 'left in the log for a human');
      assert.deepEqual(fx.calls, ['changed:a']);
      await orch2.close();

      // The same check guards retry() of a saga waiting for repair.
      const rec = (await log.get('changed'))!;
      await log.update({ ...rec, state: 'forward-failed' });
      const orch3 = new SagaOrchestrator({ log, sagas: [new Saga({ ...renamed, steps: renamed.steps.slice(0, 2) })] });
      await assert.rejects(orch3.retry('changed'), (e: unknown) => isKefuError(e, 'KEFU_ERR_SAGA_INVALID_DEFINITION')
        && (e as Error).message === 'saga changed: logged with steps a,b,c, but the registered definition r has steps a,b2');
      await orch3.close();
    } finally {
      await log.close();
    }
  });

  test('two runners on one log: the version check stops the second writer (SAGA_CONFLICT), effects stay once per key', async () => {
    const log = new MemorySagaLog();
    const fx = new Effects();
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const def: SagaDefinition = {
      name: 'r', steps: [
        { name: 'a', action: async (ctx) => { await gate; fx.apply(ctx.idempotencyKey); } },
        { name: 'b', action: (ctx) => fx.apply(ctx.idempotencyKey) },
      ],
    };
    try {
      const first = new SagaOrchestrator({ log, sagas: [new Saga(def)] });
      const second = new SagaOrchestrator({ log, sagas: [new Saga(def)] });
      const firstStep = nth(first, 'step:started', 1);
      const started = await first.start('r', {}, { id: 'dup' });
      await firstStep;
      const conflict = Promise.race([once(first, 'saga:conflict'), once(second, 'saga:conflict')]);
      const recovering = second.recover().then((r) => r.settled);
      release();
      const [a, report] = await Promise.allSettled([started.done, recovering]);
      assert.equal((await conflict).id, 'dup');
      const outcomes = [a.status === 'fulfilled' ? a.value.state : 'stopped', report.status === 'fulfilled' && report.value.outcomes[0] ? report.value.outcomes[0].state : 'stopped'];
      assert.ok(outcomes.includes('completed'), `one runner completes: ${outcomes.join(',')}`);
      assert.equal((await log.get('dup'))!.state, 'completed');
      assert.deepEqual([...fx.applied.keys()].sort(), ['dup:a', 'dup:b']);
      await first.close();
      await second.close();
    } finally {
      await log.close();
    }
  });

  test('recover() with more open sagas than maxActive picks them up as slots free', async () => {
    const log = new MemorySagaLog();
    const fx = new Effects();
    try {
      const orch1 = new SagaOrchestrator({ log, sagas: [new Saga(definition(fx, 'b'))] });
      const fifth = nth(orch1, 'step:started', 10);
      for (let i = 0; i < 5; i++) await orch1.start('r', {}, { id: `m-${i}` });
      await fifth;
      await orch1.close();
      const orch2 = new SagaOrchestrator({ log, maxActive: 2, sagas: [new Saga(definition(fx, undefined))] });
      let peak = 0;
      orch2.on('step:started', () => { peak = Math.max(peak, orch2.activeCount); });
      const report = await orch2.recover();
      assert.equal(report.resumed.length, 5);
      const settled = await report.settled;
      assert.deepEqual(settled.outcomes.map((o) => o.state), Array(5).fill('completed'));
      assert.ok(peak <= 2, `at most maxActive at once (saw ${peak})`);
      assert.equal(fx.applied.size, 15);
      await orch2.close();
    } finally {
      await log.close();
    }
  });

  test('recover() while the only slot is held by a start() still writing its record: it waits for that saga, then picks up', async () => {
    class SlowCreateLog extends MemorySagaLog {
      gate: Promise<void> | undefined;
      listed: (() => void) | undefined;
      protected override async _create(record: SagaRecord, json: string): Promise<'ok' | 'exists'> {
        await this.gate;
        return super._create(record, json);
      }
      protected override async _list(state: SagaState, limit: number, after: string | undefined): Promise<string[]> {
        const rows = await super._list(state, limit, after);
        if (rows.length > 0) this.listed?.();
        return rows;
      }
    }
    const log = new SlowCreateLog();
    const fx = new Effects();
    try {
      const orch1 = new SagaOrchestrator({ log, sagas: [new Saga(definition(fx, 'b'))] });
      const second = nth(orch1, 'step:started', 2);
      await orch1.start('r', {}, { id: 'old' });
      await second;
      await orch1.close();

      const orch2 = new SagaOrchestrator({ log, maxActive: 1, sagas: [new Saga(definition(fx, undefined))] });
      let open!: () => void;
      log.gate = new Promise<void>((r) => { open = r; });
      const listed = new Promise<void>((r) => { log.listed = r; });
      const started = orch2.start('r', {}, { id: 'new' });
      const recovering = orch2.recover();
      await listed;
      // recover() has seen 'old' and found no free slot (the start() holds it, nothing is active yet).
      await new Promise((r) => setImmediate(r));
      assert.equal(orch2.activeCount, 0);
      open();
      assert.equal((await (await started).done).state, 'completed');
      const report = await Promise.race([recovering, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('recover() never found the freed slot')), 10_000))]);
      assert.deepEqual(report.resumed, [{ id: 'old', saga: 'r', state: 'running' }]);
      assert.deepEqual((await report.settled).outcomes.map((o) => [o.id, o.state]), [['old', 'completed']]);
      assert.deepEqual([...fx.applied.keys()].sort(), ['new:a', 'new:b', 'new:c', 'old:a', 'old:b', 'old:c']);
      await orch2.close();
    } finally {
      await log.close();
    }
  });

  test('close() during a recover() that waits for a slot ends the wait: no saga is launched after close', async () => {
    const log = new MemorySagaLog();
    const fx = new Effects();
    try {
      const orch1 = new SagaOrchestrator({ log, sagas: [new Saga(definition(fx, 'a'))] });
      const firsts = nth(orch1, 'step:started', 2);
      await orch1.start('r', {}, { id: 'w-1' });
      await orch1.start('r', {}, { id: 'w-2' });
      await firsts;
      await orch1.close();
      const orch2 = new SagaOrchestrator({ log, maxActive: 1, sagas: [new Saga(definition(fx, 'a'))] });
      const picked = once(orch2, 'saga:resumed');
      const recovering = orch2.recover();
      await picked;
      await orch2.close();
      const report = await recovering;
      assert.equal(report.resumed.length, 1, 'the second saga was never launched');
      const settled = await report.settled;
      assert.equal(settled.errors[0]?.error.code, 'KEFU_ERR_CLOSED');
      assert.deepEqual((await log.list('running')).map((r) => r.id), ['w-1', 'w-2'], 'both stay in the log for the next recover()');
    } finally {
      await log.close();
    }
  });

  test('100 concurrent sagas on LevelDB all complete, each step once', async () => {
    const { dir, cleanup } = await tempDir('kefu-saga-100-');
    const fx = new Effects();
    const log = new LevelSagaLog({ location: dir });
    const orch = new SagaOrchestrator({ log, sagas: [new Saga(definition(fx, undefined))] });
    try {
      const outs = await Promise.all(Array.from({ length: 100 }, (_, i) => orch.run('r', { i }, { id: `c-${String(i).padStart(3, '0')}` })));
      assert.equal(outs.filter((o) => o.state === 'completed').length, 100);
      assert.equal(fx.calls.length, 300);
      assert.equal(fx.applied.size, 300);
      const listed = await orch.list('completed', { limit: 1000 });
      assert.equal(listed.length, 100);
      assert.deepEqual(await orch.list('running'), []);
    } finally {
      await orch.close();
      await log.close();
      await cleanup();
    }
  });
});
