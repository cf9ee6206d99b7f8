/**
 * Many waits on one long-lived stop signal (a walk's, a run's) with a single
 * listener on it. Each rate-limit wait, retry sleep or write adding its own
 * 'abort' listener put eleven on the walk's signal as soon as
 * `--concurrency 11` pages waited for their turn at once, and Node printed a
 * MaxListenersExceededWarning (issue 26). Here each signal gets one listener
 * the first time it is waited on; the waits come and go in a set behind it.
 */
const waitsUnder = new WeakMap<AbortSignal, Set<() => void>>();

/** Calls `callback` when `signal` aborts, until the returned function is called. The signal must not be aborted yet. */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let waits = waitsUnder.get(signal);
  if (!waits) {
    const all = new Set<() => void>();
    waits = all;
    waitsUnder.set(signal, all);
    signal.addEventListener(
      'abort',
      () => {
        waitsUnder.delete(signal);
        for (const each of [...all]) each();
        all.clear();
      },
      { once: true },
    );
  }
  const set = waits;
  set.add(callback);
  return () => void set.delete(callback);
}
