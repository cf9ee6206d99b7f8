/**
 * The archive's tables (DESIGN.md section 6). The columns of `messages` and
 * `message_versions` named there are a public contract: users query them with
 * sqlite3, Datasette or Python. New tables and columns may be added by a
 * migration; none is ever renamed or dropped.
 *
 * `PRAGMA user_version` is the schema version; `application_id` marks the
 * file as ours, so `-o notes.db` never writes into someone else's database.
 */
import type { Database } from './sqlite.js';

/** "CHEX" */
export const APPLICATION_ID = 0x43484558;

/** The full-text index: also what `rebuildIndex` creates again after it was dropped. */
const FTS_TABLE = `CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text, sender_name, content = 'messages', content_rowid = 'rowid', tokenize = 'trigram'
  )`;

/** Each entry takes the schema from version i to i + 1, in one transaction. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE messages (
    provider      TEXT NOT NULL,
    api           TEXT NOT NULL,
    channel       TEXT NOT NULL,
    id            TEXT NOT NULL,
    timestamp     TEXT NOT NULL,
    sender_id     TEXT NOT NULL,
    sender_name   TEXT,
    sender_avatar TEXT,
    type          TEXT NOT NULL,
    text          TEXT NOT NULL,
    reply_to      TEXT,
    edited_at     TEXT,
    deleted       INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    attachments   TEXT NOT NULL DEFAULT '[]',
    raw           TEXT,
    first_seen    TEXT NOT NULL,
    last_seen     TEXT NOT NULL,
    -- epoch ms of timestamp: orders and windows without parsing text
    time_ms       INTEGER NOT NULL,
    PRIMARY KEY (provider, api, channel, id)
  );
  CREATE INDEX messages_by_time ON messages (provider, api, channel, time_ms);

  CREATE TABLE message_versions (
    provider    TEXT NOT NULL,
    api         TEXT NOT NULL,
    channel     TEXT NOT NULL,
    id          TEXT NOT NULL,
    -- the last time the archive saw this version on the server
    seen_at     TEXT NOT NULL,
    text        TEXT NOT NULL,
    edited_at   TEXT,
    deleted     INTEGER NOT NULL,
    attachments TEXT NOT NULL,
    -- when a newer version replaced it
    replaced_at TEXT NOT NULL,
    first_seen  TEXT NOT NULL
  );
  CREATE INDEX message_versions_by_message ON message_versions (provider, api, channel, id);

  -- An edit or a revoke keeps the version it replaces: done here, so that no
  -- writer (ours or a user's SQL) can update a message without it.
  CREATE TRIGGER messages_keep_version AFTER UPDATE ON messages
  WHEN old.text IS NOT new.text OR old.edited_at IS NOT new.edited_at
    OR old.deleted IS NOT new.deleted OR old.attachments IS NOT new.attachments
  BEGIN
    INSERT INTO message_versions (provider, api, channel, id, seen_at, text, edited_at, deleted, attachments, replaced_at, first_seen)
    VALUES (old.provider, old.api, old.channel, old.id, old.last_seen, old.text, old.edited_at, old.deleted, old.attachments,
            new.last_seen, old.first_seen);
  END;

  -- Full-text index over text and sender_name. The trigram tokenizer finds any
  -- substring of three or more characters, which is what CJK needs: the default
  -- tokenizer makes a whole run of Chinese one token. Shorter queries are
  -- answered by LIKE (search.ts).
  ${FTS_TABLE};
  CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text, sender_name) VALUES (new.rowid, new.text, new.sender_name);
  END;
  CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, sender_name) VALUES ('delete', old.rowid, old.text, old.sender_name);
  END;
  CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, sender_name ON messages
  WHEN old.text IS NOT new.text OR old.sender_name IS NOT new.sender_name
  BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, sender_name) VALUES ('delete', old.rowid, old.text, old.sender_name);
    INSERT INTO messages_fts (rowid, text, sender_name) VALUES (new.rowid, new.text, new.sender_name);
  END;

  -- One row per source channel: what the archive holds and the walk in progress.
  CREATE TABLE channels (
    provider     TEXT NOT NULL,
    api          TEXT NOT NULL,
    channel      TEXT NOT NULL,
    kind         TEXT NOT NULL DEFAULT 'channel',
    -- every message the server showed at or before this time is in the archive
    -- (set when a walk reaches the end of the history or the previous mark)
    held_until   TEXT,
    held_until_ms INTEGER,
    -- an unfinished walk (JSON): where it is, and down to where it must go
    walk         TEXT,
    first_run    TEXT NOT NULL,
    last_run     TEXT NOT NULL,
    last_complete TEXT,
    PRIMARY KEY (provider, api, channel)
  );

  CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    -- running | ok | failed | interrupted (a run killed outright stays "running")
    status      TEXT NOT NULL,
    provider    TEXT,
    api         TEXT,
    command     TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    added       INTEGER NOT NULL DEFAULT 0,
    changed     INTEGER NOT NULL DEFAULT 0,
    seen        INTEGER NOT NULL DEFAULT 0
  );

  -- Downloaded media (--media): one row per URL, the file named by its content.
  CREATE TABLE media (
    url          TEXT PRIMARY KEY,
    file         TEXT,
    sha256       TEXT,
    size         INTEGER,
    content_type TEXT,
    fetched_at   TEXT,
    error        TEXT
  );
  `,
  `
  -- The people directory of a source (a definition's \`people\`), as the last run that walked it saw each person.
  CREATE TABLE people (
    provider   TEXT NOT NULL,
    api        TEXT NOT NULL,
    id         TEXT NOT NULL,
    name       TEXT,
    avatar     TEXT,
    raw        TEXT,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    PRIMARY KEY (provider, api, id)
  );
  `,
  // 3: what a definition's channel list says of each channel (DESIGN.md sections 4c and 6): the walk's row
  // gains the listed columns; `id` is the contract's name of `channel`.
  `
  ALTER TABLE channels ADD COLUMN id TEXT GENERATED ALWAYS AS (channel) VIRTUAL;
  ALTER TABLE channels ADD COLUMN name TEXT;
  ALTER TABLE channels ADD COLUMN parent TEXT;
  ALTER TABLE channels ADD COLUMN archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1));
  ALTER TABLE channels ADD COLUMN raw TEXT;
  -- when a channel list first / last named it (NULL: never listed, only walked by id)
  ALTER TABLE channels ADD COLUMN first_seen TEXT;
  ALTER TABLE channels ADD COLUMN last_seen TEXT;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** `reset`: chat-export's tables, but user_version says 0 (someone set it): migrating would fail on them. */
export type SchemaState = 'current' | 'empty' | 'foreign' | 'newer' | 'older' | 'reset';

export function schemaStateOf(db: Database): { state: SchemaState; version: number } {
  const version = pragmaNumber(db, 'user_version');
  const application = pragmaNumber(db, 'application_id');
  if (version === 0) {
    const tables = new Set(
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").raw(true).all() as Array<[string]>).map(([name]) => name),
    );
    if (['messages', 'message_versions', 'channels', 'runs'].every((name) => tables.has(name))) return { state: 'reset', version: versionOfTables(tables, (table, column) => columnsOf(db, table).has(column)) };
    if (application === 0) return { state: tables.size === 0 ? 'empty' : 'foreign', version };
  }
  if (application !== APPLICATION_ID) return { state: 'foreign', version };
  if (version > SCHEMA_VERSION) return { state: 'newer', version };
  return { state: version === SCHEMA_VERSION ? 'current' : 'older', version };
}

/**
 * The schema version an archive whose user_version was reset must have had: the last migration
 * whose tables, and those of every one before it, are all there.
 */
function versionOfTables(tables: Set<string>, hasColumn: (table: string, column: string) => boolean): number {
  let version = 0;
  for (const sql of MIGRATIONS) {
    const created = [...sql.matchAll(/CREATE (?:VIRTUAL )?TABLE (?:IF NOT EXISTS )?(\w+)/g)].map((m) => m[1]!);
    if (!created.every((name) => tables.has(name))) break;
    // a migration that only adds columns is there when its columns are
    const added = [...sql.matchAll(/ALTER TABLE (\w+) ADD COLUMN (\w+)/g)];
    if (!added.every((m) => tables.has(m[1]!) && hasColumn(m[1]!, m[2]!))) break;
    version++;
  }
  return version;
}

/** A table's columns, generated ones included (table_xinfo). */
function columnsOf(db: Database, table: string): Set<string> {
  return new Set((db.prepare(`SELECT name FROM pragma_table_xinfo(?)`).raw(true).all(table) as Array<[string]>).map(([name]) => name));
}

/** Brings an empty or older archive to SCHEMA_VERSION; each step commits on its own. */
export function migrate(db: Database): void {
  for (;;) {
    const step = db.transaction(() => {
      // read inside the (immediate) transaction: another process may have migrated meanwhile
      const version = pragmaNumber(db, 'user_version');
      if (version >= SCHEMA_VERSION) return false;
      db.exec(MIGRATIONS[version]!);
      db.exec(`PRAGMA user_version = ${version + 1}`);
      if (version === 0) db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
      return true;
    });
    if (!step.immediate()) return;
  }
}

export function pragmaNumber(db: Database, name: string): number {
  const row = db.prepare(`PRAGMA ${name}`).raw(true).get() as unknown[] | undefined;
  return Number(row?.[0] ?? 0);
}

/** Whether the full-text index exists (a user may drop it to reclaim space). */
export function hasIndex(db: Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'messages_fts'").raw(true).get() !== undefined;
}

/**
 * The full-text index made again from the messages: created when it was
 * dropped, rebuilt when it is damaged (FTS5's 'rebuild' replaces every entry).
 * Its triggers outlive a dropped table, so only the table is created.
 */
export function rebuildIndex(db: Database): void {
  if (!hasIndex(db)) db.exec(FTS_TABLE);
  db.exec("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')");
}
