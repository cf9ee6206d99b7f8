import { open, stat } from 'node:fs/promises';
import { dirname, extname, relative, resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';
import { withLocalCopies } from '../media/stage.js';
import type { Message } from '../message.js';
import { batched, type ChannelSource } from '../pipeline/channel-source.js';
import type { JsonlRead } from '../pipeline/jsonl-source.js';
import { listSources, readMessages, spanOf, type ReadFilter } from './read.js';
import type { Archive } from './store.js';

/**
 * An archive read back as channels (`convert`): which file is one, and its
 * channels' messages as dump's targets take a finished spool's, straight
 * from the rows in export order (no spool: the archive's index orders them).
 */

const ARCHIVE_EXTENSIONS = new Set(['.sqlite', '.sqlite3', '.db']);
const SQLITE_MAGIC = 'SQLite format 3\u0000';

export function isArchivePath(path: string): boolean {
  return ARCHIVE_EXTENSIONS.has(extname(path).toLowerCase());
}

export async function isSqliteFile(path: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${path}${code ? ` (${code})` : ''}`, { hint: 'give an archive (.sqlite) or a JSONL export' });
  }
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(16), 0, 16, 0);
    if (bytesRead === 16 && buffer.toString('latin1') === SQLITE_MAGIC) return true;
    // An archive's name with a damaged header is a damaged archive (Archive.open says so), not JSONL to read
    // line by line; only what starts like a JSONL export is read as one whatever its name.
    return isArchivePath(path) && bytesRead > 0 && !/^\s*\{/.test(buffer.toString('utf8', 0, bytesRead));
  } catch (error) {
    throw new UsageError(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  } finally {
    await handle.close();
  }
}


/** An archive's channels that pass `filter`, each read row by row as the output format's spool lines. */
export function archiveSources(
  archive: Archive,
  filter: ReadFilter,
  read: Omit<JsonlRead, 'filter'> & { link?: ((message: Message) => Promise<Message>) | undefined },
): ChannelSource[] {
  const { order, limit, raw, codec, link } = read;
  return listSources(archive, filter).map((span): ChannelSource => {
    const { count, oldest, newest } = spanOf(archive, span, filter, limit);
    const lines = async function* (): AsyncGenerator<string> {
      for (const message of readMessages(archive, span, filter, { order, limit, raw })) {
        yield codec.encode(link ? await link(message) : message);
      }
    };
    return {
      key: span,
      result: { count, oldest, newest, lines, chunks: () => batched(lines()) },
      dispose: async () => {},
    };
  });
}

/**
 * --media: messages naming the local copies the archive's `media` table
 * records (files `dump --media` downloaded beside the archive), relative to
 * `base` (where the output goes), as `dump --media` names them. Offline: a URL with no
 * file, or whose file is gone, stays a plain link.
 */
export function mediaLinker(archive: Archive, input: string, base: string): (message: Message) => Promise<Message> {
  const from = resolve(dirname(input));
  const known = new Map<string, string | undefined>();
  const local = async (url: string | null | undefined): Promise<string | undefined> => {
    if (!url) return undefined;
    if (!known.has(url)) {
      const file = archive.mediaFile(url);
      const path = file === undefined ? undefined : resolve(from, file);
      const there = path !== undefined && (await stat(path).catch(() => undefined))?.isFile();
      known.set(url, there ? relative(base, path).split(sep).join('/') : undefined);
    }
    return known.get(url);
  };
  return (message) => withLocalCopies(message, local);
}
