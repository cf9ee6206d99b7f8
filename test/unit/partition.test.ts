import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, describe, expect, it } from 'vitest';
import { createMessage, type Message } from '../../src/message.js';
import { Spool } from '../../src/pipeline/order.js';
import { partCount, partFileName, removeStaleParts, writePartitioned, type PartitionChannel } from '../../src/sinks/partition.js';
import { spoolCodecFor } from '../../src/sinks/spool-codec.js';
import type { Format } from '../../src/sinks/types.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'partition-'));
  dirs.push(dir);
  return dir;
}

const BASE = Date.parse('2024-01-23T00:00:00Z');

function messagesOf(channel: string, count: number): Message[] {
  return Array.from({ length: count }, (_, i) =>
    createMessage({
      id: `${channel}-${i}`,
      provider: 'relation',
      channel,
      time: BASE + i * 3_600_000,
      sender: { id: `u${i % 3}`, name: `user ${i % 3}`, avatar: null },
      type: 'text',
      text: `text ${i}`,
      replyTo: i > 0 && i % 4 === 0 ? `${channel}-${i - 3}` : null,
    }),
  );
}

async function channelOf(dir: string, format: Format, channel: string, count: number, window?: { skip: number; take: number }): Promise<PartitionChannel> {
  const spool = new Spool(join(dir, `spool-${channel}-${format}`), 'asc', 5);
  const codec = spoolCodecFor(format);
  for (const m of messagesOf(channel, count)) {
    spool.add(Date.parse(m.timestamp), m.id, codec.encode(m));
    await spool.maybeFlush();
  }
  const result = await spool.finish();
  const skip = window?.skip ?? 0;
  const take = window?.take ?? result.count;
  return {
    result,
    skip,
    take,
    summary: { provider: 'relation', channel, count: take, first: null, last: null, timezone: undefined, order: 'asc' },
  };
}

function idsIn(format: Format, text: string): string[] {
  if (format === 'jsonl') return text.trim().split('\n').filter(Boolean).map((line) => (JSON.parse(line) as Message).id);
  if (format === 'csv') return (parse(text) as string[][]).slice(1).map((row) => row[0]!);
  if (format === 'html') return [...text.matchAll(/<article [^>]*data-id="([^"]+)"/g)].map((m) => m[1]!);
  return [...text.matchAll(/^text (\d+)$/gm)].map((m) => m[1]!);
}

describe('--partition', () => {
  it('names parts NAME.ext, NAME.2.ext, … and counts them', () => {
    expect(partFileName('/x/out.html', 1)).toBe('out.html');
    expect(partFileName('/x/out.html', 2)).toBe('out.2.html');
    expect(partFileName('/x/relation-C1.v2.jsonl', 3)).toBe('relation-C1.v2.3.jsonl');
    expect(partFileName('/x/out', 2)).toBe('out.2');
    expect(partFileName('/x/.hidden', 2)).toBe('.hidden.2');
    expect([partCount(0, 10), partCount(10, 10), partCount(11, 10)]).toEqual([1, 1, 2]);
  });

  it.each(['jsonl', 'csv', 'md', 'html'] as const)('%s: every message once across complete parts of at most N', async (format) => {
    const dir = scratch();
    const path = join(dir, `out.${format}`);
    const channels = [await channelOf(dir, format, 'A', 23), await channelOf(dir, format, 'B', 0), await channelOf(dir, format, 'C', 9)];
    const written = await writePartitioned(path, channels, { format, size: 10, provider: 'relation' });
    expect(written.map((p) => p.slice(dir.length + 1))).toEqual([`out.${format}`, `out.2.${format}`, `out.3.${format}`, `out.4.${format}`]);
    const parts = written.map((p) => readFileSync(p, 'utf8'));
    const ids = parts.map((text) => idsIn(format, text));
    for (const partIds of ids) expect(partIds.length).toBeLessThanOrEqual(10);
    const all = ids.flat();
    const expected = format === 'md' ? [...messagesOf('A', 23), ...messagesOf('C', 9)].map((m) => m.text.slice(5)) : [...messagesOf('A', 23), ...messagesOf('C', 9)].map((m) => m.id);
    expect(all).toEqual(expected);
    if (format === 'csv') for (const text of parts) expect(text.startsWith('id,timestamp,')).toBe(true);
    if (format === 'html') {
      for (const [k, text] of parts.entries()) {
        expect(text.match(/<!DOCTYPE html>/g)).toHaveLength(1);
        expect(text.trimEnd().endsWith('</html>')).toBe(true);
        expect(text).toContain(`part ${k + 1} of 4`);
      }
      // A reply to a message in an earlier part links to that part's file.
      expect(parts[1]).toMatch(/href="out\.html#m-A-9"/);
      expect(parts[0]).toMatch(/href="#m-A-1"/);
    }
    if (format === 'md') parts.forEach((text, k) => expect(text).toContain(`part ${k + 1} of 4`));
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('html: each part links to the first, previous, next and last parts, and each header states its own count and span', async () => {
    const dir = scratch();
    const path = join(dir, 'out.html');
    const channels = [await channelOf(dir, 'html', 'A', 23), await channelOf(dir, 'html', 'B', 0), await channelOf(dir, 'html', 'C', 9)];
    const parts = (await writePartitioned(path, channels, { format: 'html', size: 10, provider: 'relation' })).map((p) => readFileSync(p, 'utf8'));
    const links = parts.map((text) => [...text.matchAll(/<a class="nav" href="([^"]+)"[^>]*>([^<]+)<\/a>/g)].map((m) => `${m[2]} ${m[1]}`));
    expect(links).toEqual([
      ['next › out.2.html', 'last » out.4.html'],
      ['« first out.html', '‹ previous out.html', 'next › out.3.html', 'last » out.4.html'],
      // part 3 holds three channels: each one's header carries the part's links
      [1, 2, 3].flatMap(() => ['« first out.html', '‹ previous out.2.html', 'next › out.4.html', 'last » out.4.html']),
      ['« first out.html', '‹ previous out.3.html'],
    ]);
    const at = (hours: number) => new Date(BASE + hours * 3_600_000).toISOString();
    const heads = parts.map((text) => [...text.matchAll(/<p class="sub"><span>(\d+) messages?<\/span>(?:<span><time datetime="([^"]+)">[^<]*<\/time> → <time datetime="([^"]+)">)?/g)].map((m) => [Number(m[1]), m[2] ?? null, m[3] ?? null]));
    expect(heads).toEqual([
      [[10, at(0), at(9)]],
      [[10, at(10), at(19)]],
      [[3, at(20), at(22)], [0, null, null], [7, at(0), at(6)]],
      [[2, at(7), at(8)]],
    ]);
  });

  it('writes only the --limit window', async () => {
    const dir = scratch();
    const path = join(dir, 'out.jsonl');
    const written = await writePartitioned(path, [await channelOf(dir, 'jsonl', 'A', 20, { skip: 12, take: 8 })], { format: 'jsonl', size: 5, provider: 'relation' });
    const ids = written.flatMap((p) => idsIn('jsonl', readFileSync(p, 'utf8')));
    expect(ids).toEqual(messagesOf('A', 20).slice(12).map((m) => m.id));
  });

  it('removes only the run of parts an earlier, longer export left after the last one', async () => {
    const dir = scratch();
    const path = join(dir, 'out.csv');
    for (const name of ['out.3.csv', 'out.4.csv', 'out.6.csv', 'other.3.csv']) writeFileSync(join(dir, name), 'x');
    const removed = await removeStaleParts(path, 2);
    expect(removed.map((p) => p.slice(dir.length + 1))).toEqual(['out.3.csv', 'out.4.csv']);
    expect(readdirSync(dir).sort()).toEqual(['other.3.csv', 'out.6.csv']);
  });
});
