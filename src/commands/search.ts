import { archiveError, Archive } from '../archive/store.js';
import { parseQuery, search, snippetOf, terminalSafe } from '../archive/search.js';
import { sqliteCode } from '../archive/sqlite.js';
import { UsageError } from '../errors.js';
import { createLogger } from '../log.js';
import { writeChunk } from '../sinks/write.js';
import { excerpt } from '../text/sanitize.js';

export interface SearchCommandOptions {
  channel?: string[] | undefined;
  limit?: number | undefined;
  json?: boolean | undefined;
  quiet?: boolean | undefined;
  rebuildIndex?: boolean | undefined;
}

export interface SearchIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

const DEFAULT_LIMIT = 20;

/**
 * `chat-export search ARCHIVE QUERY`: hits newest first, one line each (or JSONL with --json).
 * `--rebuild-index` first makes the full-text index again from the messages (after it was dropped or damaged).
 */
export async function runSearch(path: string, query: string, options: SearchCommandOptions, io: SearchIo): Promise<void> {
  const limit = options.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit <= 0) throw new UsageError('--limit must be a whole number above 0');
  const terms = parseQuery(query);
  if (terms.length === 0 && !options.rebuildIndex) throw new UsageError('the search query is empty', { hint: 'give one or more words, or "a phrase" in quotes' });
  const logger = createLogger(options.quiet ? 'quiet' : 'normal', io.stderr);
  if (options.rebuildIndex) rebuild(path, logger);
  if (terms.length === 0) return;
  const archive = Archive.open(path, { create: false, readonly: true });
  // Highlights as reverse video on a terminal; brackets where the output goes to a file or a pipe.
  const mark = io.stdout.isTTY ? { before: '\u001b[7m', after: '\u001b[27m' } : { before: '[', after: ']' };
  let hits = 0;
  try {
    if (archive.indexMissing && terms.some((term) => Array.from(term).length >= 3)) {
      throw new UsageError(`${path} has no full-text index (its messages_fts table was dropped)`, {
        hint: `make it again from the messages: chat-export search ${path} --rebuild-index (a dump into the archive does it too)`,
      });
    }
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
  } catch (error) {
    // a damaged page or index met while reading: said with what to do (exit 2), never an internal error
    if (sqliteCode(error)) throw archiveError(path, error, 'search it');
    throw error;
  } finally {
    archive.close();
  }
  // the query as typed, but not a megabyte of it
  if (hits === 0) logger.info(`no message in ${path} matches "${excerpt(query, 80)}"`);
}

function rebuild(path: string, logger: ReturnType<typeof createLogger>): void {
  const archive = Archive.open(path, { create: false });
  try {
    // a dropped index was already made again by opening the archive for writing
    if (!archive.indexRebuilt) archive.rebuildIndex();
    logger.info(`${path}: full-text index rebuilt from the messages`);
  } finally {
    archive.close();
  }
}
