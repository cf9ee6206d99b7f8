/**
 * Many waiters on one long-lived stop signal (a run's or a walk's): requests
 * queued for their turn under the rate limit, backoffs, budget waits. A
 * listener each would pass Node's limit of 10 on one EventTarget (a
 * MaxListenersExceededWarning on stderr with --concurrency 11, or a queue of
 * eleven requests); instead each signal gets one real listener, and the
 * waiters sit in a set behind it.
 */
const waiting = new WeakMap<AbortSignal, Set<() => void>>();

/** Calls `onAbort` when `signal` aborts; the function returned forgets it (call it once the wait ends). */
export function whenAborted(signal: AbortSignal, onAbort: () => void): () => void {
  let set = waiting.get(signal);
  if (set === undefined) {
    const created = new Set<() => void>();
    set = created;
    waiting.set(signal, created);
    signal.addEventListener(
      'abort',
      () => {
        waiting.delete(signal);
        for (const waiter of [...created]) waiter();
      },
      { once: true },
    );
  }
  set.add(onAbort);
  const held = set;
  return () => void held.delete(onAbort);
}
