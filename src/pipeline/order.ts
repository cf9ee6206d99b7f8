import { mkdir, rm, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
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
  /** the file's size when written: a run cut short (a power loss, the file touched) is not resumed from */
  bytes?: number;
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
  /**
   * The same lines as raw text, newline-terminated, in large chunks: no per-line
   * work. A chunk is valid only until the next one is asked for (one buffer is
   * reused, so off-heap memory stays flat): write it out, and wait for that
   * write to finish, first.
   */
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
  // The run being filled lives outside the JS heap: its lines are encoded into
  // one reused Buffer as they arrive, with only their keys and byte ranges on
  // the heap. Row objects and line strings held for a whole run used to
  // survive into V8's old generation and die there, which let the heap grow to
  // several times what is live before V8 collected it.
  private bytes: Buffer = Buffer.allocUnsafeSlow(1 << 20);
  private used = 0;
  /** lines added but not yet encoded into `bytes` */
  private pending = '';
  /** where a run that needs sorting is put in order */
  private scratch: Buffer = Buffer.alloc(0);
  private times: number[] = [];
  private ids: string[] = [];
  /** byte offset of each row's line in `bytes`; its end is the next row's start minus the newline */
  private starts: number[] = [];
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
    return this.times.length + this.runs.reduce((sum, run) => sum + run.count, 0);
  }

  add(time: number, id: string, line: string): void {
    this.times.push(time);
    this.ids.push(id);
    // Encoded a few dozen lines at a time: one native call per line cost more than the encoding.
    this.pending += `${line}\n`;
    if (this.pending.length >= PENDING_CHARS) this.encodePending();
  }

  /** Moves the pending lines into `bytes`; their starts are found from the newlines (a line holds none). */
  private encodePending(): void {
    const text = this.pending;
    if (text.length === 0) return;
    this.pending = '';
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const most = text.length * 3;
    if (this.bytes.length - this.used < most) this.grow(most);
    let at = this.used;
    this.used += this.bytes.write(text, at);
    const starts = this.starts;
    while (at < this.used) {
      starts.push(at);
      at = this.bytes.indexOf(0x0a, at) + 1;
    }
  }

  private grow(atLeast: number): void {
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.bytes.length * 2, this.used + atLeast));
    this.bytes.copy(bigger, 0, 0, this.used);
    this.bytes = bigger;
  }

  /** Spill when the buffer is full or old; returns true when it did. Called between pages. */
  async maybeFlush(): Promise<boolean> {
    const count = this.times.length;
    const due = count >= this.runSize || (count > 0 && Date.now() - this.lastFlush >= this.flushEveryMs);
    if (!due) return false;
    await this.flush();
    return true;
  }

  /**
   * The buffered rows as one newline-terminated block in the spool's order,
   * each (time, id) once, and the keys of its ends; the buffer is empty after.
   * A walk usually serves rows already in order: then the block is the buffer.
   * The block is valid until the next add(): flush writes it out before that,
   * and finish() is the last call.
   */
  private takeSorted(): { block: Buffer; count: number; first: Row | undefined; last: Row | undefined } {
    this.encodePending();
    const { times, ids, starts, direction } = this;
    const n = times.length;
    const end = this.used;
    const bytes = this.bytes;
    this.times = [];
    this.ids = [];
    this.starts = [];
    this.used = 0;
    if (n === 0) return { block: bytes.subarray(0, 0), count: 0, first: undefined, last: undefined };
    const compareAt = (a: number, b: number) => direction * (times[a]! - times[b]! || compareIds(ids[a]!, ids[b]!));
    // Served in the asked order (a newest-first walk, --order desc) or exactly against it (--order asc): no sort.
    let forward = true;
    let backward = true;
    for (let i = 1; i < n && (forward || backward); i++) {
      const c = compareAt(i - 1, i);
      if (c >= 0) forward = false;
      if (c <= 0) backward = false;
    }
    const keyAt = (i: number): Row => ({ time: times[i]!, id: ids[i]!, line: '' });
    if (forward) return { block: bytes.subarray(0, end), count: n, first: keyAt(0), last: keyAt(n - 1) };
    let order: number[];
    if (backward) {
      order = Array.from({ length: n }, (_, i) => n - 1 - i);
    } else {
      order = Array.from({ length: n }, (_, i) => i);
      order.sort(compareAt);
    }
    if (this.scratch.length < end) this.scratch = Buffer.allocUnsafeSlow(Math.max(end, this.scratch.length * 2));
    const block = this.scratch;
    let at = 0;
    let previous = -1;
    let first = -1;
    let count = 0;
    for (const i of order) {
      if (previous >= 0 && times[previous] === times[i] && ids[previous] === ids[i]) continue;
      at += bytes.copy(block, at, starts[i]!, i + 1 < n ? starts[i + 1]! : end);
      if (first < 0) first = i;
      previous = i;
      count++;
    }
    return { block: block.subarray(0, at), count, first: keyAt(first), last: keyAt(previous) };
  }

  private async flush(): Promise<void> {
    this.lastFlush = Date.now();
    if (this.times.length === 0) return;
    const { block, count, first, last } = this.takeSorted();
    if (!this.dirReady) {
      await mkdir(this.dir, { recursive: true });
      this.dirReady = true;
    }
    const path = join(this.dir, `run-${this.runs.length}.jsonl`);
    await writeFile(path, block);
    // Only the keys of a run's ends are needed to order runs; checkpoints carry them.
    this.runs.push({ path, count, bytes: block.length, first: first!, last: last! });
  }

  async finish(): Promise<SpoolResult> {
    if (this.runs.length === 0) {
      const { block, count, first, last } = this.takeSorted();
      return {
        count,
        ...span(first, last),
        async *lines() {
          yield* linesOf(block);
        },
        async *chunks() {
          for (let i = 0; i < block.length; i += 1 << 20) yield block.subarray(i, i + (1 << 20));
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
          const buffer = Buffer.allocUnsafeSlow(CHUNK_BYTES);
          for (const run of runs) yield* readChunks(run.path, buffer);
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
      chunks: () => readChunks(merged, Buffer.allocUnsafeSlow(CHUNK_BYTES)),
    };
  }

  async dispose(): Promise<void> {
    this.pending = '';
    this.times = [];
    this.ids = [];
    this.starts = [];
    this.used = 0;
    if (this.dirReady) await rm(this.dir, { recursive: true, force: true });
  }
}

function span(first: Row | undefined, last: Row | undefined): { oldest: number | undefined; newest: number | undefined } {
  if (!first || !last) return { oldest: undefined, newest: undefined };
  return { oldest: Math.min(first.time, last.time), newest: Math.max(first.time, last.time) };
}

/** The lines of a newline-terminated block, decoded one by one. */
function* linesOf(block: Buffer): Generator<string> {
  let start = 0;
  for (;;) {
    const end = block.indexOf(0x0a, start);
    if (end < 0) return;
    if (end > start) yield block.toString('utf8', start, end);
    start = end + 1;
  }
}

const CHUNK_BYTES = 1 << 20;
/** Characters of pending lines encoded at once: enough to amortize the call, small enough to stay out of V8's large-object space. */
const PENDING_CHARS = 32 * 1024;

/** A file's bytes, read into `buffer` again and again; each chunk is valid until the next is asked for. */
async function* readChunks(path: string, buffer: Buffer): AsyncGenerator<Buffer> {
  const file = await open(path, 'r');
  try {
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}

/** Files merged at once: each open run holds a read buffer. */
const MAX_FAN_IN = 32;

/**
 * Lines of a spool file we wrote ourselves (`\n`-separated, no `\r`): a plain
 * split per chunk, several times cheaper than readline on this hot path.
 */
async function* readLines(path: string, bufferBytes = 1 << 20): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  // Decoding copies: the read buffer can be reused at once.
  for await (const chunk of readChunks(path, Buffer.allocUnsafeSlow(bufferBytes))) {
    const text = rest + decoder.write(chunk);
    const lines = text.split('\n');
    rest = lines.pop()!;
    for (const line of lines) if (line.length > 0) yield line;
  }
  rest += decoder.end();
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

/**
 * The same result, its span narrowed to the lines `skip`/`take` keep (--limit
 * keeps the newest N): a title or header must state the span of what it holds,
 * not of everything the walk read. Reads the spool once more, up to the last
 * kept line, parsing only the two ends.
 */
export async function narrowSpan(
  result: SpoolResult,
  skip: number,
  take: number,
  keyOf: (line: string) => { time: number } = keyOfMessageLine,
): Promise<SpoolResult> {
  if (take <= 0) return { ...result, oldest: undefined, newest: undefined };
  if (skip === 0 && take >= result.count) return result;
  const last = skip + take - 1;
  let a: number | undefined;
  let b: number | undefined;
  let index = 0;
  for await (const line of result.lines()) {
    if (index === skip) a = keyOf(line).time;
    if (index === last) {
      b = keyOf(line).time;
      break;
    }
    index++;
  }
  if (a === undefined || b === undefined) return result;
  return { ...result, oldest: Math.min(a, b), newest: Math.max(a, b) };
}
