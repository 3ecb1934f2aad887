/**
 * ProfileAggregator: one profile per uid, merged from several sources called in parallel, with
 * per-source status so an agent sees what is missing and why.
 */
import { EventEmitter } from 'eventemitter3';
import { KefuError } from '@kefu/protocol';
import { resolveOptions, type ProfileAggregatorOptions, type ResolvedOptions } from './options.js';
import { SourceRunner } from './source-runner.js';
import { Slots } from './slots.js';
import type { Outcome } from './outcome.js';
import type { ProfileAggregatorEvents } from './events.js';
import type { AnyProfileSource, Profile, SourceCounters, SourceReport } from './types.js';

export interface GetOptions {
  /** Skip the cache and ask every source now (concurrent lookups still coalesce). @defaultValue false */
  fresh?: boolean;
}

type Bag = Record<string, unknown>;

const ignore = (): void => {};
type Reports = Record<string, SourceReport>;

export class ProfileAggregator<const S extends readonly AnyProfileSource[]> extends EventEmitter<ProfileAggregatorEvents> {
  private readonly opts: ResolvedOptions;
  private readonly runners: SourceRunner[];
  private closed = false;

  constructor(options: ProfileAggregatorOptions<S>) {
    super();
    this.opts = resolveOptions(options);
    const global = { slots: new Slots(this.opts.concurrency) };
    this.runners = options.sources.map((s) => new SourceRunner(s, this.opts, global, this));
  }

  /** The source names, in the order given. */
  get sourceNames(): string[] {
    return this.runners.map((r) => r.name);
  }

  /**
   * The profile of `uid`. Resolves with whatever the sources gave (a failed optional source
   * leaves its key absent, or its fallback, and says why in `sources`); rejects only for an
   * invalid uid (KEFU_ERR_PROFILE_INVALID_UID), a failed required source
   * (KEFU_ERR_PROFILE_REQUIRED_SOURCE_FAILED) or after close (KEFU_ERR_CLOSED).
   */
  async get(uid: string, options: GetOptions = {}): Promise<Profile<S>> {
    if (this.closed) throw new KefuError('KEFU_ERR_CLOSED', 'the profile aggregator was closed');
    if (typeof uid !== 'string' || !this.opts.uidPattern.test(uid)) {
      throw new KefuError('KEFU_ERR_PROFILE_INVALID_UID', `invalid uid: must match ${String(this.opts.uidPattern)}`, {
        details: { uid: typeof uid === 'string' ? uid.slice(0, 64) : typeof uid },
      });
    }
    const started = performance.now();
    const data: Bag = {};
    const sources: Reports = {};
    let toLoad: SourceRunner[] | null = null;
    for (const r of this.runners) {
      if (r.cache !== null && options.fresh !== true) {
        const hit = r.cache.lookup(uid);
        if (hit.kind === 'fresh') {
          r.counters.cacheHits++;
          data[r.name] = hit.entry.value;
          sources[r.name] = { status: 'cached', ms: 0, ageMs: r.cache.ageMs(hit.entry) };
          continue;
        }
        if (hit.kind === 'stale') {
          r.counters.staleHits++;
          data[r.name] = hit.entry.value;
          sources[r.name] = { status: 'stale', ms: 0, ageMs: r.cache.ageMs(hit.entry) };
          // Revalidate in the background; lookups coalesce, so a burst of stale reads makes one call.
          r.lookup(uid, ignore);
          continue;
        }
      }
      (toLoad ??= []).push(r);
    }
    if (toLoad !== null) {
      // One promise per profile, not one per source: each lookup reports back through a callback,
      // and the last one (possibly synchronously: closed, breaker open) lets get() go on.
      let left = toLoad.length + 1;
      let wake: (() => void) | null = null;
      // A throw while placing an answer runs inside the source's settling code, not ours: it is
      // kept and rethrown to this caller, as a rejected promise would have been.
      let failure: { error: unknown } | null = null;
      for (const r of toLoad) {
        r.lookup(uid, (o) => {
          try {
            this.place(r, uid, o, data, sources, started);
          } catch (error) {
            failure ??= { error };
          }
          if (--left === 0) wake?.();
        });
      }
      if (--left > 0) await new Promise<void>((resolve) => { wake = resolve; });
      if (failure !== null) throw (failure as { error: unknown }).error;
    }

    let complete = true;
    for (const r of this.runners) {
      const rep = sources[r.name]!;
      if (rep.status === 'ok' || rep.status === 'cached') continue;
      complete = false;
      if (r.required && rep.status !== 'stale' && rep.fallback !== true) {
        throw new KefuError('KEFU_ERR_PROFILE_REQUIRED_SOURCE_FAILED', `required profile source "${r.name}" failed (${rep.status})`, {
          cause: rep.error,
          details: { uid, source: r.name, status: rep.status },
        });
      }
    }
    return { uid, data, sources, complete } as Profile<S>;
  }

  /** Drops `uid` from every source's cache (for example after the user edited their record). */
  invalidate(uid: string): void {
    for (const r of this.runners) r.cache?.delete(uid);
  }

  /** Counters per source name. */
  stats(): Record<string, SourceCounters> {
    const out: Record<string, SourceCounters> = {};
    for (const r of this.runners) out[r.name] = r.snapshot();
    return out;
  }

  /** Stops taking requests, settles pending batches and closes every source that has `close()`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.runners) r.close();
    await Promise.all(this.runners.map(async (r) => r.source.close?.()));
  }

  private place(r: SourceRunner, uid: string, o: Outcome, data: Bag, sources: Reports, started: number): void {
    const ms = performance.now() - started;
    if (o.ok) {
      data[r.name] = o.value;
      sources[r.name] = { status: 'ok', ms };
      return;
    }
    const rep: SourceReport = { status: o.status, ms, error: o.error };
    const fb = r.source.fallback;
    if (fb !== undefined) {
      try {
        const v = fb.call(r.source, uid, o.error);
        if (v !== undefined) {
          data[r.name] = v;
          rep.fallback = true;
          r.counters.fallbacks++;
        }
      } catch {
        // A throwing fallback is no fallback; the failure report stands.
      }
    }
    sources[r.name] = rep;
  }
}
