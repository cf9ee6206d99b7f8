import type { Message } from '../message.js';

export type Format = 'jsonl' | 'csv' | 'md';

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
}

/**
 * A format is a pure serializer: text before the messages, one chunk per
 * message, text after. The writer around it owns the file and backpressure.
 */
export interface Sink {
  begin(summary: ChannelSummary): string;
  format(message: Message): string;
  end(): string;
}

export type SinkFactory = () => Sink;
