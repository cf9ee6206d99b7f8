/**
 * CSV per DESIGN.md section 3, quoted by csv-stringify (RFC 4180).
 *
 * Records end in \r\n, as RFC 4180, Excel and Python's csv module expect;
 * line breaks inside a text stay exactly as sent, inside quotes.
 *
 * No UTF-8 BOM: it would land in the middle of `cat a.csv b.csv` and of every
 * --incremental append. `--excel` writes what Excel needs instead (a BOM, so
 * it reads UTF-8; all-digit ids as ="…" text, so 19-digit ids keep their
 * digits) for a file meant to be opened, not processed.
 */
import { stringify } from 'csv-stringify/sync';
import type { Message } from '../message.js';
import type { Sink } from './types.js';

export const CSV_COLUMNS = [
  'id',
  'timestamp',
  'channel',
  'provider',
  'sender_id',
  'sender_name',
  'type',
  'text',
  'reply_to',
  'edited_at',
  'deleted',
  'attachments',
] as const;

export interface CsvOptions {
  /** BOM and ids as text formulas (see above) */
  excel?: boolean | undefined;
}

const UTF8_BOM = '\ufeff';
const DIGITS = /^\d+$/;

// A custom record_delimiter turns off csv-stringify's quoting of bare \n / \r
// (quote_record_delimiter defaults to false then): a text with a lone LF would
// be written unquoted and split the record for Python's csv, Excel, etc.
const OPTIONS = { record_delimiter: 'windows', quote_record_delimiter: true, quoted_match: /[\r\n]/ } as const;

// A spreadsheet runs a cell that starts with one of these as a formula
// (https://owasp.org/www-community/attacks/CSV_Injection). "-1" and "+1" get
// the ' too: a spreadsheet reads them as formulas as well ("+1" is =+1), and
// telling a harmless number from "-2+3+cmd|…" is exactly the guessing that
// injection lives on; the guard costs one visible ' on such texts.
const FORMULA_START = /^[=+\-@\t\r]/;

/** Prefix a cell with ' when a spreadsheet would read it as a formula. */
export function guardFormula(cell: string): string {
  return FORMULA_START.test(cell) ? `'${cell}` : cell;
}

/** The cells of one message, in CSV_COLUMNS order, guarded; null is an empty cell. */
export function csvCells(message: Message, options: CsvOptions = {}): string[] {
  const cells = [
    message.id,
    message.timestamp,
    message.channel,
    message.provider,
    message.sender.id,
    message.sender.name ?? '',
    message.type,
    message.text,
    message.replyTo ?? '',
    message.editedAt ?? '',
    message.deleted ? 'true' : 'false',
    // as in JSONL (key order too); with --media the same objects carry "file"
    message.attachments.length > 0 ? JSON.stringify(message.attachments) : '',
  ].map(guardFormula);
  if (options.excel) {
    // Our own formula, built only from digits: Excel shows the text and does not round it.
    for (const index of [0, 4, 8]) if (DIGITS.test(cells[index]!)) cells[index] = `="${cells[index]}"`;
  }
  return cells;
}

/** One finished record, \r\n included. */
export function csvRow(message: Message, options: CsvOptions = {}): string {
  return stringify([csvCells(message, options)], OPTIONS);
}

export function createCsvSink(options: CsvOptions = {}): Sink {
  return {
    begin: (summary) => (summary.append ? '' : `${options.excel ? UTF8_BOM : ''}${stringify([CSV_COLUMNS], OPTIONS)}`),
    format: (message) => csvRow(message, options),
    end: () => '',
  };
}
