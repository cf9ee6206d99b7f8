import { describe, expect, it } from 'vitest';
import { fitMiddle, formatBarLine, formatBytes, formatDuration, formatStatsLine, formatSummary, parseStatsInterval, plural } from '../../src/progress.js';

const LABEL = 'relation channel 4f326124812c41448bc587bf6b2eaf42';

describe('a progress line', () => {
  it('without a total: counts, rate and the time reached; no bar, no percentage, no ETA', () => {
    const line = formatBarLine({ label: LABEL, messages: 1250, pages: 25, total: undefined, oldest: Date.UTC(2023, 3, 2, 5), elapsedMs: 5000 }, 200);
    expect(line).toBe(`${LABEL} · 1250 messages · 25 pages · 250/s · back to 2023-04-02`);
  });

  it('with a total: "of N", a bar and an ETA', () => {
    const line = formatBarLine({ label: 'dishawang channel 26', messages: 50, pages: 5, total: 200, oldest: undefined, elapsedMs: 5000 }, 120);
    expect(line).toMatch(/^dishawang channel 26 \|█{6}░{18}\| 50 of 200 messages · 5 pages · 10\/s · ETA 15\.0 s$/);
  });

  it.each([40, 60, 80, 100, 200])('at %i columns leaves room for an echoed ^C and always keeps the message count (pages from 60)', (width) => {
    for (const total of [undefined, 123456]) {
      const line = formatBarLine({ label: LABEL, messages: 123456, pages: 2469, total, oldest: Date.UTC(2020, 0, 1), elapsedMs: 61_000 }, width);
      expect(line.length, line).toBeLessThanOrEqual(width - 3);
      expect(line).toMatch(total ? /123456 of 123456 messages/ : /123456 messages/);
      if (width >= 60) expect(line).toMatch(/2469 pages/);
    }
  });

  it('a long label is cut in the middle so the end of the id stays', () => {
    expect(fitMiddle(LABEL, 30)).toBe('relation channel 4f32…6b2eaf42');
    expect(fitMiddle(LABEL, 30)).toHaveLength(30);
    expect(fitMiddle('short', 30)).toBe('short');
  });

  it('singular and plural', () => {
    expect(formatBarLine({ label: 'x', messages: 1, pages: 1, total: undefined, oldest: undefined, elapsedMs: 0 }, 80)).toBe('x · 1 message · 1 page');
    expect(plural(1, 'retry', 'retries')).toBe('1 retry');
    expect(plural(0, 'retry', 'retries')).toBe('0 retries');
  });
});

describe('the summary', () => {
  const channel = (label: string, messages: number, bytes: number) => ({
    label,
    messages,
    pages: 1,
    total: undefined,
    oldest: undefined,
    elapsedMs: 1500,
    stats: { requests: 1, retries: 0 },
    output: { path: `/out/${label}.jsonl`, bytes },
  });
  it('one line per channel with its output and bytes, then a total; "1 page, 1 request"', () => {
    expect(formatSummary([channel('a', 1, 300), channel('b', 2, 2048)], 2500)).toEqual([
      'a: 1 message → /out/a.jsonl (300 B), 1 page, 1 request, 0 retries in 1.5 s',
      'b: 2 messages → /out/b.jsonl (2.0 KiB), 1 page, 1 request, 0 retries in 1.5 s',
      'total: 2 channels, 3 messages, 2.3 KiB, 2 pages, 2 requests, 0 retries in 2.5 s',
    ]);
  });
  it('no total line for one channel, nothing for a channel not delivered', () => {
    expect(formatSummary([channel('a', 1, 300)], 2500)).toHaveLength(1);
    expect(formatSummary([{ ...channel('a', 1, 300), output: undefined }], 2500)).toEqual([]);
  });
  it('--partition: the parts and their size, never "(0 B)"; parts shared by several channels give no per-channel size', () => {
    const parted = { ...channel('a', 120, 0), output: { path: '/out/a.jsonl', bytes: 39_763, parts: 3 } };
    expect(formatSummary([parted], 900)).toEqual(['a: 120 messages → /out/a.jsonl (3 parts, 38.8 KiB), 1 page, 1 request, 0 retries in 1.5 s']);
    const shared = (label: string) => ({ ...channel(label, 60, 0), output: { path: '/out/all.csv', bytes: undefined, parts: 1 } });
    expect(formatSummary([shared('a'), shared('b')], 900)).toEqual([
      'a: 60 messages → /out/all.csv (1 part), 1 page, 1 request, 0 retries in 1.5 s',
      'b: 60 messages → /out/all.csv (1 part), 1 page, 1 request, 0 retries in 1.5 s',
      'total: 2 channels, 120 messages, 2 pages, 2 requests, 0 retries in 0.9 s',
    ]);
  });
});

describe('the periodic stats line (no terminal)', () => {
  it('the run so far and each channel in flight', () => {
    const line = formatStatsLine(
      [
        { label: 'relation channel C1', messages: 600, pages: 12, total: undefined, oldest: Date.UTC(2023, 3, 2), elapsedMs: 0, stats: { requests: 13, retries: 1 }, state: 'walking' },
        { label: 'discuz channel 12', messages: 50, pages: 1, total: 400, oldest: undefined, elapsedMs: 0, stats: { requests: 1, retries: 0 }, state: 'walking' },
        { label: 'discuz channel 13', messages: 10, pages: 1, total: undefined, oldest: undefined, elapsedMs: 0, stats: { requests: 1, retries: 0 }, state: 'walked' },
      ],
      60_000,
    );
    expect(line).toBe(
      'stats after 1 min 00 s, 1 of 3 channels done, 660 messages, 14 pages, 15 requests, 1 retry, 11 messages/s; in flight: relation channel C1: 600 messages, back to 2023-04-02; discuz channel 12: 50 of 400 messages',
    );
  });
  it('counts channels still queued behind --concurrency', () => {
    const walking = { label: 'a', messages: 1, pages: 1, total: undefined, oldest: undefined, elapsedMs: 0, state: 'walking' };
    expect(formatStatsLine([walking], 1000, 10)).toMatch(/, 0 of 10 channels done, /);
  });

  it('--stats takes 30s, 1m, 500ms, a bare number of seconds, 0', () => {
    expect(parseStatsInterval('30s')).toBe(30_000);
    expect(parseStatsInterval('1m')).toBe(60_000);
    expect(parseStatsInterval('500ms')).toBe(500);
    expect(parseStatsInterval('2')).toBe(2000);
    expect(parseStatsInterval('0')).toBe(0);
    expect(parseStatsInterval('soon')).toBeUndefined();
  });
  it('durations and sizes', () => {
    expect(formatDuration(6500)).toBe('6.5 s');
    expect(formatDuration(65_000)).toBe('1 min 05 s');
    expect(formatDuration(3_723_000)).toBe('1 h 02 min');
    expect(formatBytes(1536)).toBe('1.5 KiB');
  });
});

describe('a short label with a known total at 80 columns', () => {
  it('keeps the whole label and narrows the bar instead', () => {
    const line = formatBarLine({ label: 'discuz channel 12', messages: 200, pages: 4, total: 400, oldest: undefined, elapsedMs: 1010 }, 80);
    expect(line.startsWith('discuz channel 12 |')).toBe(true);
    expect(line.length).toBeLessThanOrEqual(77);
    expect(line).toMatch(/\|[█░]{6,}\| 200 of 400 messages · 4 pages/);
  });
});

describe('a label that would be cut to keep a bar', () => {
  it('keeps the whole label and drops the bar: "N of M" already says what the bar shows', () => {
    const state = { label: 'discuz channel 12', messages: 123_456, pages: 2470, total: 400_000, oldest: undefined, elapsedMs: 61_000 };
    const line = formatBarLine(state, 80);
    expect(line.length).toBeLessThanOrEqual(77);
    expect(line.startsWith('discuz channel 12 · 123456 of 400000 messages')).toBe(true);
    expect(line).not.toMatch(/[█░]/);
    // with room, the bar is back
    expect(formatBarLine(state, 200)).toMatch(/^discuz channel 12 \|[█░]+\| 123456 of 400000 messages/);
  });
});
