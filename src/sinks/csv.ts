/**
 * CSV per DESIGN.md section 3, quoted per RFC 4180 (the rules csv-stringify
 * applies with the options below; test/unit/csv-sink.test.ts holds the two
 * to the same bytes).
 *
 * Records end in \r\n, as RFC 4180, Excel and Python's csv module expect;
 * line breaks inside a text stay exactly as sent, inside quotes.
 *
 * No UTF-8 BOM: it would land in the middle of `cat a.csv b.csv` and of every
 * --incremental append. `--excel` writes what Excel needs instead (a BOM, so
 * it reads UTF-8; all-digit ids as ="…" text, so 19-digit ids keep their
 * digits) for a file meant to be opened, not processed.
 */
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

// A cell is quoted when it holds a separator, a quote or any line break: a lone
// LF left unquoted would split the record for Python's csv, Excel, etc.
// Quoting by hand, not through csv-stringify: its per-call set-up cost about
// 2.5 µs per record, a third of an export's whole per-message budget.
const NEEDS_QUOTES = /[",\r\n]/;
const QUOTE = /"/g;

function quoteCell(cell: string): string {
  return NEEDS_QUOTES.test(cell) ? `"${cell.replace(QUOTE, '""')}"` : cell;
}

/** One RFC 4180 record of `cells`, \r\n included. */
export function csvRecord(cells: readonly string[]): string {
  let row = quoteCell(cells[0] ?? '');
  for (let i = 1; i < cells.length; i++) row += `,${quoteCell(cells[i]!)}`;
  return `${row}\r\n`;
}

// A spreadsheet runs a cell that starts with one of these as a formula
// (https://owasp.org/www-community/attacks/CSV_Injection). "-1" and "+1" get
// the ' too: a spreadsheet reads them as formulas as well ("+1" is =+1), and
// telling a harmless number from "-2+3+cmd|…" is exactly the guessing that
// injection lives on; the guard costs one visible ' on such texts.
// = + - @ tab CR, compared by character code: a regular expression per cell was 2 % of a CSV export.
/** Prefix a cell with ' when a spreadsheet would read it as a formula. */
export function guardFormula(cell: string): string {
  const first = cell.charCodeAt(0);
  return first === 0x3d || first === 0x2b || first === 0x2d || first === 0x40 || first === 0x09 || first === 0x0d ? `'${cell}` : cell;
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
  return csvRecord(csvCells(message, options));
}

export function createCsvSink(options: CsvOptions = {}): Sink {
  return {
    begin: (summary) => (summary.append ? '' : `${options.excel ? UTF8_BOM : ''}${csvRecord(CSV_COLUMNS)}`),
    format: (message) => csvRow(message, options),
    end: () => '',
  };
}
