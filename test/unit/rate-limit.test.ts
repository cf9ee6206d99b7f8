import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { RateLimiter } from '../../src/http/rate-limit.js';

/** Acquires `count` slots for `host` and records when (fake ms) each was granted, in grant order. */
function queue(limiter: RateLimiter, host: string, count: number, granted: Array<{ host: string; i: number; at: number }>, signal?: AbortSignal) {
  return Array.from({ length: count }, (_, i) =>
    limiter.acquire(host, signal).then(() => {
      granted.push({ host, i, at: Date.now() });
    }),
  );
}

describe('RateLimiter', () => {
  let t0: number;
  beforeEach(() => {
    vi.useFakeTimers();
    t0 = Date.now();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('spaces requests to one host 1/rate apart, the first at once', async () => {
    const limiter = new RateLimiter({ rate: 4 });
    const granted: Array<{ host: string; i: number; at: number }> = [];
    const all = queue(limiter, 'a', 6, granted);
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(249);
    expect(granted).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(granted).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(2000);
    await Promise.all(all);
    expect(granted.map((g) => g.at - t0)).toEqual([0, 250, 500, 750, 1000, 1250]);
  });

  it('says when a low rate alone holds a request back over a second, at most every 30 s', async () => {
    const said: number[] = [];
    const limiter = new RateLimiter({ rate: 0.5, onSlowRate: (_host, ms) => said.push(ms) });
    const granted: Array<{ host: string; i: number; at: number }> = [];
    const all = queue(limiter, 'a', 20, granted);
    await vi.advanceTimersByTimeAsync(40_000);
    await Promise.all(all);
    expect(granted.map((g) => g.at - t0).slice(0, 3)).toEqual([0, 2000, 4000]);
    // 38 s of 2 s waits: said at the first wait and once more after 30 s, not 19 times
    expect(said).toEqual([2000, 2000]);
    const fast = new RateLimiter({ rate: 5, onSlowRate: () => said.push(-1) });
    await Promise.all([...queue(fast, 'b', 5, []), vi.advanceTimersByTimeAsync(2000)]);
    expect(said).not.toContain(-1);
  });

  it('grants in the order asked (FIFO), also for waiters that join while others wait', async () => {
    const limiter = new RateLimiter({ rate: 10 });
    const order: string[] = [];
    const ask = (name: string) => limiter.acquire('h').then(() => order.push(name));
    const first = ['a', 'b', 'c'].map(ask);
    await vi.advanceTimersByTimeAsync(150);
    const later = ['d', 'e'].map(ask);
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all([...first, ...later]);
    expect(order).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('keeps a separate bucket per host', async () => {
    const limiter = new RateLimiter({ rate: 2 });
    const granted: Array<{ host: string; i: number; at: number }> = [];
    const all = [...queue(limiter, 'a', 2, granted), ...queue(limiter, 'b', 2, granted)];
    await vi.advanceTimersByTimeAsync(0);
    expect(granted.map((g) => g.host).sort()).toEqual(['a', 'b']);
    await vi.advanceTimersByTimeAsync(500);
    await Promise.all(all);
    expect(granted.filter((g) => g.host === 'b').map((g) => g.at - t0)).toEqual([0, 500]);
  });

  it('never grants two requests closer than 1/rate: a late wake is not made up for by an early next one', async () => {
    // The clock reads 3 ms late around the second grant, as when a timer wakes late on a busy machine.
    const p0 = performance.now();
    const now = () => {
      const t = performance.now() - p0;
      return t >= 45 && t < 55 ? t + 3 : t;
    };
    const limiter = new RateLimiter({ rate: 20, now });
    const granted: number[] = [];
    const all = Array.from({ length: 4 }, () => limiter.acquire('h').then(() => granted.push(now())));
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all(all);
    expect(granted[1]).toBeGreaterThanOrEqual(50);
    for (let i = 1; i < granted.length; i++) expect(granted[i]! - granted[i - 1]!).toBeGreaterThanOrEqual(50);
  });

  it('does not bank tokens over an idle gap: a burst after a pause is still spaced', async () => {
    const limiter = new RateLimiter({ rate: 5 });
    await limiter.acquire('h');
    await vi.advanceTimersByTimeAsync(10_000);
    const granted: Array<{ host: string; i: number; at: number }> = [];
    const start = Date.now();
    const all = queue(limiter, 'h', 3, granted);
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all(all);
    expect(granted.map((g) => g.at - start)).toEqual([0, 200, 400]);
  });

  it('pause(host, ms) holds every queued waiter of that host, and not other hosts', async () => {
    const pauses: Array<[string, number]> = [];
    const limiter = new RateLimiter({ rate: 100, onPause: (host, ms) => pauses.push([host, ms]) });
    const granted: Array<{ host: string; i: number; at: number }> = [];
    // the first request of each host goes out, then the server refuses host a
    await Promise.all([limiter.acquire('a'), limiter.acquire('b')]);
    limiter.pause('a', 2000);
    expect(pauses).toEqual([['a', 2000]]);
    const all = [...queue(limiter, 'a', 3, granted), ...queue(limiter, 'b', 3, granted)];
    await vi.advanceTimersByTimeAsync(100);
    // b carried on at its own rate; nothing of a left
    expect(granted.filter((g) => g.host === 'b')).toHaveLength(3);
    expect(granted.filter((g) => g.host === 'a')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1850);
    expect(granted.filter((g) => g.host === 'a')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all(all);
    const a = granted.filter((g) => g.host === 'a');
    expect(a.map((g) => g.i)).toEqual([0, 1, 2]);
    expect(a[0]!.at - t0).toBeGreaterThanOrEqual(2000);
    // after the pause the queue drains at the normal spacing, not in a burst
    expect(a[1]!.at - a[0]!.at).toBeGreaterThanOrEqual(10);
    expect(a[2]!.at - a[1]!.at).toBeGreaterThanOrEqual(10);
  });

  it('holds waiters that were already queued when the pause came', async () => {
    const limiter = new RateLimiter({ rate: 1 });
    const granted: Array<{ host: string; i: number; at: number }> = [];
    const all = queue(limiter, 'a', 3, granted);
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toHaveLength(1);
    // waiter 1 would go at 1000 ms; a 429 at 10 ms asks for 3 s
    await vi.advanceTimersByTimeAsync(10);
    limiter.pause('a', 3000);
    await vi.advanceTimersByTimeAsync(2900);
    expect(granted).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2000);
    await Promise.all(all);
    expect(granted.map((g) => g.at - t0)).toEqual([0, 3010, 4010]);
  });

  it('a shorter pause does not cut a longer one short, and is not announced again', async () => {
    const pauses: number[] = [];
    const limiter = new RateLimiter({ rate: 100, onPause: (_host, ms) => pauses.push(ms) });
    await limiter.acquire('a');
    limiter.pause('a', 3000);
    limiter.pause('a', 500);
    const granted: Array<{ host: string; i: number; at: number }> = [];
    const all = queue(limiter, 'a', 1, granted);
    await vi.advanceTimersByTimeAsync(2990);
    expect(granted).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(20);
    await Promise.all(all);
    expect(granted[0]!.at - t0).toBe(3000);
    expect(pauses).toEqual([3000]);
  });

  it('an aborted waiter leaves the queue: it rejects with the reason and the next one takes its slot', async () => {
    const limiter = new RateLimiter({ rate: 2 });
    await limiter.acquire('h');
    const controller = new AbortController();
    const order: string[] = [];
    const doomed = limiter.acquire('h', controller.signal).then(
      () => order.push('doomed'),
      (error: unknown) => order.push(`rejected: ${(error as Error).message}`),
    );
    const next = limiter.acquire('h').then(() => order.push(`next at ${Date.now() - t0}`));
    await vi.advanceTimersByTimeAsync(100);
    controller.abort(new Error('stop'));
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all([doomed, next]);
    // the aborted waiter was first in line; the next one goes when it would have
    expect(order).toEqual(['rejected: stop', 'next at 500']);
  });

  it('rejects at once when the signal is already aborted, without taking a slot', async () => {
    const limiter = new RateLimiter({ rate: 1 });
    const controller = new AbortController();
    controller.abort(new Error('already'));
    await expect(limiter.acquire('h', controller.signal)).rejects.toThrow('already');
    const granted: Array<{ host: string; i: number; at: number }> = [];
    const all = queue(limiter, 'h', 1, granted);
    await vi.advanceTimersByTimeAsync(0);
    await Promise.all(all);
    expect(granted[0]!.at - t0).toBe(0);
  });
});

describe('RateLimiter with real time', () => {
  it('keeps a long run at the rate (20 at 100/s take about 190 ms)', async () => {
    const limiter = new RateLimiter({ rate: 100 });
    const start = performance.now();
    const times: number[] = [];
    await Promise.all(Array.from({ length: 20 }, () => limiter.acquire('h').then(() => times.push(performance.now() - start))));
    expect(times[19]!).toBeGreaterThanOrEqual(185);
    expect(times[19]!).toBeLessThan(1000);
  });
});

describe('many waits under one stop signal', () => {
  it('add one listener to the signal, not one each (no MaxListenersExceededWarning), and a stop rejects every one with its reason', async () => {
    const { EventEmitter } = await import('node:events');
    const { sleep } = await import('../../src/http/attempt.js');
    const limiter = new RateLimiter({ rate: 0.001 });
    const stop = new AbortController();
    // 25 requests queued for their turn and 25 backoffs, all under the one signal
    const waits = [
      ...Array.from({ length: 25 }, () => limiter.acquire('slow.example', stop.signal)),
      ...Array.from({ length: 25 }, () => sleep(60_000, stop.signal)),
    ].map((p) => p.then(() => 'granted', (error: unknown) => error));
    await new Promise((resolve) => setImmediate(resolve));
    expect(EventEmitter.getEventListeners(stop.signal, 'abort').length).toBe(1);
    const reason = new Error('stopped');
    stop.abort(reason);
    const outcomes = await Promise.all(waits);
    // the first request had its turn at once; every other wait ended with the stop's reason
    expect(outcomes.filter((o) => o === 'granted')).toHaveLength(1);
    expect(outcomes.filter((o) => o === reason)).toHaveLength(49);
  });
});
