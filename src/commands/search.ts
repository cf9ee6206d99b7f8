import { Archive } from '../archive/store.js';
import { parseQuery, search, snippetOf, terminalSafe } from '../archive/search.js';
import { UsageError } from '../errors.js';
import { createLogger } from '../log.js';
import { writeChunk } from '../sinks/write.js';

export interface SearchCommandOptions {
  channel?: string[] | undefined;
  limit?: number | undefined;
  json?: boolean | undefined;
  quiet?: boolean | undefined;
}

export interface SearchIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

const DEFAULT_LIMIT = 20;

/** `chat-export search ARCHIVE QUERY`: hits newest first, one line each (or JSONL with --json). */
export async function runSearch(path: string, query: string, options: SearchCommandOptions, io: SearchIo): Promise<void> {
  const limit = options.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit <= 0) throw new UsageError('--limit must be a whole number above 0');
  const terms = parseQuery(query);
  if (terms.length === 0) throw new UsageError('the search query is empty', { hint: 'give one or more words, or "a phrase" in quotes' });
  const logger = createLogger(options.quiet ? 'quiet' : 'normal', io.stderr);
  const archive = Archive.open(path, { create: false, readonly: true });
  // Highlights as reverse video on a terminal; brackets where the output goes to a file or a pipe.
  const mark = io.stdout.isTTY ? { before: '\u001b[7m', after: '\u001b[27m' } : { before: '[', after: ']' };
  let hits = 0;
  try {
    let buffer = '';
    for (const hit of search(archive, query, { channel: options.channel, limit })) {
      hits++;
      const m = hit.message;
      if (options.json) {
        buffer += `${JSON.stringify(m)}\n`;
      } else {
        const who = terminalSafe(m.sender.name ?? m.sender.id);
        const flags = `${m.deleted ? ' (deleted)' : ''}${m.editedAt ? ' (edited)' : ''}`;
        buffer += `${m.timestamp}  ${terminalSafe(m.provider)} ${terminalSafe(m.channel)}  ${who}${flags}: ${snippetOf(m.text, terms, mark)}\n`;
      }
      if (buffer.length > 1 << 16) {
        await writeChunk(io.stdout as never, buffer);
        buffer = '';
      }
    }
    if (buffer) await writeChunk(io.stdout as never, buffer);
  } finally {
    archive.close();
  }
  if (hits === 0) logger.info(`no message in ${path} matches ${JSON.stringify(query)}`);
}
