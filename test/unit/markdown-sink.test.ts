import MarkdownIt from 'markdown-it';
import type Token from 'markdown-it/lib/token.mjs';
import { describe, expect, it } from 'vitest';
import { createMessage, type Attachment, type Message, type MessageFields } from '../../src/message.js';
import { createMarkdownSink, dayOf, lastDayWritten } from '../../src/sinks/markdown.js';
import type { ChannelSummary } from '../../src/sinks/types.js';
import { cleanText } from '../../src/text/escape-markdown.js';
import { buildReplyIndex, type ReplyIndex } from '../../src/sinks/reply-context.js';

const HOSTILE_TEXTS = [
  '# heading',
  '## heading two\n###### six',
  'Setext title\n===',
  'Setext two\n---',
  '[link](http://x)',
  '[ref]\n\n[ref]: http://x "title"',
  '![img](x)',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<div>\n*block html*\n</div>',
  '<!-- comment -->',
  '&amp; &#60; &lt;script&gt; &copy;',
  "=cmd|' /C calc'!A0",
  '+1',
  '-1',
  '@SUM(A1)',
  '\tx',
  '\rx',
  '| a | b |\n|---|---|\n| 1 | 2 |',
  'a | b\n--|--\n1 | 2',
  '`inline code`',
  '```js\nfenced()\n```',
  '~~~\ntilde fence\n~~~',
  '    indented code',
  'para\n\n    indented after blank',
  '\u001b[31mred\u001b[0m and \u001b]0;title\u0007osc',
  'nul\u0000 bell\u0007 del\u007f c1\u009b',
  '你好，世界',
  '👍🏽 👨‍👩‍👧 ❤️',
  'line one\nline two\r\nline three\rline four',
  '"quoted, with comma"',
  '> quote\n>> nested',
  '- item\n* item\n+ item',
  '1. one\n2) two',
  '***\n---\n___\n- - -',
  '**bold** __bold__ *em* _em_ ~~strike~~ ~sub~',
  'a\n\n# heading after a blank line',
  'a\n\n\n\n- list after blank lines',
  'trailing backslash\\',
  'C:\\Users\\name\\',
  'hard  \nbreak with two spaces',
  '<https://autolink.example>',
  'http://bare.example www.example.com user@example.com',
  ' * one leading space\n  * two\n   * three',
  '\t\t- tabbed list',
  '\n\nleading blank lines',
  'trailing blank lines\n\n \n',
  '   ',
  '',
  '*',
  '_',
  '\\',
  '[^1]\n\n[^1]: footnote',
  '$$x^2$$ :smile: ==mark== {#id .class}',
  'Term\n: definition',
  '\u00a0\u00a0nbsp-indented\n\u3000ideographic space',
  'mid\n\u3000\nline of ideographic space',
  '* * *\n+ plus item\n: definition\n10) ten\n7. seven',
  'line\n===\nline\n-\n=',
  '#1 not a heading #2\n####### seven\n#\n#\tx',
  'li_si Ω-user a.b 5 * 3 a*b*c x_*y*_z',
  'x<y a<b>c <3 </x> <!x> <?x>',
  '&copy; &#169; &#xA9; &x &;',
  '$x$ $$y$$ $5 and $6 a$b$',
  'H~2~O ~~s~~ ~ alone x^2^',
  '__init__ _a_ a_ _b',
  '\\*not em\\* \\[x]\\',
  '[x]: http://evil.example\n[x]',
  '==mark== ++ins++ a=b c+d',
  ':smile: :+1: 10:30 a:b',
  '> x\n>y\n >z',
  '<div>\n<span>x</span>\n</div>',
  'https://example.com/a_(b)*c*[d] https://example.com/x',
];

const CHANNEL = '4f326124812c41448bc587bf6b2eaf42';

function message(fields: Partial<MessageFields> & { time: number }): Message {
  return createMessage({
    id: '1',
    provider: 'relation',
    channel: CHANNEL,
    sender: { id: 'u1', name: 'alice', avatar: null },
    type: 'text',
    text: 'hi',
    ...fields,
  });
}

function summaryOf(
  messages: Message[],
  options: { timezone?: string; order?: 'asc' | 'desc'; append?: ChannelSummary['append'] } = {},
): ChannelSummary {
  const stamps = messages.map((m) => m.timestamp).sort();
  return {
    provider: 'relation',
    channel: CHANNEL,
    count: messages.length,
    first: stamps[0] ?? null,
    last: stamps.at(-1) ?? null,
    timezone: options.timezone,
    order: options.order ?? 'asc',
    append: options.append,
  };
}

function render(messages: Message[], options: Parameters<typeof summaryOf>[1] & { replies?: ReplyIndex } = {}): string {
  const sink = createMarkdownSink();
  const summary = { ...summaryOf(messages, options), replies: options.replies };
  return sink.begin(summary) + messages.map((m) => sink.format(m)).join('') + sink.end();
}

function flatten(tokens: Token[]): Token[] {
  return tokens.flatMap((t) => [t, ...flatten(t.children ?? [])]);
}

function count(tokens: Token[], type: string, tag?: string): number {
  return tokens.filter((t) => t.type === type && (tag === undefined || t.tag === tag)).length;
}

/** What a reader sees of an inline token run: text, with line breaks as \n. */
function plainText(inline: Token): string {
  return (inline.children ?? [])
    .map((t) => {
      if (t.type === 'text' || t.type === 'text_special' || t.type === 'code_inline' || t.type === 'html_inline') {
        return t.content;
      }
      return t.type === 'softbreak' || t.type === 'hardbreak' ? '\n' : '';
    })
    .join('');
}

/** Paragraph texts of a rendered document, top-level and in block quotes alike. */
function paragraphs(tokens: Token[]): string[] {
  return tokens.flatMap((t, i) => (t.type === 'paragraph_open' && tokens[i + 1] ? [plainText(tokens[i + 1]!)] : []));
}

function oneLine(text: string): string {
  return cleanText(text).replace(/\s+/g, ' ').trim();
}

/**
 * Lines as a reader compares them: whitespace runs collapsed (HTML collapses
 * them, and indentation is rendered with no-break spaces), blank edges dropped.
 */
function readerLines(text: string): string[] {
  const lines = text.split('\n').map((line) => line.replace(/\s+/g, ' ').trim());
  while (lines[0] === '') lines.shift();
  while (lines.at(-1) === '') lines.pop();
  return lines;
}

describe('Markdown sink', () => {
  it('renders a small channel as this exact transcript', async () => {
    const base = Date.parse('2024-01-23T17:50:40Z');
    const messages = [
      message({ id: '96', time: base, text: 'first line\nsecond line' }),
      message({
        id: '97',
        time: base + 60_000,
        sender: { id: 'u2', name: 'bob_the *builder*', avatar: null },
        text: 'see [this](http://x)',
        replyTo: '96',
        updatedTime: base + 9 * 60_000,
      }),
      message({ id: '98', time: base + 120_000, sender: { id: 'u3', name: null, avatar: null }, text: '', deleted: true }),
      message({
        id: '99',
        time: base + 86_400_000,
        type: 'image',
        text: '',
        attachments: [
          { url: 'https://example.com/a.png', name: 'a.png', type: 'image' },
          { url: 'javascript:alert(1)', name: null, type: null },
        ],
      }),
    ];
    const replies = await buildReplyIndex(async function* () {
      for (const m of messages) yield JSON.stringify(m);
    });
    expect(render(messages, { timezone: '+08:00', replies })).toBe(
      [
        `# relation · ${CHANNEL} — 4 messages, 2024-01-24 → 2024-01-25 (times in UTC+08:00)`,
        '',
        '## 2024-01-24',
        '',
        '**alice** · 01:50\\',
        'first line\\',
        'second line',
        '',
        '**bob_the \\*builder\\*** · 01:51 · _edited 2024-01-24 01:59_',
        '> ↪ reply to **alice**: first line second line',
        '',
        'see \\[this](http://x)',
        '',
        '**u3** · 01:52 · _deleted_',
        '',
        '## 2024-01-25',
        '',
        '**alice** · 01:50 · _image_\\',
        '📎 a.png <https://example.com/a.png>\\',
        '📎 javascript:alert(1)',
        '',
      ].join('\n'),
    );
  });

  describe('with hostile message texts', () => {
    const base = Date.parse('2024-01-23T17:50:40Z');
    // Every text twice: as a plain message, whose text continues the head's
    // paragraph, and as a reply, whose text starts a paragraph of its own.
    // Every fifth carries an http attachment and every seventh a hostile one.
    const messages = HOSTILE_TEXTS.flatMap((text, i) => {
      const attachments: Attachment[] = [];
      if (i % 5 === 0) attachments.push({ url: `https://cdn.example.com/f${i}.png`, name: `f${i}.png`, type: null });
      if (i % 7 === 0) attachments.push({ url: text.slice(0, 40), name: text.slice(0, 20), type: null });
      return [null, `${900 + i}`].map((replyTo, j) =>
        message({
          id: String(1000 + 2 * i + j),
          time: base + (2 * i + j) * 2 * 3_600_000,
          sender: { id: `u${i}`, name: `user${i}${replyTo ? 'r' : ''}`, avatar: null },
          text,
          attachments,
          replyTo,
        }),
      );
    });
    const replies = messages.filter((m) => m.replyTo !== null).length;
    const markdown = render(messages, { timezone: '+08:00' });
    const days = new Set(messages.map((m) => dayOf(m.timestamp, '+08:00')));
    const autolinks = messages.flatMap((m) => m.attachments).filter((a) => /^https?:\/\/\S+$/.test(a.url) && !/[<>]/.test(a.url));

    it.each([
      ['CommonMark with HTML enabled', new MarkdownIt({ html: true })],
      ['with linkify and typographer on as well', new MarkdownIt({ html: true, linkify: true, typographer: true })],
    ])('creates only the transcript structure (%s)', (_, md) => {
      const tokens = flatten(md.parse(markdown, {}));
      expect(count(tokens, 'heading_open', 'h1')).toBe(1);
      expect(count(tokens, 'heading_open', 'h2')).toBe(days.size);
      expect(count(tokens, 'heading_open')).toBe(1 + days.size);
      // Ours are the attachments' autolinks. A linkify renderer may also link a bare URL in a
      // text, but only to itself: no text chooses a target it does not show.
      const links = tokens.map((t, i) => ({ t, i })).filter(({ t }) => t.type === 'link_open');
      const ours = links.filter(({ t }) => t.markup !== 'linkify');
      expect(ours.map(({ t }) => t.attrGet('href'))).toEqual(autolinks.map((a) => a.url));
      for (const { i, t } of links.filter(({ t }) => t.markup === 'linkify')) {
        const shown = tokens[i + 1]!.content;
        expect([shown, `http://${shown}`, `mailto:${shown}`].map((url) => md.normalizeLink(url))).toContain(t.attrGet('href'));
      }
      if (!md.options.linkify) expect(links).toHaveLength(autolinks.length);
      expect(count(tokens, 'strong_open')).toBe(messages.length);
      expect(count(tokens, 'em_open')).toBe(0);
      expect(count(tokens, 'blockquote_open')).toBe(replies);
      for (const type of [
        'image',
        'html_block',
        'html_inline',
        'table_open',
        'code_block',
        'fence',
        'code_inline',
        'hr',
        'bullet_list_open',
        'ordered_list_open',
        's_open',
      ]) {
        expect(count(tokens, type), type).toBe(0);
      }
      // Headings hold only the title and the days.
      const headings = tokens.filter((t, i) => tokens[i - 1]?.type === 'heading_open').map((t) => plainText(t));
      expect(headings.slice(1)).toEqual([...days]);
    });

    it('keeps every message in its own paragraphs, reading exactly as typed', () => {
      const paras = paragraphs(new MarkdownIt({ html: true }).parse(markdown, {}));
      let next = 0;
      for (const m of messages) {
        const expected = [
          ...readerLines(cleanText(m.text)),
          ...m.attachments.map((a) => {
            const label = a.name !== null && a.name !== a.url ? a.name : '';
            return readerLines(`📎 ${oneLine(label)} ${oneLine(a.url)}`).join('');
          }),
        ];
        const [head = '', ...rest] = (paras[next++] ?? '').split('\n');
        expect(head).toMatch(new RegExp(`^${m.sender.name} · \\d\\d:\\d\\d$`));
        let body = rest;
        if (m.replyTo !== null) {
          expect(rest).toEqual([]);
          expect(paras[next++]).toBe(`↪ reply to message ${m.replyTo}`);
          body = expected.length > 0 ? (paras[next++] ?? '').split('\n') : [];
        }
        expect(readerLines(body.join('\n')), JSON.stringify(m.text)).toEqual(expected);
      }
      expect(next).toBe(paras.length);
    });

    it('keeps the source plain: indentation as no-break spaces, no raw control characters', () => {
      expect(markdown).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      expect(markdown).not.toMatch(/^[ \t]/m);
      expect(markdown).toContain('\n\u00a0\u00a0\u00a0\\* three');
      expect(markdown).toContain('\n\u00a0\u00a0\u00a0\u00a0\u00a0\u00a0\u00a0\u00a0\\- tabbed list');
    });
  });

  describe('day headings and clock times', () => {
    const instant = Date.parse('2024-01-23T17:50:40Z');

    it.each([
      ['+08:00', '2024-01-24', '01:50'],
      ['Asia/Shanghai', '2024-01-24', '01:50'],
      [undefined, '2024-01-23', '17:50'],
      ['Z', '2024-01-23', '17:50'],
      ['-05:30', '2024-01-23', '12:20'],
    ])('puts 2024-01-23T17:50:40Z in zone %s under ## %s at %s', (timezone, day, time) => {
      const out = render([message({ time: instant })], timezone === undefined ? {} : { timezone });
      expect(out).toContain(`\n## ${day}\n\n**alice** · ${time}\\\nhi\n`);
      expect(out.match(/^## /gm)).toHaveLength(1);
    });

    it('names the zone in the title, since clock times depend on it', () => {
      expect(render([message({ time: instant })]).split('\n')[0]).toBe(
        `# relation · ${CHANNEL} — 1 message, 2024-01-23 (times in UTC)`,
      );
      expect(render([message({ time: instant })], { timezone: 'America/New_York' }).split('\n')[0]).toMatch(
        /\(times in America\/New_York\)$/,
      );
    });

    it('writes only the title for an empty channel', () => {
      expect(render([])).toBe(`# relation · ${CHANNEL} — 0 messages (times in UTC)\n`);
    });

    it('escapes provider and channel in the title', () => {
      const sink = createMarkdownSink();
      const title = sink.begin({ ...summaryOf([]), provider: '<b>p</b>', channel: '# [x](y)\n## z' });
      expect(title).toBe('# \\<b>p\\</b> · # \\[x](y) ## z — 0 messages (times in UTC)\n');
      const tokens = flatten(new MarkdownIt({ html: true }).parse(title, {}));
      expect(count(tokens, 'html_inline') + count(tokens, 'link_open')).toBe(0);
      expect(plainText(tokens[1]!)).toBe('<b>p</b> · # [x](y) ## z — 0 messages (times in UTC)');
    });

    it('descends day by day in desc order, one heading per day', () => {
      const day = 86_400_000;
      const messages = [3, 2.5, 2, 0.5, 0].map((d, i) => message({ id: String(i), time: instant + d * day }));
      const out = render(messages, { order: 'desc' });
      expect(out.match(/^## .*$/gm)).toEqual(['## 2024-01-26', '## 2024-01-25', '## 2024-01-24', '## 2024-01-23']);
      expect(out.split('\n')[0]).toContain('5 messages, 2024-01-23 → 2024-01-26');
    });

    it('emits a heading whenever the day changes, even back to an earlier one', () => {
      const day = 86_400_000;
      const out = render([0, day, 0].map((d) => message({ time: instant + d })));
      expect(out.match(/^## .*$/gm)).toEqual(['## 2024-01-23', '## 2024-01-24', '## 2024-01-23']);
    });
  });

  describe('appending (--incremental)', () => {
    const first = [message({ id: '1', time: Date.parse('2024-01-24T10:00:00Z') })];
    const more = [
      message({ id: '2', time: Date.parse('2024-01-24T11:00:00Z') }),
      message({ id: '3', time: Date.parse('2024-01-25T09:00:00Z') }),
    ];

    it('continues the last day without a title or a second heading', () => {
      const lastDay = lastDayWritten(summaryOf(first));
      expect(lastDay).toBe('2024-01-24');
      const appended = render(more, { append: { lastDay } });
      expect(appended).toBe('\n**alice** · 11:00\\\nhi\n\n## 2024-01-25\n\n**alice** · 09:00\\\nhi\n');
      const whole = render(first) + appended;
      expect(whole.match(/^#{1,2} .*$/gm)).toEqual([
        `# relation · ${CHANNEL} — 1 message, 2024-01-24 (times in UTC)`,
        '## 2024-01-24',
        '## 2024-01-25',
      ]);
      const tokens = new MarkdownIt().parse(whole, {});
      expect(count(tokens, 'paragraph_open')).toBe(3);
    });

    it('starts a day heading when the file has none yet', () => {
      expect(render(more.slice(0, 1), { append: { lastDay: null } })).toBe(
        '\n## 2024-01-24\n\n**alice** · 11:00\\\nhi\n',
      );
    });

    it('reads the last day in the zone and order of the run', () => {
      const summary = summaryOf(more, { timezone: '+08:00' });
      expect(lastDayWritten(summary)).toBe('2024-01-25');
      expect(lastDayWritten({ ...summary, order: 'desc' })).toBe('2024-01-24');
      expect(lastDayWritten({ ...summaryOf([]), append: { lastDay: '2024-01-01' } })).toBe('2024-01-01');
      expect(lastDayWritten(summaryOf([]))).toBeNull();
    });

    it('exposes dayOf for that bookkeeping', () => {
      expect(dayOf('2024-01-23T17:50:40.000Z', '+08:00')).toBe('2024-01-24');
      expect(dayOf('2024-01-23T17:50:40.000Z', undefined)).toBe('2024-01-23');
      expect(dayOf('2024-01-24T04:30:00.000Z', 'America/New_York')).toBe('2024-01-23');
    });
  });

  describe('names, replies and attachments', () => {
    const time = Date.parse('2024-01-23T17:50:40Z');
    const md = new MarkdownIt({ html: true });

    it.each([
      ['**bob**', '**bob**'],
      ['# admin', '# admin'],
      ['<b>x</b> [y](z)', '<b>x</b> [y](z)'],
      ['  spaced\nout\t', 'spaced out'],
      ['\u001b[31mred', 'red'],
      ['\u202eevil\u2066', 'evil'],
      ['👍🏽', '👍🏽'],
      ['trailing\\', 'trailing\\'],
      [null, 'u1'],
      ['   ', 'u1'],
    ])('shows the name %j as strong text %j', (name, shown) => {
      const out = render([message({ time, sender: { id: 'u1', name, avatar: null } })]);
      const tokens = flatten(md.parse(out, {}));
      const strong = tokens.findIndex((t) => t.type === 'strong_open');
      expect(tokens[strong + 1]?.content).toBe(shown);
      expect(tokens[strong + 2]?.type).toBe('strong_close');
    });

    it('quotes the replied-to id in a block quote that the text does not continue when the quoted message is not in the export', () => {
      const out = render([message({ time, replyTo: '1578671129496899586', text: 'lazy\ncontinuation?' })]);
      const tokens = md.parse(out, {});
      const quote = tokens.findIndex((t) => t.type === 'blockquote_open');
      expect(tokens[quote + 2]?.content).toBe('↪ reply to message 1578671129496899586');
      expect(tokens[quote + 4]?.type).toBe('blockquote_close');
      expect(paragraphs(tokens).at(-1)).toBe('lazy\ncontinuation?');
    });

    it.each([
      ['https://example.com/a_b*c.png?x=1&y=[2]', true],
      ['HTTP://EXAMPLE.COM/X', true],
      ['javascript:alert(1)', false],
      ['data:text/html,<script>alert(1)</script>', false],
      ['ftp://example.com/f', false],
      ['https://example.com/a b.png', false],
      ['https://example.com/<script>', false],
      ['https://example.com/x>y', false],
      ['', false],
    ])('links the attachment %j only when it is a plain http(s) URL (%s)', (url, linked) => {
      const out = render([message({ time, text: '', attachments: [{ url, name: null, type: null }] })]);
      const tokens = flatten(md.parse(out, {}));
      expect(count(tokens, 'link_open')).toBe(linked ? 1 : 0);
      expect(count(tokens, 'html_inline') + count(tokens, 'html_block')).toBe(0);
      if (linked) expect(tokens.find((t) => t.type === 'link_open')?.attrGet('href')).toBe(md.normalizeLink(url));
      expect(paragraphs(md.parse(out, {}))[0]).toBe(`alice · 17:50\n📎 ${url}`.trimEnd());
    });

    it('puts each attachment on its own line, after the text, with its name', () => {
      const out = render([
        message({
          time,
          text: 'two files',
          attachments: [
            { url: 'https://x.example/1.pdf', name: 'report [final].pdf', type: 'file' },
            { url: 'https://x.example/2.pdf', name: 'https://x.example/2.pdf', type: 'file' },
          ],
        }),
      ]);
      expect(paragraphs(md.parse(out, {}))).toEqual([
        'alice · 17:50\ntwo files\n📎 report [final].pdf https://x.example/1.pdf\n📎 https://x.example/2.pdf',
      ]);
    });

    it('marks edited, deleted and non-text messages in the head line', () => {
      const out = render([
        message({ time, type: 'system', text: 'x joined', deleted: true, updatedTime: time + 3_600_000 }),
      ]);
      expect(out).toContain('**alice** · 17:50 · _system_ · _edited 2024-01-23 18:50_ · _deleted_\\\nx joined\n');
      const tokens = flatten(md.parse(out, {}));
      expect(count(tokens, 'em_open')).toBe(3);
    });
  });

  describe('escapes only what would be markup where it stands', () => {
    it.each([
      ['#1 is not a heading', '#1 is not a heading'],
      ['li_si and Ω-user', 'li_si and Ω-user'],
      ['see https://example.com/a.png, ok?', 'see https://example.com/a.png, ok?'],
      ['5 * 3 = 15 - 0', '5 * 3 = 15 - 0'],
      ['-1', '-1'],
      ['+1', '+1'],
      ['# heading', '\\# heading'],
      ['- item', '\\- item'],
      ['1. one', '1\\. one'],
      ['---', '\\---'],
      ['a*b*c', 'a\\*b\\*c'],
      ['<b>', '\\<b>'],
      ['[x](y)', '\\[x](y)'],
    ])('%j is written as %j', (text, written) => {
      const out = render([message({ time: Date.parse('2024-01-23T17:50:40Z'), text })]);
      expect(out.split('\n').at(-2)).toBe(written);
    });
  });

  describe('what a reader needs', () => {
    const time = Date.parse('2024-01-23T17:50:40Z');
    it('an image message whose text is its URL shows the image; anything else stays text', () => {
      const md = new MarkdownIt({ html: true });
      const image = render([message({ time, type: 'image', text: 'https://example.com/p_1.png' })]);
      expect(image).toContain('\n![image](<https://example.com/p_1.png>)\n');
      const tokens = flatten(md.parse(image, {}));
      expect(tokens.filter((t) => t.type === 'image').map((t) => t.attrGet('src'))).toEqual(['https://example.com/p_1.png']);
      for (const text of ['javascript:alert(1)', 'https://example.com/a b.png', 'https://x.example/\\)', 'look: https://example.com/a.png']) {
        const out = render([message({ time, type: 'image', text })]);
        expect(count(flatten(md.parse(out, {})), 'image'), text).toBe(0);
      }
      // a text message that is a URL is not an image
      expect(count(flatten(md.parse(render([message({ time, text: 'https://example.com/p.png' })]), {})), 'image')).toBe(0);
    });

    it('a system message without a name shows no sender (not relation\'s row of zeros)', () => {
      const out = render([message({ time, type: 'system', sender: { id: '00000000000000000000000000000000', name: null, avatar: null }, text: 'bob joined' })]);
      expect(out).toContain('\n_system_ · 17:50\\\nbob joined\n');
      expect(out).not.toContain('0000');
    });

    it('an --incremental transcript states no count and no end in its title', () => {
      const sink = createMarkdownSink();
      const title = sink.begin({ ...summaryOf([message({ time })]), growing: true });
      expect(title).toBe(`# relation · ${CHANNEL} — from 2024-01-23 (times in UTC)\n`);
    });

    it('the next channel in one stream starts after a blank line', () => {
      const sink = createMarkdownSink();
      const title = sink.begin({ ...summaryOf([message({ time })]), continues: true });
      expect(title.startsWith('\n# ')).toBe(true);
      const both = render([message({ time })]) + title;
      expect(count(flatten(new MarkdownIt().parse(both, {})), 'heading_open', 'h1')).toBe(2);
    });
  });
});

describe('escaping holds for random punctuation soup (seeded)', () => {
  // Every character any CommonMark construct or common extension gives meaning to, plus
  // letters, digits, blanks and line breaks, in random strings: whatever the mix, the
  // transcript has only its own structure and reads back as typed.
  const ALPHABET = ['*', '_', '`', '~', '[', ']', '(', ')', '<', '>', '!', '#', '-', '+', '=', '|', '\\', '&', ';', ':', '$', '^', '{', '}', '.', '1', 'a', 'b', 'Ω', ' ', ' ', '\t', '\n', 'h', 't', 'p', '/', '@', '"', "'"];
  let seed = 20241126;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const texts = Array.from({ length: 1500 }, () => Array.from({ length: 1 + Math.floor(random() * 24) }, () => ALPHABET[Math.floor(random() * ALPHABET.length)]!).join(''));
  const base = Date.parse('2024-01-23T17:50:40Z');
  const messages = texts.map((text, i) => message({ id: String(i), time: base + i * 1000, text }));
  const markdown = render(messages);
  const md = new MarkdownIt({ html: true });
  const tokens = md.parse(markdown, {});

  it('creates no structure but the transcript\'s', () => {
    const allowed = new Set(['heading_open', 'heading_close', 'inline', 'paragraph_open', 'paragraph_close', 'text', 'text_special', 'strong_open', 'strong_close', 'softbreak', 'hardbreak']);
    const bad = flatten(tokens).filter((t) => !allowed.has(t.type));
    expect(bad.map((t) => t.type)).toEqual([]);
    expect(count(flatten(tokens), 'heading_open')).toBe(2);
    expect(count(flatten(tokens), 'strong_open')).toBe(messages.length);
  });

  it('every text reads back as typed', () => {
    const paras = paragraphs(tokens);
    let next = 0;
    for (const m of messages) {
      const [, ...body] = (paras[next++] ?? '').split('\n');
      expect(readerLines(body.join('\n')), JSON.stringify(m.text)).toEqual(readerLines(cleanText(m.text)));
    }
  });
});
