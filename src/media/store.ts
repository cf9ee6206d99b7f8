/**
 * The media directory: files named by their content (the first 32 hex digits
 * of their SHA-256, in a folder named by the first two, plus the original
 * extension), so one picture sent a thousand times, or exported by several
 * channels and runs, is stored once. `index.json` maps each URL already
 * downloaded to its file, so a URL is never fetched twice; it also remembers
 * the URLs that failed, so the next run tries them again.
 *
 *     media/
 *       index.json                      {"version":1,"files":{URL: "ab/ab12….png"},"failed":{URL:{…}}}
 *       ab/ab12cd….png
 *
 * The index is rewritten atomically (temp file + rename), merged with what is
 * on disk at that moment, so two runs sharing a media directory lose nothing
 * but, at worst, the knowledge that a URL was fetched (it would be fetched
 * again and land on the same file).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { extname, join, relative, resolve, sep } from 'node:path';
import { ChatExportError } from '../errors.js';
import { describeLocalError } from '../fs-errors.js';
import { isProcessAlive } from '../pid.js';
import { stripBidi } from '../text/sanitize.js';

export const INDEX_FILE = 'index.json';

/** The media directory cannot be written (disk full, permission): the run's own I/O, exit 6. */
export class MediaWriteError extends ChatExportError {
  override readonly exitCode = 6;
  override readonly code = 'ERR_MEDIA_WRITE';
}

/** "cannot write in the media directory …: disk full (ENOSPC)", with what to do. */
function mediaWriteError(what: string, error: unknown): MediaWriteError {
  const reason = describeLocalError(error) ?? (error instanceof Error ? error.message : String(error));
  return new MediaWriteError(`${what}: ${reason}`, {
    cause: error,
    hint: 'free some space or fix the permissions (or choose another --media-dir), and run again; files written before are intact',
  });
}

interface IndexFile {
  version: 1;
  /** URL → path relative to the media directory ("ab/ab12….png") */
  files: Record<string, string>;
  /** URL → the last failure, retried by the next run */
  failed: Record<string, { reason: string; at: string; attempts: number }>;
}

export interface StoredFile {
  /** absolute path */
  path: string;
  /** whether this call downloaded it (false: it was already there) */
  downloaded: boolean;
}

// Kept as the original extension, lower-cased, when they are this plain.
const PLAIN_EXTENSION = /^[a-z0-9]{1,8}$/;
/**
 * Extensions a browser shows, plays or hands to a viewer without running
 * anything when the file is opened from the transcript over file://: images,
 * audio, video, PDF, plain text and common archives. An allowlist, because the
 * extensions a browser treats as active are many and vary by platform
 * (`.shtm`, `.xhtm`, `.ehtml`, `.rss`, `.atom`, `.xsd`, `.xbl`… run scripts
 * in Chromium). Any other extension is kept for the reader to see, then made
 * inert: `.txt` after markup and scripts (readable as their source), `.bin`
 * after the rest (`report.docx` → `….docx.bin`).
 */
const PASSIVE_EXTENSIONS = new Set([
  ...['png', 'jpg', 'jpeg', 'jpe', 'gif', 'webp', 'avif', 'bmp', 'ico', 'tif', 'tiff', 'heic', 'heif', 'jxl'],
  ...['mp3', 'm4a', 'aac', 'ogg', 'oga', 'opus', 'wav', 'flac', 'amr', 'weba', 'mid', 'midi'],
  ...['mp4', 'm4v', 'mov', 'webm', 'mkv', 'avi', 'ogv', '3gp', 'wmv', 'mpg', 'mpeg'],
  'pdf',
  ...['txt', 'log', 'csv', 'md'],
  ...['zip', 'gz', 'tgz', 'tar', 'bz2', 'xz', '7z', 'rar', 'zst'],
]);
// Markup, styles and scripts: their source is worth reading, so they become text.
const SOURCE_EXTENSIONS = new Set(
  'html htm shtml shtm xhtml xhtm xht ehtml mht mhtml svg svgz xml xsl xslt xsd xbl rss atom rdf js mjs cjs css json php hta vbs ps1 sh bat cmd py rb pl'.split(' '),
);
const TYPE_EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/avif': 'avif',
  'image/bmp': 'bmp',
  'image/heic': 'heic',
  'video/mp4': 'mp4',
  'video/webm': 'webm',
  'video/quicktime': 'mov',
  'audio/mpeg': 'mp3',
  'audio/mp4': 'm4a',
  'audio/ogg': 'ogg',
  'audio/wav': 'wav',
  'application/pdf': 'pdf',
  'application/zip': 'zip',
  'application/gzip': 'gz',
  'text/plain': 'txt',
};

/**
 * The extension a stored file gets: the original one (of the URL, else of the
 * attachment's name, bidi controls dropped) when it is passive, else one from
 * the content type when that is passive, else the original made inert, else `bin`.
 */
export function extensionFor(url: URL, name: string | null | undefined, contentType: string | undefined): string {
  const candidates = [extname(stripBidi(safeDecode(url.pathname))), extname(stripBidi(name ?? ''))]
    .map((ext) => ext.slice(1).toLowerCase())
    .filter((ext) => PLAIN_EXTENSION.test(ext));
  const passive = candidates.find((ext) => PASSIVE_EXTENSIONS.has(ext));
  if (passive) return passive;
  const typed = TYPE_EXTENSIONS[(contentType ?? '').split(';')[0]!.trim().toLowerCase()];
  if (typed) return typed;
  const original = candidates[0];
  if (original === undefined) return 'bin';
  return SOURCE_EXTENSIONS.has(original) ? `${original}.txt` : `${original}.bin`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export class MediaStore {
  private index: IndexFile = { version: 1, files: {}, failed: {} };
  private dirty = false;
  /** failures no longer to be tried, also when another run's index still lists them */
  private readonly forgotten = new Set<string>();
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = resolve(dir);
  }

  static async open(dir: string, warn: (line: string) => void): Promise<MediaStore> {
    const store = new MediaStore(dir);
    try {
      await mkdir(store.dir, { recursive: true });
    } catch (error) {
      throw mediaWriteError(`cannot create the media directory ${store.dir}`, error);
    }
    await removeDeadTemps(store.dir);
    const loaded = await readIndex(store.dir);
    if (loaded === 'corrupt') warn(`media index ${join(store.dir, INDEX_FILE)} is not readable; starting a new one (files already there are kept and reused)`);
    else if (loaded) store.index = loaded;
    return store;
  }

  /** The stored file of a URL downloaded before, if it is still there. */
  async lookup(url: string): Promise<string | undefined> {
    const file = this.index.files[url];
    if (file === undefined) return undefined;
    const path = this.resolveInside(file);
    if (path && (await stat(path).catch(() => undefined))?.isFile()) return path;
    // Deleted by hand, or an index entry pointing outside: fetch again.
    delete this.index.files[url];
    this.dirty = true;
    return undefined;
  }

  /** URLs that failed in earlier runs. */
  failedUrls(): string[] {
    return Object.keys(this.index.failed);
  }

  /**
   * Writes a body to a temp file in the media directory while hashing it,
   * then renames it to its content name (or drops it when that file exists).
   */
  async save(url: string, body: AsyncIterable<Buffer>, ext: string): Promise<string> {
    const temp = join(this.dir, `.download-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
    const hash = createHash('sha256');
    let out;
    try {
      out = createWriteStream(temp, { flags: 'wx', mode: 0o644 });
      await once(out, 'open');
    } catch (error) {
      throw mediaWriteError(`cannot write in the media directory ${this.dir}`, error);
    }
    // A failed write (disk full) is seen at the next write or at the end, not as an unheard 'error' event.
    out.on('error', () => {});
    try {
      for await (const chunk of body) {
        if (out.errored) throw out.errored;
        hash.update(chunk);
        if (!out.write(chunk)) await once(out, 'drain');
      }
      out.end();
      await finished(out);
    } catch (error) {
      out.destroy();
      await rm(temp, { force: true }).catch(() => {});
      // The media directory failing is the run's problem (exit 6); the download failing is one file's.
      if (out.errored) throw mediaWriteError(`cannot write in the media directory ${this.dir}`, out.errored);
      throw error;
    }
    const digest = hash.digest('hex').slice(0, 32);
    const file = `${digest.slice(0, 2)}/${digest}.${ext}`;
    const path = join(this.dir, file);
    try {
      await mkdir(join(this.dir, digest.slice(0, 2)), { recursive: true });
      if ((await stat(path).catch(() => undefined))?.isFile()) await rm(temp, { force: true });
      else await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => {});
      throw mediaWriteError(`cannot store ${file} in ${this.dir}`, error);
    }
    this.index.files[url] = file;
    delete this.index.failed[url];
    this.dirty = true;
    return path;
  }

  /** A URL that will not be fetched (refused for its address): no longer retried as a failure. */
  forgetFailure(url: string): void {
    delete this.index.failed[url];
    this.forgotten.add(url);
    this.dirty = true;
  }

  recordFailure(url: string, reason: string): void {
    const previous = this.index.failed[url];
    this.index.failed[url] = { reason, at: new Date().toISOString(), attempts: (previous?.attempts ?? 0) + 1 };
    this.dirty = true;
  }

  /** Writes the index if it changed: merged with the one on disk, then renamed into place. */
  async flush(): Promise<void> {
    if (!this.dirty) return;
    const onDisk = await readIndex(this.dir);
    const merged: IndexFile = {
      version: 1,
      files: { ...(onDisk && onDisk !== 'corrupt' ? onDisk.files : {}), ...this.index.files },
      failed: { ...(onDisk && onDisk !== 'corrupt' ? onDisk.failed : {}), ...this.index.failed },
    };
    for (const url of [...Object.keys(merged.files), ...this.forgotten]) delete merged.failed[url];
    const temp = join(this.dir, `.${INDEX_FILE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await writeFile(temp, `${JSON.stringify(merged)}\n`, { mode: 0o644 });
      await rename(temp, join(this.dir, INDEX_FILE));
    } catch (error) {
      await rm(temp, { force: true }).catch(() => {});
      throw mediaWriteError(`cannot write the media index in ${this.dir}`, error);
    }
    this.index = merged;
    this.dirty = false;
  }

  /** A path the index names, only if it stays inside the media directory. */
  private resolveInside(file: string): string | undefined {
    const path = resolve(this.dir, file);
    return path.startsWith(this.dir + sep) ? path : undefined;
  }

  /** A stored file as a path relative to `from` (a directory), with / separators. */
  relativeTo(from: string, path: string): string {
    return relative(resolve(from), path).split(sep).join('/');
  }
}

async function readIndex(dir: string): Promise<IndexFile | undefined | 'corrupt'> {
  let text: string;
  try {
    text = await readFile(join(dir, INDEX_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return 'corrupt';
  }
  try {
    const parsed = JSON.parse(text) as Partial<IndexFile>;
    if (parsed.version !== 1 || typeof parsed.files !== 'object' || parsed.files === null) return 'corrupt';
    const files: Record<string, string> = {};
    for (const [url, file] of Object.entries(parsed.files)) if (typeof file === 'string') files[url] = file;
    const failed: IndexFile['failed'] = {};
    if (parsed.failed && typeof parsed.failed === 'object') {
      for (const [url, entry] of Object.entries(parsed.failed)) {
        if (entry && typeof entry === 'object') failed[url] = { reason: String(entry.reason ?? ''), at: String(entry.at ?? ''), attempts: Number(entry.attempts) || 1 };
      }
    }
    return { version: 1, files, failed };
  } catch {
    return 'corrupt';
  }
}

/** Temp files of runs that were killed mid-download (their pid is gone). */
async function removeDeadTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const match = /^\.(?:download-|index\.json\.)(\d+)[.-].*\.tmp$/.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid !== process.pid && !isProcessAlive(pid)) await rm(join(dir, name), { force: true });
  }
}
