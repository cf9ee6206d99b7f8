/**
 * The three normalizers against the docs' recorded samples
 * (fixtures/{relation,discuz,dishawang}/sample.json): parsePage + normalize
 * must give exactly the JSONL line of DESIGN.md section 3, key order included.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { discuz } from '../../src/providers/discuz.js';
import { dishawang } from '../../src/providers/dishawang.js';
import { relation } from '../../src/providers/relation.js';
import type { ChannelTarget, Provider, ProviderSettings } from '../../src/providers/types.js';

const sample = (provider: string): any =>
  JSON.parse(readFileSync(new URL(`../../fixtures/${provider}/sample.json`, import.meta.url), 'utf8'));

const settings = (over: Partial<ProviderSettings> = {}): ProviderSettings => ({
  baseUrl: 'https://example.invalid',
  token: 't',
  apiKey: 'k',
  timezone: undefined,
  raw: false,
  ...over,
});

const channel = (id: string): ChannelTarget => ({ id, kind: 'channel' });

/** parsePage, then normalize every item: the JSONL lines, in served order. */
function lines(provider: Provider, body: unknown, target: ChannelTarget, s = settings()): string[] {
  const page = provider.parsePage(body, target);
  return page.items.map((item) => JSON.stringify(provider.normalize(item, target, s, page).message));
}

describe('relation normalizer (fixtures/relation/sample.json)', () => {
  const target = channel('4f326124812c41448bc587bf6b2eaf42');

  it('maps the sample SYS message to type "system", epoch-ms string createAt to ISO, null names to null', () => {
    expect(lines(relation, sample('relation'), target)).toEqual([
      '{"id":"1578671129496899586","provider":"relation","channel":"4f326124812c41448bc587bf6b2eaf42",' +
        '"timestamp":"2022-10-08T08:58:22.000Z","sender":{"id":"00000000000000000000000000000000","name":null,"avatar":null},' +
        '"type":"system","text":"0x1e56 created Group test-group","replyTo":null,"editedAt":null,"deleted":false,"attachments":[]}',
    ]);
  });

  it('takes replyTo from quote.id and lower-cases the provider type', () => {
    const body = sample('relation');
    const quoted = body.data[0];
    body.data = [
      {
        ...quoted,
        id: '1578671129496907777',
        createAt: '1665219561234',
        type: 'TEXT',
        from: 'a1b2c3',
        fromName: 'Alice',
        fromAvatar: 'https://example.com/a.png',
        content: 'replying',
        quote: quoted,
      },
    ];
    expect(lines(relation, body, target)).toEqual([
      '{"id":"1578671129496907777","provider":"relation","channel":"4f326124812c41448bc587bf6b2eaf42",' +
        '"timestamp":"2022-10-08T08:59:21.234Z","sender":{"id":"a1b2c3","name":"Alice","avatar":"https://example.com/a.png"},' +
        '"type":"text","text":"replying","replyTo":"1578671129496899586","editedAt":null,"deleted":false,"attachments":[]}',
    ]);
  });

  it('--raw appends the original object as the last key', () => {
    const body = sample('relation');
    const page = relation.parsePage(body, target);
    const message = relation.normalize(page.items[0], target, settings({ raw: true }), page).message;
    expect(Object.keys(message)).toEqual([
      'id', 'provider', 'channel', 'timestamp', 'sender', 'type', 'text', 'replyTo', 'editedAt', 'deleted', 'attachments', 'raw',
    ]);
    expect(message.raw).toEqual(sample('relation').data[0]);
  });

  it('error codes become typed errors: 10112 → exit 2, 10120 → exit 3, others show desc (exit 4)', () => {
    const fail = (code: string, desc: string) => {
      try {
        relation.parsePage({ code, desc, data: null }, target);
      } catch (error) {
        return error as { exitCode: number; message: string };
      }
      throw new Error('parsePage accepted an error envelope');
    };
    expect(fail('10112', 'parameter error').exitCode).toBe(2);
    const denied = fail('10120', 'permission denied');
    expect(denied.exitCode).toBe(3);
    // the server's desc already says it: not "permission denied (permission denied)"
    expect(denied.message).toBe(`relation channel ${target.id}: code 10120 permission denied`);
    expect(fail('10120', '').message).toBe(`relation channel ${target.id}: code 10120 (permission denied)`);
    const other = fail('10999', 'server is busy');
    expect(other.exitCode).toBe(4);
    expect(other.message).toContain('server is busy');
  });
});

describe('discuz normalizer (fixtures/discuz/sample.json)', () => {
  const target = channel('1');

  it('takes the sender from `included` users, ISO +08:00 to UTC, an empty avatarUrl as null', () => {
    const out = lines(discuz, sample('discuz'), target);
    expect(out).toHaveLength(4);
    expect(out[0]).toBe(
      '{"id":"1","provider":"discuz","channel":"1","timestamp":"2020-02-17T02:14:31.000Z",' +
        '"sender":{"id":"2","name":"username","avatar":null},"type":"text","text":"11111",' +
        '"replyTo":null,"editedAt":null,"deleted":false,"attachments":[]}',
    );
    // updated_at (10:14:28) is before created_at (10:14:31): not an edit
    expect(out[1]).toBe(
      '{"id":"1","provider":"discuz","channel":"1","timestamp":"2020-02-17T02:14:31.000Z",' +
        '"sender":{"id":"1","name":"username","avatar":"DummySiteUrl/storage/avatars/1.png?1578395431"},"type":"text","text":"消息内容123",' +
        '"replyTo":null,"editedAt":null,"deleted":false,"attachments":[]}',
    );
  });

  it('the sample repeats "id": "1" four times: the page keeps all four, in served order (the walker keeps the first)', () => {
    const texts = lines(discuz, sample('discuz'), target).map((line) => JSON.parse(line));
    expect(texts.map((m) => m.id)).toEqual(['1', '1', '1', '1']);
    expect(texts.map((m) => m.text)).toEqual(['11111', '消息内容123', '消息内容123', '消息内容123']);
  });

  it('a later updated_at is editedAt; include=attachment becomes {url, name, type (MIME)}', () => {
    const body = sample('discuz');
    const first = body.data[0];
    body.data = [
      {
        ...first,
        id: '7',
        attributes: { ...first.attributes, updated_at: '2020-02-17T11:00:00+08:00', attachment_id: 55, image_url: 'https://d.example/a.png' },
        relationships: { ...first.relationships, attachment: { data: { type: 'attachments', id: '55' } } },
      },
    ];
    body.included.push({
      type: 'attachments',
      id: '55',
      attributes: { url: 'https://d.example/a.png', attachment: 'IMG_7.png', fileType: 'image/png', extension: 'png' },
    });
    expect(lines(discuz, body, target)).toEqual([
      '{"id":"7","provider":"discuz","channel":"1","timestamp":"2020-02-17T02:14:31.000Z",' +
        '"sender":{"id":"2","name":"username","avatar":null},"type":"text","text":"11111",' +
        '"replyTo":null,"editedAt":"2020-02-17T03:00:00.000Z","deleted":false,' +
        '"attachments":[{"url":"https://d.example/a.png","name":"IMG_7.png","type":"image/png"}]}',
    ]);
  });

  it('reads total from meta and "no next page" from links without next', () => {
    const page = discuz.parsePage(sample('discuz'), target);
    expect(page.total).toBe(4);
    expect(page.hasNext).toBe(false);
  });
});

describe('dishawang normalizer (fixtures/dishawang/sample.json)', () => {
  const target = channel('26');
  const AVATAR = 'http://sqapi2.dishawang.com/storage/uploads/a48a12a09a6654712f2d430d02dbc572.jpeg';

  it('reads the naive create_time in +08:00 by default: 2024-01-24 01:50:40 → 2024-01-23T17:50:40.000Z', () => {
    expect(lines(dishawang, sample('dishawang'), target)[0]).toBe(
      '{"id":"96","provider":"dishawang","channel":"26","timestamp":"2024-01-23T17:50:40.000Z",' +
        `"sender":{"id":"7","name":"哈哈哈","avatar":"${AVATAR}"},"type":"text","text":"333",` +
        '"replyTo":null,"editedAt":null,"deleted":false,"attachments":[]}',
    );
  });

  it('settings.timezone "Z" reads the same wall time as UTC', () => {
    const out = lines(dishawang, sample('dishawang'), target, settings({ timezone: 'Z' }));
    expect(JSON.parse(out[0]!).timestamp).toBe('2024-01-24T01:50:40.000Z');
    const explicit = lines(dishawang, sample('dishawang'), target, settings({ timezone: '+08:00' }));
    expect(explicit).toEqual(lines(dishawang, sample('dishawang'), target));
  });

  it('a null avatar stays null; update_time later than create_time is editedAt', () => {
    const out = lines(dishawang, sample('dishawang'), target);
    expect(out).toHaveLength(10);
    expect(out[1]).toBe(
      '{"id":"95","provider":"dishawang","channel":"26","timestamp":"2024-01-23T17:50:34.000Z",' +
        '"sender":{"id":"1630","name":"18999617599","avatar":null},"type":"text","text":"1222",' +
        '"replyTo":null,"editedAt":null,"deleted":false,"attachments":[]}',
    );
    // id 70: created 2024-01-23 19:15:16, updated 2024-01-24 00:59:18 (+08:00)
    expect(out[5]).toBe(
      '{"id":"70","provider":"dishawang","channel":"26","timestamp":"2024-01-23T11:15:16.000Z",' +
        `"sender":{"id":"7","name":"哈哈哈","avatar":"${AVATAR}"},"type":"text","text":"444",` +
        '"replyTo":null,"editedAt":"2024-01-23T16:59:18.000Z","deleted":false,"attachments":[]}',
    );
    // no other sample message is an edit except those updated at 00:59:18
    expect(out.map((line) => JSON.parse(line).editedAt !== null)).toEqual([
      false, false, false, false, false, true, true, true, true, true,
    ]);
  });

  it('is_revoke = 1 is deleted: true', () => {
    const body = sample('dishawang');
    body.data.data[0].is_revoke = 1;
    const out = lines(dishawang, body, target).map((line) => JSON.parse(line));
    expect(out.map((m) => m.deleted)).toEqual([true, false, false, false, false, false, false, false, false, false]);
  });

  it('code != 1 shows msg', () => {
    expect(() => dishawang.parsePage({ code: 0, msg: '会话不存在', data: null }, target)).toThrow(/会话不存在/);
  });
});
