/**
 * DataLoader-style gathering of lookups for different uids into one `fetchMany` call: the first
 * lookup opens a window of `windowMs`; the batch goes out when the window ends or `maxSize` uids
 * have joined, whichever comes first. Distinct uids only (the runner coalesces repeats first).
 */
import type { Outcome } from './outcome.js';

export type BatchRun = (uids: string[], settle: Array<(o: Outcome) => void>, probes: number) => void;

export class Batcher {
  private uids: string[] = [];
  private settle: Array<(o: Outcome) => void> = [];
  private probes = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  constructor(
    private readonly maxSize: number,
    private readonly windowMs: number,
    private readonly run: BatchRun,
  ) {}

  add(uid: string, probe: boolean): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      this.uids.push(uid);
      this.settle.push(resolve);
      if (probe) this.probes++;
      if (this.uids.length >= this.maxSize) this.flush();
      else if (this.timer === undefined) {
        this.timer = this.windowMs > 0 ? setTimeout(this.flush, this.windowMs) : setImmediate(this.flush);
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
    if (this.windowMs > 0) clearTimeout(this.timer as NodeJS.Timeout);
    else clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = undefined;
  }
}
