import { describe, expect, it } from 'vitest';
import { DedupeWindow } from '../../src/pipeline/dedupe.js';

/** The window as it was before its compact table: two Sets of strings. What it remembers is the contract. */
class ReferenceWindow {
  private current = new Set<string>();
  private previous = new Set<string>();
  constructor(private readonly capacity: number) {}
  has(id: string): boolean {
    return this.current.has(id) || this.previous.has(id);
  }
  add(id: string): boolean {
    if (this.has(id)) return false;
    if (this.current.size >= this.capacity) {
      this.previous = this.current;
      this.current = new Set();
    }
    this.current.add(id);
    return true;
  }
}

/** A small seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

/** Ids that look alike as numbers but are different strings, or sit on the edges of how the table splits them. */
const LOOKALIKES = [
  '0', '00', '000000000', '0000000000', '1', '01', '001', '+1', '-1', '1.0', '1e0', ' 1', '1 ', '１', '١',
  '999999999', '1000000000', '0999999999', '1000000001', '10000000000', '100000000000000000',
  '9007199254740992', '9007199254740993', '9007199254740994', // equal as doubles, different ids
  '1578671131872591946', '1578671131872591947', '1578671131872591945',
  '9223372036854775807', '9223372036854775808', '9999999999999999999', '9999999999999999998',
  '18446744073709551616', '18446744073709551617', '99999999999999999999', '100000000000000000000',
  '4f32a1c0-0000-4000-8000-000000000001', 'abc', '', 'NaN', 'Infinity', '0x10', '16',
];

describe('DedupeWindow', () => {
  it('every look-alike id is its own id: each added once, each seen again', () => {
    const window = new DedupeWindow(1000);
    for (const id of LOOKALIKES) expect(window.add(id), id).toBe(true);
    for (const id of LOOKALIKES) expect(window.has(id), id).toBe(true);
    for (const id of LOOKALIKES) expect(window.add(id), id).toBe(false);
    expect(window.has('2')).toBe(false);
    expect(window.has('9007199254740995')).toBe(false);
    expect(window.has('1578671131872591948')).toBe(false);
  });

  it('neighbouring 19-digit ids (snowflakes) over many table sizes: none taken for another', () => {
    const window = new DedupeWindow(200_000);
    const base = 1578671131872591946n;
    const ids = Array.from({ length: 150_000 }, (_, i) => String(base + BigInt(i) * (i % 2 === 0 ? 1n : 1_000_000_000n)));
    const distinct = new Set(ids);
    let added = 0;
    for (const id of ids) if (window.add(id)) added++;
    expect(added).toBe(distinct.size);
    expect(ids.filter((id) => window.add(id))).toEqual([]);
    // one apart in the last nine digits, or in the digits before them
    expect(window.has(String(base - 1n))).toBe(false);
    expect(window.has(String(base + 1_000_000_000n * 150_001n))).toBe(false);
  });

  it('ids sharing their last nine digits, or their first ten, are told apart', () => {
    const window = new DedupeWindow(100_000);
    const sameLow = Array.from({ length: 5000 }, (_, i) => `${i + 1}123456789`);
    const sameHigh = Array.from({ length: 5000 }, (_, i) => `1234567890${String(i).padStart(9, '0')}`);
    for (const id of [...sameLow, ...sameHigh]) expect(window.add(id), id).toBe(true);
    for (const id of [...sameLow, ...sameHigh]) expect(window.has(id), id).toBe(true);
    expect(window.has('5001123456789')).toBe(false);
    expect(window.has('1234567890000005000')).toBe(false);
  });

  it.each([1, 7, 64, 1000])('answers exactly as two Sets of strings do (capacity %i, 60k random operations)', (capacity) => {
    const next = random(capacity);
    const window = new DedupeWindow(capacity);
    const reference = new ReferenceWindow(capacity);
    const seen: string[] = [];
    const fresh = (): string => {
      const r = next();
      if (r < 0.45) return String(1578671131872591946n + BigInt(Math.floor(next() * 2 ** 40)));
      if (r < 0.6) return String(Math.floor(next() * 1e9));
      if (r < 0.7) return LOOKALIKES[Math.floor(next() * LOOKALIKES.length)]!;
      if (r < 0.8) return `${Math.floor(next() * 1e6)}`.padStart(12, '0');
      if (r < 0.9) return `${Math.floor(next() * 1e12)}${Math.floor(next() * 1e12)}`;
      return `m-${Math.floor(next() * 1e6)}`;
    };
    const wrong: string[] = [];
    for (let op = 0; op < 60_000; op++) {
      // Often an id from a little or a long while ago: the window must remember exactly the recent ones.
      const back = next() < 0.5 ? Math.floor(next() ** 3 * Math.min(seen.length, capacity * 4)) : -1;
      const id = back >= 0 && seen.length > 0 ? seen[seen.length - 1 - back]! : fresh();
      seen.push(id);
      if (next() < 0.3 ? window.has(id) !== reference.has(id) : window.add(id) !== reference.add(id)) wrong.push(`${id} at ${op}`);
    }
    expect(wrong).toEqual([]);
  });
});
