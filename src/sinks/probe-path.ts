import { randomBytes } from 'node:crypto';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { describeLocalError } from '../fs-errors.js';

/**
 * Output, state and media paths are tried before the first request
 * (DESIGN.md section 5): a whole export must not be fetched only to learn
 * that it has nowhere to go. Each is exit 2 naming the path and why.
 */

/** A directory the run will write into: created if missing, then a file is created in it and removed. */
export async function probeWritableDir(dir: string, what: string): Promise<void> {
  const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw refused(error, dir, what);
  });
  if (info && !info.isDirectory()) {
    throw new UsageError(`${what} ${dir} exists and is not a directory`, { hint: `choose another ${what}, or move the file away` });
  }
  if (!info) {
    const blocker = await fileInTheWay(dir);
    if (blocker) {
      throw new UsageError(`${what} ${dir}: ${blocker} is a file, not a directory`, { hint: `choose another ${what}` });
    }
    await mkdirLevels(dir).catch((error: unknown) => {
      throw refused(error, dir, what);
    });
  }
  await tryWrite(dir, what, dir);
}

/** A file the run will create or replace: its directory must exist and take a new file; it must not be a directory. */
export async function probeWritableFile(path: string, what: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory()) {
    throw new UsageError(`${what} ${path} is a directory`, { hint: 'end the path with / to write one file per channel into it' });
  }
  // Not a regular file (/dev/null, a FIFO, a terminal): written directly, nothing to create beside it.
  if (info && !info.isFile()) return;
  const parent = dirname(path);
  const parentInfo = await stat(parent).catch(() => undefined);
  if (!parentInfo?.isDirectory()) {
    const blocker = parentInfo ? parent : await fileInTheWay(parent);
    throw new UsageError(
      blocker ? `${what} ${path}: ${blocker} is a file, not a directory` : `${what} ${path}: the directory ${parent} does not exist`,
      { hint: 'create it first, or end the path with / to export one file per channel into a new directory' },
    );
  }
  await tryWrite(parent, what, path);
}

async function tryWrite(dir: string, what: string, shown: string): Promise<void> {
  const probe = join(dir, `.chat-export-probe.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    const handle = await open(probe, 'wx', 0o600);
    await handle.close();
  } catch (error) {
    throw refused(error, shown, what);
  } finally {
    await rm(probe, { force: true }).catch(() => {});
  }
}

/**
 * mkdir -p one level at a time. Node's recursive mkdir reports ENOENT for EROFS and EACCES, and
 * never returns where a level answers ENOENT under an existing parent (/proc, some FUSE mounts);
 * a plain mkdir of each missing level gives the real cause instead.
 */
async function mkdirLevels(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let level = dir; !(await stat(level).catch(() => undefined)); level = dirname(level)) {
    missing.push(level);
    if (dirname(level) === level) break;
  }
  for (const level of missing.reverse()) {
    await mkdir(level).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
}

/** The nearest existing ancestor when it is not a directory. */
async function fileInTheWay(path: string): Promise<string | undefined> {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const info = await stat(dir).catch(() => undefined);
    if (info) return info.isDirectory() ? undefined : dir;
    if (dirname(dir) === dir) return undefined;
  }
}

function refused(error: unknown, path: string, what: string): UsageError {
  const reason = describeLocalError(error) ?? (error instanceof Error ? error.message : String(error));
  return new UsageError(`${what} ${path} cannot be written: ${reason}`, {
    hint: `choose a writable ${what}, or fix the permissions / mount`,
    cause: error,
  });
}
