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
});
