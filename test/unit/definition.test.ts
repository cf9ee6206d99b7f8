/**
 * The definition format: the schema names every problem with its path, the
 * built-ins are valid definitions, and expressions behave as JMESPath.
 */
import { describe, expect, it } from 'vitest';

import { BUILTIN_DEFINITIONS, getProvider } from '../../src/providers/registry.js';
import { parseDefinition } from '../../src/providers/load.js';
import { nextFromLinkHeader } from '../../src/providers/engine.js';
import { compileExpression, createScope, interpret } from '../../src/providers/expression.js';
import { minimalDefinition } from '../helpers/definitions.js';

const minimal = minimalDefinition;

describe('provider definitions', () => {
  it('the three built-ins are valid definitions, written out in full (the schema adds nothing to them)', () => {
    for (const [name, definition] of Object.entries(BUILTIN_DEFINITIONS)) {
      expect(parseDefinition(definition, name)).toEqual({ definition });
    }
  });

  it('an invalid definition gives one line per problem, each with its full path', () => {
    const broken = {
      ...minimal,
      paging: { type: 'pagez', size: { default: 50, max: 200 } },
      order: 'sideways',
      records: 'items[',
      fields: { id: 'id', time: { path: 'ts', format: 'epoch-minutes' }, colour: 'x', text: 'lookup($users, id)' },
      auth: [{ type: 'header', from: 'token' }],
    };
    const result = parseDefinition(broken, 'providers.slack');
    expect('problems' in result).toBe(true);
    const problems = (result as { problems: string[] }).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^providers\.slack\.paging\.type: /),
        expect.stringMatching(/^providers\.slack\.order: expected one of newest-first, oldest-first$/),
        expect.stringMatching(/^providers\.slack\.records: not a JMESPath expression/),
        expect.stringMatching(/^providers\.slack\.fields\.time\.format: expected one of /),
        'providers.slack.fields.colour: unrecognized key',
        expect.stringMatching(/^providers\.slack\.auth\.0\.name: required$/),
      ]),
    );
    for (const line of problems) expect(line).not.toContain('\n');
  });

  it('an expression naming a lookup the definition lacks is refused before any request', () => {
    const result = parseDefinition({ ...minimal, fields: { ...minimal.fields, text: 'lookup($users, id).name' } }, 'providers.x');
    expect((result as { problems: string[] }).problems).toEqual(['providers.x.fields.text: unknown variable $users (known: $page)']);
  });

  it('unknown providers name the built-ins and the config definitions', () => {
    expect(() => getProvider('nosuchchat', { mine: minimal })).toThrow(/unknown provider "nosuchchat"/);
    expect(getProvider('mine', { mine: minimal }).paging).toBe('sequential');
  });
});

describe('expressions (JMESPath)', () => {
  it('plain paths and interpreted expressions agree on JMESPath semantics', () => {
    const record = { a: { b: 1 }, list: [1, 2], s: '' };
    expect(compileExpression('a.b')(record)).toBe(1);
    expect(compileExpression('a.b.c')(record)).toBeNull();
    expect(compileExpression('list.b')(record)).toBeNull();
    expect(compileExpression('missing')(record)).toBeNull();
    expect(compileExpression('s || `null`')(record)).toBeNull();
    expect(compileExpression("a.b == `1` ? 'one' : 'other'")(record)).toBe('one');
  });

  it('lookup() joins through a per-page index, also inside map(&…)', () => {
    const scope = createScope({ page: {}, users: { '7': { name: 'Ann' } } });
    expect(compileExpression('lookup($users, uid).name', ['page', 'users'])({ uid: 7 }, scope)).toBe('Ann');
    expect(compileExpression('map(&lookup($users, @).name, ids)', ['page', 'users'])({ ids: ['7', '8'] }, scope)).toEqual(['Ann', null]);
    expect(compileExpression('lookup($users, uid)', ['page', 'users'])({ uid: { x: 1 } }, scope)).toBeNull();
  });

  it('reads rel="next" from a Link header', () => {
    expect(nextFromLinkHeader('<https://a.example/m?page=2>; rel="next", <https://a.example/m?page=9>; rel="last"')).toBe('https://a.example/m?page=2');
    expect(nextFromLinkHeader('<https://a.example/m?page=1>; rel="prev"')).toBeNull();
    expect(nextFromLinkHeader('</m?after=x,y>; rel=next')).toBe('/m?after=x,y');
  });
});

describe('compiled expressions give what the JMESPath interpreter gives', () => {
  const records: unknown[] = [
    { a: { b: { c: 1 } }, list: [{ id: 1 }, { id: 2 }], s: '', n: 0, t: true, f: false, o: {}, e: [], x: null, id: '7', u: 7 },
    { a: [1, 2], list: null, s: 'text', n: -1.5, o: { k: 'v' }, e: [0], id: 9 },
    [1, { a: 2 }],
    'just text',
    null,
  ];
  const expressions = [
    'a', 'a.b', 'a.b.c', 'a.b.c.d', 'list[0].id', 'list[-1].id', 'list[5]', 'a[0]', '@', '$', '$.a.b', '$page',
    's || `null`', 'n || `null`', 'o || e || x || f || s || `"fallback"`', 't && s', 's && t', '!s', '!n', '!o', '!e', '!!a',
    "id == '7'", 'id == `7`', 'u == `7`', 'n > `-2`', 'n < `0`', "s > 'a'", 'o == `{}`', 'e == `[]`', 'list == list', 'id != `9`',
    "t ? 'yes' : 'no'", "x ? 'yes' : 'no'", 'not_null(x, s, n)', 'not_null(x)', 'lookup($users, id).name', 'lookup($users, u)', 'lookup($users, a)',
    'lookup(`null`, id)', 'to_array(a)[0]', 'list[].id', "list[?id == `2`] | [0].id", '{k: id, m: s}', 'length(list)', 'lower(s)',
    'a.b || list[0].id', '(a || list)[0]', 'map(&lookup($users, @).name, [`7`, `9`])',
    // the kinds discuz's attachments use, compiled since performance round 2
    'list[].id', 'list[*].id', 'a[]', 'a[][]', 'list[?id > `1`].id', 'list[?x].id', 'o.*', 'o.*.k', "[id, s, `null`]", '{k: id, l: list[].id}.l',
    'to_array(id)', 'to_array(list)', 'to_array(x)', 'to_array(list)[].id', 'map(&id, list)', 'map(&id, s)', 'map(&lookup($users, @), [id, u])',
    'list | [0]', 'list[].id | [1]', 'a[0:1]', 's[0:2]', "map(&@, to_array(list)[].id || to_array(id))[?@].{v: @}",
  ];
  const scope = createScope({ page: { p: 1 }, users: { '7': { name: 'Ann' }, '9': { name: 'Bob' } } });
  it.each(expressions)('%s', (text) => {
    const fast = compileExpression(text);
    const slow = interpret(text);
    for (const record of records) {
      let expected: unknown;
      let failed: unknown;
      try {
        expected = slow(record, scope);
      } catch (error) {
        failed = error;
      }
      if (failed) expect(() => fast(record, scope)).toThrow();
      else expect(fast(record, scope)).toEqual(expected);
    }
  });
});

describe('requests built from a definition', () => {
  const settings = { baseUrl: 'https://chat.example/root/', token: 'tok', apiKey: 'key', timezone: undefined, raw: false };
  const target = { id: 'a b/../c?d', kind: 'channel' as const };
  const provider = (over: Record<string, unknown>) => getProvider('x', { x: { ...minimal, ...over } });

  it('percent-encodes the channel id into the path; JSON query values are sent as JSON; auth of every kind', () => {
    const p = provider({
      request: { path: '/rooms/{channel}/messages', query: { filter: { room: 1 }, flag: true, channel: '{channel}' }, headers: { Accept: 'application/vnd.x+json' } },
      auth: [
        { type: 'basic', username: 'apiKey', password: 'token' },
        { type: 'header', name: 'X-Key', from: 'apiKey', prefix: 'Key ' },
        { type: 'query', name: 'access_token', from: 'token' },
      ],
    });
    if (p.paging !== 'sequential') throw new Error('offset is sequential');
    const req = p.buildRequest(settings, target, { offset: 40 }, 20);
    expect(req.url.pathname).toBe('/root/rooms/a%20b%2F..%2Fc%3Fd/messages');
    expect(req.url.searchParams.get('filter')).toBe('{"room":1}');
    expect(req.url.searchParams.get('flag')).toBe('true');
    expect(req.url.searchParams.get('channel')).toBe('a b/../c?d');
    expect(req.url.searchParams.get('offset')).toBe('40');
    expect(req.url.searchParams.get('limit')).toBe('20');
    expect(req.url.searchParams.get('access_token')).toBe('tok');
    expect(req.headers.Authorization).toBe(`Basic ${Buffer.from('key:tok').toString('base64')}`);
    expect(req.headers['X-Key']).toBe('Key key');
    expect(req.headers.Accept).toBe('application/vnd.x+json');
  });

  it('the ids . and .. are refused in a request path (a URL would resolve them to another endpoint)', () => {
    const p = provider({ request: { path: '/rooms/{channel}/messages' } });
    if (p.paging !== 'sequential') throw new Error('offset is sequential');
    for (const id of ['.', '..']) expect(() => p.buildRequest(settings, { id, kind: 'channel' }, { start: true }, 10)).toThrow(/cannot be placed in the request path/);
    expect(p.buildRequest(settings, { id: '...', kind: 'channel' }, { start: true }, 10).url.pathname).toBe('/root/rooms/.../messages');
  });

  it('0-based page numbers; an exclusive time cursor is sent one millisecond later', () => {
    const pages = provider({ paging: { type: 'pages', param: 'page', first: 0, size: { param: 'per', default: 10, max: 50 } } });
    if (pages.paging !== 'pages') throw new Error('pages');
    expect(pages.buildRequest(settings, target, { number: 1, size: 10 }).url.searchParams.get('page')).toBe('0');
    const time = provider({ paging: { type: 'time', param: 'before', inclusive: false, size: { param: 'limit', default: 10, max: 50 } } });
    if (time.paging !== 'cursor') throw new Error('time');
    expect(time.buildRequest(settings, target, { maxCreateAt: 1000, limit: 10 }).url.searchParams.get('before')).toBe('1001');
  });

  it('ids beyond 2^53 sent as numbers ask for the exact re-parse instead of rounding', () => {
    const p = provider({});
    const page = p.parsePage({ items: [{ id: 9007199254740993, ts: 1 }] }, target);
    expect(() => p.normalize(page.items[0], target, settings, page)).toThrow(/2\^53/);
  });

  it('a record without an id or with an unreadable time is a malformed answer naming the field', () => {
    const p = provider({});
    const page = p.parsePage({ items: [{ ts: 1 }, { id: 'a', ts: 'yesterday' }] }, target);
    expect(() => p.normalize(page.items[0], target, settings, page)).toThrow(/^id: required/);
    expect(() => p.normalize(page.items[1], target, settings, page)).toThrow(/^ts: expected epoch seconds, got "yesterday"/);
  });
});
