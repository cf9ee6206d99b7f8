/**
 * Full-text search over `text` and `sender_name`.
 *
 * The index uses FTS5's trigram tokenizer: every run of three characters is
 * a token, so any substring of three or more characters is found — in
 * Chinese, which has no spaces, as in English. (The default unicode61
 * tokenizer makes "你好，今天开会吗？" two tokens, and "开会" finds nothing.)
 * A trigram index cannot answer a term shorter than three characters — the
 * common two-character Chinese word — so such terms are matched with LIKE
 * over the stored text: a scan, but of the rows the other terms and the
 * channel filter leave (measured in the README: ~1M rows/s).
 *
 * The query: words separated by spaces must all occur (in any order);
 * "double quotes" make a phrase. No other syntax: FTS5's own query language
 * would turn a user's `-` or `:` or unbalanced quote into an error.
 */
import type { Message } from '../message.js';
import { messageColumns, messageOfRow, type MessageRow } from './read.js';
import type { Archive } from './store.js';

export interface SearchOptions {
  channel?: string[] | undefined;
  limit: number;
}

export interface SearchHit {
  message: Message;
  api: string;
}

/** The terms of a query: quoted phrases and bare words, each as typed (case is ignored when matching). */
export function parseQuery(query: string): string[] {
  const terms: string[] = [];
  const pattern = /"([^"]*)"?|(\S+)/g;
  for (const match of query.matchAll(pattern)) {
    const term = (match[1] ?? match[2] ?? '').trim();
    if (term !== '') terms.push(term);
  }
  return terms;
}

/** Characters, not UTF-16 units: the trigram tokenizer counts code points. */
function length(term: string): number {
  return Array.from(term).length;
}

function ftsPhrase(term: string): string {
  return `"${term.replace(/"/g, '""')}"`;
}

function likePattern(term: string): string {
  return `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Short terms up to this many are one LIKE each (the fastest scan); more go through one json_each expression. */
const MAX_CHAINED_TERMS = 32;

/** Matching messages, newest first, streamed row by row (a large --limit holds no more than one row). */
export function* search(archive: Archive, query: string, options: SearchOptions): Generator<SearchHit> {
  const terms = [...new Set(parseQuery(query))];
  if (terms.length === 0) return;
  const long = terms.filter((term) => length(term) >= 3);
  const short = terms.filter((term) => length(term) < 3);
  const params: unknown[] = [];
  let sql: string;
  const columns = messageColumns('m');
  if (long.length > 0) {
    sql = `SELECT ${columns} FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid WHERE messages_fts MATCH ?`;
    params.push(long.map(ftsPhrase).join(' AND '));
  } else {
    sql = `SELECT ${columns} FROM messages m WHERE 1`;
  }
  if (short.length > MAX_CHAINED_TERMS) {
    // Every short term must occur: "no pattern fails to match", one expression whatever the number of
    // terms (one AND per term made SQLite refuse a query of ~1,000 words: "Expression tree is too large");
    // a sender with no name is no match, not an unknown one (NULL would let every term pass).
    sql += ` AND NOT EXISTS (SELECT 1 FROM json_each(?) AS t WHERE NOT (m.text LIKE t.value ESCAPE '\\' OR coalesce(m.sender_name, '') LIKE t.value ESCAPE '\\'))`;
    params.push(JSON.stringify(short.map(likePattern)));
  } else {
    for (const term of short) {
      sql += ` AND (m.text LIKE ? ESCAPE '\\' OR m.sender_name LIKE ? ESCAPE '\\')`;
      params.push(likePattern(term), likePattern(term));
    }
  }
  if (options.channel && options.channel.length > 0) {
    sql += ` AND m.channel IN (${options.channel.map(() => '?').join(', ')})`;
    params.push(...options.channel);
  }
  sql += ' ORDER BY m.time_ms DESC, m.rowid DESC LIMIT ?';
  params.push(options.limit);
  const rows = archive.db.prepare(sql).raw(true).iterate(...params) as IterableIterator<MessageRow>;
  // libsql lets messageOfRow re-read a row holding a NUL byte while this statement is being stepped
  for (const row of rows) yield { message: messageOfRow(archive, row, false), api: row[15] };
}

// Bidirectional overrides and isolates reorder what a terminal shows (a text could make a
// line read as something else); zero-width joiners stay, they are part of emoji.
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const ANSI = /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)|[@-Z\\-_])/g;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** Text safe for a terminal line: no escapes, controls, bidi overrides or line breaks. */
export function terminalSafe(text: string): string {
  return text.replace(ANSI, '').replace(/[\r\n\t]+/g, ' ').replace(CONTROL, '').replace(BIDI, '');
}

export interface Highlight {
  before: string;
  after: string;
}

/**
 * A window of the text around the first match, every match in it wrapped in
 * `mark`, made safe for a terminal. `width` is in characters on each side.
 */
export function snippetOf(text: string, terms: string[], mark: Highlight, width = 40): string {
  const safe = terminalSafe(text);
  const chars = Array.from(safe);
  if (terms.length === 0) return chars.slice(0, width * 2).join('');
  const pattern = new RegExp(terms.map((term) => escapeRegExp(terminalSafe(term))).filter(Boolean).join('|') || '(?!)', 'giu');
  const first = pattern.exec(safe);
  let start = 0;
  if (first) start = Math.max(0, Array.from(safe.slice(0, first.index)).length - width);
  const end = Math.min(chars.length, start + width * 2 + (first ? Array.from(first[0]).length : 0));
  const window = chars.slice(start, end).join('');
  pattern.lastIndex = 0;
  const marked = window.replace(pattern, (found) => `${mark.before}${found}${mark.after}`);
  return `${start > 0 ? '…' : ''}${marked}${end < chars.length ? '…' : ''}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
