import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { createMessage, type Message } from '../../src/message.js';
import { stringify } from 'csv-stringify/sync';
import { CSV_COLUMNS, createCsvSink, csvRecord, guardFormula } from '../../src/sinks/csv.js';
import type { ChannelSummary } from '../../src/sinks/types.js';

const HOSTILE_TEXTS = [
  '# heading',
  '[link](http://x)',
  '![img](x)',
  '<script>alert(1)</script>',
  "=cmd|' /C calc'!A0",
  '+1',
  '-1',
  '@SUM(A1)',
  '\tx',
  '\rx',
  '| a | b |',
  '```js\ncode\n```',
  '`inline`',
  '\u001b[31mred\u001b[0m',
  '你好，世界',
  '👍🏽',
  'line one\nline two\r\nline three\rline four',
  '"quoted, with comma"',
  ' leading space, trailing space ',
  '',
  "'already quoted",
];

function message(index: number, overrides: Partial<Parameters<typeof createMessage>[0]> = {}): Message {
  return createMessage({
    id: String(1578671129496899586n + BigInt(index)),
    provider: 'relation',
    channel: '4f326124812c41448bc587bf6b2eaf42',
    time: Date.parse('2024-01-23T17:50:40Z') + index * 1000,
    sender: { id: '7', name: '哈哈哈', avatar: null },
    type: 'text',
    text: HOSTILE_TEXTS[index % HOSTILE_TEXTS.length] ?? '',
    ...overrides,
  });
}

function summaryFor(messages: Message[], append?: ChannelSummary['append']): ChannelSummary {
  return {
    provider: 'relation',
    channel: '4f326124812c41448bc587bf6b2eaf42',
    count: messages.length,
    first: messages[0]?.timestamp ?? null,
    last: messages.at(-1)?.timestamp ?? null,
    timezone: undefined,
    order: 'asc',
    append,
  };
}

function render(messages: Message[], append?: ChannelSummary['append']): string {
  const sink = createCsvSink();
  return sink.begin(summaryFor(messages, append)) + messages.map((m) => sink.format(m)).join('') + sink.end();
}

function parseCsv(text: string): string[][] {
  return parse(text, { relax_column_count: false, bom: false }) as string[][];
}

/** What a cell should hold: the value, with a ' in front when a spreadsheet would run it. */
function expectedCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

function expectedRow(m: Message): string[] {
  return [
    m.id,
    m.timestamp,
    m.channel,
    m.provider,
    m.sender.id,
    m.sender.name ?? '',
    m.type,
    m.text,
    m.replyTo ?? '',
    m.editedAt ?? '',
    String(m.deleted),
    m.attachments.length > 0 ? JSON.stringify(m.attachments) : '',
  ].map(expectedCell);
}

describe('CSV sink', () => {
  it('writes the header row of DESIGN.md, then one row per message', () => {
    const messages = [message(14)];
    const out = render(messages);
    expect(out.split('\r\n')[0]).toBe(
      'id,timestamp,channel,provider,sender_id,sender_name,type,text,reply_to,edited_at,deleted,attachments',
    );
    expect(parseCsv(out)).toEqual([[...CSV_COLUMNS], expectedRow(messages[0]!)]);
  });

  it('ends every record with \\r\\n (RFC 4180) and writes no BOM', () => {
    const out = render([message(14), message(15)]);
    expect(out.charCodeAt(0)).not.toBe(0xfeff);
    expect(out.endsWith('\r\n')).toBe(true);
    expect(out.split('\r\n')).toHaveLength(4);
  });

  it('round-trips every hostile text through csv-parse, field by field', () => {
    const messages = HOSTILE_TEXTS.map((_, i) => message(i));
    const rows = parseCsv(render(messages));
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    expect(rows.slice(1)).toEqual(messages.map(expectedRow));
    // Undoing the guard gives back the exact text, control characters included.
    rows.slice(1).forEach((row, i) => {
      const text = row[7] ?? '';
      const original = messages[i]!.text;
      expect(/^[=+\-@\t\r]/.test(original) ? text.slice(1) : text).toBe(original);
    });
  });

  it('quotes a cell holding a bare LF or CR, so strict readers (Python csv, Excel) keep one record', () => {
    const out = render([message(14, { text: 'a\nb' }), message(15, { text: 'c\rd' }), message(16, { text: 'plain' })]);
    expect(out).toContain(',"a\nb",');
    expect(out).toContain(',"c\rd",');
    // Outside quotes, only the \r\n record ends remain: header + 3 records.
    const outsideQuotes = out.replace(/"(?:[^"]|"")*"/g, '');
    expect(outsideQuotes.split('\r\n')).toHaveLength(5);
    expect(outsideQuotes.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });

  it('renders nulls as empty cells and deleted as true/false', () => {
    const plain = message(14, { sender: { id: '7', name: null, avatar: null } });
    const full = message(15, {
      replyTo: '1578671129496899586',
      updatedTime: Date.parse('2024-01-24T00:59:00Z'),
      deleted: true,
    });
    const [, first, second] = parseCsv(render([plain, full]));
    expect(first).toEqual([plain.id, plain.timestamp, plain.channel, 'relation', '7', '', 'text', '你好，世界', '', '', 'false', '']);
    expect(second?.slice(8)).toEqual(['1578671129496899586', '2024-01-24T00:59:00.000Z', 'true', '']);
  });

  it.each([
    ['=cmd|\' /C calc\'!A0', "'=cmd|' /C calc'!A0"],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tx', "'\tx"],
    ['\rx', "'\rx"],
  ])('prefixes the formula-like cell %j with a quote', (input, output) => {
    expect(guardFormula(input)).toBe(output);
  });

  it.each(['# heading', 'a=1', 'x+1', ' =1', "'=1", '', '你好', '１+1', '\nx'])('leaves %j alone', (input) => {
    expect(guardFormula(input)).toBe(input);
  });

  it('guards every column, not only the text', () => {
    const m = message(14, {
      id: '-42',
      channel: '=HYPERLINK("http://evil")',
      provider: '+p',
      sender: { id: '@me', name: '-Bob', avatar: null },
      type: '=type',
      replyTo: '-1',
    });
    const [, row] = parseCsv(render([m]));
    expect(row).toEqual([
      "'-42",
      m.timestamp,
      '\'=HYPERLINK("http://evil")',
      "'+p",
      "'@me",
      "'-Bob",
      "'=type",
      '你好，世界',
      "'-1",
      '',
      'false',
      '',
    ]);
  });

  it('omits the header when appending', () => {
    const messages = [message(14), message(15)];
    const out = render(messages, { lastDay: '2024-01-23' });
    expect(parseCsv(out)).toEqual(messages.map(expectedRow));
    // Appended to a first run, the file parses as one table.
    const whole = render([message(16)]) + out;
    expect(parseCsv(whole)).toHaveLength(4);
  });

  it('writes only the header for an empty channel', () => {
    expect(parseCsv(render([]))).toEqual([[...CSV_COLUMNS]]);
  });

  it('attachments: the JSONL array as JSON, an empty cell when there are none', () => {
    const attachments = [
      { url: 'https://bbs.example.com/a.png', name: 'a "b", c.png', type: 'image' },
      { url: 'https://bbs.example.com/f', name: null, type: null },
    ];
    const rows = parseCsv(render([message(14, { attachments }), message(15)]));
    expect(rows[0]!.at(-1)).toBe('attachments');
    expect(JSON.parse(rows[1]!.at(-1)!)).toEqual(attachments);
    expect(rows[1]!.at(-1)).toBe(JSON.stringify(attachments));
    expect(rows[2]!.at(-1)).toBe('');
  });

  it('--excel: a BOM, all-digit ids as ="…" text; the default output is unchanged', () => {
    const m = message(14, { replyTo: '1578671129496899500', sender: { id: '7', name: 'x', avatar: null } });
    const sink = createCsvSink({ excel: true });
    const out = sink.begin(summaryFor([m])) + sink.format(m);
    expect(out.charCodeAt(0)).toBe(0xfeff);
    const [header, row] = parseCsv(out.slice(1));
    expect(header).toEqual([...CSV_COLUMNS]);
    expect(row![0]).toBe(`="${m.id}"`);
    expect(row![4]).toBe('="7"');
    expect(row![8]).toBe('="1578671129496899500"');
    // a text is still guarded, never turned into a formula of ours
    expect(parseCsv(render([message(4)]))[1]![7]).toBe("'=cmd|' /C calc'!A0");
    const plain = render([m]);
    expect(plain.charCodeAt(0)).not.toBe(0xfeff);
    expect(parseCsv(plain)[1]![0]).toBe(m.id);
    // an append (--incremental) gets no second BOM
    expect(sink.begin({ ...summaryFor([m]), append: { lastDay: null } })).toBe('');
  });

  it('quotes byte for byte as csv-stringify did before (Windows records, every line break quoted), on random hostile cells', () => {
    // The exporter quotes by hand for speed; csv-stringify with the options it used is the oracle.
    const options = { record_delimiter: 'windows', quote_record_delimiter: true, quoted_match: /[\r\n]/ } as const;
    const alphabet = ['a', 'Z', '0', ' ', ',', '"', "'", '\r', '\n', '\r\n', '\t', ';', '=', '你', '👍🏽', '\u2028', '\\', '""'];
    let seed = 17;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let record = 0; record < 2000; record++) {
      const cells = Array.from({ length: 1 + random(12) }, () => Array.from({ length: random(6) }, () => alphabet[random(alphabet.length)]).join(''));
      expect(csvRecord(cells)).toBe(stringify([cells], options));
    }
    expect(csvRecord([...CSV_COLUMNS])).toBe(stringify([[...CSV_COLUMNS]], options));
    for (const text of HOSTILE_TEXTS) expect(csvRecord([text, guardFormula(text)])).toBe(stringify([[text, guardFormula(text)]], options));
  });
});
