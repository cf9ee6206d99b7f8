import { randomBytes } from 'node:crypto';
import { createWriteStream, open as openFd } from 'node:fs';
import { Socket } from 'node:net';
import { promisify } from 'node:util';
import { lstat, open, readdir, readlink, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { ChatExportError, UsageError } from '../errors.js';
import { localIoError } from '../fs-errors.js';
import { isProcessAlive } from '../pid.js';

/**
 * Where one output goes. Regular files are written to a temp file beside the
 * target and renamed over it only on success, so a failed or killed run never
 * leaves a half-written file or clobbers an earlier good one. Targets that are
 * not regular files (/dev/null, a FIFO, a terminal) are written directly:
 * replacing them would be wrong.
 */
export interface OutputHandle {
  readonly stream: Writable;
  /** shown in messages */
  readonly path: string;
  /** make the output visible (rename into place) */
  commit(): Promise<void>;
  /** throw the partial output away */
  abort(): Promise<void>;
}

export function openStdout(): OutputHandle {
  return {
    stream: process.stdout,
    path: 'stdout',
    commit: async () => {},
    abort: async () => {},
  };
}

export async function openAtomic(target: string): Promise<OutputHandle> {
  try {
    return await openAtomicUnchecked(target);
  } catch (error) {
    // ENOSPC, EACCES, EROFS, ENOTDIR…: the paths were probed before the first request, so
    // this is the environment changing under the run (exit 6), not a bug of ours.
    if (error instanceof ChatExportError) throw error;
    const local = localIoError(error, { path: target });
    if (local) throw local;
    throw new UsageError(`cannot write ${target}: ${error instanceof Error ? error.message : String(error)}`, {
      hint: 'check --output: the directory must exist and be writable',
    });
  }
}

async function openAtomicUnchecked(shown: string): Promise<OutputHandle> {
  // A symbolic link is written through, as cp and curl -o do: the link stays and
  // the file it points to is replaced, atomically, by a temp file beside that file.
  const target = await followLinks(shown);
  const followed = await stat(target).catch(() => undefined);
  if (followed && !followed.isFile()) {
    if (followed.isDirectory()) throw new UsageError(`${target} is a directory`);
    if (followed.isFIFO()) return openFifo(target);
    const stream = createWriteStream(target, { flags: 'w' });
    await once(stream, 'open');
    stream.on('error', () => {});
    return {
      stream,
      path: shown,
      commit: () => endStream(stream),
      abort: async () => {
        stream.destroy();
      },
    };
  }
  await removeStaleTemps(target);
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const stream = createWriteStream(temp, { flags: 'wx', mode: followed ? followed.mode & 0o777 : 0o644 });
  await once(stream, 'open');
  // A failed write (ENOSPC) surfaces through stream.errored at the next write or at commit;
  // unheard, the 'error' event would end the process before the temp file is removed.
  stream.on('error', () => {});
  return {
    stream,
    path: shown,
    async commit() {
      await endStream(stream);
      await fsyncPath(temp);
      await rename(temp, target);
      await fsyncPath(dirname(target)).catch(() => {});
    },
    async abort() {
      stream.destroy();
      // Never leave a temp file behind, least of all on a full disk.
      await rm(temp, { force: true }).catch(() => {});
    },
  };
}

/**
 * A FIFO is written through the event loop (as stdout is), not the thread
 * pool: a reader that stops reading must not block a worker thread, which
 * would keep even a signalled process from exiting.
 */
async function openFifo(target: string): Promise<OutputHandle> {
  // Waits for a reader to open the other end, as a shell redirect does.
  const fd = await promisify(openFd)(target, 'w');
  const stream = new Socket({ fd, readable: false, writable: true });
  stream.on('error', () => {});
  return {
    stream,
    path: target,
    commit: () => endStream(stream),
    abort: async () => {
      stream.destroy();
    },
  };
}

/** The path a chain of symbolic links ends at (which need not exist yet). */
async function followLinks(path: string): Promise<string> {
  let current = path;
  for (let hops = 0; hops < 40; hops++) {
    const info = await lstat(current).catch(() => undefined);
    if (!info?.isSymbolicLink()) return current;
    current = resolve(dirname(current), await readlink(current));
  }
  throw new UsageError(`${path}: too many levels of symbolic links`);
}

async function endStream(stream: Writable): Promise<void> {
  if (stream.errored) throw stream.errored;
  if (stream.writableFinished) return;
  stream.end();
  await once(stream, 'finish');
}

export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Temp files of runs that were killed (their pid is gone) are removed. */
async function removeStaleTemps(target: string): Promise<void> {
  const dir = dirname(target);
  const prefix = `.${basename(target)}.`;
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !isProcessAlive(pid)) {
      await rm(join(dir, name), { force: true });
    }
  }
}

