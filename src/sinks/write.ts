import type { Writable } from 'node:stream';
import { onAbort } from '../abort.js';
import type { Message } from '../message.js';
import type { SpoolResult } from '../pipeline/order.js';
import { buildReplyIndex } from './reply-context.js';
import { csvRowOf } from './spool-codec.js';
import type { ChannelSummary, DocumentInfo, Format, Sink } from './types.js';

const CHUNK = 1 << 16;

export interface WriteOptions {
  format: Format;
  /** lines to skip / take from the ordered spool (--limit keeps the newest N) */
  skip: number;
  take: number;
  /** leave out the sink's header (CSV header already written for an earlier channel) */
  headerless?: boolean;
  /** a stop (signal, closed stdout) ends a write blocked on a slow reader */
  signal?: AbortSignal | undefined;
  /** this channel starts a document: write the sink's document head first (HTML) */
  openDocument?: DocumentInfo | undefined;
  /** this channel ends its document: write the sink's document tail after it */
  closeDocument?: boolean | undefined;
  /** bytes written are added here */
  counter?: { bytes: number } | undefined;
}

/**
 * Streams a channel's ordered messages through a sink into `stream`, in
 * chunks, waiting for 'drain' so a slow consumer (a pipe, a disk) sets the pace.
 */
export async function writeChannel(
  stream: Writable,
  sink: Sink,
  summary: ChannelSummary,
  spool: SpoolResult,
  options: WriteOptions,
): Promise<number> {
  if (sink.quotesReplies && summary.replies === undefined) {
    summary = { ...summary, replies: await buildReplyIndex(() => spool.lines(), { skip: options.skip, take: options.take }) };
  }
  let buffer = options.openDocument && sink.openDocument ? sink.openDocument(options.openDocument) : '';
  buffer += options.headerless ? '' : sink.begin(summary);
  const counter = options.counter;
  const writeChunk = counter
    ? (target: Writable, chunk: string | Buffer, signal?: AbortSignal) => {
        counter.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
        return writeChunkTo(target, chunk, signal);
      }
    : writeChunkTo;
  if (options.format === 'jsonl' && options.skip === 0 && options.take >= spool.count) {
    // The spool's runs are already JSONL: copy them as they are. Each chunk's
    // buffer is reused for the next, so its write must be finished, not queued.
    if (buffer) await writeChunk(stream, buffer, options.signal);
    for await (const chunk of spool.chunks()) {
      if (counter) counter.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      await writeFinished(stream, chunk, options.signal);
    }
    const end = sink.end() + closing(sink, options);
    if (end) await writeChunk(stream, end, options.signal);
    return spool.count;
  }
  let index = 0;
  let written = 0;
  // JSONL is the spool's own line and CSV rows were finished during the walk
  // (spool-codec.ts): only Markdown and HTML are formatted here.
  const jsonl = options.format === 'jsonl';
  const csv = options.format === 'csv';
  // Pulled one at a time, never past `take`: a partitioned export hands every
  // part the same iterator, and a line read but not written would be lost.
  const lines = spool.lines()[Symbol.asyncIterator]();
  while (written < options.take) {
    const next = await lines.next();
    if (next.done) break;
    const line = next.value;
    if (index++ < options.skip) continue;
    written++;
    if (jsonl) buffer += `${line}\n`;
    else if (csv) buffer += csvRowOf(line);
    else buffer += sink.format(JSON.parse(line) as Message);
    if (buffer.length >= CHUNK) {
      await writeChunk(stream, buffer, options.signal);
      buffer = '';
    }
  }
  if (written >= options.take) await lines.return?.();
  buffer += sink.end() + closing(sink, options);
  if (buffer) await writeChunk(stream, buffer, options.signal);
  return written;
}

function closing(sink: Sink, options: WriteOptions): string {
  return options.closeDocument && sink.closeDocument ? sink.closeDocument() : '';
}

export const writeChunk = writeChunkTo;

/** Writes `chunk` and waits until the stream is done with it (not merely queued); a stop ends the wait. */
async function writeFinished(stream: Writable, chunk: string | Buffer, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw signal.reason;
  if (stream.errored) throw stream.errored;
  if (stream.destroyed) throw new Error('output closed');
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const done = (error?: unknown) => {
      if (settled) return;
      settled = true;
      stream.off('close', onClose);
      stream.off('error', onError);
      unfollow?.();
      if (error) reject(error);
      else resolve();
    };
    const onClose = () => done(stream.errored ?? new Error('output closed'));
    const onError = (error: Error) => done(error);
    // A reader that stalls (a pipe nobody reads) would hold the write forever: a signal must end it.
    // One listener on the run's signal for every write waiting under it (src/abort.ts).
    const unfollow = signal ? onAbort(signal, () => done(signal.reason)) : undefined;
    stream.on('close', onClose);
    stream.on('error', onError);
    stream.write(chunk, (error) => done(error ?? undefined));
  });
}

async function writeChunkTo(stream: Writable, chunk: string | Buffer, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw signal.reason;
  if (stream.errored) throw stream.errored;
  if (stream.destroyed) throw new Error('output closed');
  if (stream.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (error?: unknown) => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      stream.off('error', onError);
      unfollow?.();
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(stream.errored ?? new Error('output closed'));
    const onError = (error: Error) => done(error);
    const unfollow = signal ? onAbort(signal, () => done(signal.reason)) : undefined;
    stream.on('drain', onDrain);
    stream.on('close', onClose);
    stream.on('error', onError);
  });
}
