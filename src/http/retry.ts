/**
 * Retry policy as pure functions, so the arithmetic is tested apart from I/O.
 */

/** Statuses worth another attempt (DESIGN.md section 5). */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 425, 429, 500, 502, 503, 504]);

export interface RetryDelayInput {
  /** 0 for the first retry */
  attempt: number;
  /** what the server asked for (Retry-After), in ms */
  retryAfterMs?: number | undefined;
  baseMs?: number;
  capMs?: number;
  random?: () => number;
}

/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential
 * Backoff And Jitter"): spreads retries of many clients instead of syncing
 * them. A server's Retry-After is a floor, never shortened.
 */
export function computeRetryDelay(input: RetryDelayInput): number {
  const base = input.baseMs ?? 500;
  const cap = input.capMs ?? 30_000;
  const random = input.random ?? Math.random;
  if (input.retryAfterMs !== undefined) return Math.max(0, input.retryAfterMs);
  const ceiling = Math.min(cap, base * 2 ** input.attempt);
  return Math.floor(random() * ceiling);
}

/**
 * Retry-After is either delta-seconds or an HTTP-date (RFC 9110 10.2.3).
 * Returns ms to wait, or undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const header = Array.isArray(value) ? value[0] : value;
  if (header === undefined) return undefined;
  const text = header.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Math.max(0, Math.ceil(Number(text) * 1000));
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
