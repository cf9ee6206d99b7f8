import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { lstat, open, readdir, readlink, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { ChatExportError, UsageError } from '../errors.js';
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
    // EACCES, EROFS, ENOTDIR…: the user's --output, not a bug of ours.
    if (error instanceof ChatExportError) throw error;
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
    const stream = createWriteStream(target, { flags: 'w' });
    await once(stream, 'open');
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
      await rm(temp, { force: true });
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

async function endStream(stream: WriteStream): Promise<void> {
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

