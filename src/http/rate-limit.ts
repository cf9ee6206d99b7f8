/**
 * A token bucket per host with a capacity of one token: requests leave at most
 * `rate` per second, evenly spaced, in the order they asked — no two closer
 * than 1/rate, measured on a sub-millisecond clock. A host can also be
 * paused (429 / Retry-After): every queued request to it waits, not only the
 * one that was refused.
 */
import { onAbort } from '../abort.js';

export interface RateLimiterOptions {
  /** requests per second */
  rate: number;
  now?: () => number;
  /** told about each pause, to say it on stderr */
  onPause?: (host: string, ms: number) => void;
  /** told when the rate alone holds a request back over a second (a low --rate), at most every 30 s */
  onSlowRate?: (host: string, ms: number) => void;
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
  /** stops following the caller's signal */
  unfollow: (() => void) | undefined;
}

/**
 * Timers wake up to ~1.5 ms late (whole milliseconds of the event loop's clock). A request is never sent
 * early to make up for that, so each late wake would stretch a rate-bound run (1.5 ms is 3 % of 1/20 s,
 * 15 % of 1/100 s): the timer is set to wake up to 1 ms early and the rest is waited a turn of the event
 * loop at a time. That last stretch keeps a core busy, so it is at most a tenth of the interval: a
 * rate-bound run spends at most 10 % of a core on it (at --rate 1000 and above, timers alone).
 */
const LAST_MS = 1;
const LAST_SHARE = 0.1;

class HostQueue {
  private readonly waiters: Waiter[] = [];
  private nextFree = -Infinity;
  private pausedUntil = -Infinity;
  private timer: { cancel: () => void } | undefined;
  private timerAt = 0;
  /** the clock at the last turn waited for: a clock that did not move (a test's fake one) is waited for with a timer */
  private turnAt: number | undefined;

  private lastSaid = -Infinity;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number,
    private readonly onSlowRate: ((ms: number) => void) | undefined = undefined,
  ) {}

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, unfollow: undefined };
      if (signal) {
        waiter.unfollow = onAbort(signal, () => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          reject(signal.reason);
        });
      }
      this.waiters.push(waiter);
      this.pump();
    });
  }

  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
    this.reschedule();
  }

  /** ms until the host may be called again because of a pause */
  pauseRemaining(): number {
    return Math.max(0, this.pausedUntil - this.now());
  }

  private reschedule(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.pump();
  }

  private pump(): void {
    while (this.waiters.length > 0) {
      const now = this.now();
      const at = Math.max(this.nextFree, this.pausedUntil);
      if (at > now) {
        if (this.timer && this.timerAt <= at) return;
        this.timer?.cancel();
        // A run must never look hung: a long wait the rate alone imposes is said (pauses say so themselves).
        if (at - now > 1000 && at > this.pausedUntil && now - this.lastSaid >= 30_000) {
          this.lastSaid = now;
          this.onSlowRate?.(at - now);
        }
        this.timerAt = at;
        this.timer = this.wake(at - now, now);
        return;
      }
      this.turnAt = undefined;
      const waiter = this.waiters.shift()!;
      waiter.unfollow?.();
      // The next request leaves 1/rate after this one, never sooner: a late wake is not made up for
      // (that would send two requests closer than 1/rate), and an idle host saves up no burst.
      this.nextFree = now + this.intervalMs;
      waiter.resolve();
    }
  }

  /** Calls pump() in `ms`: a timer for all but the last stretch, then turns of the event loop. */
  private wake(ms: number, now: number): { cancel: () => void } {
    const fire = () => {
      this.timer = undefined;
      this.pump();
    };
    const last = Math.min(LAST_MS, this.intervalMs * LAST_SHARE);
    if (ms > last || this.turnAt === now) {
      this.turnAt = undefined;
      const timer = setTimeout(fire, ms > last ? ms - last : Math.ceil(ms));
      return { cancel: () => clearTimeout(timer) };
    }
    this.turnAt = now;
    const turn = setImmediate(fire);
    return { cancel: () => clearImmediate(turn) };
  }
}

export class RateLimiter {
  private readonly hosts = new Map<string, HostQueue>();
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(private readonly options: RateLimiterOptions) {
    this.intervalMs = options.rate > 0 ? 1000 / options.rate : 0;
    this.now = options.now ?? (() => performance.now());
  }

  acquire(host: string, signal?: AbortSignal): Promise<void> {
    return this.queue(host).acquire(signal);
  }

  /** Hold every request to `host` for `ms` (a 429 or Retry-After). */
  pause(host: string, ms: number): void {
    const queue = this.queue(host);
    const before = queue.pauseRemaining();
    queue.pause(ms);
    if (ms > before) this.options.onPause?.(host, ms);
  }

  private queue(host: string): HostQueue {
    let queue = this.hosts.get(host);
    if (!queue) {
      const onSlowRate = this.options.onSlowRate;
      queue = new HostQueue(this.intervalMs, this.now, onSlowRate && ((ms) => onSlowRate(host, ms)));
      this.hosts.set(host, queue);
    }
    return queue;
  }
}
