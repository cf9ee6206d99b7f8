import { describe, expect, it } from 'vitest';
import { compareIds, createMessage, isoTime } from '../../src/message.js';

describe('isoTime', () => {
  it('formats exactly like Date#toISOString, across days, leap years, the epoch and far years', () => {
    const samples = [0, -1, 1, 86_399_999, 86_400_000, -86_400_000, 951_782_400_000, 253_402_300_799_999, 253_402_300_800_000, -62_167_219_200_001];
    let seed = 7;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      samples.push(Math.floor((seed / 2_147_483_648 - 0.3) * 5e12));
      samples.push(1_700_000_000_000 + i * 997);
    }
    for (const ms of samples) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString());
  });
});

describe('createMessage', () => {
  it('keeps the contract key order, sets editedAt only for a later update, and puts raw last', () => {
    const message = createMessage(
      { id: '1', provider: 'relation', channel: 'c', time: 1000, sender: { id: 's', name: null, avatar: null }, type: 'text', text: 't', updatedTime: 1000 },
      { original: true },
    );
    expect(Object.keys(message)).toEqual(['id', 'provider', 'channel', 'timestamp', 'sender', 'type', 'text', 'replyTo', 'editedAt', 'deleted', 'attachments', 'raw']);
    expect(message.editedAt).toBeNull();
    const edited = createMessage({ id: '1', provider: 'p', channel: 'c', time: 1000, sender: { id: 's', name: null, avatar: null }, type: 'text', text: 't', updatedTime: 2000 });
    expect(edited.editedAt).toBe('1970-01-01T00:00:02.000Z');
    expect('raw' in edited).toBe(false);
  });

  it('orders decimal ids numerically and others as text', () => {
    expect(compareIds('9', '10')).toBeLessThan(0);
    expect(compareIds('1578671129496899586', '999')).toBeGreaterThan(0);
    expect(compareIds('b', 'a')).toBeGreaterThan(0);
    expect(compareIds('7', '7')).toBe(0);
  });
});
