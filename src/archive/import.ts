import type { Message } from '../message.js';
import { inFilter, jsonlMessages, type JsonlRead } from '../pipeline/jsonl-source.js';
import { listSources, readMessages, type ReadFilter } from './read.js';
import { Archive, type SourceKey } from './store.js';

/** messages per transaction when importing */
const IMPORT_BATCH = 2_000;

/**
 * JSONL (or another archive) into an archive (`convert -o PATH.sqlite`):
 * upserts, earlier versions kept, no walk state touched. A JSONL message
 * names no API root: `apiOf` gives its provider's (the command reads the
 * config for it only when a message needs it).
 */
export async function importInto(
  path: string,
  input: string,
  from: { archive: boolean; filter: ReadFilter; limit: JsonlRead['limit'] },
  apiOf: (provider: string) => string,
): Promise<{ added: number; changed: number; seen: number }> {
  const archive = Archive.open(path, { create: true });
  const run = archive.startRun(`convert ${input}`, undefined);
  const totals = { added: 0, changed: 0, seen: 0 };
  let status: 'ok' | 'failed' = 'failed';
  try {
    let batch: Message[] = [];
    let batchKey: SourceKey | undefined;
    const flush = () => {
      if (batchKey && batch.length > 0) {
        const counts = archive.writePage(batchKey, 'channel', batch, undefined);
        totals.added += counts.added;
        totals.changed += counts.changed;
        totals.seen += counts.seen;
      }
      batch = [];
    };
    const take = (key: SourceKey, message: Message) => {
      if (!batchKey || batchKey.provider !== key.provider || batchKey.api !== key.api || batchKey.channel !== key.channel || batch.length >= IMPORT_BATCH) {
        flush();
        batchKey = key;
      }
      batch.push(message);
    };
    if (from.archive) {
      const source = Archive.open(input, { create: false, readonly: true });
      try {
        for (const span of listSources(source, from.filter)) {
          for (const message of readMessages(source, span, from.filter, { order: 'asc', limit: from.limit, raw: true })) {
            take(span, message);
          }
        }
      } finally {
        source.close();
      }
    } else {
      // The file's own order is kept: a JSONL backup lists each message once per version it saw
      // only if it was appended to; the later line is the later version.
      for await (const message of jsonlMessages(input)) {
        if (!inFilter(message, from.filter)) continue;
        take({ provider: message.provider, api: apiOf(message.provider), channel: message.channel }, message);
      }
    }
    flush();
    status = 'ok';
  } finally {
    archive.finishRun(run, status, totals);
    archive.close();
  }
  return totals;
}
