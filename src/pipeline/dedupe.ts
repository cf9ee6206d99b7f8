/**
 * Remembers the most recent ids, not every id ever seen: between `capacity`
 * and 2×`capacity` of them. Duplicates that walkers produce (an inclusive
 * cursor's boundary, a page shifted by new messages) are always recent; the
 * final sort catches anything older, so memory stays flat however long the
 * history is.
 *
 * Decimal ids (up to 19 digits without a leading zero: the numeric ids most
 * APIs use, snowflakes up to 2^63 and beyond) live in open-addressing tables
 * of typed arrays, grown to size once and then reused: nothing on the JS heap
 * per id, so nothing for the garbage collector to promote and free again (a
 * `Set` of 10–20k id strings, rebuilt as it grew, was half of what a relation
 * walk promoted to V8's old generation). Each such id is exactly one pair of
 * numbers — its digits before the last nine, and those nine — so comparing
 * pairs is comparing the ids; the hash only picks where to look. Any other id
 * goes to a plain `Set`.
 */
export class DedupeWindow {
  private current = new IdGeneration();
  private previous = new IdGeneration();

  constructor(private readonly capacity: number) {}

  has(id: string): boolean {
    if (!readDecimal(id)) return this.current.others.has(id) || this.previous.others.has(id);
    return this.current.hasPair(key.high, key.low) || this.previous.hasPair(key.high, key.low);
  }

  /** Adds `id`; returns false when it was already there. */
  add(id: string): boolean {
    const decimal = readDecimal(id);
    const { high, low } = key;
    if (decimal ? this.current.hasPair(high, low) || this.previous.hasPair(high, low) : this.current.others.has(id) || this.previous.others.has(id)) {
      return false;
    }
    if (this.current.size >= this.capacity) {
      const emptied = this.previous;
      emptied.clear();
      this.previous = this.current;
      this.current = emptied;
    }
    if (decimal) this.current.addPair(high, low);
    else this.current.addOther(id);
    return true;
  }
}

/** The pair of the last id readDecimal accepted (one object, reused: no allocation per id). */
const key = { high: 0, low: 0 };
const LOW_DIGITS = 9;
const MAX_DIGITS = 19;

/**
 * Whether `id` is 1–19 ASCII digits without a leading zero (or "0"); if so its
 * digits before the last nine (at most ten: exact in a double) go to key.high
 * and the last nine (under 2^30) to key.low.
 */
function readDecimal(id: string): boolean {
  const length = id.length;
  if (length === 0 || length > MAX_DIGITS) return false;
  if (length > 1 && id.charCodeAt(0) === 48) return false;
  const cut = length - LOW_DIGITS;
  let high = 0;
  let low = 0;
  for (let i = 0; i < length; i++) {
    const digit = id.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return false;
    if (i < cut) high = high * 10 + digit;
    else low = low * 10 + digit;
  }
  key.high = high;
  key.low = low;
  return true;
}

const EMPTY = -1;
const MIN_SLOTS = 1024;

/** One generation of the window. */
class IdGeneration {
  size = 0;
  others = new Set<string>();
  /** pairs in the table */
  private stored = 0;
  // Grown as needed (a short history needs little), and kept when the window moves on.
  private high = new Float64Array(MIN_SLOTS).fill(EMPTY);
  private low = new Uint32Array(MIN_SLOTS);
  private mask = MIN_SLOTS - 1;

  hasPair(high: number, low: number): boolean {
    const table = this.high;
    for (let slot = hash(high, low) & this.mask; ; slot = (slot + 1) & this.mask) {
      const h = table[slot]!;
      if (h === EMPTY) return false;
      if (h === high && this.low[slot] === low) return true;
    }
  }

  /** Adds a pair known not to be here. */
  addPair(high: number, low: number): void {
    this.size++;
    // At most half full, so that probes stay short.
    if ((this.stored + 1) * 2 > this.high.length) this.grow();
    this.stored++;
    this.put(high, low);
  }

  addOther(id: string): void {
    this.size++;
    this.others.add(id);
  }

  private put(high: number, low: number): void {
    let slot = hash(high, low) & this.mask;
    while (this.high[slot] !== EMPTY) slot = (slot + 1) & this.mask;
    this.high[slot] = high;
    this.low[slot] = low;
  }

  private grow(): void {
    const { high, low } = this;
    const slots = high.length * 2;
    this.high = new Float64Array(slots).fill(EMPTY);
    this.low = new Uint32Array(slots);
    this.mask = slots - 1;
    for (let i = 0; i < high.length; i++) if (high[i] !== EMPTY) this.put(high[i]!, low[i]!);
  }

  clear(): void {
    this.size = 0;
    this.stored = 0;
    this.high.fill(EMPTY);
    if (this.others.size > 0) this.others = new Set();
  }
}

function hash(high: number, low: number): number {
  let h = Math.imul(low ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul((high % 0x40000000) ^ Math.floor(high / 0x40000000), 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x27d4eb2f);
  return (h ^ (h >>> 13)) >>> 0;
}
