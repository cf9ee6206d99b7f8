import { extname } from 'node:path';
import { createCsvSink, type CsvOptions } from './csv.js';
import { createHtmlSink } from './html.js';
import { createJsonlSink } from './jsonl.js';
import { createMarkdownSink } from './markdown.js';
import type { Format, Sink } from './types.js';

/** File extension (no dot) used for `{provider}-{channel}.{ext}` in an output directory. */
export const FILE_EXTENSIONS: Record<Format, string> = { jsonl: 'jsonl', csv: 'csv', md: 'md', html: 'html' };

const FORMAT_BY_EXTENSION: ReadonlyMap<string, Format> = new Map([
  ['.jsonl', 'jsonl'],
  ['.ndjson', 'jsonl'],
  ['.json', 'jsonl'],
  ['.csv', 'csv'],
  ['.md', 'md'],
  ['.markdown', 'md'],
  ['.html', 'html'],
  ['.htm', 'html'],
]);

/** The format an output file's extension implies (case-insensitive), if any. */
export function formatFromPath(path: string): Format | undefined {
  return FORMAT_BY_EXTENSION.get(extname(path).toLowerCase());
}

/** A fresh sink: sinks keep per-channel state, so use one per channel. */
export function createSink(format: Format, options: CsvOptions = {}): Sink {
  switch (format) {
    case 'jsonl':
      return createJsonlSink();
    case 'csv':
      return createCsvSink(options);
    case 'md':
      return createMarkdownSink();
    case 'html':
      return createHtmlSink();
    default:
      throw new Error(`unknown output format "${String(format satisfies never)}": expected jsonl, csv, md or html`);
  }
}
