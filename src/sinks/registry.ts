import { extname } from 'node:path';
import type { CsvOptions } from './csv.js';
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

type SinkFactory = (options: CsvOptions) => Sink;
const loaded = new Map<Format, SinkFactory>();

/**
 * Loads the code of one format's sink: a run imports only the format it
 * writes (the HTML and Markdown sinks and their escapers are a good part of
 * the modules a run would otherwise load before its first request).
 * createSink() needs it done first: the targets do it as they are chosen.
 */
export async function loadSink(format: Format): Promise<void> {
  if (loaded.has(format)) return;
  switch (format) {
    case 'jsonl': {
      const { createJsonlSink } = await import('./jsonl.js');
      loaded.set(format, () => createJsonlSink());
      return;
    }
    case 'csv': {
      const { createCsvSink } = await import('./csv.js');
      loaded.set(format, (options) => createCsvSink(options));
      return;
    }
    case 'md': {
      const { createMarkdownSink } = await import('./markdown.js');
      loaded.set(format, () => createMarkdownSink());
      return;
    }
    case 'html': {
      const { createHtmlSink } = await import('./html.js');
      loaded.set(format, () => createHtmlSink());
      return;
    }
    default:
      throw unknownFormat(format);
  }
}

/** A fresh sink (after loadSink(format)): sinks keep per-channel state, so use one per channel. */
export function createSink(format: Format, options: CsvOptions = {}): Sink {
  const create = loaded.get(format);
  if (create) return create(options);
  if (!Object.hasOwn(FILE_EXTENSIONS, format)) throw unknownFormat(format);
  throw new Error(`the ${format} sink was not loaded: await loadSink('${format}') first`);
}

function unknownFormat(format: string): Error {
  return new Error(`unknown output format "${String(format)}": expected jsonl, csv, md or html`);
}
