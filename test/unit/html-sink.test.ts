import { describe, expect, it } from 'vitest';
import { createMessage, type Message, type MessageFields } from '../../src/message.js';
import { CONTENT_SECURITY_POLICY, createHtmlSink, relativeUrl, renderText } from '../../src/sinks/html.js';
import { html } from '../../src/text/html.js';

function message(fields: Partial<MessageFields> & { id: string }): Message {
  return createMessage({ provider: 'relation', channel: 'C1', time: Date.parse('2024-01-23T17:50:40Z'), sender: { id: 'u1', name: 'alice', avatar: null }, type: 'text', text: 'hi', ...fields });
}

describe('html template', () => {
  it('escapes every interpolated value, in text and in attributes', () => {
    const value = `"><script>x</script>'&`;
    expect(html`<a title="${value}">${value}</a>`.value).toBe('<a title="&quot;&gt;&lt;script&gt;x&lt;/script&gt;&#39;&amp;">&quot;&gt;&lt;script&gt;x&lt;/script&gt;&#39;&amp;</a>');
    expect(html`<p>${[html`<b>${'<i>'}</b>`, '<u>']}</p>`.value).toBe('<p><b>&lt;i&gt;</b>&lt;u&gt;</p>');
  });
});

describe('HTML message text', () => {
  it.each([
    ['see https://example.com/a?b=1&c=2.', 'see <a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">https://example.com/a?b=1&amp;c=2</a>.'],
    ['javascript:alert(1) and <b>', 'javascript:alert(1) and &lt;b&gt;'],
    ['(http://x.example/y)', '(<a href="http://x.example/y" rel="noopener noreferrer nofollow">http://x.example/y</a>)'],
    ['https://a.example/"onmouseover="x', '<a href="https://a.example/" rel="noopener noreferrer nofollow">https://a.example/</a>&quot;onmouseover=&quot;x'],
    ['ftp://x.example/ file:///etc/passwd', 'ftp://x.example/ file:///etc/passwd'],
    ['\u001b[31mred\u001b[0m', 'red'],
  ])('renders %j as text with only http(s) links', (text, expected) => {
    expect(renderText(text).value).toBe(expected);
  });
});

describe('HTML sink', () => {
  it('allows no script, no remote fetch and only its own stylesheet', () => {
    expect(CONTENT_SECURITY_POLICY).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; img-src 'self' data:/);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe|script-src|https?:/);
  });

  it('groups consecutive messages of one sender and starts a new group after a gap, another sender or a new day', () => {
    const base = Date.parse('2024-01-23T10:00:00Z');
    const sink = createHtmlSink();
    const messages = [
      message({ id: '1', time: base }),
      message({ id: '2', time: base + 60_000 }),
      message({ id: '3', time: base + 120_000, sender: { id: 'u2', name: 'bob', avatar: null } }),
      message({ id: '4', time: base + 180_000 }),
      message({ id: '5', time: base + 3 * 3_600_000 }),
      message({ id: '6', time: base + 86_400_000 }),
      message({ id: '7', time: base + 86_400_000 + 1000, type: 'system', text: 'joined' }),
    ];
    const out =
      sink.openDocument!({ provider: 'relation', channels: ['C1'] }) +
      sink.begin({ provider: 'relation', channel: 'C1', count: 7, first: null, last: null, timezone: undefined, order: 'asc' }) +
      messages.map((m) => sink.format(m)).join('') +
      sink.end() +
      sink.closeDocument!();
    expect(out.match(/<div class="group"/g)).toHaveLength(5);
    expect(out.match(/<div class="day"/g)).toHaveLength(2);
    expect(out.match(/<article class="msg system"/g)).toHaveLength(1);
    expect(out.match(/data-id="/g)).toHaveLength(7);
    // Every element opened is closed: the groups nest properly.
    expect(out.match(/<div\b/g)?.length).toBe(out.match(/<\/div>/g)?.length);
    expect(out.match(/<section\b/g)?.length).toBe(out.match(/<\/section>/g)?.length);
  });

  it('isolates sender and attachment names and shows a file name without the bidi controls that would disguise it', () => {
    const sink = createHtmlSink();
    const rlo = '\u202e';
    const out = sink.format(
      message({
        id: '1',
        sender: { id: 'u1', name: `${rlo}evil`, avatar: null },
        attachments: [
          { url: 'https://x.example/f', name: `photo${rlo}gnp.exe`, type: null },
          { url: 'https://x.example/g', name: `a\u2066b\u200fc\u061cd\u202ae`, type: null, file: 'media/ab/ab.exe.bin' },
        ],
      }),
    );
    expect(out).toContain('<span class="name" dir="auto" title="u1">\u202eevil</span>');
    expect(out).toContain('<span dir="auto">photognp.exe</span>');
    expect(out).toContain('<span dir="auto">abcde</span>');
    expect(out).not.toMatch(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]<\/span><\/a>/);
  });

  it('links local files by relative URL, each path segment encoded', () => {
    expect(relativeUrl('media dir/ab/c#d?.png')).toBe('media%20dir/ab/c%23d%3F.png');
    expect(relativeUrl('../media/x.png')).toBe('../media/x.png');
  });
});
