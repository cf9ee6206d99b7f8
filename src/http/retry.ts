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
  const date = parseHttpDate(text);
  if (date === undefined) return undefined;
  return Math.max(0, date - now);
}

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';
const IMF_FIXDATE = new RegExp(`^${DAY}, \\d{1,2} ${MONTH} \\d{4} ${TIME} GMT$`, 'i');
const RFC850_DATE = new RegExp(`^${LONG_DAY}, \\d{2}-${MONTH}-\\d{2} ${TIME} GMT$`, 'i');
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} +\\d{1,2} ${TIME} \\d{4}$`, 'i');

/**
 * The three HTTP-date forms of RFC 9110 5.6.7, and nothing else: V8's
 * Date.parse reads almost any text with a digit in it ("abc 1") as a date,
 * which would turn a garbage header into "retry at once".
 */
function parseHttpDate(text: string): number | undefined {
  let date: number;
  if (IMF_FIXDATE.test(text) || RFC850_DATE.test(text)) date = Date.parse(text);
  // asctime carries no zone; it is GMT, not the local time Date.parse would assume
  else if (ASCTIME_DATE.test(text)) date = Date.parse(`${text} GMT`);
  else return undefined;
  return Number.isNaN(date) ? undefined : date;
}
