import { LocalIoError } from './errors.js';

/**
 * What the file system can say during a run, in words a user can act on.
 * Anything here is the environment (disk, mount, permissions), never a bug:
 * it becomes exit 6 (during the run) instead of "internal error".
 */
const LOCAL_CODES: Record<string, { what: string; todo: string }> = {
  ENOSPC: { what: 'disk full', todo: 'free some space (or choose another --output / --state-dir) and run again' },
  EDQUOT: { what: 'disk quota exceeded', todo: 'free some space or raise the quota, and run again' },
  EFBIG: { what: 'file too large for the file system', todo: 'write to another file system or use --partition' },
  EIO: { what: 'input/output error', todo: 'check the disk (dmesg) and run again' },
  EROFS: { what: 'read-only file system', todo: 'write somewhere writable (--output, --state-dir)' },
  EACCES: { what: 'permission denied', todo: 'check the permissions of the path, or write elsewhere' },
  EPERM: { what: 'operation not permitted', todo: 'check the permissions of the path, or write elsewhere' },
  ENOTDIR: { what: 'a part of the path is a file, not a directory', todo: 'fix --output / --state-dir' },
  EISDIR: { what: 'is a directory', todo: 'fix --output' },
  EEXIST: { what: 'already exists as something else', todo: 'fix --output / --state-dir' },
  ENOENT: { what: 'no such file or directory (removed during the run?)', todo: 'check the path and run again' },
  ENAMETOOLONG: { what: 'name too long', todo: 'use a shorter --output path' },
  ELOOP: { what: 'too many symbolic links', todo: 'fix the symbolic link loop at the path' },
  EMFILE: { what: 'too many open files', todo: 'lower --concurrency or raise ulimit -n' },
  ENFILE: { what: 'too many open files in the system', todo: 'lower --concurrency' },
  ENXIO: { what: 'no reader on the other end (a FIFO?)', todo: 'start the reader first' },
  EPIPE: { what: 'the reader went away (broken pipe)', todo: 'keep the reader open until the export ends' },
  EBADF: { what: 'the output was closed', todo: 'check how the output is redirected' },
};

export interface IoContext {
  /** the file, directory or `stdout` being read or written */
  path?: string | undefined;
  /** "relation channel C1" */
  label?: string | undefined;
}

/**
 * A LocalIoError (exit 6) for a file-system failure, one line naming the
 * path and the channel; undefined when `error` is not one.
 */
export function localIoError(error: unknown, context: IoContext): LocalIoError | undefined {
  if (error instanceof LocalIoError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string' || !Object.hasOwn(LOCAL_CODES, code)) return undefined;
  const known = LOCAL_CODES[code]!;
  const path = context.path ?? (error as NodeJS.ErrnoException).path;
  const syscall = (error as NodeJS.ErrnoException).syscall;
  const verb = syscall === 'open' || syscall === 'read' || syscall === 'scandir' || syscall === 'stat' ? 'cannot use' : 'cannot write';
  const where = path ? `${verb} ${path}` : `${verb} a file`;
  const who = context.label ? `${context.label}: ` : '';
  return new LocalIoError(`${who}${where}: ${known.what} (${code})`, {
    cause: error,
    hint: `${known.todo}; files written before are intact and the checkpoint is kept`,
  });
}

/** "disk full (ENOSPC)" for a file-system error, else undefined. */
export function describeLocalError(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string' || !Object.hasOwn(LOCAL_CODES, code)) return undefined;
  return `${LOCAL_CODES[code]!.what} (${code})`;
}

/** localIoError, or the error unchanged. */
export function asLocalIoError(error: unknown, context: IoContext): unknown {
  return localIoError(error, context) ?? error;
}
