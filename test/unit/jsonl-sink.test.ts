import { describe, expect, it } from 'vitest';
import { createMessage } from '../../src/message.js';
import { createJsonlSink } from '../../src/sinks/jsonl.js';
import { FILE_EXTENSIONS, createSink, formatFromPath, loadSink } from '../../src/sinks/registry.js';
import type { ChannelSummary, Format } from '../../src/sinks/types.js';

const summary: ChannelSummary = {
  provider: 'dishawang',
  channel: '26',
  count: 1,
  first: '2024-01-23T17:50:40.000Z',
  last: '2024-01-23T17:50:40.000Z',
  timezone: '+08:00',
  order: 'asc',
};

const fields = {
  id: '96',
  provider: 'dishawang',
  channel: '26',
  time: Date.parse('2024-01-23T17:50:40Z'),
  sender: { id: '7', name: '哈哈哈', avatar: 'http://x/a48a.jpeg' },
  type: 'text',
  text: '333',
};

describe('JSONL sink', () => {
  it('writes the DESIGN.md example line, keys in contract order', () => {
    const sink = createJsonlSink();
    expect(sink.begin(summary)).toBe('');
    expect(sink.format(createMessage(fields))).toBe(
      '{"id":"96","provider":"dishawang","channel":"26","timestamp":"2024-01-23T17:50:40.000Z",' +
        '"sender":{"id":"7","name":"哈哈哈","avatar":"http://x/a48a.jpeg"},' +
        '"type":"text","text":"333","replyTo":null,"editedAt":null,"deleted":false,"attachments":[]}\n',
    );
    expect(sink.end()).toBe('');
  });

  it('puts raw last when present', () => {
    const line = createJsonlSink().format(createMessage(fields, { create_time: '2024-01-24 01:50:40' }));
    expect(line.endsWith(',"raw":{"create_time":"2024-01-24 01:50:40"}}\n')).toBe(true);
  });

  it('keeps text exactly as sent, one line per message whatever the text holds', () => {
    const text = 'a\nb\r\nc\u2028d\u001b[31m"\\</script>👍🏽';
    const line = createJsonlSink().format(createMessage({ ...fields, text }));
    expect(line.split('\n')).toEqual([expect.any(String), '']);
    expect((JSON.parse(line) as { text: string }).text).toBe(text);
  });

  it('writes nothing around the messages when appending', () => {
    expect(createJsonlSink().begin({ ...summary, append: { lastDay: null } })).toBe('');
  });
});

describe('sink registry', () => {
  it.each([
    ['out.jsonl', 'jsonl'],
    ['out.ndjson', 'jsonl'],
    ['out.json', 'jsonl'],
    ['backups/relation-C1.csv', 'csv'],
    ['notes.md', 'md'],
    ['notes.markdown', 'md'],
    ['NOTES.MD', 'md'],
    ['/srv/chat/Out.CSV', 'csv'],
    ['page.html', 'html'],
    ['PAGE.HTM', 'html'],
  ])('reads the format of %s as %s', (path, format) => {
    expect(formatFromPath(path)).toBe(format);
  });

  it.each(['-', 'out', 'out.txt', 'backups/', '.csv', 'out.csv.tmp', 'dir.md/file'])('has no format for %s', (path) => {
    expect(formatFromPath(path)).toBeUndefined();
  });

  it('names file extensions per format', () => {
    expect(FILE_EXTENSIONS).toEqual({ jsonl: 'jsonl', csv: 'csv', md: 'md', html: 'html' });
  });

  it.each<Format>(['jsonl', 'csv', 'md'])('creates a fresh %s sink each time', async (format) => {
    await loadSink(format);
    const a = createSink(format);
    const b = createSink(format);
    expect(a).not.toBe(b);
    expect(a.format(createMessage(fields))).toContain('333');
  });

  it('refuses an unknown format from untyped input', async () => {
    expect(() => createSink('xml' as Format)).toThrowError(/unknown output format "xml"/);
    await expect(loadSink('xml' as Format)).rejects.toThrowError(/unknown output format "xml"/);
  });
});
