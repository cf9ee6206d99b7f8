/**
 * The definition format: the schema names every problem with its path, the
 * built-ins are valid definitions, and expressions behave as JMESPath.
 */
import { describe, expect, it } from 'vitest';

import { BUILTIN_DEFINITIONS, getProvider } from '../../src/providers/registry.js';
import { parseDefinition } from '../../src/providers/load.js';
import { nextFromLinkHeader } from '../../src/providers/engine.js';
import { compileExpression, createScope } from '../../src/providers/expression.js';

const minimal = {
  request: { path: '/messages', query: { room: '{channel}' } },
  paging: { type: 'offset', param: 'offset', size: { param: 'limit', default: 50, max: 200 } },
  order: 'oldest-first',
  records: 'items',
  fields: { id: 'id', time: { path: 'ts', format: 'epoch-s' } },
};

describe('provider definitions', () => {
  it('the three built-ins are valid definitions', () => {
    for (const [name, definition] of Object.entries(BUILTIN_DEFINITIONS)) {
      expect(parseDefinition(definition, name)).toHaveProperty('definition');
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
    expect(() => getProvider('slack', { mine: minimal })).toThrow(/unknown provider "slack"/);
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
