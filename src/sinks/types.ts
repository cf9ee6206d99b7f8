import type { Message } from '../message.js';
import type { ReplyIndex } from './reply-context.js';

export type Format = 'jsonl' | 'csv' | 'md' | 'html';

/** What a sink knows about the channel before the first message is written. */
export interface ChannelSummary {
  provider: string;
  channel: string;
  /** number of messages about to be written */
  count: number;
  /** ISO timestamps of the oldest and newest message, null when count is 0 */
  first: string | null;
  last: string | null;
  /**
   * zone the reader sees day headings and clock times in (Markdown), e.g.
   * "Asia/Tokyo" (--tz, else the machine's); undefined = UTC. Not the zone naive
   * provider times are read in (--timezone).
   */
  timezone: string | undefined;
  order: 'asc' | 'desc';
  /**
   * Set when appending to an existing output (--incremental): the sink must not
   * repeat its header, and Markdown continues from the last day heading written.
   */
  append?: { lastDay: string | null } | undefined;
  /** an --incremental output: later runs append, so nothing in the header may state a count */
  growing?: boolean | undefined;
  /** another channel was written before this one in the same stream */
  continues?: boolean | undefined;
  /** what replies show of the messages they quote (Markdown, HTML) */
  replies?: ReplyIndex | undefined;
  /** --partition: this part of the output, and where a message at a given export position lives */
  part?: PartInfo | undefined;
}

export interface PartInfo {
  /** 1-based */
  index: number;
  count: number;
  /** the file name (no directory) of the part holding the message at this export position */
  fileOf(position: number): string;
  /** this part's own file name */
  file: string;
  /** the file name of part `index` (1-based): the navigation between parts */
  fileOfPart(index: number): string;
}

/** What a whole document (one file, or one stream for several channels) is about. */
export interface DocumentInfo {
  provider: string;
  channels: string[];
  part?: PartInfo | undefined;
}

/**
 * A format is a pure serializer: text before the messages, one chunk per
 * message, text after. The writer around it owns the file and backpressure.
 */
export interface Sink {
  begin(summary: ChannelSummary): string;
  format(message: Message): string;
  end(): string;
  /** Needs `summary.replies` (the writer builds it with one extra pass over the spool). */
  readonly quotesReplies?: boolean;
  /** Text opening / closing a whole document that holds one or more channels (HTML's page). */
  openDocument?(info: DocumentInfo): string;
  closeDocument?(): string;
}

export type SinkFactory = () => Sink;
