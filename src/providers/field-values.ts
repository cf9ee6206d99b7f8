/**
 * Turning what an expression found into a typed value (an id, a text, a
 * flag, a count, a time), or a FieldIssue naming the definition's path. The
 * field maps of every stream (messages, channels, people) use these, so a
 * value is read the same way whichever part of the definition asked for it.
 */
import { LossyNumberError } from '../http/client.js';
import type { Attachment } from '../message.js';
import { sanitizeForTerminal } from '../text/sanitize.js';
import { localToEpoch, type Zone } from '../text/zone.js';

/** A value the definition extracted that does not fit: reported like a schema issue, with its path. */
export class FieldIssue extends Error {
  readonly issues: Array<{ path: PropertyKey[]; message: string }>;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.issues = [{ path: path.split('.'), message }];
  }
}

export type TimeFormat = 'epoch-ms' | 'epoch-s' | 'iso' | 'local';

export const EMPTY_ATTACHMENTS: Attachment[] = [];

const ISO = /^(?:\d{4}|[+-]\d{6})-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/i;
const LOCAL = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;
export const FORMAT_WORDS = {
  'epoch-ms': 'epoch milliseconds',
  'epoch-s': 'epoch seconds',
  iso: 'an ISO 8601 time',
  local: 'a local time "YYYY-MM-DD HH:mm:ss"',
} as const;

/**
 * Epoch seconds with a fraction ("1704069665.433162") to ms, truncated, never rounded: rounding moves a message
 * across a millisecond (a second, a day). Done on the decimal digits, as `n * 1000` in doubles is off by one ulp.
 */
function secondsToMs(n: number, text = String(n)): number {
  const found = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (found === null) return Math.floor(n * 1000);
  const [, sign, whole, fraction = ''] = found;
  const ms = Number(whole) * 1000 + Number(fraction.slice(0, 3).padEnd(3, '0'));
  if (sign === '') return ms;
  // before 1970 truncating toward the past is a floor: -1.0005 s is -1001 ms
  return -ms - (/[1-9]/.test(fraction.slice(3)) ? 1 : 0);
}

/**
 * A time in epoch ms, or undefined when the value is not of the format.
 * Infinity (or a huge number) for a value of the right form no date can hold.
 * `zone` is asked for only by `local` times.
 */
export function toTime(value: unknown, format: TimeFormat, zone: () => Zone): number | undefined {
  switch (format) {
    case 'epoch-ms':
    case 'epoch-s': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
      if (Number.isNaN(n)) return undefined;
      // digits too many for a double: a number, but no time
      if (!Number.isFinite(n)) return n;
      return format === 'epoch-s' ? secondsToMs(n, typeof value === 'string' ? value : undefined) : Number.isInteger(n) ? n : undefined;
    }
    case 'iso': {
      if (typeof value !== 'string' || !ISO.test(value)) return undefined;
      const t = Date.parse(value);
      // An ISO time no date can hold (year +300000, month 13): the form is right, the value impossible.
      return Number.isNaN(t) ? Infinity : t;
    }
    case 'local': {
      if (typeof value !== 'string' || !LOCAL.test(value)) return undefined;
      const within = zone();
      try {
        return localToEpoch(value, within);
      } catch {
        // The right form, but no such day: MySQL's zero date "0000-00-00 00:00:00" (PHP backends), "2024-02-30".
        return Infinity;
      }
    }
  }
}

/** Within JavaScript's date range (±8.64e15 ms): a time a message can carry. */
export function representable(time: number): boolean {
  return Number.isFinite(time) && Math.abs(time) <= 8.64e15;
}

export function truthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/** Counts may come as numeric strings (PHP). */
export function count(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

export function flag(value: unknown): boolean | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'boolean' ? value : truthy(value);
}

export function stringOf(value: unknown): string {
  return typeof value === 'string' ? value : value == null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

export function shape(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return `"${sanitizeForTerminal(value).slice(0, 40)}"`;
  return Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'an object' : typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

/**
 * Ids come as strings or numbers; always a string out. A number beyond 2^53
 * was already rounded by JSON.parse: asking the client for an exact re-parse
 * beats two messages collapsing into one id.
 */
export function idText(value: unknown, path: string, required: boolean): string | null {
  if (typeof value === 'string') {
    if (value === '' && required) throw new FieldIssue(path, 'required');
    return value;
  }
  if (typeof value === 'number') {
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) throw new LossyNumberError();
    return String(value);
  }
  if (value === null || value === undefined) {
    if (required) throw new FieldIssue(path, 'required');
    return null;
  }
  throw new FieldIssue(path, `expected a string or number, got ${shape(value)}`);
}

export function plainText(value: unknown, path: string): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return String(value);
  throw new FieldIssue(path, `expected text, got ${shape(value)}`);
}

export function optionalText(value: unknown, path: string): string | null {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return String(value);
  throw new FieldIssue(path, `expected text, got ${shape(value)}`);
}

export function toAttachments(value: unknown, path: string): Attachment[] {
  if (value === null || value === undefined) return EMPTY_ATTACHMENTS;
  if (!Array.isArray(value)) throw new FieldIssue(path, 'expected a list of { url, name, type }');
  const out: Attachment[] = [];
  for (const item of value) {
    if (item === null || typeof item !== 'object') continue;
    const { url, name, type } = item as Record<string, unknown>;
    if (typeof url !== 'string' || url === '') continue;
    out.push({ url, name: typeof name === 'string' ? name : null, type: typeof type === 'string' ? type : null });
  }
  return out.length > 0 ? out : EMPTY_ATTACHMENTS;
}
