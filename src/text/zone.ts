/**
 * Time zones for the two places that need them: Markdown day headings and
 * clock times, and providers whose timestamps carry no offset (dishawang's
 * naive "YYYY-MM-DD HH:mm:ss", read in --timezone).
 *
 * Both run once per message, so fixed offsets never touch Intl, and IANA
 * zones ask Intl at most twice per distinct UTC hour (offsets are cached per
 * hour; formatToParts costs a few microseconds a call).
 */

export interface FixedZone {
  readonly kind: 'fixed';
  /** "UTC" or a canonical "+08:00" / "-05:30" */
  readonly name: string;
  readonly offsetMinutes: number;
}

export interface IanaZone {
  readonly kind: 'iana';
  /** Intl's canonical spelling, e.g. "Asia/Shanghai" for "asia/shanghai" */
  readonly name: string;
}

export type Zone = FixedZone | IanaZone;

export interface LocalTime {
  /** YYYY-MM-DD */
  day: string;
  /** HH:MM, 24-hour */
  time: string;
}

export const UTC: FixedZone = Object.freeze({ kind: 'fixed', name: 'UTC', offsetMinutes: 0 });

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
// ISO 8601 / java.time allow offsets up to ±18:00; real zones stay within -12..+14.
const MAX_OFFSET_MINUTES = 18 * 60;

const ZONE_HELP =
  'expected Z, UTC, an offset like +08:00 / -05:30 / +0800 / +08, or an IANA name like Asia/Shanghai';

const parsed = new Map<string, Zone>();

/**
 * Zone from a user's spelling. Throws a plain Error naming the bad value.
 * Results are cached, so calling this per message is cheap.
 */
export function parseZone(tz: string): Zone {
  const cached = parsed.get(tz);
  if (cached) return cached;
  const zone = parseZoneUncached(tz);
  parsed.set(tz, zone);
  return zone;
}

function parseZoneUncached(input: string): Zone {
  const tz = input.trim();
  if (/^(?:z|utc|gmt)$/i.test(tz)) return UTC;
  // "UTC+8" / "GMT+08:00" the way people write them (ISO sign, not POSIX TZ's inverted one).
  const offset = /^(?:(?:utc|gmt)(?=[+-]))?([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(tz);
  if (offset) return fixedZone(input, offset[1] === '-' ? -1 : 1, Number(offset[2]), Number(offset[3] ?? 0));
  if (tz === '' || /^[-+0-9]/.test(tz)) throw new Error(`invalid timezone "${input}": ${ZONE_HELP}`);
  let format: Intl.DateTimeFormat;
  try {
    format = createFormat(tz);
  } catch {
    throw new Error(`unknown timezone "${input}": ${ZONE_HELP}`);
  }
  const name = format.resolvedOptions().timeZone;
  if (!ianaCaches.has(name)) ianaCaches.set(name, { format, hourOffsets: new Map() });
  return { kind: 'iana', name };
}

function fixedZone(input: string, sign: number, hours: number, minutes: number): FixedZone {
  const total = hours * 60 + minutes;
  if (minutes > 59 || total > MAX_OFFSET_MINUTES) {
    throw new Error(`invalid timezone "${input}": offsets go up to ±18:00 with minutes 00-59`);
  }
  if (total === 0) return UTC;
  return Object.freeze({
    kind: 'fixed',
    name: `${sign < 0 ? '-' : '+'}${pad2(hours)}:${pad2(minutes)}`,
    offsetMinutes: sign * total,
  });
}

/** A zone's offset from UTC at an instant, in minutes (east positive). */
export function offsetMinutesAt(zone: Zone, epochMs: number): number {
  return zone.kind === 'fixed' ? zone.offsetMinutes : ianaOffsetMs(zone, epochMs) / MINUTE;
}

/** The wall-clock day and time of an instant in a zone. */
export function formatLocal(epochMs: number, zone: Zone): LocalTime {
  if (!Number.isFinite(epochMs)) throw new RangeError(`invalid time value: ${epochMs}`);
  const offsetMs = zone.kind === 'fixed' ? zone.offsetMinutes * MINUTE : ianaOffsetMs(zone, epochMs);
  const local = new Date(epochMs + offsetMs);
  return {
    day: `${formatYear(local.getUTCFullYear())}-${pad2(local.getUTCMonth() + 1)}-${pad2(local.getUTCDate())}`,
    time: `${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())}`,
  };
}

const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?$/;

/**
 * Epoch ms of a naive local time ("YYYY-MM-DD HH:mm:ss"; seconds, the time
 * and fractional seconds are optional) read in a zone.
 *
 * Around a DST change a local time can be skipped or repeated. Like
 * java.time and Temporal's "compatible" disambiguation, a skipped time is read
 * with the offset in force before the change (02:30 in a spring-forward gap
 * becomes 03:30), and a repeated one resolves to the earlier instant.
 */
export function localToEpoch(text: string, zone: Zone): number {
  const naive = parseNaive(text);
  if (zone.kind === 'fixed') return naive - zone.offsetMinutes * MINUTE;
  // The offsets a day either side bracket any transition near this local time.
  const before = ianaOffsetMs(zone, naive - DAY);
  const after = ianaOffsetMs(zone, naive + DAY);
  const early = naive - before;
  const earlyFits = ianaOffsetMs(zone, early) === before;
  if (before === after) {
    if (earlyFits) return early;
    return twoPass(zone, naive); // two transitions within two days: no real zone does this, stay correct anyway
  }
  const late = naive - after;
  const lateFits = ianaOffsetMs(zone, late) === after;
  if (earlyFits && lateFits) return Math.min(early, late); // repeated hour
  if (earlyFits) return early;
  if (lateFits) return late;
  return early; // skipped hour: the pre-transition offset moves the time forward
}

function twoPass(zone: IanaZone, naive: number): number {
  const first = naive - ianaOffsetMs(zone, naive);
  const offset = ianaOffsetMs(zone, first);
  return naive - offset;
}

let cachedDate = '';
let cachedDateMs = NaN;

/** The two digits at `at` as a number, or NaN. */
function twoDigits(text: string, at: number): number {
  const a = text.charCodeAt(at) - 48;
  const b = text.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : NaN;
}

function parseNaive(text: string): number {
  // Fast path for the common "YYYY-MM-DD HH:mm:ss": messages come in runs of one
  // day, so the date is checked once per day and the time read digit by digit.
  if (text.length === 19 && (text.charCodeAt(10) === 32 || text.charCodeAt(10) === 84) && text[13] === ':' && text[16] === ':') {
    const h = twoDigits(text, 11);
    const mi = twoDigits(text, 14);
    const sec = twoDigits(text, 17);
    if (h < 24 && mi < 60 && sec < 60) {
      const date = text.slice(0, 10);
      if (date !== cachedDate) {
        let day = NaN;
        try {
          day = parseNaiveSlowly(date);
        } catch {
          return parseNaiveSlowly(text); // throws, naming the text as given
        }
        cachedDate = date;
        cachedDateMs = day;
      }
      return cachedDateMs + ((h * 60 + mi) * 60 + sec) * 1000;
    }
  }
  return parseNaiveSlowly(text);
}

function parseNaiveSlowly(text: string): number {
  const match = LOCAL_TIME.exec(text.trim());
  if (match) {
    const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '0'] = match;
    const fields = [Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s)] as const;
    const ms = utcMs(...fields);
    const check = new Date(ms);
    // Date.UTC silently rolls 02-30 over to 03-01 and 24:00 to the next day: refuse instead.
    if (
      check.getUTCMonth() + 1 === fields[1] &&
      check.getUTCDate() === fields[2] &&
      check.getUTCHours() === fields[3] &&
      check.getUTCMinutes() === fields[4] &&
      check.getUTCSeconds() === fields[5]
    ) {
      return ms + Number(frac.padEnd(3, '0'));
    }
  }
  throw new Error(`invalid local time "${text}": expected YYYY-MM-DD HH:mm:ss`);
}

/** Date.UTC, except that years 0-99 are not mapped to 1900-1999. */
function utcMs(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
  date.setUTCFullYear(year);
  return date.getTime();
}

// ---- IANA zones ----------------------------------------------------------

interface IanaCache {
  format: Intl.DateTimeFormat;
  /** UTC hour index → offset ms for hours without a transition inside; NaN when there is one */
  hourOffsets: Map<number, number>;
}

const ianaCaches = new Map<string, IanaCache>();
// Bounds memory over decades of history: ~11 years of distinct hours per zone.
const MAX_CACHED_HOURS = 100_000;

function createFormat(timeZone: string): Intl.DateTimeFormat {
  // hourCycle h23: with hour12:false some ICU versions print midnight as "24".
  return new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
}

function cacheFor(zone: IanaZone): IanaCache {
  let cache = ianaCaches.get(zone.name);
  if (!cache) {
    // A Zone built by hand rather than by parseZone.
    cache = { format: createFormat(zone.name), hourOffsets: new Map() };
    ianaCaches.set(zone.name, cache);
  }
  return cache;
}

function ianaOffsetMs(zone: IanaZone, epochMs: number): number {
  const cache = cacheFor(zone);
  const hour = Math.floor(epochMs / HOUR);
  let offset = cache.hourOffsets.get(hour);
  if (offset === undefined) {
    const start = hour * HOUR;
    const atStart = exactOffsetMs(cache.format, start);
    const atEnd = exactOffsetMs(cache.format, start + HOUR - 1000);
    offset = atStart === atEnd ? atStart : Number.NaN;
    if (cache.hourOffsets.size >= MAX_CACHED_HOURS) cache.hourOffsets.clear();
    cache.hourOffsets.set(hour, offset);
  }
  return Number.isNaN(offset) ? exactOffsetMs(cache.format, epochMs) : offset;
}

function exactOffsetMs(format: Intl.DateTimeFormat, epochMs: number): number {
  // formatToParts has whole seconds only, so compare against the instant's whole second.
  const second = epochMs - (((epochMs % 1000) + 1000) % 1000);
  const fields: Record<string, number> = {};
  for (const part of format.formatToParts(second)) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  const local = utcMs(
    fields.year ?? Number.NaN,
    fields.month ?? Number.NaN,
    fields.day ?? Number.NaN,
    (fields.hour ?? Number.NaN) % 24,
    fields.minute ?? Number.NaN,
    fields.second ?? Number.NaN,
  );
  return local - second;
}

// ---- formatting ----------------------------------------------------------

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function formatYear(year: number): string {
  return year >= 0 && year <= 9999 ? String(year).padStart(4, '0') : String(year);
}
