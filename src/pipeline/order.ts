import { createReadStream } from 'node:fs';
import { mkdir, rm, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { compareIds } from '../message.js';

export type Order = 'asc' | 'desc';

export interface Row {
  time: number;
  id: string;
  /** the message as its JSONL line, without the newline */
  line: string;
}

export interface Run {
  path: string;
  count: number;
  first: Row;
  last: Row;
}

export interface SpoolResult {
  count: number;
  /** oldest and newest message times, undefined when empty */
  oldest: number | undefined;
  newest: number | undefined;
  /** JSON lines (no newline) in the requested order, each id once */
  lines(): AsyncIterable<string>;
  /** the same lines as raw text, newline-terminated, in large chunks: no per-line work */
  chunks(): AsyncIterable<string | Buffer>;
}

function compareRows(a: Row, b: Row): number {
  return a.time - b.time || compareIds(a.id, b.id);
}

/**
 * Puts messages in --order whatever order the API served them, with memory
 * bounded by one run: rows are sorted in runs of `runSize` and spilled to
 * disk, then read back run by run (the usual case: a newest-first walk yields
 * runs that do not overlap) or merged. Sorting also makes any duplicate the
 * walker's bounded window let through adjacent, so each id is written once.
 */
export class Spool {
  private buffer: Row[] = [];
  private readonly runs: Run[] = [];
  private readonly direction: number;
  private dirReady = false;

  private lastFlush = Date.now();

  constructor(
    private readonly dir: string,
    order: Order,
    private readonly runSize = 2_000,
    /** runs of an interrupted export (--resume) */
    restored: Run[] = [],
    /** spill at least this often, so a checkpoint is never far behind */
    private readonly flushEveryMs = 15_000,
    /** the sort key of a spooled line, for merging runs that overlap */
    private readonly keyOf: (line: string) => { time: number; id: string } = keyOfMessageLine,
  ) {
    this.direction = order === 'asc' ? 1 : -1;
    this.runs.push(...restored);
    this.dirReady = restored.length > 0;
  }

  /** The spilled runs: with the walk's position they make a checkpoint. */
  get spilled(): readonly Run[] {
    return this.runs;
  }

  get size(): number {
    return this.buffer.length + this.runs.reduce((sum, run) => sum + run.count, 0);
  }

  add(time: number, id: string, line: string): void {
    this.buffer.push({ time, id, line });
  }

  /** Spill when the buffer is full or old; returns true when it did. Called between pages. */
  async maybeFlush(): Promise<boolean> {
    const due = this.buffer.length >= this.runSize || (this.buffer.length > 0 && Date.now() - this.lastFlush >= this.flushEveryMs);
    if (!due) return false;
    await this.flush();
    return true;
  }

  private sortedBuffer(): Row[] {
    const rows = this.buffer;
    this.buffer = [];
    const direction = this.direction;
    rows.sort((a, b) => direction * compareRows(a, b));
    return dedupeSorted(rows);
  }

  private async flush(): Promise<void> {
    this.lastFlush = Date.now();
    if (this.buffer.length === 0) return;
    const rows = this.sortedBuffer();
    if (!this.dirReady) {
      await mkdir(this.dir, { recursive: true });
      this.dirReady = true;
    }
    const path = join(this.dir, `run-${this.runs.length}.jsonl`);
    await writeFile(path, rows.map((row) => row.line).join('\n') + '\n');
    const first = rows[0]!;
    const last = rows[rows.length - 1]!;
    // Only the keys of a run's ends are needed to order runs; checkpoints carry them.
    this.runs.push({ path, count: rows.length, first: { time: first.time, id: first.id, line: '' }, last: { time: last.time, id: last.id, line: '' } });
  }

  async finish(): Promise<SpoolResult> {
    if (this.runs.length === 0) {
      const rows = this.sortedBuffer();
      return {
        count: rows.length,
        ...span(rows[0], rows[rows.length - 1]),
        async *lines() {
          for (const row of rows) yield row.line;
        },
        async *chunks() {
          for (let i = 0; i < rows.length; i += 1000) {
            yield rows.slice(i, i + 1000).map((row) => row.line).join('\n') + '\n';
          }
        },
      };
    }
    await this.flush();
    const direction = this.direction;
    const runs = [...this.runs].sort((a, b) => direction * compareRows(a.first, b.first));
    const disjoint = runs.every((run, i) => i === 0 || direction * compareRows(runs[i - 1]!.last, run.first) < 0);
    if (disjoint) {
      return {
        count: runs.reduce((sum, run) => sum + run.count, 0),
        ...span(runs[0]!.first, runs[runs.length - 1]!.last),
        async *lines() {
          for (const run of runs) yield* readLines(run.path);
        },
        async *chunks() {
          for (const run of runs) yield* createReadStream(run.path, { highWaterMark: 1 << 20 });
        },
      };
    }
    // Overlapping runs: merge into one file, so the count is exact before writing starts;
    // at most MAX_FAN_IN files open at once, merged in rounds.
    let level = runs;
    for (let round = 0; level.length > MAX_FAN_IN; round++) {
      const next: Run[] = [];
      for (let i = 0; i < level.length; i += MAX_FAN_IN) {
        const path = join(this.dir, `merge-${round}-${i}.jsonl`);
        const merged = await mergeRuns(level.slice(i, i + MAX_FAN_IN), path, direction, this.keyOf);
        if (merged.first && merged.last) next.push({ path, count: merged.count, first: merged.first, last: merged.last });
      }
      level = next;
    }
    const merged = join(this.dir, 'merged.jsonl');
    const { count, first, last } = await mergeRuns(level, merged, direction, this.keyOf);
    return {
      count,
      ...span(first, last),
      lines: () => readLines(merged),
      chunks: () => createReadStream(merged, { highWaterMark: 1 << 20 }),
    };
  }

  async dispose(): Promise<void> {
    this.buffer = [];
    if (this.dirReady) await rm(this.dir, { recursive: true, force: true });
  }
}

function span(first: Row | undefined, last: Row | undefined): { oldest: number | undefined; newest: number | undefined } {
  if (!first || !last) return { oldest: undefined, newest: undefined };
  return { oldest: Math.min(first.time, last.time), newest: Math.max(first.time, last.time) };
}

function dedupeSorted(rows: Row[]): Row[] {
  let write = 0;
  for (let read = 0; read < rows.length; read++) {
    const row = rows[read]!;
    if (write > 0 && rows[write - 1]!.id === row.id && rows[write - 1]!.time === row.time) continue;
    rows[write++] = row;
  }
  rows.length = write;
  return rows;
}

/** Files merged at once: each open run holds a read buffer. */
const MAX_FAN_IN = 32;

/**
 * Lines of a spool file we wrote ourselves (`\n`-separated, no `\r`): a plain
 * split per chunk, several times cheaper than readline on this hot path.
 */
async function* readLines(path: string, bufferBytes = 1 << 20): AsyncGenerator<string> {
  let rest = '';
  for await (const chunk of createReadStream(path, { highWaterMark: bufferBytes, encoding: 'utf8' })) {
    const text = rest + (chunk as string);
    const lines = text.split('\n');
    rest = lines.pop()!;
    for (const line of lines) if (line.length > 0) yield line;
  }
  if (rest.length > 0) yield rest;
}

function keyOfMessageLine(line: string): { time: number; id: string } {
  const parsed = JSON.parse(line) as { id: string; timestamp: string };
  return { time: Date.parse(parsed.timestamp), id: parsed.id };
}

async function mergeRuns(
  runs: Run[],
  target: string,
  direction: number,
  keyOf: (line: string) => { time: number; id: string },
): Promise<{ count: number; first: Row | undefined; last: Row | undefined }> {
  const rowOf = (line: string): Row => ({ ...keyOf(line), line });
  const sources = runs.map((run) => readLines(run.path, 1 << 16)[Symbol.asyncIterator]());
  const heads: Array<Row | undefined> = await Promise.all(
    sources.map(async (source) => {
      const next = await source.next();
      return next.done ? undefined : rowOf(next.value);
    }),
  );
  const file = await open(target, 'w');
  let count = 0;
  let first: Row | undefined;
  let last: Row | undefined;
  let chunk = '';
  try {
    for (;;) {
      // Few runs overlap in practice; a linear scan of the heads is simpler than a heap and fast enough.
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i];
        if (head && (best < 0 || direction * compareRows(head, heads[best]!) < 0)) best = i;
      }
      if (best < 0) break;
      const row = heads[best]!;
      const next = await sources[best]!.next();
      heads[best] = next.done ? undefined : rowOf(next.value);
      if (last && last.id === row.id && last.time === row.time) continue;
      first ??= row;
      last = row;
      count++;
      chunk += row.line + '\n';
      if (chunk.length > 1 << 20) {
        await file.write(chunk);
        chunk = '';
      }
    }
    if (chunk) await file.write(chunk);
  } finally {
    await file.close();
  }
  return { count, first, last };
}
