/**
 * Rate-limit headers as pure arithmetic (DESIGN.md section 4c): what a server
 * says of the budget left (Discord's per-route `X-RateLimit-*`, GitHub's
 * `X-RateLimit-Remaining` / `X-RateLimit-Reset`) and the JSON `retry_after`
 * of a 429 body. The waiting is ./budget-gate.ts.
 */

/** Header names a definition's `rateLimit` gives (any case). */
export interface RateLimitHeaders {
  /** requests left in the current window */
  remaining: string;
  /** when the window resets: epoch seconds (with or without a fraction) or epoch milliseconds */
  reset?: string | undefined;
  /** seconds (a fraction allowed) until the window resets; preferred over `reset` (no clock skew) */
  resetAfter?: string | undefined;
  /** the name of the limit, when the server names it (Discord's X-RateLimit-Bucket) */
  bucket?: string | undefined;
}

export interface BudgetReading {
  /** requests left in the window, as the server counted when it answered */
  remaining: number;
  /** ms from now until the window resets; undefined when the answer did not say */
  resetInMs: number | undefined;
  bucket: string | undefined;
}

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const value = headers[name.toLowerCase()];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined ? undefined : text.trim();
}

const NUMBER = /^\d+(\.\d+)?$/;

/**
 * Epoch seconds (`1470173023`, `1470173023.123`) and epoch milliseconds
 * (`1470173023123`) are told apart by size: a time in seconds reaches 10^11
 * only in the year 5138, one in milliseconds was past it in 1973.
 */
export function epochMs(value: number): number {
  return value >= 1e11 ? value : value * 1000;
}

/**
 * What the headers of one answer say of its budget, or undefined when they
 * say nothing usable (no remaining count, or not a number). Waits are rounded
 * up to the millisecond: a client that waits what was said reaches the reset.
 */
export function readBudget(headers: Headers, names: RateLimitHeaders, nowEpochMs: number): BudgetReading | undefined {
  const remainingText = header(headers, names.remaining);
  if (remainingText === undefined || !NUMBER.test(remainingText)) return undefined;
  const remaining = Math.floor(Number(remainingText));
  let resetInMs: number | undefined;
  const after = header(headers, names.resetAfter);
  if (after !== undefined && NUMBER.test(after)) {
    resetInMs = Math.ceil(Number(after) * 1000);
  } else {
    const at = header(headers, names.reset);
    if (at !== undefined && NUMBER.test(at)) resetInMs = Math.max(0, Math.ceil(epochMs(Number(at)) - nowEpochMs));
  }
  const bucket = header(headers, names.bucket);
  return { remaining, resetInMs, bucket: bucket === '' ? undefined : bucket };
}

/**
 * A 429 body's `retry_after` (seconds, a float: Discord's `{"retry_after": 64.57}`), in ms rounded up;
 * undefined when the body does not say.
 */
export function retryAfterFromBody(body: unknown): number | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const value = (body as Record<string, unknown>).retry_after;
  const seconds = typeof value === 'number' ? value : typeof value === 'string' && NUMBER.test(value.trim()) ? Number(value) : NaN;
  return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
}

/** What the gate knows of one budget. */
export interface BudgetState {
  /** requests it may still send in the window; undefined = not known (never told, or the window has reset) */
  remaining: number | undefined;
  /** when the window resets, on the gate's clock; undefined = not known */
  resetAt: number | undefined;
  /** requests sent and not yet answered */
  inFlight: number;
  /** a window it knew of has reset: one request at a time until an answer states the new budget */
  refilled: boolean;
}

/**
 * Whether one more request may leave now; `wait` is how long until it may
 * when the budget is spent (undefined: until an answer in flight comes back).
 */
export function budgetDecision(state: BudgetState, now: number): { go: true } | { go: false; wait: number | undefined } {
  if (state.resetAt !== undefined && now >= state.resetAt) {
    state.remaining = undefined;
    state.resetAt = undefined;
    state.refilled = true;
  }
  if (state.remaining === undefined) return state.refilled && state.inFlight > 0 ? { go: false, wait: undefined } : { go: true };
  if (state.remaining > 0) return { go: true };
  // Spent, and no reset said: let the server answer for itself (a 429 and its Retry-After).
  if (state.resetAt === undefined) return state.inFlight > 0 ? { go: false, wait: undefined } : { go: true };
  return { go: false, wait: state.resetAt - now };
}

/**
 * An answer's reading folded into the state. The requests still in flight may
 * or may not have been counted by the server already: counting them spent
 * keeps the estimate on the safe side. Within a window the count only goes
 * down (answers arrive out of order; an older one says more was left); a
 * reset later than the one known is kept, so a window is never cut short.
 */
export function foldReading(state: BudgetState, reading: BudgetReading, now: number): void {
  const estimate = reading.remaining - state.inFlight;
  const resetAt = reading.resetInMs === undefined ? undefined : now + reading.resetInMs;
  const inWindow = state.remaining !== undefined && state.resetAt !== undefined && now < state.resetAt;
  if (inWindow) {
    state.remaining = Math.min(state.remaining!, estimate);
    if (resetAt !== undefined) state.resetAt = Math.max(state.resetAt!, resetAt);
  } else {
    state.remaining = estimate;
    state.resetAt = resetAt;
  }
  state.refilled = false;
}
