/**
 * One source's circuit breaker: opens after `failureThreshold` failures within `windowMs`, stays
 * open for `openMs`, then lets `halfOpenProbes` calls through; one probe success closes it, a probe
 * failure opens it again. Keeps at most `failureThreshold` timestamps (bounded memory).
 */
import type { BreakerState } from './types.js';

export interface BreakerConfig {
  failureThreshold: number;
  windowMs: number;
  openMs: number;
  halfOpenProbes: number;
}

export class CircuitBreaker {
  private _state: BreakerState = 'closed';
  private readonly failures: number[] = [];
  private openedAt = 0;
  private probes = 0;

  constructor(
    private readonly config: BreakerConfig,
    private readonly onChange: (from: BreakerState, to: BreakerState) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this._state === 'open' && this.now() - this.openedAt >= this.config.openMs) this.move('half-open');
    return this._state;
  }

  /**
   * Whether a call may go out now: `pass` when closed, `probe` when half-open and a probe slot
   * was free (hand it back through `record`), null when it must not.
   */
  acquire(): 'pass' | 'probe' | null {
    const s = this.state;
    if (s === 'closed') return 'pass';
    if (s === 'open') return null;
    if (this.probes >= this.config.halfOpenProbes) return null;
    this.probes++;
    return 'probe';
  }

  /**
   * The outcome of a call that `acquire` let through, with the number of probe slots it held
   * (the state may have moved while it ran).
   */
  record(ok: boolean, probes: number): void {
    if (probes > 0) this.probes = Math.max(0, this.probes - probes);
    if (ok) {
      if (this._state === 'half-open') {
        this.failures.length = 0;
        this.move('closed');
      }
      return;
    }
    const t = this.now();
    if (this._state === 'half-open') {
      this.open(t);
      return;
    }
    if (this._state === 'open') return;
    this.failures.push(t);
    while (this.failures.length > 0 && t - this.failures[0]! > this.config.windowMs) this.failures.shift();
    if (this.failures.length > this.config.failureThreshold) this.failures.shift();
    if (this.failures.length >= this.config.failureThreshold) this.open(t);
  }

  private open(t: number): void {
    this.openedAt = t;
    this.failures.length = 0;
    this.move('open');
  }

  private move(to: BreakerState): void {
    const from = this._state;
    if (from === to) return;
    this._state = to;
    if (to !== 'half-open') this.probes = 0;
    this.onChange(from, to);
  }
}
