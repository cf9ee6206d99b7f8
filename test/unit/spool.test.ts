import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Spool, type Order } from '../../src/pipeline/order.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'spool-'));
  dirs.push(dir);
  return join(dir, 'spool');
}

function line(time: number, id: string): string {
  return JSON.stringify({ id, timestamp: new Date(time).toISOString() });
}

async function drain(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function bytes(iterable: AsyncIterable<string | Buffer>): Promise<string> {
  let out = '';
  for await (const chunk of iterable) out += chunk.toString();
  return out;
}

/** Adds rows, spilling between "pages" as the exporter does. */
async function fill(spool: Spool, rows: Array<[number, string]>, page = 7): Promise<void> {
  for (let i = 0; i < rows.length; i++) {
    const [time, id] = rows[i]!;
    spool.add(time, id, line(time, id));
    if (i % page === page - 1) await spool.maybeFlush();
  }
}

describe.each<Order>(['asc', 'desc'])('Spool, --order %s', (order) => {
  const sorted = (rows: Array<[number, string]>) => {
    const unique = [...new Map(rows.map((row) => [row[1], row])).values()];
    unique.sort((a, b) => a[0] - b[0] || Number(a[1]) - Number(b[1]));
    return (order === 'asc' ? unique : unique.reverse()).map(([time, id]) => line(time, id));
  };

  it('orders a newest-first stream held in memory, and removes duplicates', async () => {
    const rows: Array<[number, string]> = [];
    for (let i = 50; i > 0; i--) rows.push([1000 * i, String(i)]);
    rows.push([3000, '3'], [1000, '1']);
    const spool = new Spool(scratch(), order, 1000);
    await fill(spool, rows);
    const result = await spool.finish();
    expect(result.count).toBe(50);
    expect(await drain(result.lines())).toEqual(sorted(rows));
    expect(await bytes(result.chunks())).toBe(sorted(rows).join('\n') + '\n');
    expect([result.oldest, result.newest]).toEqual([1000, 50_000]);
  });

  it('spills runs to disk and reads them back in order when they do not overlap', async () => {
    const rows: Array<[number, string]> = [];
    for (let i = 500; i > 0; i--) rows.push([1000 * i, String(i)]);
    const dir = scratch();
    const spool = new Spool(dir, order, 20);
    await fill(spool, rows);
    const result = await spool.finish();
    expect(readdirSync(dir).filter((name) => name.startsWith('run-')).length).toBeGreaterThan(10);
    expect(result.count).toBe(500);
    expect(await drain(result.lines())).toEqual(sorted(rows));
    expect(await bytes(result.chunks())).toBe(sorted(rows).join('\n') + '\n');
    await spool.dispose();
  });

  it('merges overlapping runs (more than one merge round) exactly, duplicates across runs included', async () => {
    // A shuffled history with repeats and ties: every run overlaps every other.
    const rows: Array<[number, string]> = [];
    let seed = 42;
    const random = () => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647;
    for (let i = 0; i < 3000; i++) {
      const n = Math.floor(random() * 2000);
      rows.push([1000 * Math.floor(n / 3), String(n)]);
    }
    const dir = scratch();
    const spool = new Spool(dir, order, 40);
    await fill(spool, rows, 40);
    const result = await spool.finish();
    expect(readdirSync(dir).some((name) => name.startsWith('merge-'))).toBe(true);
    const expected = sorted(rows);
    expect(result.count).toBe(expected.length);
    expect(await drain(result.lines())).toEqual(expected);
    expect(await bytes(result.chunks())).toBe(expected.join('\n') + '\n');
  });

  it('keeps multi-byte text and lines longer than its buffer byte for byte, across runs and read chunks', async () => {
    // Lines are held as UTF-8 outside the heap and read back in 1 MiB chunks: a
    // character split between two chunks, or a line bigger than the buffer, must survive.
    const text = (i: number) => (i % 3 === 0 ? '你好👍🏽'.repeat(i === 9 ? 200_000 : 20) : `plain ${i}`);
    const rowLine = (time: number, id: string) => JSON.stringify({ id, timestamp: new Date(time).toISOString(), text: text(Number(id)) });
    const rows: Array<[number, string]> = [];
    for (let i = 60; i > 0; i--) rows.push([1000 * i, String(i)]);
    // a served page out of order, and a repeat inside one run
    rows.splice(10, 2, rows[11]!, rows[10]!);
    rows.splice(30, 0, rows[29]!);
    const spool = new Spool(scratch(), order, 8);
    for (let i = 0; i < rows.length; i++) {
      const [time, id] = rows[i]!;
      spool.add(time, id, rowLine(time, id));
      if (i % 8 === 7) await spool.maybeFlush();
    }
    const result = await spool.finish();
    const unique = [...new Map(rows.map((row) => [row[1], row])).values()].sort((a, b) => a[0] - b[0]);
    const expected = (order === 'asc' ? unique : unique.reverse()).map(([time, id]) => rowLine(time, id));
    expect(result.count).toBe(60);
    expect(await drain(result.lines())).toEqual(expected);
    const chunks: Buffer[] = [];
    // each chunk is valid only until the next is asked for: copy it
    for await (const chunk of result.chunks()) chunks.push(Buffer.from(chunk));
    expect(chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(expected.join('\n') + '\n');
    await spool.dispose();
  });
});
