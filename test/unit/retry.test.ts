import { describe, expect, it } from 'vitest';

import { RETRYABLE_STATUSES, computeRetryDelay, parseRetryAfter } from '../../src/http/retry.js';

describe('computeRetryDelay (exponential backoff, full jitter)', () => {
  it('draws uniformly below base·2^attempt: random 0 gives 0, random just under 1 gives just under the ceiling', () => {
    for (const attempt of [0, 1, 2, 3, 4]) {
      const ceiling = 100 * 2 ** attempt;
      expect(computeRetryDelay({ attempt, baseMs: 100, random: () => 0 })).toBe(0);
      const top = computeRetryDelay({ attempt, baseMs: 100, random: () => 0.999999 });
      expect(top).toBeLessThan(ceiling);
      expect(top).toBeGreaterThanOrEqual(ceiling - 1);
      expect(computeRetryDelay({ attempt, baseMs: 100, random: () => 0.5 })).toBe(ceiling / 2);
    }
  });

  it('stays within [0, ceiling) for many draws of the real random', () => {
    for (let i = 0; i < 500; i++) {
      const delay = computeRetryDelay({ attempt: 3, baseMs: 10 });
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(80);
      expect(Number.isInteger(delay)).toBe(true);
    }
  });

  it('never exceeds the cap, however many attempts', () => {
    expect(computeRetryDelay({ attempt: 30, baseMs: 500, capMs: 4000, random: () => 0.999999 })).toBeLessThan(4000);
    expect(computeRetryDelay({ attempt: 30, baseMs: 500, capMs: 4000, random: () => 0.5 })).toBe(2000);
    // default cap is 30 s, default base 500 ms
    expect(computeRetryDelay({ attempt: 50, random: () => 0.999999 })).toBeLessThan(30_000);
    expect(computeRetryDelay({ attempt: 50, random: () => 0.999999 })).toBeGreaterThan(29_000);
    expect(computeRetryDelay({ attempt: 1, random: () => 0.5 })).toBe(500);
  });

  it('uses Retry-After as a floor: the server’s wait is never shortened by jitter', () => {
    for (const random of [() => 0, () => 0.3, () => 0.999999]) {
      for (const attempt of [0, 2, 6]) {
        expect(computeRetryDelay({ attempt, baseMs: 100, retryAfterMs: 2000, random })).toBeGreaterThanOrEqual(2000);
      }
    }
    // and not stretched to the cap either: a short Retry-After is honoured as asked
    expect(computeRetryDelay({ attempt: 0, baseMs: 100, retryAfterMs: 2000, random: () => 0 })).toBe(2000);
    expect(computeRetryDelay({ attempt: 0, retryAfterMs: 0, random: () => 0 })).toBe(0);
  });

  it('retries the statuses of DESIGN.md section 5 and not 400/401/403/404', () => {
    for (const status of [408, 425, 429, 500, 502, 503, 504]) expect(RETRYABLE_STATUSES.has(status)).toBe(true);
    for (const status of [400, 401, 403, 404, 405, 501]) expect(RETRYABLE_STATUSES.has(status)).toBe(false);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2024, 0, 23, 10, 0, 0);

  it('reads delta seconds', () => {
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter(['3', '9'], now)).toBe(3000);
  });

  it('reads an IMF-fixdate relative to the injected now', () => {
    expect(parseRetryAfter('Tue, 23 Jan 2024 10:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter(new Date(now + 90_000).toUTCString(), now)).toBe(90_000);
  });

  it('reads the obsolete RFC 850 and asctime forms, asctime as GMT whatever the local zone', () => {
    const zone = process.env.TZ;
    // Node re-reads TZ when it changes; a UTC machine would otherwise hide a local-time reading
    process.env.TZ = 'Asia/Shanghai';
    try {
      expect(parseRetryAfter('Tuesday, 23-Jan-24 10:00:07 GMT', now)).toBe(7000);
      expect(parseRetryAfter('Tue Jan 23 10:00:09 2024', now)).toBe(9000);
      expect(parseRetryAfter('Tue Jan  2 10:00:09 2024', now)).toBe(0);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('gives 0 for a date in the past', () => {
    expect(parseRetryAfter('Tue, 23 Jan 2024 09:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:00 GMT', now)).toBe(0);
  });

  it('gives undefined when absent, empty or unreadable', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('   ', now)).toBeUndefined();
    expect(parseRetryAfter([], now)).toBeUndefined();
    // V8's Date.parse reads each of these as some date in 2001; none is an HTTP-date
    for (const garbage of ['soon', 'later', '120 seconds', 'abc 1', 'next 12', 'Retry later 5', '1e3', '0x10']) {
      expect(parseRetryAfter(garbage, now), garbage).toBeUndefined();
    }
  });
});
