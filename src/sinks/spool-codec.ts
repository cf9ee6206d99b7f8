import type { Message } from '../message.js';
import { csvRow, type CsvOptions } from './csv.js';
import type { Format } from './types.js';
import { stringifyJson } from '../text/json.js';

/**
 * What a message is while it waits in the spool to be put in order: one line
 * of text. JSONL and Markdown keep the message itself (the JSONL line is the
 * output already); CSV keeps its finished row, so the costly quoting happens
 * during the walk, while the next page is on the wire, not after it.
 */
export interface SpoolCodec {
  encode(message: Message): string;
  /** the sort key of a spooled line (runs that overlap are merged by it) */
  keyOf(line: string): { time: number; id: string };
}

const messageCodec: SpoolCodec = {
  encode: (message) => stringifyJson(message),
  keyOf(line) {
    const message = JSON.parse(line) as Pick<Message, 'id' | 'timestamp'>;
    return { time: Date.parse(message.timestamp), id: message.id };
  },
};

/** [timestamp, id, row]: a JSON array keeps a row's own line breaks off the spool's. */
const csvCodec = (options: CsvOptions): SpoolCodec => ({
  encode: (message) => JSON.stringify([message.timestamp, message.id, csvRow(message, options)]),
  keyOf(line) {
    const [timestamp, id] = JSON.parse(line) as [string, string, string];
    return { time: Date.parse(timestamp), id };
  },
});

export function spoolCodecFor(format: Format, options: CsvOptions = {}): SpoolCodec {
  return format === 'csv' ? csvCodec(options) : messageCodec;
}

/** The finished CSV row of a spooled line. */
export function csvRowOf(line: string): string {
  return (JSON.parse(line) as [string, string, string])[2];
}
