import { onAbort } from '../abort.js';
import type { RequestContext } from './client.js';

/**
 * An attempt of a request: its timeout, the caller's stop that ends it, and
 * the wait before the next one (client.ts runs the attempts).
 */

/**
 * One attempt's timeout, joined with the caller's stop signal. `arm` starts
 * it again as each hop is sent (after its wait for the rate limit, which is
 * no slowness of the server); the last hop's covers its whole body.
 */
export interface Attempt {
  signal: AbortSignal;
  arm: () => void;
  timedOut: () => boolean;
  done: () => void;
  /** the host of the hop being sent (a failure to reach it is that host's, not the first URL's) */
  host: string | undefined;
}

export function startAttempt(ctx: RequestContext, timeoutMs: number): Attempt {
  const attempt = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const unfollow = ctx.signal ? followStop(ctx.signal, attempt) : undefined;
  return {
    signal: attempt.signal,
    host: undefined,
    arm: () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        attempt.abort(new Error('timeout'));
      }, timeoutMs);
    },
    timedOut: () => timedOut,
    done: () => {
      clearTimeout(timer);
      unfollow?.();
    },
  };
}

/** The attempts in flight under each caller's stop signal (a walk's, a run's), aborted with it. */
const attemptsUnder = new WeakMap<AbortSignal, Set<AbortController>>();

/**
 * Aborts `attempt` when `stop` is aborted, until the returned function is
 * called. Not AbortSignal.any: each signal it makes stays registered with its
 * long-lived sources (through WeakRefs only a full GC clears), so every
 * request's signal, undici's listener on it and the request behind that were
 * promoted and died in the old generation (1M relation walk: 125–130 → 123 MiB
 * peak RSS). And not one listener per attempt: more than ten at once on one
 * signal is a MaxListenersExceededWarning.
 */
function followStop(stop: AbortSignal, attempt: AbortController): () => void {
  if (stop.aborted) {
    attempt.abort(stop.reason);
    return () => {};
  }
  let attempts = attemptsUnder.get(stop);
  if (!attempts) {
    const all = new Set<AbortController>();
    attempts = all;
    attemptsUnder.set(stop, all);
    stop.addEventListener(
      'abort',
      () => {
        for (const each of all) each.abort(stop.reason);
        all.clear();
      },
      { once: true },
    );
  }
  const set = attempts;
  set.add(attempt);
  return () => set.delete(attempt);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      unfollow?.();
      resolve();
    }, ms);
    // Retries of many requests sleep at once under one walk's signal: one listener on it for all (src/abort.ts).
    const unfollow = signal
      ? onAbort(signal, () => {
          clearTimeout(timer);
          reject(signal.reason);
        })
      : undefined;
  });
}
