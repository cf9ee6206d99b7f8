/**
 * The SQLite binding. libsql is better-sqlite3's API over a SQLite build that
 * ships as an npm optional dependency (prebuilt per platform, nothing to
 * compile), with FTS5 and WAL. Node 20 has no node:sqlite.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type Libsql from 'libsql';

// Loaded on the first open, not at start-up: the native library costs every
// export that writes no archive ~8 MiB of RSS and 30-100 ms before its first request.
const require = createRequire(import.meta.url);
let binding: typeof Libsql | undefined;

export type Database = Libsql.Database;
export type Statement = Libsql.Statement;

export interface OpenOptions {
  readonly?: boolean;
  fileMustExist?: boolean;
  /** ms to wait for another process's write lock before SQLITE_BUSY */
  timeout?: number;
  /**
   * Read the file as one nothing can change (SQLite's immutable=1): no lock,
   * no -shm, no -wal. Only for a file on a read-only mount with no -wal.
   */
  immutable?: boolean;
}

export function openDatabase(path: string, options: OpenOptions = {}): Database {
  binding ??= require('libsql') as typeof Libsql;
  // A URI, so a path holding ? or # stays a path: pathToFileURL percent-encodes them.
  const name = options.immutable ? `${pathToFileURL(path).href}?immutable=1` : path;
  return new binding(name, {
    readonly: options.readonly ?? false,
    fileMustExist: options.fileMustExist ?? false,
    timeout: options.timeout ?? 5_000,
  });
}

/** SQLite's error code (SQLITE_BUSY, SQLITE_FULL, …), if the error is SQLite's. */
export function sqliteCode(error: unknown): string | undefined {
  if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string') {
    const code = (error as unknown as { code: string }).code;
    if (code.startsWith('SQLITE_')) return code;
  }
  return undefined;
}
