/**
 * Requests wait here while a budget the server stated in its headers is
 * spent (a definition's `rateLimit`, DESIGN.md section 4c), so a well-behaved
 * run is never refused. One budget per host, or, when the server names its
 * buckets (Discord), one per request path: Discord counts a bucket per
 * top-level resource (each channel its own), which the path carries.
 * The arithmetic is ./budget.ts.
 */
import { onAbort } from '../abort.js';
import { RemoteError } from '../errors.js';
import { budgetDecision, foldReading, readBudget, type BudgetState, type RateLimitHeaders } from './budget.js';

export interface BudgetGateOptions {
  /** a wait longer than this fails the request instead (as a Retry-After over the ceiling does) */
  maxWaitMs: number;
  /** told of each wait over a second, once per window */
  onWait: (host: string, ms: number, bucket: string | undefined) => void;
  now?: () => number;
  epochNow?: () => number;
}

interface Budget extends BudgetState {
  bucket: string | undefined;
  wakers: Set<() => void>;
  timer: NodeJS.Timeout | undefined;
  timerAt: number;
  /** the reset a wait was last said for: said once per window, not once per request */
  saidFor: number | undefined;
}

/** A request let through: `settle` with its answer's headers (or none when it failed) frees its place. */
export interface BudgetTicket {
  settle(headers: Record<string, string | string[] | undefined> | undefined): void;
}

export class BudgetGate {
  private readonly budgets = new Map<string, Budget>();
  private readonly now: () => number;
  private readonly epochNow: () => number;

  constructor(private readonly options: BudgetGateOptions) {
    this.now = options.now ?? (() => performance.now());
    this.epochNow = options.epochNow ?? Date.now;
  }

  /** Waits until `url` may be requested under `names`' budget; the ticket must be settled. */
  async take(url: URL, names: RateLimitHeaders, label: string, signal: AbortSignal | undefined): Promise<BudgetTicket> {
    const key = names.bucket === undefined ? url.host : `${url.host}${url.pathname}`;
    let budget = this.budgets.get(key);
    if (!budget) {
      budget = { remaining: undefined, resetAt: undefined, inFlight: 0, refilled: false, bucket: undefined, wakers: new Set(), timer: undefined, timerAt: 0, saidFor: undefined };
      this.budgets.set(key, budget);
    }
    for (;;) {
      signal?.throwIfAborted();
      const decision = budgetDecision(budget, this.now());
      if (decision.go) break;
      if (decision.wait !== undefined) {
        if (decision.wait > this.options.maxWaitMs) {
          throw new RemoteError(`${label}: the server's rate limit for ${url.host} is spent for ${Math.ceil(decision.wait / 1000)} s, over the ${this.options.maxWaitMs / 1000} s ceiling`, {
            hint: 'run again later',
          });
        }
        if (decision.wait > 1000 && budget.saidFor !== budget.resetAt) {
          budget.saidFor = budget.resetAt;
          this.options.onWait(url.host, decision.wait, budget.bucket);
        }
      }
      await this.changed(budget, decision.wait, signal);
    }
    if (budget.remaining !== undefined) budget.remaining--;
    budget.inFlight++;
    const held = budget;
    let settled = false;
    return {
      settle: (headers) => {
        if (settled) return;
        settled = true;
        held.inFlight--;
        const reading = headers ? readBudget(headers, names, this.epochNow()) : undefined;
        if (reading) {
          foldReading(held, reading, this.now());
          held.bucket = reading.bucket ?? held.bucket;
        }
        this.wake(held);
      },
    };
  }

  /** Resolves when an answer changes the budget, its window resets (`ms`), or the caller stops. */
  private changed(budget: Budget, ms: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        budget.wakers.delete(done);
        unlisten?.();
        resolve();
      };
      const stop = () => {
        budget.wakers.delete(done);
        // Nobody left waiting: the timer would only hold a stopping run open until the reset.
        if (budget.wakers.size === 0) this.clearTimer(budget);
        reject(signal?.reason);
      };
      budget.wakers.add(done);
      const unlisten = signal ? onAbort(signal, stop) : undefined;
      if (ms !== undefined) {
        // Never early: a wake before the reset would only find the budget still spent.
        const at = this.now() + Math.ceil(ms) + 1;
        if (budget.timer !== undefined && budget.timerAt <= at) return;
        this.clearTimer(budget);
        budget.timerAt = at;
        budget.timer = setTimeout(() => {
          budget.timer = undefined;
          this.wake(budget);
        }, Math.ceil(ms) + 1);
      }
    });
  }

  private clearTimer(budget: Budget): void {
    clearTimeout(budget.timer);
    budget.timer = undefined;
  }

  private wake(budget: Budget): void {
    for (const waker of [...budget.wakers]) waker();
  }
}
