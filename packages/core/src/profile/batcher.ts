/**
 * DataLoader-style gathering of lookups for different uids into one `fetchMany` call, paced:
 * a source sends at most one batch per `windowMs`. A lookup that finds no batch sent within the
 * last `windowMs` goes out in this event-loop turn (with whatever else the turn adds), so a
 * lightly loaded source adds no wait at all; otherwise it joins the batch that leaves `windowMs`
 * after the last one. No lookup waits longer than `windowMs` for company, and a batch also leaves
 * as soon as `maxSize` uids have joined. Distinct uids only (the runner coalesces repeats first).
 *
 * Why paced rather than a fixed window opened by the first lookup: a fixed window makes every
 * lookup wait even when it would travel alone, and latency is what the caller pays for; a window
 * of one turn (0) adds no wait but, at moderate load, sends small batches, and each call is what
 * costs CPU (on the bench machine, a pooled HTTP call arriving on its own costs a few hundred µs
 * across the two processes). Pacing waits only when a call was just made, i.e. when waiting saves
 * one.
 */
import type { Outcome } from './outcome.js';

export type BatchRun = (uids: string[], settle: Array<(o: Outcome) => void>, probes: number) => void;

export class Batcher {
  private uids: string[] = [];
  private settle: Array<(o: Outcome) => void> = [];
  private probes = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private timed = false;
  /** performance.now() when the last batch left; -Infinity before the first. */
  private lastSent = -Infinity;

  constructor(
    private readonly maxSize: number,
    private readonly windowMs: number,
    private readonly run: BatchRun,
    private readonly now: () => number = () => performance.now(),
  ) {}

  add(uid: string, probe: boolean): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      this.uids.push(uid);
      this.settle.push(resolve);
      if (probe) this.probes++;
      if (this.uids.length >= this.maxSize) this.flush();
      else if (this.timer === undefined) {
        const wait = this.windowMs > 0 ? this.lastSent + this.windowMs - this.now() : 0;
        this.timed = wait > 0;
        this.timer = this.timed ? setTimeout(this.flush, wait) : setImmediate(this.flush);
      }
    });
  }

  /** Sends what has gathered now. */
  readonly flush = (): void => {
    this.clearTimer();
    if (this.uids.length === 0) return;
    const uids = this.uids;
    const settle = this.settle;
    const probes = this.probes;
    this.uids = [];
    this.settle = [];
    this.probes = 0;
    if (this.windowMs > 0) this.lastSent = this.now();
    this.run(uids, settle, probes);
  };

  /** Settles every waiting lookup with `outcome` (on close). */
  abort(outcome: Outcome): void {
    this.clearTimer();
    const settle = this.settle;
    this.uids = [];
    this.settle = [];
    this.probes = 0;
    for (const s of settle) s(outcome);
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    if (this.timed) clearTimeout(this.timer as NodeJS.Timeout);
    else clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = undefined;
  }
}
