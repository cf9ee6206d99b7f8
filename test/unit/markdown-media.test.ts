import MarkdownIt from 'markdown-it';
import type Token from 'markdown-it/lib/token.mjs';
import { describe, expect, it } from 'vitest';
import { createMessage } from '../../src/message.js';
import { createMarkdownSink } from '../../src/sinks/markdown.js';

function flatten(tokens: Token[]): Token[] {
  return tokens.flatMap((t) => [t, ...flatten(t.children ?? [])]);
}

describe('Markdown with --media', () => {
  it('links local copies by relative path: pictures shown, other files linked, odd directory names kept inside the link', () => {
    const sink = createMarkdownSink();
    const message = createMessage({
      id: '1',
      provider: 'discuz',
      channel: '1',
      time: Date.parse('2024-01-23T10:00:00Z'),
      sender: { id: 'u', name: 'alice', avatar: null },
      type: 'text',
      text: 'files',
      attachments: [
        { url: 'https://x.example/a.png', name: 'a](javascript:x).png', type: 'image/png', file: 'my media (1)/ab/ab12.png' },
        { url: 'https://x.example/r.pdf', name: 'report.pdf', type: 'application/pdf', file: 'media/<cd>/cd34.pdf' },
      ],
    });
    const out = sink.begin({ provider: 'discuz', channel: '1', count: 1, first: null, last: null, timezone: undefined, order: 'asc' }) + sink.format(message);
    const tokens = flatten(new MarkdownIt().parse(out, {}));
    const image = tokens.find((t) => t.type === 'image');
    expect(image?.attrGet('src')).toBe('my%20media%20(1)/ab/ab12.png');
    expect(image?.children?.map((child) => child.content).join('')).toBe('a](javascript:x).png');
    const links = tokens.filter((t) => t.type === 'link_open').map((t) => t.attrGet('href'));
    expect(links).toEqual(['media/%3Ccd%3E/cd34.pdf']);
  });
});
