/**
 * DESIGN.md section 4b "Details that are easy to get wrong" (issue 24), one
 * by one, against the compiled engine: each expectation states what the
 * definition's author wrote and what the API must receive or the export hold.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { AuthError, RemoteError, UsageError } from '../../src/errors.js';
import { parseDefinition } from '../../src/providers/load.js';
import { BUILTIN_DEFINITIONS, getProvider } from '../../src/providers/registry.js';
import { unfilledPlaceholders } from '../../src/providers/requester.js';
import type { Provider } from '../../src/providers/types.js';
import { minimalDefinition } from '../helpers/definitions.js';

const settings = { baseUrl: 'https://chat.example/root/', token: 'tok', apiKey: 'key', timezone: undefined, raw: false };
const channel = { id: 'dev "ops" \\ a/b ünï 日本', kind: 'channel' as const };

const minimal = minimalDefinition;

function provider(over: Record<string, unknown>): Provider {
  const parsed = parseDefinition({ ...minimal, ...over }, 'providers.x');
  if ('problems' in parsed) throw new Error(parsed.problems.join('\n'));
  return getProvider('x', { x: { ...minimal, ...over } });
}

function normalizeOne(p: Provider, record: Record<string, unknown>) {
  const page = p.parsePage({ items: [record] }, channel);
  return p.normalize(page.items[0], channel, settings, page).message;
}

function firstRequest(p: Provider) {
  if (p.paging !== 'sequential') throw new Error('offset is sequential');
  return p.buildRequest(settings, channel, { start: true }, 10);
}

describe('times are truncated to the millisecond, never rounded', () => {
  it('epoch-s with a fraction: Slack-style "1704067298.691501" is .691, the edit time too', () => {
    const p = provider({ fields: { id: 'id', time: { path: 'ts', format: 'epoch-s' }, updated: { path: 'edited', format: 'epoch-s' } } });
    const message = normalizeOne(p, { id: 'a', ts: '1704067298.691501', edited: '1704067299.999999' });
    expect(message.timestamp).toBe('2024-01-01T00:01:38.691Z');
    expect(message.editedAt).toBe('2024-01-01T00:01:39.999Z');
    // .9995 rounds to the next second, and a message near midnight to the next day
    expect(normalizeOne(p, { id: 'b', ts: '1704067199.9995' }).timestamp).toBe('2023-12-31T23:59:59.999Z');
    // as numbers too: 1704067298.691 * 1000 is 1704067298690.9998 in a double
    expect(normalizeOne(p, { id: 'c', ts: 1704067298.691 }).timestamp).toBe('2024-01-01T00:01:38.691Z');
    expect(normalizeOne(p, { id: 'd', ts: 1704067298.6919 }).timestamp).toBe('2024-01-01T00:01:38.691Z');
    expect(normalizeOne(p, { id: 'e', ts: '1704067298' }).timestamp).toBe('2024-01-01T00:01:38.000Z');
  });

  it('ISO and local times with more digits are read the same way', () => {
    const iso = provider({ fields: { id: 'id', time: { path: 'ts', format: 'iso' } } });
    expect(normalizeOne(iso, { id: 'a', ts: '2024-01-01T23:59:59.9999+00:00' }).timestamp).toBe('2024-01-01T23:59:59.999Z');
    const local = provider({ fields: { id: 'id', time: { path: 'ts', format: 'local' } }, timezone: '+00:00' });
    expect(normalizeOne(local, { id: 'a', ts: '2024-01-01 23:59:59.999999' }).timestamp).toBe('2024-01-01T23:59:59.999Z');
  });
});

describe("a field's default", () => {
  it('applies when the value is missing, null or "" (Mattermost sends "" for ordinary posts)', () => {
    const p = provider({ fields: { id: 'id', time: { path: 'ts', format: 'epoch-s' }, type: { path: 'type', default: 'text' } } });
    expect(normalizeOne(p, { id: 'a', ts: 1, type: '' }).type).toBe('text');
    expect(normalizeOne(p, { id: 'b', ts: 1, type: null }).type).toBe('text');
    expect(normalizeOne(p, { id: 'c', ts: 1 }).type).toBe('text');
    expect(normalizeOne(p, { id: 'd', ts: 1, type: 'system_join' }).type).toBe('system_join');
  });
});

describe('{channel} is filled wherever it appears, escaped for where it lands', () => {
  const p = provider({
    request: {
      path: '/rooms/{channel}/messages',
      query: {
        room: '{channel}',
        narrow: [{ operator: 'channel', operand: '{channel}' }],
        text: '[{"operator": "stream", "operand": "{channel}"}]',
        n: 3,
      },
      headers: { 'X-Room': '{channel}', 'X-Arg': '{"room": "{channel}"}' },
    },
  });
  const req = firstRequest(p);

  it('path: percent-encoded, one segment', () => {
    expect(req.url.pathname).toBe(`/root/rooms/${encodeURIComponent(channel.id)}/messages`);
  });

  it('text query values: the channel as it is', () => {
    expect(req.url.searchParams.get('room')).toBe(channel.id);
    expect(req.url.searchParams.get('n')).toBe('3');
  });

  it('strings inside JSON-valued query parameters, and JSON written as text: JSON-escaped', () => {
    expect(JSON.parse(req.url.searchParams.get('narrow')!)).toEqual([{ operator: 'channel', operand: channel.id }]);
    expect(JSON.parse(req.url.searchParams.get('text')!)).toEqual([{ operator: 'stream', operand: channel.id }]);
  });

  it('headers: what a header cannot carry is encoded (percent in text, \\u in JSON), never sent raw', () => {
    expect(req.headers['X-Room']).toMatch(/^[\x20-\x7e]*$/);
    expect(decodeURIComponent(req.headers['X-Room']!)).toBe(channel.id);
    expect(req.headers['X-Arg']).toMatch(/^[\x20-\x7e]*$/);
    expect(JSON.parse(req.headers['X-Arg']!)).toEqual({ room: channel.id });
  });

  it('a placeholder nothing fills is found (providers check warns about it); the known ones are not', () => {
    const template = {
      path: '/rooms/{room}/x/{channel}',
      query: { narrow: [{ operand: '{chanel}' }], page: '{page}', ok: '{"a": 1}' },
      headers: { 'X-Thread': '{record.ts}' },
    };
    expect(unfilledPlaceholders(template)).toEqual(['request.path: {room}', 'request.query.narrow[0].operand: {chanel}', 'request.headers.X-Thread: {record.ts}']);
    expect(unfilledPlaceholders(template, { record: true })).toEqual(['request.path: {room}', 'request.query.narrow[0].operand: {chanel}']);
  });
});

describe('a 429 or 5xx is transient before any code rule; code rules may name their statuses', () => {
  const envelope = {
    success: { path: 'result', equals: ['success'] },
    code: 'code',
    message: 'msg',
    codes: {
      BAD_REQUEST: { kind: 'usage' },
      BAD_NARROW: { kind: 'usage', status: [400] },
    },
  };
  const p = provider({ envelope });
  const where = { label: 'x channel c', url: 'https://chat.example/root/messages' };
  const refusal = (code: string) => ({ result: 'error', code, msg: `the ${code}` });

  it('a 500 or 429 whose body carries a mapped code is left to the client, which retries it', () => {
    for (const status of [500, 502, 503, 504, 429]) expect(p.describeStatus!(status, refusal('BAD_REQUEST'), where)).toBeUndefined();
    expect(p.describeStatus!(400, refusal('BAD_REQUEST'), where)).toBeInstanceOf(UsageError);
  });

  it('a rule naming statuses applies to those only (200 for a successful answer)', () => {
    expect(p.describeStatus!(400, refusal('BAD_NARROW'), where)).toBeInstanceOf(UsageError);
    expect(p.describeStatus!(404, refusal('BAD_NARROW'), where)).toBeUndefined();
    const error = (() => {
      try {
        p.parsePage(refusal('BAD_NARROW'), channel);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(RemoteError);
    const explicit = provider({ envelope: { ...envelope, codes: { OVERLOADED: { kind: 'remote', note: 'try later', status: [503] } } } });
    expect(explicit.describeStatus!(503, refusal('OVERLOADED'), where)?.message).toContain('(try later)');
  });

  it('a status rule for 503 the definition names is its own choice', () => {
    const q = provider({ httpErrors: { status: { '503': { kind: 'usage', text: 'maintenance' } } } });
    expect(q.describeStatus!(503, {}, where)).toBeInstanceOf(UsageError);
    expect(q.describeStatus!(502, { error: 'x' }, where)).toBeUndefined();
  });
});

describe('refusals say what happened', () => {
  const where = { label: 'x channel c', url: 'https://chat.example/root/messages' };

  it('a 403 without a text is a refusal of access, not of the credentials', () => {
    const p = provider({ httpErrors: { status: { '401': { kind: 'auth' }, '403': { kind: 'auth' } } } });
    const forbidden = p.describeStatus!(403, {}, where)!;
    expect(forbidden).toBeInstanceOf(AuthError);
    expect(forbidden.message).toContain('refused access (HTTP 403)');
    expect(forbidden.message).not.toContain('credentials');
    expect(p.describeStatus!(401, {}, where)!.message).toContain('refused the credentials (HTTP 401)');
  });

  it('envelope.message naming the same field as the code prints the code once', () => {
    const p = provider({ envelope: { success: { path: 'ok', equals: [true] }, code: 'error', message: 'error' } });
    expect(() => p.parsePage({ ok: false, error: 'channel_not_found' }, channel)).toThrow(/: code channel_not_found$/);
    const q = provider({ envelope: { success: { path: 'ok', equals: [true] }, message: 'ok' } });
    expect(() => q.parsePage({ ok: 'no' }, channel)).toThrow(/: code no$/);
  });

  it('a pattern is run by a linear-time engine; one it cannot run is refused when the definition is read', () => {
    const rules = (pattern: string) => ({ envelope: { success: { path: 'ok', equals: [true] }, message: 'error', messages: [{ pattern, kind: 'auth' }] } });
    // the hostile input itself (forty `a` and a `!`) is run by test/e2e/definition-details.test.ts, in a process
    // the harness can kill: in this one a backtracking engine would hold the test runner for minutes
    const p = provider(rules('^(a+)+$'));
    expect(() => p.parsePage({ ok: false, error: 'aaaa!' }, channel)).toThrow(RemoteError);
    expect(() => p.parsePage({ ok: false, error: 'AAAA' }, channel)).toThrow(AuthError);
    const refused = parseDefinition({ ...minimal, ...rules('(?<=x)y') }, 'providers.x');
    expect((refused as { problems: string[] }).problems).toEqual([expect.stringMatching(/^providers\.x\.envelope\.messages\.0\.pattern: not a regular expression RE2 accepts/)]);
  });
});

describe('end signals from a response header', () => {
  it('total, hasMore and lastPage may name a header, as the next cursor can', () => {
    const p = provider({ end: { total: { header: 'X-Total-Count' }, hasMore: { header: 'X-Has-More' }, lastPage: { body: 'meta.last' } } });
    const page = p.parsePage({ items: [], meta: { last: 4 } }, channel, { headers: { 'x-total-count': '42', 'x-has-more': 'false' } });
    expect(page.total).toBe(42);
    expect(page.hasNext).toBe(false);
    expect(page.lastPage).toBe(4);
    const none = p.parsePage({ items: [] }, channel, { headers: {} });
    expect(none.total).toBeUndefined();
    expect(none.hasNext).toBeUndefined();
  });
});

describe('an invalid paging.type', () => {
  it('lists the kinds there are and the one a typo meant, not zod\'s "Invalid discriminator value"', () => {
    const result = parseDefinition({ ...minimal, paging: { type: 'cursr', param: 'c', from: { body: 'next' } } }, 'providers.x');
    expect((result as { problems: string[] }).problems).toEqual([
      'providers.x.paging.type: expected one of pages, offset, cursor, link, time, not "cursr" (did you mean cursor?)',
    ]);
    const missing = parseDefinition({ ...minimal, paging: { param: 'c' } }, 'providers.x');
    expect((missing as { problems: string[] }).problems).toEqual(['providers.x.paging.type: expected one of pages, offset, cursor, link, time']);
  });
});

describe('what the README says of expressions', () => {
  it('lookups are usable in records (Mattermost lists posts by an order of ids); strings can be sliced', () => {
    const p = provider({
      lookups: { posts: { from: 'values(posts)', key: 'id' } },
      records: 'map(&lookup($posts, @), order)',
      fields: { id: 'id', time: { path: 'ts[0:10]', format: 'epoch-s' } },
    });
    const page = p.parsePage({ order: ['b', 'a'], posts: { a: { id: 'a', ts: '1704067200xyz' }, b: { id: 'b', ts: '1704067201xyz' } } }, channel);
    expect(page.items.map((item) => p.normalize(item, channel, settings, page).message.timestamp)).toEqual(['2024-01-01T00:00:01.000Z', '2024-01-01T00:00:00.000Z']);
  });
});

describe('the README explains every key providers show prints', () => {
  it('each key of the built-in definitions is named in the README', () => {
    const section = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    // keys a definition's author names (query parameters, codes, lookups, statuses, map entries) are not the format's
    const named = new Set(['query', 'headers', 'codes', 'lookups', 'map', 'status']);
    const keys = new Set<string>();
    const walk = (value: unknown, parent: string | undefined): void => {
      if (Array.isArray(value)) return value.forEach((item) => walk(item, parent));
      if (value === null || typeof value !== 'object') return;
      for (const [key, child] of Object.entries(value)) {
        if (parent === undefined || !named.has(parent)) keys.add(key);
        walk(child, parent !== undefined && named.has(parent) ? `${parent}.*` : key);
      }
    };
    for (const definition of Object.values(BUILTIN_DEFINITIONS)) walk(definition, undefined);
    expect(keys.size).toBeGreaterThan(40);
    const unexplained = [...keys].filter((key) => !section.includes(`\`${key}\``) && !section.includes(`"${key}"`));
    expect(unexplained).toEqual([]);
  });
});
