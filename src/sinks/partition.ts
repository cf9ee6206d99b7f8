/**
 * --partition N: one output split into parts of at most N messages,
 * `NAME.ext`, `NAME.2.ext`, `NAME.3.ext`, … each a complete document (CSV
 * header, HTML page, Markdown title saying "part 2 of 5"). The spool knows
 * every channel's count before the first byte is written, so the number of
 * parts is known up front; the messages are read once, in order, the stream
 * switching to the next part at each boundary. Every part is written to a temp
 * file and all are renamed into place only once all are complete.
 */
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type { SpoolResult } from '../pipeline/order.js';
import { openAtomic, type OutputHandle } from './atomic-file.js';
import { buildReplyIndex } from './reply-context.js';
import { createSink, loadSink } from './registry.js';
import type { ChannelSummary, DocumentInfo, Format, PartInfo } from './types.js';
import { writeChannel, writeChunk } from './write.js';

export interface PartitionChannel {
  summary: ChannelSummary;
  result: SpoolResult;
  skip: number;
  take: number;
}

/** `out.html` → part 1 `out.html`, part 3 `out.3.html`; a name without extension gets `.3` appended. */
export function partFileName(path: string, index: number): string {
  if (index === 1) return basename(path);
  const name = basename(path);
  const ext = extname(name);
  return ext === '' || ext === name ? `${name}.${index}` : `${name.slice(0, -ext.length)}.${index}${ext}`;
}

export function partCount(total: number, size: number): number {
  return Math.max(1, Math.ceil(total / size));
}

/**
 * Writes the channels (in order) into parts of at most `size` messages next
 * to `path`. Returns the paths written.
 */
export async function writePartitioned(
  path: string,
  channels: PartitionChannel[],
  options: { format: Format; size: number; provider: string; signal?: AbortSignal | undefined },
): Promise<string[]> {
  await loadSink(options.format);
  const total = channels.reduce((sum, channel) => sum + channel.take, 0);
  const count = partCount(total, options.size);
  const dir = dirname(path);
  const fileOfPart = (index: number) => partFileName(path, index);
  const handles: OutputHandle[] = [];
  let partIndex = 0;
  let inPart = 0;
  let channelsInPart = 0;
  let handle: OutputHandle | undefined;
  const documentOf = (part: PartInfo): DocumentInfo => ({
    provider: options.provider,
    channels: channels.map((c) => c.summary.channel),
    part,
  });
  const partInfo = (index: number, offset: number): PartInfo => ({
    index,
    count,
    file: fileOfPart(index),
    fileOf: (position) => fileOfPart(Math.floor((offset + position) / options.size) + 1),
    fileOfPart,
  });
  const nextPart = async (): Promise<OutputHandle> => {
    partIndex++;
    inPart = 0;
    channelsInPart = 0;
    handle = await openAtomic(join(dir, fileOfPart(partIndex)));
    handles.push(handle);
    return handle;
  };
  const closePart = async (tail: string) => {
    if (handle && tail) await writeChunk(handle.stream, tail, options.signal);
  };
  const closing = createSink(options.format).closeDocument?.() ?? '';
  // Transcripts state a count and a span in each header: each part's own, not the whole channel's.
  const ownSpans = options.format === 'html' || options.format === 'md';
  try {
    let offset = 0;
    for (const channel of channels) {
      const replies = createSink(options.format).quotesReplies
        ? await buildReplyIndex(() => channel.result.lines(), { skip: channel.skip, take: channel.take })
        : undefined;
      const spans = ownSpans ? await segmentSpans(channel, offset, options.size) : undefined;
      const iterator = skipped(channel.result.lines(), channel.skip);
      let left = channel.take;
      let first = true;
      // reply positions count from the channel's first message
      const channelStart = offset;
      // A channel with no messages still gets its header, in the current part.
      while (first || left > 0) {
        // (an empty channel's header goes into the current part even when it is full)
        if (!handle || (inPart >= options.size && left > 0)) {
          await closePart(closing);
          await nextPart();
        }
        const room = options.size - inPart;
        const take = Math.min(room, left);
        const part = partInfo(partIndex, channelStart);
        const own = spans?.shift();
        const summary: ChannelSummary = { ...channel.summary, ...(own && count > 1 ? own : {}), replies, part };
        const sink = createSink(options.format);
        await writeChannel(handle!.stream, sink, summary, { ...channel.result, lines: () => iterator }, {
          format: options.format,
          skip: 0,
          take,
          headerless: options.format === 'csv' && channelsInPart > 0,
          openDocument: channelsInPart === 0 ? documentOf(part) : undefined,
          signal: options.signal,
        });
        channelsInPart++;
        inPart += take;
        left -= take;
        offset += take;
        first = false;
      }
    }
    await closePart(closing);
    for (const written of handles) await written.commit();
  } catch (error) {
    for (const written of handles) await written.abort();
    throw error;
  }
  return handles.map((h) => h.path);
}

/**
 * The count and span of each piece of a channel that lands in one part, in
 * order: the channel starts at export position `offset`, and parts break at
 * multiples of `size`. One more read of the channel's kept lines.
 */
async function segmentSpans(
  channel: PartitionChannel,
  offset: number,
  size: number,
): Promise<Array<{ count: number; first: string | null; last: string | null }>> {
  const spans: Array<{ count: number; first: string | null; last: string | null }> = [];
  let current = { count: 0, oldest: Infinity, newest: -Infinity };
  const close = () => {
    const known = current.count > 0;
    spans.push({
      count: current.count,
      first: known ? new Date(current.oldest).toISOString() : null,
      last: known ? new Date(current.newest).toISOString() : null,
    });
    current = { count: 0, oldest: Infinity, newest: -Infinity };
  };
  let index = 0;
  for await (const line of channel.result.lines()) {
    if (index >= channel.skip + channel.take) break;
    if (index++ < channel.skip) continue;
    const position = offset + index - 1 - channel.skip;
    if (current.count > 0 && position % size === 0) close();
    const time = Date.parse((JSON.parse(line) as { timestamp: string }).timestamp);
    current.count++;
    current.oldest = Math.min(current.oldest, time);
    current.newest = Math.max(current.newest, time);
  }
  close();
  return spans;
}

/**
 * One iterator over the spool shared by every part: iterating it never closes
 * it (a `for await` that breaks would), so the next part continues where the
 * last one stopped.
 */
function skipped(lines: AsyncIterable<string>, skip: number): AsyncIterable<string> {
  const source = lines[Symbol.asyncIterator]();
  let toSkip = skip;
  const next = async (): Promise<IteratorResult<string>> => {
    while (toSkip > 0) {
      toSkip--;
      const skippedLine = await source.next();
      if (skippedLine.done) return skippedLine;
    }
    return source.next();
  };
  return { [Symbol.asyncIterator]: () => ({ next }) };
}

/**
 * Parts a previous export with more parts left behind (`NAME.6.ext` when
 * this one has 5): they would be read as part of this export. Only the
 * unbroken run right after the last part is removed.
 */
export async function removeStaleParts(path: string, count: number): Promise<string[]> {
  const dir = dirname(path);
  const names = new Set(await readdir(dir).catch(() => [] as string[]));
  const removed: string[] = [];
  for (let index = count + 1; names.has(partFileName(path, index)); index++) {
    const stale = join(dir, partFileName(path, index));
    await rm(stale, { force: true });
    removed.push(stale);
  }
  return removed;
}
