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

/**
 * Sends one batch. The batcher holds uids only: who waits for each uid is the runner's business
 * (one lookup per uid in flight), so gathering allocates nothing per lookup beyond the array slot.
 */
export type BatchRun = (uids: string[], probes: number) => void;

export class Batcher {
  private uids: string[] = [];
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

  /** Adds `uid` to the next batch (`probe`: a half-open breaker's trial lookup). */
  add(uid: string, probe: boolean): void {
    this.uids.push(uid);
    if (probe) this.probes++;
    if (this.uids.length >= this.maxSize) this.flush();
    else if (this.timer === undefined) {
      const wait = this.windowMs > 0 ? this.lastSent + this.windowMs - this.now() : 0;
      this.timed = wait > 0;
      this.timer = this.timed ? setTimeout(this.flush, wait) : setImmediate(this.flush);
    }
  }

  /** Sends what has gathered now. */
  readonly flush = (): void => {
    this.clearTimer();
    if (this.uids.length === 0) return;
    const uids = this.uids;
    const probes = this.probes;
    this.uids = [];
    this.probes = 0;
    if (this.windowMs > 0) this.lastSent = this.now();
    this.run(uids, probes);
  };

  /** Drops the gathered lookups and cancels the pending send (on close); returns their uids. */
  abort(): string[] {
    this.clearTimer();
    const uids = this.uids;
    this.uids = [];
    this.probes = 0;
    return uids;
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    if (this.timed) clearTimeout(this.timer as NodeJS.Timeout);
    else clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = undefined;
  }
}
