/**
 * A retry budget (as in Finagle and gRPC): every call earns `ratio` tokens, time earns
 * `minPerSec` tokens a second, a retry spends one. A failing source thus gets at most about
 * `ratio` extra load instead of `retries` times the load, when retries would only make it worse.
 */
export class RetryBudget {
  private tokens: number;
  private last: number;
  private readonly cap: number;

  constructor(
    private readonly ratio: number,
    private readonly minPerSec: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = minPerSec;
    this.last = now();
    // A cap keeps a long quiet spell from banking a retry storm.
    this.cap = Math.max(10, minPerSec * 10);
  }

  /** A first attempt was made. */
  deposit(): void {
    this.refill();
    this.tokens = Math.min(this.cap, this.tokens + this.ratio);
  }

  /** True (and one token spent) when a retry is allowed now. */
  tryWithdraw(): boolean {
    this.refill();
    // A small epsilon: ten deposits of 0.1 must buy one retry despite floating point.
    if (this.tokens < 1 - 1e-9) return false;
    this.tokens -= 1;
    return true;
  }

  private refill(): void {
    if (this.minPerSec === 0) return;
    const t = this.now();
    this.tokens = Math.min(this.cap, this.tokens + ((t - this.last) / 1000) * this.minPerSec);
    this.last = t;
  }
}
