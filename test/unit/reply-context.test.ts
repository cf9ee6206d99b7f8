import { describe, expect, it } from 'vitest';
import { createMessage, type Message, type MessageFields } from '../../src/message.js';
import { buildReplyIndex, textStart } from '../../src/sinks/reply-context.js';

function message(fields: Partial<MessageFields> & { id: string }): Message {
  return createMessage({ provider: 'relation', channel: 'C1', time: 1_700_000_000_000, sender: { id: 'u1', name: 'alice', avatar: null }, type: 'text', text: 'hi', ...fields });
}

function source(messages: Message[]) {
  return async function* () {
    for (const m of messages) yield JSON.stringify(m);
  };
}

describe('reply context index', () => {
  it('finds the quoted message whether it comes before or after the reply, with its export position', async () => {
    const messages = [
      message({ id: '3', replyTo: '1', text: 'reply' }),
      message({ id: '2', text: 'middle' }),
      message({ id: '1', sender: { id: 'u2', name: null, avatar: null }, text: 'the\nquoted\u001b[31m text' }),
      message({ id: '4', replyTo: '2' }),
    ];
    const index = await buildReplyIndex(source(messages));
    expect(index.get('1')).toEqual({ author: 'u2', text: 'the quoted text', position: 2 });
    expect(index.get('2')).toEqual({ author: 'alice', text: 'middle', position: 1 });
    // Only quoted messages are kept.
    expect(index.get('3')).toBeUndefined();
    expect(index.get('4')).toBeUndefined();
  });

  it('knows only the messages inside the written window (--limit skips the rest)', async () => {
    const messages = [message({ id: '1' }), message({ id: '2', replyTo: '1' }), message({ id: '3', replyTo: '2' })];
    const index = await buildReplyIndex(source(messages), { skip: 1, take: 2 });
    expect(index.get('1')).toBeUndefined();
    expect(index.get('2')).toEqual({ author: 'alice', text: 'hi', position: 0 });
  });

  it('is not fooled by ids and texts that look like the keys it scans for', async () => {
    const messages = [
      message({ id: 'a"b\\c', text: '"replyTo":"x"' }),
      message({ id: 'x', text: '{"id":"y"}' }),
      message({ id: 'z', replyTo: 'a"b\\c', text: '"replyTo":null' }),
    ];
    const index = await buildReplyIndex(source(messages));
    expect(index.get('x')).toBeUndefined();
    expect(index.get('a"b\\c')).toEqual({ author: 'alice', text: '"replyTo":"x"', position: 0 });
  });

  it('cuts long texts at a character boundary', () => {
    expect(textStart('👍'.repeat(100))).toBe(`${'👍'.repeat(80)}…`);
    expect(textStart('  a \n\n b  ')).toBe('a b');
  });
});
