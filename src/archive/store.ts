/**
 * An open archive: one SQLite file, WAL, one connection per process. Every
 * write is one short IMMEDIATE transaction (a page of messages plus the walk
 * position), so a SIGKILL loses at most the page in flight, two processes on
 * one archive take turns (busy timeout) instead of failing, and the channels
 * of one run — walked concurrently, written one transaction at a time on the
 * single connection — never interleave inside a transaction.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { z } from 'zod';
import { walkCheckpointSchema } from '../checkpoint.js';
import { LocalIoError, UsageError } from '../errors.js';
import type { Message } from '../message.js';
import { walkIdentitySchema } from '../walk/identity.js';
import { hasIndex, migrate, rebuildIndex, schemaStateOf, SCHEMA_VERSION } from './schema.js';
import type { ListedChannel } from '../providers/types.js';
import { openDatabase, sqliteCode, type Database, type Statement } from './sqlite.js';
import { stringifyJson } from '../text/json.js';

/** How long a writer waits for another process's transaction before giving up. */
export const BUSY_TIMEOUT_MS = 120_000;

/** One history in the archive. */
export interface SourceKey {
  provider: string;
  /** normalized API root (api-root.ts) */
  api: string;
  channel: string;
}

/**
 * A walk that has not reached its floor yet. Until it does, the messages it
 * committed are in the archive but the range between its position and its
 * floor is a gap: `held_until` only moves when a walk completes.
 */
const unfinishedWalkSchema = z.object({
  /** the run that started it */
  run: z.number(),
  /** newest time this walk has seen (capped at its start), null before its first message */
  top: z.number().nullable(),
  /** the walk goes on until a page is older than this; null = to the start of the history */
  floor: z.number().nullable(),
  /** the walker's position after the last committed page; null = from the top */
  checkpoint: walkCheckpointSchema.nullable(),
  startedAt: z.number(),
  /** runs that tried to continue it; after a few, the next walks from the top down to its floor instead */
  attempts: z.number().default(0),
  /**
   * what the position means (page size, definition, order, window): a later run continues it only under the same,
   * else walks from the top again; missing in a record an earlier version wrote
   */
  identity: walkIdentitySchema.optional(),
});

export type UnfinishedWalk = z.infer<typeof unfinishedWalkSchema>;

export interface ChannelRecord {
  /** every message the server showed at or before this time (epoch ms) is held; null = no complete walk yet */
  heldUntil: number | null;
  walk: UnfinishedWalk | null;
  /** a walk record that could not be read (it is then treated as a gap down to heldUntil) */
  walkUnreadable: boolean;
}

/** A file --media downloaded for a URL, as the archive records it (the `media` table). */
export interface MediaRecord {
  url: string;
  /** relative to the archive's directory */
  file: string;
  sha256: string | null;
  size: number | null;
}

export interface PageCounts {
  added: number;
  changed: number;
  seen: number;
}

export interface ArchiveOpenOptions {
  /** create the file when missing (dump, import); search and convert read existing archives only */
  create: boolean;
  readonly?: boolean;
  timeoutMs?: number;
}

export class Archive {
  /** the write statements, prepared on the first write: reading (search, convert) must not need the index's triggers */
  private prepared: WriteStatements | undefined;
  /** multi-row statements by kind and size */
  private readonly chunked = new Map<string, Statement>();
  private lastNow = 0;
  /** true once a run is recorded: a failure after it is the environment's (exit 6), before it the path's (exit 2) */
  private running = false;
  /** the opened file (device and inode), to notice it being replaced under us */
  private readonly identity: { dev: number; ino: number } | undefined;
  /** the full-text index was missing (dropped) and has been made again from the messages by this open */
  indexRebuilt = false;
  /** read-only and without a full-text index: search cannot answer until it is rebuilt */
  indexMissing = false;

  private constructor(
    readonly path: string,
    readonly db: Database,
  ) {
    const info = statSync(path, { throwIfNoEntry: false });
    this.identity = info ? { dev: info.dev, ino: info.ino } : undefined;
  }

  private get statements(): WriteStatements {
    this.prepared ??= prepareWrites(this.db);
    return this.prepared;
  }

  /**
   * Opens (and if asked, creates) an archive. Everything that makes the file
   * unusable — a directory, no permission, another program's database, one
   * from a newer chat-export, a damaged file — is a usage error, found before
   * any request. Read-only opens never write: they work on a read-only mount.
   */
  static open(path: string, options: ArchiveOpenOptions): Archive {
    const info = statSync(path, { throwIfNoEntry: false });
    if (info?.isDirectory()) throw new UsageError(`${path} is a directory, not an archive file`);
    // a database needs a file it can lock, seek and put a -wal beside: not /dev/null, a FIFO, a terminal
    if (info && !info.isFile()) throw new UsageError(`${path} is not a regular file; an archive is an SQLite file`, { hint: 'give -o a file name ending in .sqlite' });
    if (!info && !options.create) {
      throw new UsageError(`no archive at ${path}`, { hint: 'create one with chat-export dump … -o ARCHIVE.sqlite' });
    }
    if (info && info.size > 0) checkHeader(path);
    const readonly = options.readonly ?? false;
    // before SQLite opens it: opening a WAL archive makes a -wal of its own
    const walBeside = existsSync(`${path}-wal`);
    const connect = (immutable: boolean) => {
      const opened = openDatabase(path, { readonly, fileMustExist: !options.create || immutable, timeout: options.timeoutMs ?? BUSY_TIMEOUT_MS, immutable });
      try {
        return { db: opened, state: schemaStateOf(opened) };
      } catch (error) {
        opened.close();
        throw error;
      }
    };
    let db: Database | undefined;
    try {
      let state: ReturnType<typeof schemaStateOf>;
      try {
        ({ db, state } = connect(false));
      } catch (error) {
        // A read-only mount (a snapshot, a backup disk): SQLite cannot make the -shm it reads a WAL archive
        // with. With no -wal beside the file, every commit is in the file itself: read it as immutable.
        if (!readonly || !isUnwritableLocation(error)) throw error;
        if (walBeside) {
          throw new UsageError(`${path}: its -wal file holds writes not yet folded into the archive, and SQLite cannot read them in a read-only place`, {
            hint: 'copy the archive together with its -wal file to a writable directory and give that copy',
          });
        }
        ({ db, state } = connect(true));
      }
      checkState(path, state, readonly, walBeside);
      if (!readonly) {
        // WAL: readers never block the writer, and a commit is one append; NORMAL sync is
        // durable across a killed process (the WAL is in the OS cache) and consistent on power loss.
        db.exec('PRAGMA journal_mode = WAL');
        db.exec('PRAGMA synchronous = NORMAL');
        if (state.state !== 'current') migrate(db);
      }
      const archive = new Archive(path, db);
      if (!hasIndex(db)) {
        if (readonly) archive.indexMissing = true;
        else {
          // dropped to reclaim space: the triggers that feed it are still there, and every insert would fail
          archive.rebuildIndex();
          archive.indexRebuilt = true;
        }
      }
      return archive;
    } catch (error) {
      if (db?.open) db.close();
      if (error instanceof UsageError) throw error;
      throw archiveError(path, error, 'open');
    }
  }

  /** The full-text index made again from the messages (created if it was dropped). */
  rebuildIndex(): void {
    try {
      this.write('rebuild the full-text index', () => rebuildIndex(this.db));
    } catch (error) {
      const cause = error instanceof Error ? error.cause : undefined;
      const code = sqliteCode(cause);
      // Not the index alone (its tables' pages are damaged too, or the messages'): rebuilding cannot help.
      if (code?.startsWith('SQLITE_CORRUPT') || code?.startsWith('SQLITE_NOTADB')) {
        throw new UsageError(`${this.path} is damaged beyond its full-text index: rebuilding it failed (SQLite: ${describe(cause)})`, {
          cause,
          hint: `restore it from a backup, or save what is readable: sqlite3 ${shellQuote(this.path)} .recover | sqlite3 recovered.sqlite`,
        });
      }
      throw error;
    }
  }

  close(): void {
    if (!this.db.open) return;
    try {
      if (!this.db.readonly && !this.db.inTransaction) this.db.exec('PRAGMA wal_checkpoint(PASSIVE)');
    } catch {
      // another process is reading: the WAL stays, SQLite folds it in later
    }
    this.db.close();
  }

  /**
   * A write transaction that waits for other processes' (BEGIN IMMEDIATE), with errors made readable.
   * Not libsql's transaction(): after SQLITE_FULL or an I/O error SQLite has already rolled back, and
   * its wrapper's own ROLLBACK then fails with "no transaction is active", hiding the cause.
   */
  write<T>(what: string, fn: () => T): T {
    let began = false;
    try {
      this.checkSameFile();
      this.db.exec('BEGIN IMMEDIATE');
      began = true;
      const result = fn();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      if (began && this.db.inTransaction) {
        try {
          this.db.exec('ROLLBACK');
        } catch {
          // the cause below is what the user needs
        }
      }
      if (error instanceof UsageError || error instanceof LocalIoError) throw error;
      if (sqliteCode(error)) throw archiveError(this.path, error, what, this.running);
      throw error;
    }
  }

  /**
   * The archive at `path` must still be the file this process opened: a file
   * moved, removed or replaced meanwhile would take every later page with it
   * (SQLite keeps writing to the open file, whatever is at the path now).
   */
  private checkSameFile(): void {
    if (this.identity === undefined) return;
    const now = statSync(this.path, { throwIfNoEntry: false });
    if (!now || now.ino !== this.identity.ino || now.dev !== this.identity.dev) {
      throw new LocalIoError(`${this.path} was ${now ? 'replaced' : 'removed or moved'} during the run; this run stopped writing to it`, {
        hint: 'what the run committed before is in the file that was there; put the archive back and run again',
      });
    }
  }

  /**
   * A wall-clock ISO time strictly later than the previous one this process
   * used, so first_seen tells apart the pages of one run.
   */
  now(): string {
    this.lastNow = Math.max(Date.now(), this.lastNow + 1);
    return new Date(this.lastNow).toISOString();
  }

  startRun(command: string, source: { provider: string; api: string } | undefined): number {
    const run = this.write('record the run', () => {
      const result = this.db
        .prepare(`INSERT INTO runs (started_at, status, provider, api, command, pid) VALUES (?, 'running', ?, ?, ?, ?)`)
        .run(this.now(), source?.provider ?? null, source?.api ?? null, command, process.pid);
      return Number(result.lastInsertRowid);
    });
    this.running = true;
    return run;
  }

  finishRun(run: number, status: 'ok' | 'failed' | 'interrupted', counts: PageCounts): void {
    this.write('record the run', () => {
      this.db
        .prepare(`UPDATE runs SET finished_at = ?, status = ?, added = ?, changed = ?, seen = ? WHERE id = ?`)
        .run(this.now(), status, counts.added, counts.changed, counts.seen, run);
    });
  }

  /**
   * What one channel list said: each channel's name, kind, parent, archived
   * flag and record, upserted (`first_seen` kept); a channel the archive
   * holds that was listed before and is missing now stays as it is.
   */
  recordChannels(source: { provider: string; api: string }, channels: readonly ListedChannel[]): void {
    this.write(`record the ${source.provider} channel list`, () => {
      const now = this.now();
      const upsert = this.db.prepare(
        `INSERT INTO channels (provider, api, channel, kind, name, parent, archived, raw, first_seen, last_seen, first_run, last_run)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (provider, api, channel) DO UPDATE SET kind = excluded.kind, name = excluded.name, parent = excluded.parent,
           archived = excluded.archived, raw = excluded.raw, first_seen = coalesce(channels.first_seen, excluded.first_seen),
           last_seen = excluded.last_seen`,
      );
      for (const c of channels) {
        upsert.run(source.provider, source.api, c.id, c.kind ?? 'channel', c.name, c.parent, c.archived ? 1 : 0, JSON.stringify(c.raw ?? null), now, now, now, now);
      }
    });
  }

  /** Channels an earlier channel list named that are not among `listed` now: (id, name), their backups kept. */
  channelsNotListed(source: { provider: string; api: string }, listed: ReadonlySet<string>): Array<{ id: string; name: string | null }> {
    const rows = this.db
      .prepare(`SELECT channel, name FROM channels WHERE provider = ? AND api = ? AND last_seen IS NOT NULL ORDER BY first_seen, channel`)
      .raw(true)
      .all(source.provider, source.api) as Array<[string, string | null]>;
    return rows.filter(([id]) => !listed.has(id)).map(([id, name]) => ({ id, name }));
  }

  channel(key: SourceKey): ChannelRecord | undefined {
    const row = this.db
      .prepare(`SELECT held_until_ms, walk FROM channels WHERE provider = ? AND api = ? AND channel = ?`)
      .raw(true)
      .get(key.provider, key.api, key.channel) as [number | null, string | null] | undefined;
    if (!row) return undefined;
    let walk: UnfinishedWalk | null = null;
    let walkUnreadable = false;
    if (row[1] !== null) {
      try {
        walk = unfinishedWalkSchema.parse(JSON.parse(row[1]));
      } catch {
        walkUnreadable = true;
      }
    }
    return { heldUntil: row[0] === null ? null : Number(row[0]), walk, walkUnreadable };
  }

  /**
   * One page: its messages and the walk position after it, in one
   * transaction. `walk` undefined leaves the channel's walk record alone
   * (a windowed re-read); null clears it.
   */
  writePage(key: SourceKey, kind: string, messages: readonly Message[], walk: UnfinishedWalk | null | undefined, media: readonly MediaRecord[] = []): PageCounts {
    return this.write(`write ${key.provider} channel ${key.channel}`, () => {
      const now = this.now();
      const counts = this.upsertMessages(key, messages, now);
      for (const record of media) this.statements.upsertMedia.run(record.url, record.file, record.sha256, record.size, now);
      if (walk !== undefined) {
        this.statements.upsertChannel.run(key.provider, key.api, key.channel, kind, walk === null ? null : JSON.stringify(walk), now, now);
      }
      return counts;
    });
  }

  /**
   * A walk reached its floor (or the start of the history): everything up to
   * `top` is held. The walk record is cleared only if it is still this
   * walk's: another process may have started one of its own meanwhile.
   */
  completeWalk(key: SourceKey, kind: string, run: number, top: number | null): void {
    this.write(`finish ${key.provider} channel ${key.channel}`, () => {
      const now = this.now();
      this.statements.upsertChannel.run(key.provider, key.api, key.channel, kind, null, now, now);
      // a newer mark from a concurrent run stays: the archive holds up to whichever is later
      this.db
        .prepare(
          `UPDATE channels SET
             held_until_ms = CASE WHEN ? IS NULL THEN held_until_ms ELSE max(coalesce(held_until_ms, ?), ?) END,
             last_complete = ?
           WHERE provider = ? AND api = ? AND channel = ?`,
        )
        .run(top, top, top, now, key.provider, key.api, key.channel);
      this.db
        .prepare(
          `UPDATE channels SET held_until = strftime('%Y-%m-%dT%H:%M:%fZ', held_until_ms / 1000.0, 'unixepoch')
           WHERE provider = ? AND api = ? AND channel = ? AND held_until_ms IS NOT NULL`,
        )
        .run(key.provider, key.api, key.channel);
      // keep someone else's unfinished walk (a concurrent run's); drop ours
      this.db
        .prepare(`UPDATE channels SET walk = NULL WHERE provider = ? AND api = ? AND channel = ? AND json_extract(walk, '$.run') = ?`)
        .run(key.provider, key.api, key.channel, run);
    });
  }

  /** The file a URL's download is in, if the archive has recorded one. */
  mediaFile(url: string): string | undefined {
    const row = this.db.prepare(`SELECT file FROM media WHERE url = ? AND file IS NOT NULL`).raw(true).get(url) as [string] | undefined;
    return row?.[0];
  }

  /** --media downloads that failed: recorded for URLs that have no file yet (the next --media run tries again). */
  /** The people directory a run walked: each person upserted (nobody is removed). */
  upsertPeople(provider: string, api: string, people: ReadonlyArray<{ id: string; name: string | null; avatar: string | null; raw: unknown }>): void {
    if (people.length === 0) return;
    this.write(`write ${provider} people`, () => {
      const now = this.now();
      const statement = this.db.prepare(
        `INSERT INTO people (provider, api, id, name, avatar, raw, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (provider, api, id) DO UPDATE SET name = excluded.name, avatar = excluded.avatar, raw = excluded.raw, last_seen = excluded.last_seen`,
      );
      for (const person of people) statement.run(provider, api, person.id, person.name, person.avatar, JSON.stringify(person.raw ?? null), now, now);
    });
  }

  /** Files --media downloaded for messages the archive already held (no page written with them). */
  recordMedia(media: readonly MediaRecord[]): void {
    if (media.length === 0) return;
    this.write('record media', () => {
      const now = this.now();
      for (const record of media) this.statements.upsertMedia.run(record.url, record.file, record.sha256, record.size, now);
    });
  }

  recordMediaFailures(failures: ReadonlyArray<{ url: string; reason: string }>): void {
    if (failures.length === 0) return;
    this.write('record media failures', () => {
      const now = this.now();
      const statement = this.db.prepare(
        `INSERT INTO media (url, fetched_at, error) VALUES (?, ?, ?)
         ON CONFLICT (url) DO UPDATE SET error = excluded.error, fetched_at = excluded.fetched_at WHERE media.file IS NULL`,
      );
      for (const failure of failures) statement.run(failure.url, now, failure.reason);
    });
  }

  /** Recorded in the walk-state row only, e.g. a new walk beginning before its first page. */
  setWalk(key: SourceKey, kind: string, walk: UnfinishedWalk): void {
    this.write(`write ${key.provider} channel ${key.channel}`, () => {
      const now = this.now();
      this.statements.upsertChannel.run(key.provider, key.api, key.channel, kind, JSON.stringify(walk), now, now);
    });
  }

  /**
   * A page's messages: those the archive does not hold yet are inserted a chunk
   * per statement, the others compared (and updated, their old version kept)
   * one by one. Not one INSERT per new message: the full-text index's trigger
   * then writes its pending terms out at every statement (FTS5 flushes them at
   * each statement's savepoint), which cost over half of an archive's ingest.
   * The rows, their rowids and the index come out as one statement each would make.
   */
  private upsertMessages(key: SourceKey, messages: readonly Message[], now: string): PageCounts {
    const rows = messages.map((message) => rowOf(message));
    const held = this.heldAmong(key, messages);
    // New ones first, in page order (their rowids as before: updates take none); a second message
    // with the same id in one page is compared with the first, as it would have been.
    const fresh: number[] = [];
    const compare = new Set<number>(held);
    const ids = new Set<string>();
    for (let i = 0; i < messages.length; i++) {
      const id = messages[i]!.id;
      if (held.has(i)) continue;
      if (ids.has(id)) compare.add(i);
      else {
        ids.add(id);
        fresh.push(i);
      }
    }
    let added = 0;
    for (const { at, size } of chunksOf(fresh.length, MAX_INSERT_ROWS)) {
      const part = fresh.slice(at, at + size);
      const values: unknown[] = [];
      for (const i of part) values.push(key.provider, key.api, key.channel, messages[i]!.id, ...rows[i]!, now, now);
      const inserted = this.statement('insert', size).run(...values).changes;
      added += inserted;
      // a conflict the lookup could not foresee (two ids JavaScript tells apart but SQLite stores alike):
      // the rows it left out are compared like held ones, and the ones just inserted compare equal
      if (inserted !== size) for (const i of part) compare.add(i);
    }
    let changed = 0;
    for (let i = 0; i < messages.length; i++) {
      if (!compare.has(i)) continue;
      const message = messages[i]!;
      const columns = rows[i]!;
      const existing = this.statements.selectExisting.get(
        message.text,
        message.editedAt,
        columns[9],
        columns[10],
        message.timestamp,
        message.sender.id,
        message.sender.name,
        message.sender.avatar,
        message.type,
        message.replyTo,
        columns[11],
        key.provider,
        key.api,
        key.channel,
        message.id,
      ) as [number, number] | undefined;
      if (!existing) {
        this.statements.upsertInsert.run(key.provider, key.api, key.channel, message.id, ...columns, now, now);
        added++;
        continue;
      }
      const versioned = Number(existing[0]) !== 1;
      const other = Number(existing[1]) !== 1;
      if (versioned || other) {
        // the messages_keep_version trigger saves the replaced version
        this.statements.updateAll.run(...columns, now, key.provider, key.api, key.channel, message.id);
        if (versioned) changed++;
      } else {
        this.statements.touch.run(now, key.provider, key.api, key.channel, message.id);
      }
    }
    return { added, changed, seen: messages.length };
  }

  /** Positions in `messages` of those the archive already holds: one query per chunk, ids bound as the row lookups bind them. */
  private heldAmong(key: SourceKey, messages: readonly Message[]): Set<number> {
    const held = new Set<number>();
    for (const { at, size } of chunksOf(messages.length, MAX_LOOKUP_IDS)) {
      const values: unknown[] = [key.provider, key.api, key.channel];
      for (let i = at; i < at + size; i++) values.push(messages[i]!.id);
      for (const [position] of this.statement('held', size).all(...values) as Array<[number]>) held.add(at + Number(position));
    }
    return held;
  }

  /** The multi-row statements, prepared once per chunk size (sizes are powers of two: a handful). */
  private statement(kind: 'insert' | 'held', size: number): Statement {
    const name = `${kind} ${size}`;
    let statement = this.chunked.get(name);
    if (!statement) {
      statement =
        kind === 'insert'
          ? this.db.prepare(
              `INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES ${Array.from({ length: size }, () => ROW_PARAMETERS).join(', ')}
               ON CONFLICT (provider, api, channel, id) DO NOTHING`,
            )
          : this.db
              .prepare(
                // CROSS JOIN keeps this order (SQLite's rule): one primary-key lookup per id. Left to the planner,
                // a long list made it scan the channel's every row instead.
                `SELECT v.column1 FROM (VALUES ${Array.from({ length: size }, (_, i) => `(${i}, ?${i + 4})`).join(', ')}) AS v
                 CROSS JOIN messages AS m ON m.provider = ?1 AND m.api = ?2 AND m.channel = ?3 AND m.id = v.column2`,
              )
              .raw(true);
      this.chunked.set(name, statement);
    }
    return statement;
  }
}

const MESSAGE_COLUMNS =
  'provider, api, channel, id, timestamp, time_ms, sender_id, sender_name, sender_avatar, type, text, reply_to, edited_at, deleted, attachments, raw, first_seen, last_seen';
const ROW_PARAMETERS = `(${MESSAGE_COLUMNS.split(',').map(() => '?').join(', ')})`;
/** Rows per INSERT (18 parameters each) and ids per lookup: well under SQLite's 32,766 parameters. */
const MAX_INSERT_ROWS = 128;
const MAX_LOOKUP_IDS = 512;

/** A message's values in the column order the insert and the update share (timestamp … raw). */
function rowOf(message: Message): unknown[] {
  return [
    message.timestamp,
    Date.parse(message.timestamp),
    message.sender.id,
    message.sender.name,
    message.sender.avatar,
    message.type,
    message.text,
    message.replyTo,
    message.editedAt,
    message.deleted ? 1 : 0,
    message.attachments.length === 0 ? '[]' : JSON.stringify(message.attachments),
    message.raw === undefined ? null : stringifyJson(message.raw),
  ];
}

interface WriteStatements {
  upsertInsert: Statement;
  selectExisting: Statement;
  updateAll: Statement;
  touch: Statement;
  upsertChannel: Statement;
  upsertMedia: Statement;
}

function prepareWrites(db: Database): WriteStatements {
  return {
    // Compared in SQL, not in JS: libsql reads text only up to a NUL byte, and a text
    // holding one ("a\u0000b") must not look edited on every run.
    selectExisting: db
      .prepare(
        `SELECT text IS ?1 AND edited_at IS ?2 AND deleted = ?3 AND attachments IS ?4,
                timestamp IS ?5 AND sender_id IS ?6 AND sender_name IS ?7 AND sender_avatar IS ?8 AND type IS ?9
                  AND reply_to IS ?10 AND (?11 IS NULL OR raw IS ?11)
         FROM messages WHERE provider = ?12 AND api = ?13 AND channel = ?14 AND id = ?15`,
      )
      .raw(true),
    upsertInsert: db.prepare(
      `INSERT INTO messages (provider, api, channel, id, timestamp, time_ms, sender_id, sender_name, sender_avatar, type, text,
                             reply_to, edited_at, deleted, attachments, raw, first_seen, last_seen)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateAll: db.prepare(
      `UPDATE messages SET timestamp = ?, time_ms = ?, sender_id = ?, sender_name = ?, sender_avatar = ?, type = ?, text = ?,
         reply_to = ?, edited_at = ?, deleted = ?, attachments = ?, raw = coalesce(?, raw), last_seen = ?
       WHERE provider = ? AND api = ? AND channel = ? AND id = ?`,
    ),
    touch: db.prepare(`UPDATE messages SET last_seen = ? WHERE provider = ? AND api = ? AND channel = ? AND id = ?`),
    // fetched_at: when the archive first recorded this file for the URL
    upsertMedia: db.prepare(
      `INSERT INTO media (url, file, sha256, size, fetched_at, error) VALUES (?, ?, ?, ?, ?, NULL)
       ON CONFLICT (url) DO UPDATE SET file = excluded.file, sha256 = excluded.sha256, size = excluded.size, error = NULL,
         fetched_at = CASE WHEN media.file IS excluded.file THEN media.fetched_at ELSE excluded.fetched_at END`,
    ),
    upsertChannel: db.prepare(
      `INSERT INTO channels (provider, api, channel, kind, walk, first_run, last_run) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (provider, api, channel) DO UPDATE SET walk = excluded.walk, last_run = excluded.last_run`,
    ),
  };
}

const SQLITE_MAGIC = 'SQLite format 3\u0000';

/**
 * The first 16 bytes of an SQLite file are its magic: without them SQLite
 * only says "file is not a database". Said here with what to do.
 */
function checkHeader(path: string): void {
  const header = Buffer.alloc(16);
  let read = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      read = readSync(fd, header, 0, 16, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return; // unreadable: SQLite's open says why, in archiveError's words
  }
  if (read === 16 && header.toString('latin1') === SQLITE_MAGIC) return;
  throw new UsageError(`${path} is not an SQLite database: its first bytes are not SQLite's header (a damaged file, or another kind of file)`, {
    hint: `restore the archive from a backup; if it is a JSONL export, name it .jsonl`,
  });
}

/** SQLite could not make a file it needs beside the archive (the -shm of a WAL archive on a read-only mount). */
function isUnwritableLocation(error: unknown): boolean {
  const code = sqliteCode(error) ?? '';
  return code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY');
}

/** What the schema says about the file, as a usage error when it cannot be used for this open. */
function checkState(path: string, { state, version }: ReturnType<typeof schemaStateOf>, readonly: boolean, walBeside: boolean): void {
  if (state === 'foreign') {
    throw new UsageError(
      readonly
        ? `${path} is an SQLite database that chat-export did not create (it has no archive tables)`
        : `${path} is an SQLite database that chat-export did not create; refusing to write into it`,
      { hint: readonly ? 'give an archive written by chat-export dump … -o ARCHIVE.sqlite' : 'choose a new file name for the archive' },
    );
  }
  if (state === 'newer') {
    throw new UsageError(`${path} has archive schema ${version}; this chat-export knows up to ${SCHEMA_VERSION}`, {
      hint: 'upgrade chat-export to read or write it',
    });
  }
  if (state === 'reset') {
    throw new UsageError(`${path} holds chat-export's tables, but its schema version (PRAGMA user_version) was set to 0`, {
      hint: `set it back, then run again: sqlite3 ${shellQuote(path)} 'PRAGMA user_version = ${version}'`,
    });
  }
  if (!readonly || state === 'current') return;
  if (state === 'empty') {
    // byte 18 = 2: the file was in WAL mode, so its commits may all be in a -wal that did not come along
    const wal = walModeHeader(path) && !walBeside;
    throw new UsageError(
      wal
        ? `${path} holds no tables yet, and its -wal file is not beside it: an archive copied without ${path}-wal (its recent writes are there)`
        : `${path} is an empty SQLite database, not an archive`,
      {
        hint: wal
          ? 'copy the archive together with its -wal file (or let the last dump into it finish: it folds the -wal in), then try again'
          : 'create an archive with chat-export dump … -o ARCHIVE.sqlite',
      },
    );
  }
  throw new UsageError(`${path} is an archive of schema ${version}; open it once with chat-export dump to upgrade it`);
}

function walModeHeader(path: string): boolean {
  try {
    const fd = openSync(path, 'r');
    try {
      const bytes = Buffer.alloc(2);
      return readSync(fd, bytes, 0, 2, 18) === 2 && bytes[0] === 2 && bytes[1] === 2;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

function shellQuote(text: string): string {
  return /^[\w./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** [0, count) in consecutive chunks of at most `max`, each a power of two long. */
function chunksOf(count: number, max: number): Array<{ at: number; size: number }> {
  const chunks: Array<{ at: number; size: number }> = [];
  for (let at = 0; at < count; ) {
    let size = max;
    while (size > count - at) size >>= 1;
    chunks.push({ at, size });
    at += size;
  }
  return chunks;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** SQLite's failures in words a user can act on, with the exit code of their kind. */
export function archiveError(path: string, error: unknown, what: string, duringRun = false): Error {
  const code = sqliteCode(error);
  if (code === undefined) return error instanceof Error ? error : new Error(String(error));
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new LocalIoError(`${path}: could not ${what}: another process held the archive for over ${BUSY_TIMEOUT_MS / 1000} s`, {
      cause: error,
      hint: 'what was committed is kept; run again when the other process is done',
    });
  }
  // found at the start: the path given is unusable (exit 2); during a run: the file went bad under us (exit 6)
  const Kind = duringRun ? LocalIoError : UsageError;
  if (code.startsWith('SQLITE_CORRUPT_VTAB') || (code.startsWith('SQLITE_CORRUPT') && /messages_fts/.test(describe(error)))) {
    return new Kind(`${path}: its full-text index is damaged (${describe(error)}); the messages are kept apart from it`, {
      cause: error,
      hint: `rebuild the index from the messages: chat-export search ${shellQuote(path)} --rebuild-index`,
    });
  }
  if (code.startsWith('SQLITE_NOTADB') || code.startsWith('SQLITE_CORRUPT')) {
    return new Kind(`${path} is damaged: could not ${what} (SQLite: ${describe(error)})`, {
      cause: error,
      hint: `restore it from a backup, or save what is readable: sqlite3 ${shellQuote(path)} .recover | sqlite3 recovered.sqlite`,
    });
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_AUTH')) {
    // before the run's first write (so before any request): a path that cannot be used is exit 2
    return new (duringRun ? LocalIoError : UsageError)(`${path}: could not ${what}: the archive cannot be written (${describe(error)})`, {
      cause: error,
      hint: 'check the permissions of the file, its -wal and -shm files and its directory',
    });
  }
  // SQLITE_FULL, SQLITE_IOERR…: the environment, not us; before the run's first write, a path that cannot be used
  if (!duringRun) {
    return new UsageError(`${path}: could not ${what}: ${describe(error)}`, { cause: error, hint: 'choose an archive path on a writable disk with free space' });
  }
  return new LocalIoError(`${path}: could not ${what}: ${describe(error)}`, {
    cause: error,
    hint: 'what was committed before is kept; free space or fix the disk, then run again',
  });
}
