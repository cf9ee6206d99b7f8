import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { Message } from '../message.js';
import { limited, type ChannelSource, type SourceFilter } from './channel-source.js';
import { Spool, type Order } from './order.js';

/**
 * A JSONL export read back (`convert`): each line checked to be a
 * chat-export message and rebuilt in contract key order, then sorted per
 * channel through the spool dump uses.
 */

/** messages held in memory per channel before a sorted run spills (as dump) */
const RUN_SIZE = 2_000;

/** A JSONL line as a normalized message, or a usage error naming the line. */
function parseLine(line: string, number: number, input: string): Message {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new UsageError(`${input} line ${number} is not JSON`, { hint: 'convert reads JSONL written by chat-export dump' });
  }
  const wrong = wrongField(value);
  if (wrong !== undefined) {
    throw new UsageError(`${input} line ${number} is not a chat-export message (${wrong})`, { hint: 'convert reads JSONL written by chat-export dump' });
  }
  const m = value as Message;
  // Rebuilt in contract key order, so the output never depends on how the file was written.
  const message: Message = {
    id: m.id,
    provider: m.provider,
    channel: m.channel,
    timestamp: m.timestamp,
    sender: { id: m.sender.id, name: m.sender.name ?? null, avatar: m.sender.avatar ?? null },
    type: m.type,
    text: m.text,
    replyTo: m.replyTo ?? null,
    editedAt: m.editedAt ?? null,
    deleted: m.deleted === true,
    attachments: m.attachments.map((a) => ({ url: a.url, name: a.name ?? null, type: a.type ?? null })),
  };
  if (m.raw !== undefined) message.raw = m.raw;
  return message;
}

/**
 * The first field of a JSONL line that is not what dump writes, in words; undefined when every field fits.
 * Every field is checked: a wrong type that got through (`attachments: [null]`, a name that is an object)
 * failed later inside a writer as an internal error.
 */
function wrongField(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not an object';
  const m = value as Record<string, unknown>;
  const text = (v: unknown) => typeof v === 'string';
  const optionalText = (v: unknown) => v === undefined || v === null || typeof v === 'string';
  const time = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v));
  for (const key of ['id', 'provider', 'channel', 'type', 'text']) if (!text(m[key])) return `${key} is not a string`;
  if (!time(m.timestamp)) return 'timestamp is not a time';
  const sender = m.sender as Record<string, unknown> | null | undefined;
  if (sender === null || typeof sender !== 'object' || Array.isArray(sender)) return 'sender is not an object';
  if (!text(sender.id)) return 'sender.id is not a string';
  if (!optionalText(sender.name)) return 'sender.name is not a string';
  if (!optionalText(sender.avatar)) return 'sender.avatar is not a string';
  if (!optionalText(m.replyTo)) return 'replyTo is not a message id (a string)';
  if (m.editedAt !== undefined && m.editedAt !== null && !time(m.editedAt)) return 'editedAt is not a time';
  if (m.deleted !== undefined && typeof m.deleted !== 'boolean') return 'deleted is not true or false';
  if (!Array.isArray(m.attachments)) return 'attachments is not a list';
  for (const [i, a] of (m.attachments as unknown[]).entries()) {
    if (a === null || typeof a !== 'object' || Array.isArray(a)) return `attachments[${i}] is not an object`;
    const { url, name, type } = a as Record<string, unknown>;
    if (!text(url)) return `attachments[${i}].url is not a string`;
    if (!optionalText(name) || !optionalText(type)) return `attachments[${i}] has a name or type that is not a string`;
  }
  return undefined;
}

export async function* jsonlMessages(input: string): AsyncGenerator<Message> {
  let rest = '';
  let number = 0;
  // `-`: a JSONL export piped in (`… | chat-export convert - -o out.html`), read once like a file
  const shown = input === '-' ? 'stdin' : input;
  const source = input === '-' ? process.stdin.setEncoding('utf8') : createReadStream(input, { encoding: 'utf8', highWaterMark: 1 << 20 });
  for await (const chunk of source) {
    const text = rest + (chunk as string);
    const lines = text.split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      number++;
      const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (trimmed.trim() !== '') yield parseLine(trimmed, number, shown);
    }
  }
  number++;
  if (rest.trim() !== '') yield parseLine(rest, number, shown);
}

export function inFilter(message: Message, filter: SourceFilter): boolean {
  if (filter.provider !== undefined && message.provider !== filter.provider) return false;
  if (filter.channels && filter.channels.length > 0 && !filter.channels.includes(message.channel)) return false;
  const time = Date.parse(message.timestamp);
  if (filter.since !== undefined && time < filter.since) return false;
  if (filter.until !== undefined && time >= filter.until) return false;
  return true;
}

/**
 * A JSONL export into one sorted spool per channel (the same spool dump
 * uses: sorted runs on disk, flat memory, duplicates removed).

/** How a JSONL export is read: which messages, in which order, how many, and how each is spooled. */
export interface JsonlRead {
  filter: SourceFilter;
  order: Order;
  limit: number | undefined;
  /** keep each message's `raw` */
  raw: boolean;
  /** the line a message waits in the spool as (sinks/spool-codec.ts: the output format's) */
  codec: { encode(message: Message): string; keyOf(line: string): { time: number; id: string } };
}

/**
 * A JSONL export into one sorted spool per channel (the same spool dump
 * uses: sorted runs on disk, flat memory, duplicates removed).
 */
export async function spoolJsonl(input: string, read: JsonlRead): Promise<ChannelSource[]> {
  const dir = await mkdtemp(join(tmpdir(), 'chat-export-convert-'));
  const { filter, order, limit, raw, codec } = read;
  const spools = new Map<string, { key: ChannelSource['key']; spool: Spool }>();
  try {
    for await (const message of jsonlMessages(input)) {
      if (!inFilter(message, filter)) continue;
      const id = `${message.provider}\u0000${message.channel}`;
      let entry = spools.get(id);
      if (!entry) {
        entry = {
          key: { provider: message.provider, api: '', channel: message.channel },
          spool: new Spool(join(dir, String(spools.size)), order, RUN_SIZE, [], undefined, codec.keyOf),
        };
        spools.set(id, entry);
      }
      if (!raw) delete message.raw;
      entry.spool.add(Date.parse(message.timestamp), message.id, codec.encode(message));
      await entry.spool.maybeFlush();
    }
    let ordered = [...spools.values()];
    if (filter.channels && filter.channels.length > 0) {
      const rank = (channel: string) => filter.channels!.indexOf(channel);
      ordered = ordered.sort((a, b) => rank(a.key.channel) - rank(b.key.channel));
    }
    const sources: ChannelSource[] = [];
    for (const { key, spool } of ordered) {
      const result = await spool.finish();
      sources.push({ key, result: limited(result, order, limit), dispose: () => spool.dispose() });
    }
    // the temp directory goes with the last channel's runs
    const cleanup = () => rm(dir, { recursive: true, force: true });
    const last = sources[sources.length - 1];
    if (!last) await cleanup();
    else {
      const dispose = last.dispose;
      last.dispose = async () => {
        await dispose();
        await cleanup();
      };
    }
    return sources;
  } catch (error) {
    for (const { spool } of spools.values()) await spool.dispose();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

