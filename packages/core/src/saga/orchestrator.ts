/**
 * SagaOrchestrator: starts sagas, drives them through the log, resumes interrupted ones after a
 * restart, and hands failed ones to a human (listFailed / retry / resolve). One orchestrator per
 * log: two processes driving the same records are kept from double writes by the log's version
 * check (KEFU_ERR_SAGA_CONFLICT), and from double effects by the idempotency keys.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { EventEmitter } from 'eventemitter3';
import { KefuError } from '@kefu/protocol';
import type { SagaEvents, SagaOutcome } from './events.js';
import { MemorySagaLog } from './memory-saga-log.js';
import { drive, toErrorInfo } from './runner.js';
import type { Saga } from './saga.js';
import { checkId, type SagaListOptions, type SagaLog, MAX_LIST_LIMIT } from './saga-log.js';
import { openStates, type SagaErrorInfo, type SagaRecord, type SagaState } from './types.js';

/** Any saga definition, whatever its input type. */
// Saga<never> accepts every Saga<I>: its functions take a context whose input is never narrower.
export type AnySaga = Saga<never>;

export interface SagaOrchestratorOptions {
  /**
   * Where the step log lives. The orchestrator closes it only when it created it.
   * @defaultValue a new MemorySagaLog (nothing survives the process)
   */
  log?: SagaLog;
  /** Definitions to register now (more with register()). */
  sagas?: ReadonlyArray<AnySaga>;
  /**
   * Most sagas driven at once by this orchestrator; start() beyond it rejects with
   * KEFU_ERR_SAGA_TOO_MANY_ACTIVE and recover() waits for a free slot.
   * @defaultValue 10000
   */
  maxActive?: number;
  /**
   * Delete the record of a saga that ended `completed` or `compensated` (keeps a LevelDB log
   * small; failed sagas are always kept for repair).
   * @defaultValue false
   */
  forgetFinished?: boolean;
}

export interface StartOptions {
  /**
   * The saga id: part of every idempotency key, so pass a business key (a refund request id) to
   * make a repeated start a KEFU_ERR_SAGA_ALREADY_EXISTS instead of a second refund.
   * @defaultValue a random UUID
   */
  id?: string;
}

export interface StartedSaga {
  id: string;
  /** Settles when the saga reaches a final or repair-waiting state. */
  done: Promise<SagaOutcome>;
}

export interface RecoverSettled {
  /** How each picked-up saga ended (or stopped for repair). */
  outcomes: SagaOutcome[];
  /** Sagas whose driving stopped on an error (close, conflict, store failure). */
  errors: Array<{ id: string; error: SagaErrorInfo }>;
}

export interface RecoverReport {
  /** Sagas picked up again, with the state they were found in. */
  resumed: Array<{ id: string; saga: string; state: SagaState }>;
  /**
   * Open sagas left alone in the log: no definition of that name is registered, or the
   * registered one has other steps than the record (the definition changed since it was logged).
   */
  skipped: Array<{ id: string; saga: string; reason: string }>;
  /** Settles when every resumed saga has settled; never rejects. */
  settled: Promise<RecoverSettled>;
}

const DEFAULTS = { maxActive: 10_000, forgetFinished: false };
/** Longest note resolve() keeps. */
export const MAX_RESOLUTION_LENGTH = 2_000;
const RECOVER_PAGE = 100;

export class SagaOrchestrator extends EventEmitter<SagaEvents> {
  readonly log: SagaLog;
  readonly maxActive: number;
  readonly forgetFinished: boolean;
  readonly #ownsLog: boolean;
  readonly #sagas = new Map<string, AnySaga>();
  readonly #active = new Map<string, Promise<SagaOutcome>>();
  readonly #stop = new AbortController();
  #reserved = 0;
  #closed = false;
  // recover() loops waiting for a free slot; woken whenever a slot frees or on close.
  #slotWaiters: Array<() => void> = [];

  constructor(options: SagaOrchestratorOptions = {}) {
    super();
    const o = { ...DEFAULTS, ...options };
    if (!Number.isInteger(o.maxActive) || o.maxActive < 1) throw new RangeError('maxActive must be a positive integer');
    if (typeof o.forgetFinished !== 'boolean') throw new TypeError('forgetFinished must be a boolean');
    if (o.log !== undefined && (typeof o.log !== 'object' || typeof o.log.update !== 'function')) throw new TypeError('log must be a SagaLog');
    this.maxActive = o.maxActive;
    this.forgetFinished = o.forgetFinished;
    this.#ownsLog = o.log === undefined;
    this.log = o.log ?? new MemorySagaLog();
    // Every attempt in flight listens on the one stop signal; maxActive already bounds them.
    setMaxListeners(0, this.#stop.signal);
    for (const s of o.sagas ?? []) this.register(s);
  }

  /** Sagas this orchestrator drives right now. */
  get activeCount(): number {
    return this.#active.size;
  }

  /** Adds a definition. Names are unique: a second one of the same name is refused. */
  register(saga: AnySaga): this {
    if (typeof saga !== 'object' || saga === null || !Array.isArray(saga.steps) || typeof saga.name !== 'string') {
      throw new KefuError('KEFU_ERR_SAGA_INVALID_DEFINITION', 'register() takes a Saga (new Saga({ name, steps }))');
    }
    if (this.#sagas.has(saga.name)) throw new KefuError('KEFU_ERR_SAGA_INVALID_DEFINITION', `a saga named ${saga.name} is already registered`);
    this.#sagas.set(saga.name, saga);
    return this;
  }

  /** Opens the log (every other method does it too). */
  async open(): Promise<void> {
    this.#checkOpen();
    await this.log.open();
  }

  /** Logs a new saga, then drives it in the background. Resolves once the record is durable. */
  async start(name: string, input: unknown, options: StartOptions = {}): Promise<StartedSaga> {
    this.#checkOpen();
    const saga = this.#definition(name);
    const id = options.id ?? randomUUID();
    checkId(id);
    if (this.#active.size + this.#reserved >= this.maxActive) {
      throw new KefuError('KEFU_ERR_SAGA_TOO_MANY_ACTIVE', `${this.maxActive} sagas are already running`, { details: { maxActive: this.maxActive } });
    }
    this.#reserved++;
    let stored: SagaRecord;
    try {
      await this.log.open();
      const now = Date.now();
      stored = await this.log.create({
        id, saga: name, state: 'running', input,
        // The first step is logged as running by the create itself.
        steps: saga.steps.map((s, i) => ({ name: s.name, status: i === 0 ? 'running' : 'pending', attempts: 0, compensationAttempts: 0 })),
        createdAt: now, updatedAt: now, version: 0,
      });
    } finally {
      this.#reserved--;
      this.#wakeSlotWaiters();
    }
    this.emit('saga:started', { id, saga: name });
    return { id, done: this.#launch(saga, stored) };
  }

  /** start() and wait for the outcome. */
  async run(name: string, input: unknown, options: StartOptions = {}): Promise<SagaOutcome> {
    const { done } = await this.start(name, input, options);
    return done;
  }

  /**
   * Picks up every saga the log has `running` or `compensating` (after a crash or restart) and
   * drives each on in the background. Resolves once all are picked up (so a host can await it at
   * boot without waiting for slow back ends); `settled` says how they ended. With more open
   * sagas than `maxActive`, it waits for free slots while picking up.
   */
  async recover(): Promise<RecoverReport> {
    this.#checkOpen();
    await this.log.open();
    const launched: Array<{ id: string; done: Promise<SagaOutcome> }> = [];
    const resumed: RecoverReport['resumed'] = [];
    const skipped: RecoverReport['skipped'] = [];
    for (const state of openStates) {
      let after: string | undefined;
      for (;;) {
        const page = await this.log.list(state, after === undefined ? { limit: RECOVER_PAGE } : { limit: RECOVER_PAGE, after });
        for (let rec of page) {
          if (this.#active.has(rec.id)) continue;
          const saga = this.#sagas.get(rec.saga);
          if (saga === undefined) {
            skipped.push({ id: rec.id, saga: rec.saga, reason: `no saga named ${rec.saga} is registered` });
            continue;
          }
          const mismatch = stepMismatch(saga, rec);
          if (mismatch !== undefined) {
            skipped.push({ id: rec.id, saga: rec.saga, reason: mismatch });
            continue;
          }
          let waited = false;
          // Not a race over #active: with only start() calls in flight (#reserved) it is empty.
          while (this.#active.size + this.#reserved >= this.maxActive && !this.#stop.signal.aborted) {
            waited = true;
            await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
          }
          if (this.#stop.signal.aborted) break;
          if (waited) {
            // While this loop waited, a concurrent recover() or retry() may have driven it on.
            if (this.#active.has(rec.id)) continue;
            const fresh = await this.log.get(rec.id);
            if (fresh === undefined || !openStates.includes(fresh.state)) continue;
            rec = fresh;
          }
          const pivotDone = saga.pivotIndex >= 0 && rec.steps[saga.pivotIndex]?.status === 'done';
          if (rec.state === 'running' && saga.recovery === 'compensate' && !pivotDone) {
            // The first write of the compensation carries this state change.
            rec.state = 'compensating';
            rec.error = { message: 'interrupted; compensated on recovery' };
          }
          this.emit('saga:resumed', { id: rec.id, saga: rec.saga, state: rec.state });
          resumed.push({ id: rec.id, saga: rec.saga, state: rec.state });
          launched.push({ id: rec.id, done: this.#launch(saga, rec) });
        }
        if (page.length < RECOVER_PAGE || this.#stop.signal.aborted) break;
        after = page[page.length - 1]!.id;
      }
    }
    const settled = Promise.allSettled(launched.map((l) => l.done)).then((all) => {
      const out: RecoverSettled = { outcomes: [], errors: [] };
      all.forEach((r, i) => {
        if (r.status === 'fulfilled') out.outcomes.push(r.value);
        else out.errors.push({ id: launched[i]!.id, error: toErrorInfo(r.reason) });
      });
      return out;
    });
    return { resumed, skipped, settled };
  }

  /** The saga's record, or undefined. */
  async get(id: string): Promise<SagaRecord | undefined> {
    this.#checkOpen();
    await this.log.open();
    return this.log.get(id);
  }

  /** Records in one state, by id, a page at a time. */
  async list(state: SagaState, options: SagaListOptions = {}): Promise<SagaRecord[]> {
    this.#checkOpen();
    await this.log.open();
    return this.log.list(state, options);
  }

  /** Sagas waiting for a human: `compensation-failed` and `forward-failed`, by id, paged. */
  async listFailed(options: SagaListOptions = {}): Promise<SagaRecord[]> {
    this.#checkOpen();
    await this.log.open();
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `limit must be an integer from 1 to ${MAX_LIST_LIMIT}`);
    }
    const [a, b] = await Promise.all([this.log.list('compensation-failed', options), this.log.list('forward-failed', options)]);
    return [...a, ...b].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)).slice(0, limit);
  }

  /**
   * Drives a failed saga again once its back end is repaired: a `compensation-failed` one carries
   * on compensating from the step that failed, a `forward-failed` one re-runs its failed step.
   */
  async retry(id: string): Promise<SagaOutcome> {
    const rec = await this.#failed(id);
    const saga = this.#definition(rec.saga);
    const mismatch = stepMismatch(saga, rec);
    if (mismatch !== undefined) throw new KefuError('KEFU_ERR_SAGA_INVALID_DEFINITION', `saga ${id}: ${mismatch}`, { details: { id, saga: rec.saga } });
    // Checked again after the read: a concurrent retry() may have launched it meanwhile.
    if (this.#active.has(id)) throw new KefuError('KEFU_ERR_SAGA_INVALID_STATE', `saga ${id} is running`, { details: { id } });
    rec.state = rec.state === 'compensation-failed' ? 'compensating' : 'running';
    this.emit('saga:resumed', { id: rec.id, saga: rec.saga, state: rec.state });
    return this.#launch(saga, rec);
  }

  /** Marks a failed saga as repaired by hand (state `resolved`), keeping `note` in the record. */
  async resolve(id: string, note: string): Promise<SagaRecord> {
    if (typeof note !== 'string' || note.length === 0 || note.length > MAX_RESOLUTION_LENGTH) {
      throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `note must be a string of 1 to ${MAX_RESOLUTION_LENGTH} characters`);
    }
    const rec = await this.#failed(id);
    rec.state = 'resolved';
    rec.resolution = note;
    rec.updatedAt = Date.now();
    const stored = await this.log.update(rec);
    this.emit('saga:resolved', { id: rec.id, saga: rec.saga, note });
    return stored;
  }

  /**
   * Stops driving: attempts in flight are aborted through their signal and their sagas stay in
   * the log as they are (recover() picks them up). Closes the log if this orchestrator made it.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    this.#wakeSlotWaiters();
    await Promise.allSettled([...this.#active.values()]);
    if (this.#ownsLog) await this.log.close();
  }

  #launch(saga: AnySaga, rec: SagaRecord): Promise<SagaOutcome> {
    const p = drive(saga, rec, { log: this.log, events: this, stop: this.#stop.signal, now: Date.now })
      .then(async (o) => {
        if (this.forgetFinished && (o.state === 'completed' || o.state === 'compensated')) {
          await this.log.delete(o.id).catch(() => undefined);
        }
        return o;
      })
      .finally(() => {
        this.#active.delete(rec.id);
        this.#wakeSlotWaiters();
      });
    this.#active.set(rec.id, p);
    // The caller may ignore `done`; failures are also reported through events.
    p.catch(() => undefined);
    return p;
  }

  #wakeSlotWaiters(): void {
    for (const wake of this.#slotWaiters.splice(0)) wake();
  }

  async #failed(id: string): Promise<SagaRecord> {
    this.#checkOpen();
    checkId(id);
    await this.log.open();
    if (this.#active.has(id)) throw new KefuError('KEFU_ERR_SAGA_INVALID_STATE', `saga ${id} is running`, { details: { id } });
    const rec = await this.log.get(id);
    if (rec === undefined) throw new KefuError('KEFU_ERR_SAGA_NOT_FOUND', `saga ${id} is not in the log`, { details: { id } });
    if (rec.state !== 'compensation-failed' && rec.state !== 'forward-failed') {
      throw new KefuError('KEFU_ERR_SAGA_INVALID_STATE', `saga ${id} is ${rec.state}, not waiting for repair`, { details: { id, state: rec.state } });
    }
    return rec;
  }

  #definition(name: string): AnySaga {
    const saga = this.#sagas.get(name);
    if (saga === undefined) throw new KefuError('KEFU_ERR_SAGA_UNKNOWN_DEFINITION', `no saga named ${name} is registered`, { details: { saga: name } });
    return saga;
  }

  #checkOpen(): void {
    if (this.#closed) throw new KefuError('KEFU_ERR_CLOSED', 'saga orchestrator is closed');
  }
}

/**
 * Why a record cannot be driven by this definition, or undefined. Steps are matched by position
 * and name: a definition that gained, lost or renamed steps since the record was logged would run
 * the wrong action under a step's idempotency key.
 */
function stepMismatch(saga: AnySaga, rec: SagaRecord): string | undefined {
  const logged = rec.steps.map((s) => s.name);
  const defined = saga.steps.map((s) => s.name);
  if (logged.length === defined.length && logged.every((n, i) => n === defined[i])) return undefined;
  return `logged with steps ${logged.join(',')}, but the registered definition ${saga.name} has steps ${defined.join(',')}`;
}
