import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { UsageError } from '../errors.js';
import type { Format } from '../sinks/types.js';

export interface Adopted {
  messages: number;
  newest: { time: number; ids: string[] } | null;
  future: Array<{ id: string; time: number }>;
}

/**
 * Reads an existing JSONL or CSV export (`--adopt`) to learn what it holds:
 * every record must be a message of this provider and channel, and the file
 * must end with a complete line — else it is refused, since appending after
 * it would make a file no reader can trust.
 */
export async function readExisting(
  path: string,
  format: Format,
  source: { provider: string; channel: string },
  futureAfter: number,
): Promise<Adopted> {
  if (format === 'md') {
    throw new UsageError(`--adopt cannot read a Markdown transcript (${path}): it does not carry message ids`, {
      hint: 'adopt a JSONL or CSV export, or write the Markdown to a new file',
    });
  }
  const out: Adopted = { messages: 0, newest: null, future: [] };
  const take = (id: unknown, timestamp: unknown, provider: unknown, channel: unknown, where: string) => {
    const time = typeof timestamp === 'string' ? Date.parse(timestamp) : NaN;
    if (typeof id !== 'string' || id === '' || !Number.isFinite(time)) {
      throw refuse(path, `${where} is not a message of chat-export (no id or timestamp)`);
    }
    if (provider !== source.provider || channel !== source.channel) {
      throw refuse(path, `${where} is a message of ${String(provider)} channel ${String(channel)}, not of ${source.provider} channel ${source.channel}`);
    }
    out.messages++;
    if (time > futureAfter) out.future.push({ id, time });
    else if (!out.newest || time > out.newest.time) out.newest = { time, ids: [id] };
    else if (time === out.newest.time) out.newest.ids.push(id);
  };
  if (format === 'jsonl') {
    let line = 0;
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    for await (const text of lines) {
      line++;
      if (text.trim() === '') continue;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw refuse(path, `line ${line} is not JSON (a cut or edited line)`);
      }
      take(record.id, record.timestamp, record.provider, record.channel, `line ${line}`);
    }
    await endsWithNewline(path);
    return out;
  }
  // Only --adopt of a CSV export reads CSV: the parser is not loaded by every run.
  const { parse } = await import('csv-parse');
  const parser = createReadStream(path).pipe(parse({ columns: true, bom: true, relax_column_count: false }));
  let row = 1;
  try {
    for await (const record of parser as AsyncIterable<Record<string, string>>) {
      row++;
      take(cell(record.id), record.timestamp, cell(record.provider), cell(record.channel), `row ${row}`);
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw refuse(path, `it is not a CSV export of chat-export (${(error as Error).message})`);
  }
  await endsWithNewline(path);
  return out;
}

/** A CSV cell as the message had it: --excel wraps digit ids as ="123", formula guards prefix a '. */
function cell(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const excel = /^="(\d+)"$/.exec(value);
  if (excel) return excel[1];
  return /^'[=+\-@\t\r]/.test(value) ? value.slice(1) : value;
}

async function endsWithNewline(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size === 0) return;
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, size - 1);
    if (byte[0] !== 10) throw refuse(path, 'it ends with an incomplete line');
  } finally {
    await handle.close();
  }
}

function refuse(path: string, why: string): UsageError {
  return new UsageError(`--adopt: ${path} cannot be continued: ${why}`, {
    hint: 'repair the file (or restore it from a backup), or write to another -o',
  });
}
