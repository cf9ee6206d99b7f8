import { describe, expect, it } from 'vitest';
import { UTC, formatLocal, localToEpoch, offsetMinutesAt, parseZone } from '../../src/text/zone.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('parseZone', () => {
  it.each([
    ['Z', 'UTC', 0],
    ['z', 'UTC', 0],
    ['UTC', 'UTC', 0],
    ['utc', 'UTC', 0],
    ['+00:00', 'UTC', 0],
    ['-00:00', 'UTC', 0],
    ['+08:00', '+08:00', 480],
    ['+0800', '+08:00', 480],
    ['+08', '+08:00', 480],
    ['+8', '+08:00', 480],
    ['-05:30', '-05:30', -330],
    ['-0530', '-05:30', -330],
    ['+05:45', '+05:45', 345],
    ['UTC+8', '+08:00', 480],
    ['GMT-03:00', '-03:00', -180],
    [' +08:00 ', '+08:00', 480],
  ])('reads %j as the fixed offset %s', (input, name, minutes) => {
    const zone = parseZone(input);
    expect(zone).toEqual({ kind: 'fixed', name, offsetMinutes: minutes });
  });

  it('reads IANA names, case-insensitively, under their canonical spelling', () => {
    expect(parseZone('Asia/Shanghai')).toEqual({ kind: 'iana', name: 'Asia/Shanghai' });
    expect(parseZone('america/new_york')).toEqual({ kind: 'iana', name: 'America/New_York' });
  });

  it.each(['', '   ', 'Nowhere/Land', 'CST8', '+8:5', '08:00', '+08:00:00', 'UTC+', '1234'])(
    'refuses %j with a message naming the value and the accepted forms',
    (input) => {
      expect(() => parseZone(input)).toThrowError(`timezone "${input}"`);
      expect(() => parseZone(input)).toThrowError(/Asia\/Shanghai/);
    },
  );

  it.each(['+25:00', '+19:00', '-18:01', '+08:60'])('refuses the out-of-range offset %j, naming the range', (input) => {
    expect(() => parseZone(input)).toThrowError(`invalid timezone "${input}": offsets go up to ±18:00`);
  });

  it('throws plain Errors, not RangeErrors from Intl', () => {
    try {
      parseZone('Mars/Olympus_Mons');
      expect.unreachable();
    } catch (error) {
      expect((error as Error).constructor).toBe(Error);
    }
  });
});

describe('offsetMinutesAt', () => {
  it('is constant for fixed offsets', () => {
    expect(offsetMinutesAt(parseZone('-05:30'), at('2024-07-01T00:00:00Z'))).toBe(-330);
    expect(offsetMinutesAt(UTC, 0)).toBe(0);
  });

  it('follows DST in an IANA zone, switching exactly at the transition', () => {
    const ny = parseZone('America/New_York');
    expect(offsetMinutesAt(ny, at('2024-01-15T12:00:00Z'))).toBe(-300);
    expect(offsetMinutesAt(ny, at('2024-07-15T12:00:00Z'))).toBe(-240);
    // 2024-03-10 02:00 EST = 07:00Z springs forward.
    expect(offsetMinutesAt(ny, at('2024-03-10T06:59:59.999Z'))).toBe(-300);
    expect(offsetMinutesAt(ny, at('2024-03-10T07:00:00.000Z'))).toBe(-240);
    // 2024-11-03 02:00 EDT = 06:00Z falls back.
    expect(offsetMinutesAt(ny, at('2024-11-03T05:59:59.999Z'))).toBe(-240);
    expect(offsetMinutesAt(ny, at('2024-11-03T06:00:00.000Z'))).toBe(-300);
  });

  it('handles a transition that is not on a UTC hour (Lord Howe: 30-minute DST)', () => {
    const zone = parseZone('Australia/Lord_Howe');
    // 2024-04-07 02:00 local (+11:00) = 2024-04-06T15:00Z falls back to +10:30.
    expect(offsetMinutesAt(zone, at('2024-04-06T14:59:59Z'))).toBe(660);
    expect(offsetMinutesAt(zone, at('2024-04-06T15:00:00Z'))).toBe(630);
  });
});

describe('formatLocal', () => {
  const instant = at('2024-01-23T17:50:40Z');

  it.each([
    ['UTC', '2024-01-23', '17:50'],
    ['+08:00', '2024-01-24', '01:50'],
    ['Asia/Shanghai', '2024-01-24', '01:50'],
    ['-05:30', '2024-01-23', '12:20'],
    ['America/New_York', '2024-01-23', '12:50'],
    ['Pacific/Kiritimati', '2024-01-24', '07:50'],
  ])('shows 2024-01-23T17:50:40Z in %s as %s %s', (tz, day, time) => {
    expect(formatLocal(instant, parseZone(tz))).toEqual({ day, time });
  });

  it('writes midnight as 00:00, never 24:00', () => {
    expect(formatLocal(at('2024-01-23T16:00:00Z'), parseZone('Asia/Shanghai'))).toEqual({ day: '2024-01-24', time: '00:00' });
  });

  it('uses the summer offset in summer and the winter one in winter', () => {
    const ny = parseZone('America/New_York');
    expect(formatLocal(at('2024-03-10T06:30:00Z'), ny)).toEqual({ day: '2024-03-10', time: '01:30' });
    expect(formatLocal(at('2024-03-10T07:30:00Z'), ny)).toEqual({ day: '2024-03-10', time: '03:30' });
  });

  it('refuses an invalid instant', () => {
    expect(() => formatLocal(Number.NaN, UTC)).toThrowError(RangeError);
  });
});

describe('localToEpoch', () => {
  it('reads 2024-01-24 01:50:40 in +08:00 as 2024-01-23T17:50:40.000Z', () => {
    expect(iso(localToEpoch('2024-01-24 01:50:40', parseZone('+08:00')))).toBe('2024-01-23T17:50:40.000Z');
    expect(iso(localToEpoch('2024-01-24 01:50:40', parseZone('Asia/Shanghai')))).toBe('2024-01-23T17:50:40.000Z');
  });

  it('reads a negative offset', () => {
    expect(iso(localToEpoch('2024-01-23 12:20:40', parseZone('-05:30')))).toBe('2024-01-23T17:50:40.000Z');
  });

  it('reads UTC', () => {
    expect(iso(localToEpoch('2024-01-23 17:50:40', UTC))).toBe('2024-01-23T17:50:40.000Z');
  });

  it('accepts a T separator, no seconds, fractional seconds and a bare date', () => {
    const zone = parseZone('+08:00');
    expect(iso(localToEpoch('2024-01-24T01:50:40', zone))).toBe('2024-01-23T17:50:40.000Z');
    expect(iso(localToEpoch('2024-01-24 01:50', zone))).toBe('2024-01-23T17:50:00.000Z');
    expect(iso(localToEpoch('2024-01-24 01:50:40.5', zone))).toBe('2024-01-23T17:50:40.500Z');
    expect(iso(localToEpoch('2024-01-24', zone))).toBe('2024-01-23T16:00:00.000Z');
  });

  it('reads the common "YYYY-MM-DD HH:mm:ss" (fast path, the date cached per day) exactly as every other form', () => {
    const zone = parseZone('+08:00');
    const texts = ['2024-01-24 01:50:40', '2024-01-24 23:59:59', '2024-01-25 00:00:00', '2024-02-29 12:00:00', '0099-12-31 23:59:59', '1969-12-31 23:59:59'];
    for (const text of texts) expect(localToEpoch(text, zone)).toBe(localToEpoch(`${text}.000`, zone));
    // out-of-range fields and impossible dates fail naming the text as given, cached day or not
    for (const text of ['2024-01-24 24:00:00', '2024-01-24 12:60:00', '2024-01-24 12:00:60', '2023-02-29 12:00:00', '2024-13-01 00:00:00', '2024-01-2x 01:00:00', '2024-01-24 1a:00:00']) {
      expect(() => localToEpoch(text, zone)).toThrow(`invalid local time "${text}"`);
    }
  });

  describe('across DST changes in America/New_York', () => {
    const ny = parseZone('America/New_York');

    it('uses EST before and EDT after spring forward', () => {
      expect(iso(localToEpoch('2024-03-10 01:59:59', ny))).toBe('2024-03-10T06:59:59.000Z');
      expect(iso(localToEpoch('2024-03-10 03:00:00', ny))).toBe('2024-03-10T07:00:00.000Z');
      expect(iso(localToEpoch('2024-07-04 12:00:00', ny))).toBe('2024-07-04T16:00:00.000Z');
    });

    it('moves a time in the skipped hour forward (02:30 → 03:30 EDT)', () => {
      expect(iso(localToEpoch('2024-03-10 02:30:00', ny))).toBe('2024-03-10T07:30:00.000Z');
    });

    it('reads a time in the repeated hour as the earlier instant (EDT)', () => {
      expect(iso(localToEpoch('2024-11-03 01:30:00', ny))).toBe('2024-11-03T05:30:00.000Z');
      expect(iso(localToEpoch('2024-11-03 02:30:00', ny))).toBe('2024-11-03T07:30:00.000Z');
    });
  });

  it('resolves a repeated hour east of UTC to the earlier instant too (Europe/Berlin)', () => {
    expect(iso(localToEpoch('2024-10-27 02:30:00', parseZone('Europe/Berlin')))).toBe('2024-10-27T00:30:00.000Z');
  });

  it('round-trips formatLocal for every hour of a year with DST', () => {
    const zone = parseZone('America/New_York');
    for (let ms = at('2024-01-01T00:00:00Z'); ms < at('2025-01-01T00:00:00Z'); ms += 3_600_000 + 60_000) {
      const local = formatLocal(ms, zone);
      const back = localToEpoch(`${local.day} ${local.time}`, zone);
      // The repeated hour maps back to its first occurrence.
      expect([0, 3_600_000]).toContain(ms - (back + (ms % 60_000)));
    }
  });

  it.each(['2024-02-30 00:00:00', '2024-01-24 24:00:00', '2024-13-01 00:00:00', '2024-01-24 01:60:00', '24-01-24 01:50:40', 'yesterday', ''])(
    'refuses %j',
    (text) => {
      expect(() => localToEpoch(text, UTC)).toThrowError(/invalid local time/);
    },
  );
});
