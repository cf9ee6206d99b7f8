import { describe, expect, it } from 'vitest';

import { BudgetGate } from '../../src/http/budget-gate.js';
import { budgetDecision, epochMs, foldReading, readBudget, retryAfterFromBody, type BudgetState } from '../../src/http/budget.js';

const DISCORD = { remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset', resetAfter: 'X-RateLimit-Reset-After', bucket: 'X-RateLimit-Bucket' };
const GITHUB = { remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset' };
const NOW = 1_470_173_000_000;

describe('readBudget (what one answer says of its budget)', () => {
  it("reads Discord's example headers: reset-after wins over reset, rounded up to the millisecond", () => {
    const headers = { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1470173023', 'x-ratelimit-reset-after': '64.5701', 'x-ratelimit-bucket': 'abcd1234' };
    expect(readBudget(headers, DISCORD, NOW)).toEqual({ remaining: 0, resetInMs: 64_571, bucket: 'abcd1234' });
  });

  it('reads an epoch reset in seconds (with or without a fraction) or in milliseconds, against the clock', () => {
    expect(readBudget({ 'x-ratelimit-remaining': '4999', 'x-ratelimit-reset': '1470173023' }, GITHUB, NOW)?.resetInMs).toBe(23_000);
    expect(readBudget({ 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': '1470173023.123' }, GITHUB, NOW)?.resetInMs).toBe(23_123);
    expect(readBudget({ 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': '1470173023123' }, GITHUB, NOW)?.resetInMs).toBe(23_123);
    // a reset already past is no wait
    expect(readBudget({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1470172000' }, GITHUB, NOW)?.resetInMs).toBe(0);
    expect(epochMs(1e10)).toBe(1e13);
    expect(epochMs(1.6e12)).toBe(1.6e12);
  });

  it('says nothing when the remaining count is missing or not a number, and no reset when none is readable', () => {
    expect(readBudget({}, GITHUB, NOW)).toBeUndefined();
    expect(readBudget({ 'x-ratelimit-remaining': 'lots' }, GITHUB, NOW)).toBeUndefined();
    expect(readBudget({ 'x-ratelimit-remaining': '-1' }, GITHUB, NOW)).toBeUndefined();
    expect(readBudget({ 'x-ratelimit-remaining': '3', 'x-ratelimit-reset': 'Tue Feb 16 2021' }, GITHUB, NOW)).toEqual({ remaining: 3, resetInMs: undefined, bucket: undefined });
    // header names are matched in any case; a repeated header counts its first value
    expect(readBudget({ 'x-ratelimit-remaining': ['2', '9'] }, { remaining: 'x-RATELIMIT-remaining', resetAfter: 'R' }, NOW)?.remaining).toBe(2);
  });
});

describe('retryAfterFromBody (a 429 JSON body)', () => {
  it("reads Discord's float seconds, rounded up to the millisecond, and ignores anything else", () => {
    expect(retryAfterFromBody({ message: 'You are being rate limited.', retry_after: 64.57, global: false })).toBe(64_570);
    expect(retryAfterFromBody({ retry_after: 0.0001 })).toBe(1);
    expect(retryAfterFromBody({ retry_after: '2' })).toBe(2000);
    for (const body of [null, [], 'retry_after', { retry_after: -1 }, { retry_after: 'soon' }, { retry_after: null }, {}]) expect(retryAfterFromBody(body)).toBeUndefined();
  });
});

const fresh = (): BudgetState => ({ remaining: undefined, resetAt: undefined, inFlight: 0, refilled: false });

describe('budgetDecision and foldReading (the arithmetic of waiting)', () => {
  it('lets requests go while the budget lasts, then waits exactly until the reset', () => {
    const state = fresh();
    expect(budgetDecision(state, 0)).toEqual({ go: true });
    foldReading(state, { remaining: 1, resetInMs: 500, bucket: undefined }, 100);
    expect(state).toMatchObject({ remaining: 1, resetAt: 600 });
    expect(budgetDecision(state, 100)).toEqual({ go: true });
    state.remaining!--;
    expect(budgetDecision(state, 200)).toEqual({ go: false, wait: 400 });
  });

  it('counts the requests still in flight as spent (the server may have counted them already)', () => {
    const state = { ...fresh(), inFlight: 2 };
    foldReading(state, { remaining: 2, resetInMs: 1000, bucket: undefined }, 0);
    expect(state.remaining).toBe(0);
    expect(budgetDecision(state, 10)).toEqual({ go: false, wait: 990 });
  });

  it('within a window an older answer arriving late never raises the count, nor moves the reset earlier', () => {
    const state = fresh();
    foldReading(state, { remaining: 1, resetInMs: 1000, bucket: undefined }, 0);
    foldReading(state, { remaining: 4, resetInMs: 200, bucket: undefined }, 100);
    expect(state).toMatchObject({ remaining: 1, resetAt: 1000 });
  });

  it('after the reset: one request at a time until an answer states the new budget', () => {
    const state = fresh();
    foldReading(state, { remaining: 0, resetInMs: 100, bucket: undefined }, 0);
    expect(budgetDecision(state, 150)).toEqual({ go: true });
    expect(state.refilled).toBe(true);
    state.inFlight = 1;
    expect(budgetDecision(state, 151)).toEqual({ go: false, wait: undefined });
    state.inFlight = 0;
    foldReading(state, { remaining: 4, resetInMs: 1000, bucket: undefined }, 160);
    expect(state.refilled).toBe(false);
    expect(budgetDecision(state, 170)).toEqual({ go: true });
  });

  it('a budget spent with no reset said lets the server answer for itself, one request at a time', () => {
    const state = fresh();
    foldReading(state, { remaining: 0, resetInMs: undefined, bucket: undefined }, 0);
    expect(budgetDecision(state, 5)).toEqual({ go: true });
    state.inFlight = 1;
    expect(budgetDecision(state, 5)).toEqual({ go: false, wait: undefined });
  });
});

describe('BudgetGate', () => {
  const headers = (remaining: number, resetAfter: number) => ({ 'x-ratelimit-remaining': String(remaining), 'x-ratelimit-reset-after': String(resetAfter), 'x-ratelimit-bucket': 'b' });

  it('holds the next request of a spent bucket until its reset, per path, and says a long wait once', async () => {
    let clock = 0;
    const said: number[] = [];
    const gate = new BudgetGate({ maxWaitMs: 60_000, onWait: (_host, ms) => said.push(ms), now: () => clock, epochNow: () => NOW });
    const a = new URL('http://api.test/channels/1/messages');
    const b = new URL('http://api.test/channels/2/messages');
    const turns = () => new Promise((resolve) => setImmediate(resolve));
    const first = await gate.take(a, DISCORD, 'test', undefined);
    const second = await gate.take(a, DISCORD, 'test', undefined);
    // the first answer says the bucket is spent for 2 s (the second request, still in flight, counted spent too)
    first.settle(headers(0, 2));
    first.settle(headers(5, 0)); // settling twice changes nothing
    // another path (another channel) is not held
    (await gate.take(b, DISCORD, 'test', undefined)).settle(undefined);
    const through: string[] = [];
    const held = gate.take(a, DISCORD, 'test', undefined).then((ticket) => (through.push('held'), ticket));
    const alsoHeld = gate.take(a, DISCORD, 'test', undefined).then((ticket) => (through.push('alsoHeld'), ticket));
    for (let n = 0; n < 5; n++) await turns();
    expect(through).toEqual([]);
    expect(said).toEqual([2000]);
    // the window resets; an answer coming back wakes the waiters: one goes, the other waits for its answer
    clock = 2000;
    second.settle(undefined);
    for (let n = 0; n < 5; n++) await turns();
    expect(through).toHaveLength(1);
    const probe = through[0] === 'held' ? await held : await alsoHeld;
    probe.settle(headers(3, 1));
    for (let n = 0; n < 5; n++) await turns();
    expect(through).toHaveLength(2);
    (through[0] === 'held' ? await alsoHeld : await held).settle(undefined);
    // said once for the window, not once per request held
    expect(said).toEqual([2000]);
  });

  it('without a bucket name the budget is the whole host', async () => {
    const gate = new BudgetGate({ maxWaitMs: 60_000, onWait: () => {}, epochNow: () => NOW });
    (await gate.take(new URL('http://gh.test/repos/a/issues'), GITHUB, 'test', undefined)).settle({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String((NOW + 30_000) / 1000) });
    const stop = new AbortController();
    const other = gate.take(new URL('http://gh.test/repos/b/issues'), GITHUB, 'test', stop.signal);
    stop.abort(new Error('stopped'));
    await expect(other).rejects.toThrow('stopped');
  });

  it('a reset beyond the ceiling fails the request instead of sleeping for it', async () => {
    const gate = new BudgetGate({ maxWaitMs: 300_000, onWait: () => {}, epochNow: () => NOW });
    const url = new URL('http://gh.test/x');
    (await gate.take(url, GITHUB, 'gh', undefined)).settle({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String((NOW + 3_600_000) / 1000) });
    await expect(gate.take(url, GITHUB, 'gh', undefined)).rejects.toThrow(/gh: the server's rate limit for gh.test is spent for 3600 s, over the 300 s ceiling/);
  });
});
