/**
 * The archive's store, walk bookkeeping, reader and search, on real SQLite
 * files in a temp directory (no network): upserts keep earlier versions,
 * a killed walk is completed before anything is taken for held, search finds
 * CJK words of any length and nothing outside the channel asked for.
 */
import { copyFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { HOSTILE_TEXTS } from '../../fixtures/history.js';
import { normalizeApiRoot } from '../../src/archive/api-root.js';
import { ChannelWalks } from '../../src/archive/channel-walks.js';
import { listSources, readMessages } from '../../src/archive/read.js';
import { parseQuery, search, snippetOf } from '../../src/archive/search.js';
import { Archive, type SourceKey } from '../../src/archive/store.js';
import { openDatabase } from '../../src/archive/sqlite.js';
import { LocalIoError, UsageError } from '../../src/errors.js';
import { createMessage, type Message } from '../../src/message.js';
import type { WalkBatch } from '../../src/walk/types.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempPath(name = 'a.sqlite'): string {
  const dir = mkdtempSync(join(tmpdir(), 'chat-export-archive-'));
  dirs.push(dir);
  return join(dir, name);
}

const KEY: SourceKey = { provider: 'dishawang', api: 'https://api.example.com', channel: '26' };
const T0 = Date.UTC(2024, 0, 1);

function message(i: number, fields: Partial<Parameters<typeof createMessage>[0]> = {}, channel = KEY.channel): Message {
  return createMessage(
    {
      id: String(i),
      provider: KEY.provider,
      channel,
      time: T0 + i * 60_000,
      sender: { id: '7', name: '哈哈哈', avatar: null },
      type: 'text',
      text: `message ${i}`,
      ...fields,
    },
    { id: i, body: fields.text ?? `message ${i}` },
  );
}

function batchOf(messages: Message[], checkpoint: WalkBatch['checkpoint'], page = 1): WalkBatch {
  const entries = messages.map((m) => ({ time: Date.parse(m.timestamp), message: m }));
  const oldest = entries.length > 0 ? Math.min(...entries.map((e) => e.time)) : undefined;
  return { entries, oldest, page, total: undefined, checkpoint };
}

function all(archive: Archive, key = KEY, raw = false): Message[] {
  return [...readMessages(archive, key, {}, { order: 'asc', raw })];
}

describe('the archive store', () => {
  it('upserts by id: the same page twice adds nothing, and an edit or a revoke keeps the earlier version', () => {
    const archive = Archive.open(tempPath(), { create: true });
    try {
      expect(archive.writePage(KEY, 'channel', [message(1), message(2)], undefined)).toMatchObject({ added: 2, changed: 0 });
      expect(archive.writePage(KEY, 'channel', [message(1), message(2)], undefined)).toMatchObject({ added: 0, changed: 0 });
      const edited = message(1, { text: 'edited text', updatedTime: T0 + 60_000 + 5_000 });
      const revoked = message(2, { deleted: true });
      expect(archive.writePage(KEY, 'channel', [edited, revoked], undefined)).toMatchObject({ added: 0, changed: 2 });
      expect(all(archive).map((m) => [m.id, m.text, m.editedAt, m.deleted])).toEqual([
        ['1', 'edited text', new Date(T0 + 65_000).toISOString(), false],
        ['2', 'message 2', null, true],
      ]);
      const versions = archive.db
        .prepare('SELECT id, text, edited_at, deleted FROM message_versions ORDER BY id')
        .raw(true)
        .all();
      expect(versions).toEqual([
        ['1', 'message 1', null, 0],
        ['2', 'message 2', null, 0],
      ]);
      // a sender's new name is not a new version of the message
      archive.writePage(KEY, 'channel', [message(1, { text: 'edited text', updatedTime: T0 + 65_000, sender: { id: '7', name: 'renamed', avatar: null } })], undefined);
      expect(all(archive)[0]!.sender.name).toBe('renamed');
      expect(archive.db.prepare('SELECT count(*) FROM message_versions').raw(true).get()).toEqual([2]);
    } finally {
      archive.close();
    }
  });

  it('stores hostile texts byte for byte and gives back the exact JSONL line', () => {
    const archive = Archive.open(tempPath(), { create: true });
    try {
      const messages = HOSTILE_TEXTS.map((text, i) => message(i, { text }));
      archive.writePage(KEY, 'channel', messages, undefined);
      const back = all(archive);
      expect(back.map((m) => JSON.stringify(m))).toEqual(messages.map((m) => JSON.stringify({ ...m, raw: undefined })));
      expect(all(archive, KEY, true).map((m) => JSON.stringify(m))).toEqual(messages.map((m) => JSON.stringify(m)));
      // read again unchanged: no text (not even one holding a NUL byte) looks edited
      expect(archive.writePage(KEY, 'channel', messages, undefined)).toMatchObject({ added: 0, changed: 0 });
      expect(archive.db.prepare('SELECT count(*) FROM message_versions').raw(true).get()).toEqual([0]);
    } finally {
      archive.close();
    }
  });

  it('a page written in chunks ends exactly as one statement per message would leave it: rows, rowids, versions, counts, index', () => {
    // The oracle: the per-message upsert the chunked write replaced (compare in SQL, insert or update or touch).
    const oneByOne = (archive: Archive, messages: Message[]) =>
      archive.write('oracle', () => {
        const now = archive.now();
        let added = 0;
        let changed = 0;
        const db = archive.db;
        for (const m of messages) {
          const attachments = JSON.stringify(m.attachments);
          const raw = m.raw === undefined ? null : JSON.stringify(m.raw);
          const existing = db
            .prepare(
              `SELECT text IS ? AND edited_at IS ? AND deleted = ? AND attachments IS ?, timestamp IS ? AND sender_id IS ? AND sender_name IS ?
                 AND sender_avatar IS ? AND type IS ? AND reply_to IS ? AND raw IS ? FROM messages WHERE provider = ? AND api = ? AND channel = ? AND id = ?`,
            )
            .raw(true)
            .get(m.text, m.editedAt, m.deleted ? 1 : 0, attachments, m.timestamp, m.sender.id, m.sender.name, m.sender.avatar, m.type, m.replyTo, raw, KEY.provider, KEY.api, KEY.channel, m.id) as
            | [number, number]
            | undefined;
          const columns = [m.timestamp, Date.parse(m.timestamp), m.sender.id, m.sender.name, m.sender.avatar, m.type, m.text, m.replyTo, m.editedAt, m.deleted ? 1 : 0, attachments, raw];
          if (!existing) {
            db.prepare(
              `INSERT INTO messages (provider, api, channel, id, timestamp, time_ms, sender_id, sender_name, sender_avatar, type, text, reply_to, edited_at, deleted, attachments, raw, first_seen, last_seen)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            ).run(KEY.provider, KEY.api, KEY.channel, m.id, ...columns, now, now);
            added++;
          } else if (Number(existing[0]) !== 1 || Number(existing[1]) !== 1) {
            db.prepare(
              `UPDATE messages SET timestamp = ?, time_ms = ?, sender_id = ?, sender_name = ?, sender_avatar = ?, type = ?, text = ?, reply_to = ?, edited_at = ?,
                 deleted = ?, attachments = ?, raw = coalesce(?, raw), last_seen = ? WHERE provider = ? AND api = ? AND channel = ? AND id = ?`,
            ).run(...columns, now, KEY.provider, KEY.api, KEY.channel, m.id);
            if (Number(existing[0]) !== 1) changed++;
          } else {
            db.prepare('UPDATE messages SET last_seen = ? WHERE provider = ? AND api = ? AND channel = ? AND id = ?').run(now, KEY.provider, KEY.api, KEY.channel, m.id);
          }
        }
        return { added, changed, seen: messages.length };
      });
    const dump = (archive: Archive) => ({
      // first_seen / last_seen are the write's clock: compared as "same for the same page" through their order
      messages: archive.db
        .prepare(`SELECT rowid, id, timestamp, time_ms, sender_id, sender_name, type, text, reply_to, edited_at, deleted, attachments, raw, hex(text), dense_rank() OVER (ORDER BY first_seen), dense_rank() OVER (ORDER BY last_seen) FROM messages ORDER BY rowid`)
        .raw(true)
        .all(),
      versions: archive.db.prepare('SELECT rowid, id, text, hex(text), edited_at, deleted, attachments FROM message_versions ORDER BY rowid').raw(true).all(),
      found: ['message', 'edited', '哈哈', 'a\u0000b', 'hostile'].map((q) => archive.db.prepare('SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid').raw(true).all(JSON.stringify(q))),
    });
    const hostileIds = ['a\u0000b', 'a\u0000c', '\ud800', '\ud801', '\udfff x', '', ' ', '٣', '1e3', '1000'];
    // page 1: 700 new (chunks of every size), hostile ids and texts, and one id twice (the second differs)
    const page1 = [
      ...Array.from({ length: 700 }, (_, i) => message(i, { text: i % 3 ? `message ${i}` : HOSTILE_TEXTS[i % HOSTILE_TEXTS.length]! })),
      ...hostileIds.map((id, i) => createMessage({ id, provider: KEY.provider, channel: KEY.channel, time: T0 + i, sender: { id: 's', name: 'hostile', avatar: null }, type: 'text', text: `hostile ${i}` })),
      message(5, { text: 'edited within the page', updatedTime: T0 + 5 * 60_000 + 1 }),
    ];
    // page 2: held ones (unchanged, edited, revoked) mixed with new ones, the same id new twice, and more than a lookup chunk
    const page2 = [
      ...Array.from({ length: 600 }, (_, i) => (i % 4 === 0 ? message(i, { text: `edited ${i}`, updatedTime: T0 + i * 60_000 + 7 }) : i % 4 === 1 ? message(i, { deleted: true }) : message(i))),
      ...Array.from({ length: 300 }, (_, i) => message(2000 + i)),
      message(3000),
      message(3000, { text: 'the same new id again, changed' }),
      ...hostileIds.map((id, i) => createMessage({ id, provider: KEY.provider, channel: KEY.channel, time: T0 + i, sender: { id: 's', name: 'hostile', avatar: null }, type: 'text', text: `hostile ${i} edited` })),
    ];
    const chunked = Archive.open(tempPath(), { create: true });
    const oracle = Archive.open(tempPath(), { create: true });
    try {
      for (const page of [page1, page2, page2]) {
        expect(chunked.writePage(KEY, 'channel', page, undefined)).toEqual(oneByOne(oracle, page));
        expect(dump(chunked)).toEqual(dump(oracle));
      }
      expect(dump(chunked).versions.length).toBeGreaterThan(300);
    } finally {
      chunked.close();
      oracle.close();
    }
  });

  it('orders messages of one millisecond by id as the spool does (numerically for digit ids)', () => {
    const archive = Archive.open(tempPath(), { create: true });
    try {
      const same = (id: string) => createMessage({ id, provider: 'relation', channel: 'C', time: T0, sender: { id: 'a', name: null, avatar: null }, type: 'text', text: id });
      archive.writePage({ ...KEY, provider: 'relation', channel: 'C' }, 'channel', ['100', '9', '20', '1000'].map(same), undefined);
      const ids = (order: 'asc' | 'desc', limit?: number) =>
        [...readMessages(archive, { ...KEY, provider: 'relation', channel: 'C' }, {}, { order, raw: false, limit })].map((m) => m.id);
      expect(ids('asc')).toEqual(['9', '20', '100', '1000']);
      expect(ids('desc')).toEqual(['1000', '100', '20', '9']);
      expect(ids('asc', 2)).toEqual(['100', '1000']);
      expect(ids('desc', 3)).toEqual(['1000', '100', '20']);
    } finally {
      archive.close();
    }
  });

  it('refuses a database it did not create, one of a newer schema, and what is not a regular file', () => {
    const foreign = tempPath('notes.db');
    const db = openDatabase(foreign);
    db.exec('CREATE TABLE notes (x)');
    db.close();
    expect(() => Archive.open(foreign, { create: true })).toThrow(UsageError);
    const newer = tempPath();
    Archive.open(newer, { create: true }).close();
    const raw = openDatabase(newer);
    raw.exec('PRAGMA user_version = 99');
    raw.close();
    expect(() => Archive.open(newer, { create: true })).toThrow(/schema 99/);
    const text = tempPath('text.sqlite');
    writeFileSync(text, 'hello, not a database at all, just some text to fill a page of bytes\n'.repeat(20));
    expect(() => Archive.open(text, { create: true })).toThrow(UsageError);
    // not a regular file: refused by name (SQLite would call it a disk I/O error)
    expect(() => Archive.open('/dev/null', { create: true })).toThrow(/\/dev\/null is not a regular file/);
  });

  it('a full disk during a run is exit 6 naming the file and the cause; what was committed stays', () => {
    const path = tempPath();
    const archive = Archive.open(path, { create: true });
    archive.startRun('test', undefined);
    archive.writePage(KEY, 'channel', [message(1)], undefined);
    // SQLite's own "disk full" (SQLITE_FULL), without filling a disk: no page beyond those it has
    const pages = Number((archive.db.prepare('PRAGMA page_count').raw(true).get() as [number])[0]);
    archive.db.exec(`PRAGMA max_page_count = ${pages}`);
    const big = Array.from({ length: 400 }, (_, i) => message(10 + i, { text: 'x'.repeat(2000) }));
    let error: unknown;
    try {
      archive.writePage(KEY, 'channel', big, undefined);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LocalIoError);
    expect((error as LocalIoError).exitCode).toBe(6);
    // the cause, not a failed ROLLBACK's "no transaction is active"
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toMatch(/database or disk is full/);
    expect(all(archive).map((m) => m.id)).toEqual(['1']);
    archive.close();
  });

  it('an archive moved, removed or replaced during the run stops the run (exit 6) instead of writing into the old file', () => {
    for (const how of ['moved', 'replaced'] as const) {
      const path = tempPath();
      const archive = Archive.open(path, { create: true });
      archive.startRun('test', undefined);
      archive.writePage(KEY, 'channel', [message(1)], undefined);
      renameSync(path, `${path}.moved`);
      if (how === 'replaced') copyFileSync(`${path}.moved`, path);
      expect(() => archive.writePage(KEY, 'channel', [message(2)], undefined)).toThrow(how === 'moved' ? /was removed or moved during the run/ : /was replaced during the run/);
      archive.close();
    }
  });

  it('normalizes API roots: trailing slash, case, default port and credentials do not make another source', () => {
    expect(normalizeApiRoot('https://API.example.com:443/')).toBe('https://api.example.com');
    expect(normalizeApiRoot('https://user:secret@api.example.com/base//?token=x#f')).toBe('https://api.example.com/base');
    expect(normalizeApiRoot('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
  });
});

describe('walks into the archive', () => {
  const identity = { pageSize: 5, definition: 'd1', order: 'newest-first', since: null, until: null } as const;
  const options = { full: false, lookbackMs: 0, windowed: false, identity };

  it('a killed walk is completed first, from its position down to its floor, before the new top is walked', () => {
    const path = tempPath();
    // run 1 completes: messages 1..10, held until message 10
    let archive = Archive.open(path, { create: true });
    let walks = new ChannelWalks(archive, KEY, 'channel', { ...options, run: 1 });
    expect(walks.first()).toEqual({ floor: undefined, resumeFrom: undefined });
    walks.page(batchOf([10, 9, 8, 7, 6].map((i) => message(i)), { kind: 'pages', nextPage: 2, lastIds: ['6'] }));
    walks.page(batchOf([5, 4, 3, 2, 1].map((i) => message(i)), { kind: 'pages', nextPage: 3, lastIds: ['1'] }, 2));
    expect(walks.complete()).toBeUndefined();
    expect(archive.channel(KEY)).toMatchObject({ heldUntil: T0 + 10 * 60_000, walk: null });
    archive.close();

    // run 2 sees 30 new messages and is killed after one page: the top is NOT held
    archive = Archive.open(path, { create: true });
    walks = new ChannelWalks(archive, KEY, 'channel', { ...options, run: 2 });
    expect(walks.first()).toEqual({ floor: T0 + 10 * 60_000, resumeFrom: undefined });
    walks.page(batchOf([40, 39, 38, 37, 36].map((i) => message(i)), { kind: 'pages', nextPage: 2, lastIds: ['36'] }));
    archive.close(); // SIGKILL: no complete()
    archive = Archive.open(path, { create: true });
    const record = archive.channel(KEY)!;
    expect(record.heldUntil).toBe(T0 + 10 * 60_000);
    expect(record.walk).toMatchObject({ top: T0 + 40 * 60_000, floor: T0 + 10 * 60_000, checkpoint: { nextPage: 2 } });

    // run 3 resumes the killed walk at page 2 and walks down to message 10…
    walks = new ChannelWalks(archive, KEY, 'channel', { ...options, run: 3 });
    expect(walks.first()).toEqual({ floor: T0 + 10 * 60_000, resumeFrom: { kind: 'pages', nextPage: 2, lastIds: ['36'] } });
    walks.page(batchOf([35, 34, 33, 32, 31].map((i) => message(i)), { kind: 'pages', nextPage: 3, lastIds: ['31'] }, 2));
    expect(archive.channel(KEY)!.heldUntil).toBe(T0 + 10 * 60_000);
    walks.page(batchOf([30, 29, 28, 27, 26].map((i) => message(i)), { kind: 'pages', nextPage: 4, lastIds: ['26'] }, 3));
    walks.page(batchOf([25, 24, 23, 22, 21].map((i) => message(i)), { kind: 'pages', nextPage: 5, lastIds: ['21'] }, 4));
    walks.page(batchOf([20, 19, 18, 17, 16].map((i) => message(i)), { kind: 'pages', nextPage: 6, lastIds: ['16'] }, 5));
    walks.page(batchOf([15, 14, 13, 12, 11].map((i) => message(i)), { kind: 'pages', nextPage: 7, lastIds: ['11'] }, 6));
    walks.page(batchOf([10, 9].map((i) => message(i)), { kind: 'pages', nextPage: 8, lastIds: ['9'] }, 7));
    // …then the top again, down to the mark the completed walk set
    expect(walks.complete()).toEqual({ floor: T0 + 40 * 60_000, resumeFrom: undefined });
    expect(archive.channel(KEY)!.heldUntil).toBe(T0 + 40 * 60_000);
    walks.page(batchOf([42, 41, 40].map((i) => message(i)), { kind: 'pages', nextPage: 2, lastIds: ['40'] }));
    expect(walks.complete()).toBeUndefined();
    expect(archive.channel(KEY)).toMatchObject({ heldUntil: T0 + 42 * 60_000, walk: null });
    expect(all(archive).map((m) => Number(m.id))).toEqual(Array.from({ length: 42 }, (_, i) => i + 1));
    archive.close();
  });

  it('a walk that three runs could not continue is walked again from the top, down to the floor it had', () => {
    const archive = Archive.open(tempPath(), { create: true });
    try {
      let walks = new ChannelWalks(archive, KEY, 'channel', { ...options, run: 1 });
      walks.first();
      walks.page(batchOf([9, 8].map((i) => message(i)), { kind: 'pages', nextPage: 2, lastIds: ['8'] }));
      for (let run = 2; run <= 4; run++) {
        walks = new ChannelWalks(archive, KEY, 'channel', { ...options, run });
        expect(walks.first().resumeFrom).toEqual({ kind: 'pages', nextPage: 2, lastIds: ['8'] });
        // …and fails before committing a page
      }
      walks = new ChannelWalks(archive, KEY, 'channel', { ...options, run: 5 });
      expect(walks.first()).toEqual({ floor: undefined, resumeFrom: undefined });
      walks.page(batchOf([9, 8, 7].map((i) => message(i)), { kind: 'pages', nextPage: 2, lastIds: ['7'] }));
      expect(archive.channel(KEY)!.walk).toMatchObject({ run: 5, attempts: 0 });
    } finally {
      archive.close();
    }
  });

  it('an unfinished walk of another page size, definition or window is walked again from the top, down to its floor, and says why', () => {
    const archive = Archive.open(tempPath(), { create: true });
    try {
      let walks = new ChannelWalks(archive, KEY, 'channel', { ...options, run: 1 });
      walks.first();
      walks.page(batchOf([3, 2, 1].map((i) => message(i)), { kind: 'pages', nextPage: 2, lastIds: [] }));
      walks.complete();
      walks = new ChannelWalks(archive, KEY, 'channel', { ...options, run: 2 });
      walks.first();
      walks.page(batchOf([9, 8].map((i) => message(i)), { kind: 'pages', nextPage: 2, lastIds: ['8'], perPage: 5 }));
      // killed: the same walk continues
      walks = new ChannelWalks(archive, KEY, 'channel', { ...options, run: 3 });
      expect(walks.first().resumeFrom).toEqual({ kind: 'pages', nextPage: 2, lastIds: ['8'], perPage: 5 });
      const held = T0 + 3 * 60_000;
      walks = new ChannelWalks(archive, KEY, 'channel', { ...options, identity: { ...identity, pageSize: 50 }, run: 4 });
      expect(walks.first()).toEqual({ floor: held, resumeFrom: undefined, restarted: '--page-size 5 → 50' });
      walks = new ChannelWalks(archive, KEY, 'channel', { ...options, identity: { ...identity, definition: 'd2' }, run: 5 });
      expect(walks.first().restarted).toBe('another provider definition');
      // the new walk records its own identity with its first page
      walks.page(batchOf([9].map((i) => message(i)), { kind: 'pages', nextPage: 2, lastIds: ['9'], perPage: 5 }));
      expect(archive.channel(KEY)!.walk).toMatchObject({ run: 5, floor: held, identity: { definition: 'd2' } });
      // a record an earlier version wrote has no identity: never continued
      archive.setWalk(KEY, 'channel', { run: 6, top: null, floor: held, checkpoint: { kind: 'pages', nextPage: 7, lastIds: [] }, startedAt: T0, attempts: 0 });
      walks = new ChannelWalks(archive, KEY, 'channel', { ...options, run: 7 });
      expect(walks.first()).toEqual({ floor: held, resumeFrom: undefined, restarted: 'an earlier version of chat-export' });
    } finally {
      archive.close();
    }
  });

  it('--lookback lowers the floor; --full walks to the start; a windowed re-read leaves the walk state alone', () => {
    const archive = Archive.open(tempPath(), { create: true });
    try {
      let walks = new ChannelWalks(archive, KEY, 'channel', { ...options, run: 1 });
      walks.first();
      walks.page(batchOf([3, 2, 1].map((i) => message(i)), { kind: 'pages', nextPage: 2, lastIds: [] }));
      walks.complete();
      const held = T0 + 3 * 60_000;
      walks = new ChannelWalks(archive, KEY, 'channel', { ...options, lookbackMs: 7 * 86_400_000, run: 2 });
      expect(walks.first().floor).toBe(held - 7 * 86_400_000);
      walks = new ChannelWalks(archive, KEY, 'channel', { ...options, full: true, run: 3 });
      expect(walks.first().floor).toBeUndefined();
      walks = new ChannelWalks(archive, KEY, 'channel', { ...options, windowed: true, run: 4 });
      walks.first();
      walks.page(batchOf([message(99)], { kind: 'pages', nextPage: 2, lastIds: [] }));
      expect(walks.complete()).toBeUndefined();
      expect(archive.channel(KEY)).toMatchObject({ heldUntil: held, walk: null });
      expect(all(archive).map((m) => m.id)).toContain('99');
    } finally {
      archive.close();
    }
  });

  it('a message dated in the future does not become the mark (it would hide everything posted until then)', () => {
    const archive = Archive.open(tempPath(), { create: true });
    try {
      const walks = new ChannelWalks(archive, KEY, 'channel', { ...options, run: 1 });
      walks.first();
      const future = createMessage({ id: 'f', provider: KEY.provider, channel: KEY.channel, time: Date.now() + 365 * 86_400_000, sender: { id: '1', name: null, avatar: null }, type: 'text', text: 'from the future' });
      const before = Date.now();
      walks.page(batchOf([future, message(1)], { kind: 'pages', nextPage: 2, lastIds: [] }));
      walks.complete();
      expect(archive.channel(KEY)!.heldUntil!).toBeLessThanOrEqual(Date.now());
      expect(archive.channel(KEY)!.heldUntil!).toBeGreaterThanOrEqual(before - 1000);
    } finally {
      archive.close();
    }
  });
});

describe('search', () => {
  const path = tempPath('search.sqlite');
  const setup = () => {
    const archive = Archive.open(path, { create: true });
    const texts = ['你好，今天开会吗？', 'Can you send the report before Friday?', '好的，我马上处理。', 'report: the build is green', '\u001b[31m开会\u001b[0m \u202Eevil'];
    archive.writePage(KEY, 'channel', texts.map((text, i) => message(i + 1, { text })), undefined);
    archive.writePage({ ...KEY, channel: '27' }, 'channel', [message(100, { text: '明天开会，记得带报告' }, '27')], undefined);
    return archive;
  };
  const archive = setup();
  afterAll(() => archive.close());
  const ids = (query: string, channel?: string[]) => [...search(archive, query, { limit: 50, channel })].map((hit) => hit.message.id);

  it('finds a two-character Chinese word inside a sentence (shorter than a trigram)', () => {
    expect(ids('开会')).toEqual(['100', '5', '1']);
    expect(ids('处理')).toEqual(['3']);
  });

  it('finds a longer Chinese string, an English word, any case, and a phrase', () => {
    expect(ids('今天开会')).toEqual(['1']);
    expect(ids('REPORT')).toEqual(['4', '2']);
    expect(ids('"send the report"')).toEqual(['2']);
    expect(ids('"the report send"')).toEqual([]);
    expect(ids('report green')).toEqual(['4']);
  });

  it('finds nothing in another channel when --channel is given', () => {
    expect(ids('开会', ['27'])).toEqual(['100']);
    expect(ids('今天开会', ['27'])).toEqual([]);
  });

  it('searches sender names too, and reads any query text without a syntax error', () => {
    expect(ids('哈哈哈')).toHaveLength(6);
    for (const query of ['"', 'a AND', '-x', 'NEAR(', '%', '_', "'; DROP TABLE messages; --", '*']) {
      expect(() => ids(query)).not.toThrow();
    }
    expect(ids('%')).toEqual([]);
  });

  it('parses quoted phrases and words', () => {
    expect(parseQuery('a "b c" d')).toEqual(['a', 'b c', 'd']);
    expect(parseQuery('"unclosed phrase')).toEqual(['unclosed phrase']);
  });

  it('snippets are safe for a terminal: no escapes, no bidi overrides, no line breaks; matches marked', () => {
    const snippet = snippetOf('\u001b[31m开会\u001b[0m \u202Eevil\nnext', ['开会'], { before: '[', after: ']' });
    expect(snippet).toBe('[开会] evil next');
    const long = snippetOf(`${'x'.repeat(100)} needle ${'y'.repeat(100)}`, ['needle'], { before: '<', after: '>' }, 10);
    expect(long).toBe(`…${'x'.repeat(9)} <needle> ${'y'.repeat(9)}…`);
  });

  it('lists sources by provider, API and channel', () => {
    expect(listSources(archive, {}).map((s) => [s.channel, s.count])).toEqual([
      ['26', 5],
      ['27', 1],
    ]);
    expect(listSources(archive, { channels: ['27', '26'] }).map((s) => s.channel)).toEqual(['27', '26']);
  });
});
