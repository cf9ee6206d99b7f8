import { UsageError } from '../errors.js';

const RELATIVE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * --since / --until values: ISO 8601 (a date or time without an offset means
 * UTC), epoch seconds or milliseconds, or a span back from now (`90m`, `36h`, `7d`).
 */
export function parseTimeSpec(value: string, flag: string, now = Date.now()): number {
  const text = value.trim();
  // Bare digits: epoch seconds up to 11 digits (until the year 5138), milliseconds from 12
  // (13 digits is every ms time from 2001 to 2286). `date +%s` and JavaScript's Date.now()
  // both work as they are; a 12-digit ms time (1973–2001) is past any chat history.
  if (/^\d{1,11}$/.test(text)) return Number(text) * 1000;
  if (/^\d{12,16}$/.test(text)) return Number(text);
  const relative = RELATIVE.exec(text);
  if (relative) return now - Math.round(Number(relative[1]) * UNIT_MS[relative[2]!]!);
  const iso = ISO.exec(text);
  if (iso) {
    const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone] = iso;
    const ms = Number(frac.padEnd(3, '0').slice(0, 3));
    let time = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
    const check = new Date(time);
    if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
      throw invalid(value, flag);
    }
    if (zone && zone.toUpperCase() !== 'Z') {
      const sign = zone.startsWith('-') ? -1 : 1;
      const digits = zone.slice(1).replace(':', '');
      const offset = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0');
      time -= sign * offset * 60_000;
    }
    return time;
  }
  throw invalid(value, flag);
}

function invalid(value: string, flag: string): UsageError {
  return new UsageError(`${flag}: cannot read ${JSON.stringify(value)} as a time`, {
    hint: 'use ISO 8601 (2024-01-23, 2024-01-23T10:00:00+08:00), epoch seconds (10 digits) or ms (13 digits), or a span back from now (90m, 36h, 7d)',
  });
}

/** The part of the history a run wants: [since, until), newer than `after`. */
export interface TimeWindow {
  since: number | undefined;
  until: number | undefined;
  /** --incremental: the newest message already exported and the ids at its time */
  after: { time: number; ids: ReadonlySet<string> } | undefined;
  /** --incremental: ids already written that are dated after `after` (messages dated in the future) */
  written?: ReadonlySet<string> | undefined;
}

export function inWindow(window: TimeWindow, time: number, id: string): boolean {
  if (window.since !== undefined && time < window.since) return false;
  if (window.until !== undefined && time >= window.until) return false;
  const after = window.after;
  if (after && (time < after.time || (time === after.time && after.ids.has(id)))) return false;
  if (window.written?.has(id)) return false;
  return true;
}

/**
 * Pages arrive newest first: once an answer's oldest message is before the
 * window, nothing later can be inside it.
 */
export function passedWindow(window: TimeWindow, oldest: number | undefined): boolean {
  if (oldest === undefined) return false;
  if (window.since !== undefined && oldest < window.since) return true;
  if (window.after && oldest < window.after.time) return true;
  return false;
}
