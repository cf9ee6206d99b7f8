/**
 * CSV per DESIGN.md section 3, quoted by csv-stringify (RFC 4180).
 *
 * Records end in \r\n, as RFC 4180, Excel and Python's csv module expect;
 * line breaks inside a text stay exactly as sent, inside quotes.
 *
 * No UTF-8 BOM: it would land in the middle of `cat a.csv b.csv` and of every
 * --incremental append. Spreadsheet users import the file as UTF-8.
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
] as const;

// A custom record_delimiter turns off csv-stringify's quoting of bare \n / \r
// (quote_record_delimiter defaults to false then): a text with a lone LF would
// be written unquoted and split the record for Python's csv, Excel, etc.
const OPTIONS = { record_delimiter: 'windows', quote_record_delimiter: true, quoted_match: /[\r\n]/ } as const;

// A spreadsheet runs a cell that starts with one of these as a formula
// (https://owasp.org/www-community/attacks/CSV_Injection).
const FORMULA_START = /^[=+\-@\t\r]/;

/** Prefix a cell with ' when a spreadsheet would read it as a formula. */
export function guardFormula(cell: string): string {
  return FORMULA_START.test(cell) ? `'${cell}` : cell;
}

/** The cells of one message, in CSV_COLUMNS order, guarded; null is an empty cell. */
export function csvCells(message: Message): string[] {
  return [
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
  ].map(guardFormula);
}

/** One finished record, \r\n included. */
export function csvRow(message: Message): string {
  return stringify([csvCells(message)], OPTIONS);
}

export function createCsvSink(): Sink {
  return {
    begin: (summary) => (summary.append ? '' : stringify([CSV_COLUMNS], OPTIONS)),
    format: csvRow,
    end: () => '',
  };
}
