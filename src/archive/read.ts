/**
 * Messages out of the archive, as the normalized messages `dump` wrote
 * (key order and values identical), streamed row by row in export order:
 * by time, and within one millisecond by id exactly as the spool orders
 * them (compareIds), so `convert` is byte-identical to `dump`.
 */
import { compareIds, type Message } from '../message.js';
import type { Order } from '../pipeline/order.js';
import type { Archive, SourceKey } from './store.js';

export interface ReadFilter {
  provider?: string | undefined;
  /** normalized API root */
  api?: string | undefined;
  /** channel ids, in the order the user gave them */
  channels?: string[] | undefined;
  /** inclusive, epoch ms */
  since?: number | undefined;
  /** exclusive, epoch ms */
  until?: number | undefined;
}

export interface SourceSpan extends SourceKey {
  count: number;
  /** epoch ms, undefined when count is 0 */
  oldest: number | undefined;
  newest: number | undefined;
}

/** The string columns a message is made of, in the order of MessageRow. */
const TEXT_COLUMNS = ['id', 'provider', 'channel', 'timestamp', 'sender_id', 'sender_name', 'sender_avatar', 'type', 'text', 'reply_to', 'edited_at'];

/**
 * The select list of a message row (`m` the table alias): the columns,
 * then api, rowid, and whether any text column holds a NUL byte (libsql
 * returns text only up to the first NUL, so such rows are read again exactly).
 */
export function messageColumns(m = ''): string {
  const p = m ? `${m}.` : '';
  const nul = TEXT_COLUMNS.map((c) => `instr(CAST(${p}${c} AS BLOB), x'00')`).join(' OR ');
  return `${TEXT_COLUMNS.slice(0, 11).map((c) => p + c).join(', ')}, ${p}deleted, ${p}attachments, ${p}raw, ${p}time_ms, ${p}api, ${p}rowid, coalesce(${nul}, 0)`;
}

export type MessageRow = [
  string, string, string, string, string, string | null, string | null, string, string, string | null, string | null,
  number, string, string | null, number, string, number, number,
];

/** A row whose text holds a NUL byte, read as hex and decoded. */
function exactRow(archive: Archive, row: MessageRow): MessageRow {
  const hex = archive.db
    .prepare(`SELECT ${TEXT_COLUMNS.map((c) => `${c} IS NULL, hex(${c})`).join(', ')} FROM messages WHERE rowid = ?`)
    .raw(true)
    .get(row[16]) as Array<number | string>;
  const exact = [...row] as MessageRow;
  TEXT_COLUMNS.forEach((_, i) => {
    (exact as unknown[])[i] = Number(hex[2 * i]) === 1 ? null : Buffer.from(String(hex[2 * i + 1]), 'hex').toString('utf8');
  });
  return exact;
}

/** The row as the normalized message (section 3), `raw` last when asked for and stored. */
export function messageOfRow(archive: Archive, input: MessageRow, withRaw: boolean): Message {
  const row = Number(input[17]) ? exactRow(archive, input) : input;
  const message: Message = {
    id: row[0],
    provider: row[1],
    channel: row[2],
    timestamp: row[3],
    sender: { id: row[4], name: row[5], avatar: row[6] },
    type: row[7],
    text: row[8],
    replyTo: row[9],
    editedAt: row[10],
    deleted: Number(row[11]) === 1,
    attachments: JSON.parse(row[12]) as Message['attachments'],
  };
  if (withRaw && row[13] !== null) message.raw = JSON.parse(row[13]);
  return message;
}

function windowSql(filter: ReadFilter, params: unknown[]): string {
  let sql = '';
  if (filter.since !== undefined) {
    sql += ' AND time_ms >= ?';
    params.push(filter.since);
  }
  if (filter.until !== undefined) {
    sql += ' AND time_ms < ?';
    params.push(filter.until);
  }
  return sql;
}

/**
 * The channels the filter selects, each with its count and span in the
 * window: in the order of --channel when given, else by provider, API, channel.
 */
export function listSources(archive: Archive, filter: ReadFilter): SourceSpan[] {
  const params: unknown[] = [];
  let where = '1';
  if (filter.provider !== undefined) {
    where += ' AND provider = ?';
    params.push(filter.provider);
  }
  if (filter.api !== undefined) {
    where += ' AND api = ?';
    params.push(filter.api);
  }
  const spans = archive.db
    .prepare(
      `SELECT provider, api, channel, count(*), min(time_ms), max(time_ms) FROM messages
       WHERE ${where}${windowSql(filter, params)} GROUP BY provider, api, channel ORDER BY provider, api, channel`,
    )
    .raw(true)
    .all(...params) as Array<[string, string, string, number, number | null, number | null]>;
  const all: SourceSpan[] = spans.map(([provider, api, channel, count, oldest, newest]) => ({
    provider,
    api,
    channel,
    count: Number(count),
    oldest: oldest === null ? undefined : Number(oldest),
    newest: newest === null ? undefined : Number(newest),
  }));
  if (!filter.channels || filter.channels.length === 0) return all;
  const out: SourceSpan[] = [];
  for (const id of new Set(filter.channels)) {
    const found = all.filter((span) => span.channel === id);
    if (found.length > 0) out.push(...found);
    else {
      // a channel with nothing in the window still gets its (empty) output, as dump writes one
      const known = archive.db
        .prepare(`SELECT provider, api FROM channels WHERE channel = ? UNION SELECT provider, api FROM messages WHERE channel = ? LIMIT 1`)
        .raw(true)
        .get(id, id) as [string, string] | undefined;
      if (known) out.push({ provider: known[0], api: known[1], channel: id, count: 0, oldest: undefined, newest: undefined });
    }
  }
  return out;
}

export interface ReadOptions {
  order: Order;
  /** the newest N of the window, as dump's --limit */
  limit?: number | undefined;
  raw: boolean;
}

/** How many messages `readMessages` yields and their span (the header of a transcript needs them first). */
export function spanOf(archive: Archive, key: SourceKey, filter: ReadFilter, limit: number | undefined): { count: number; oldest: number | undefined; newest: number | undefined } {
  const params: unknown[] = [key.provider, key.api, key.channel];
  const where = `provider = ? AND api = ? AND channel = ?${windowSql(filter, params)}`;
  const [count, oldest, newest] = archive.db
    .prepare(`SELECT count(*), min(time_ms), max(time_ms) FROM messages WHERE ${where}`)
    .raw(true)
    .get(...params) as [number, number | null, number | null];
  if (limit === undefined || count <= limit) {
    return { count: Number(count), oldest: oldest ?? undefined, newest: newest ?? undefined };
  }
  const threshold = thresholdOf(archive, where, params, limit);
  const [first] = archive.db
    .prepare(`SELECT min(time_ms) FROM messages WHERE ${where} AND time_ms >= ?`)
    .raw(true)
    .get(...params, threshold) as [number];
  return { count: limit, oldest: Number(first), newest: newest ?? undefined };
}

/** Time of the limit-th newest message: the newest N all lie at or after it. */
function thresholdOf(archive: Archive, where: string, params: unknown[], limit: number): number {
  const row = archive.db
    .prepare(`SELECT time_ms FROM messages WHERE ${where} ORDER BY time_ms DESC LIMIT 1 OFFSET ?`)
    .raw(true)
    .get(...params, limit - 1) as [number];
  return Number(row[0]);
}

/** A channel's messages in the window, in `order`, one row at a time. */
export function* readMessages(archive: Archive, key: SourceKey, filter: ReadFilter, options: ReadOptions): Generator<Message> {
  const params: unknown[] = [key.provider, key.api, key.channel];
  let where = `provider = ? AND api = ? AND channel = ?${windowSql(filter, params)}`;
  let skip = 0;
  let take = Infinity;
  if (options.limit !== undefined) {
    const { count } = spanOf(archive, key, filter, undefined);
    if (count > options.limit) {
      // Only rows at or after the limit-th newest time can be among the newest N; ties at that
      // time are cut by the id order, exactly as the spool does.
      const threshold = thresholdOf(archive, where, [...params], options.limit);
      const atOrAfter = archive.db
        .prepare(`SELECT count(*) FROM messages WHERE ${where} AND time_ms >= ?`)
        .raw(true)
        .get(...params, threshold) as [number];
      where += ' AND time_ms >= ?';
      params.push(threshold);
      if (options.order === 'asc') skip = Number(atOrAfter[0]) - options.limit;
      take = options.limit;
    }
  }
  const direction = options.order === 'asc' ? 1 : -1;
  const rows = archive.db
    .prepare(`SELECT ${messageColumns()} FROM messages WHERE ${where} ORDER BY time_ms ${options.order === 'asc' ? 'ASC' : 'DESC'}`)
    .raw(true)
    .iterate(...params) as IterableIterator<MessageRow>;
  let group: MessageRow[] = [];
  let index = 0;
  let taken = 0;
  const flush = function* (): Generator<Message> {
    if (group.length > 1) group.sort((a, b) => direction * compareIds(a[0], b[0]));
    for (const row of group) {
      if (index++ < skip) continue;
      if (taken >= take) return;
      taken++;
      yield messageOfRow(archive, row, options.raw);
    }
    group = [];
  };
  for (const row of rows) {
    if (group.length > 0 && Number(group[0]![14]) !== Number(row[14])) yield* flush();
    if (taken >= take) break;
    group.push(row);
  }
  yield* flush();
}

/**
 * A page of a channel's messages (in storage order, after `afterRowid`) that
 * refer to a file the archive holds no copy of: an avatar, an attachment or an
 * image message's picture whose URL has no file in the `media` table. For
 * `dump --media` into an archive made without it (or whose downloads failed):
 * paged, so that the caller can write between pages.
 */
export function messagesMissingMedia(archive: Archive, key: SourceKey, afterRowid: number, limit: number): { messages: Message[]; last: number | undefined } {
  const held = (url: string) => `EXISTS (SELECT 1 FROM media WHERE media.url = ${url} AND media.file IS NOT NULL)`;
  const rows = archive.db
    .prepare(
      `SELECT ${messageColumns('m')} FROM messages m
       WHERE m.provider = ? AND m.api = ? AND m.channel = ? AND m.rowid > ?
         AND ((m.sender_avatar IS NOT NULL AND NOT ${held('m.sender_avatar')})
           OR (m.attachments <> '[]' AND EXISTS (SELECT 1 FROM json_each(m.attachments) a WHERE NOT ${held("json_extract(a.value, '$.url')")}))
           OR (m.type IN ('image', 'img', 'picture', 'photo', 'pic') AND m.text LIKE 'http%' AND NOT ${held('trim(m.text)')}))
       ORDER BY m.rowid LIMIT ?`,
    )
    .raw(true)
    .all(key.provider, key.api, key.channel, afterRowid, limit) as MessageRow[];
  return { messages: rows.map((row) => messageOfRow(archive, row, false)), last: rows.at(-1)?.[16] };
}
