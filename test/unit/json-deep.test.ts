import { describe, expect, it } from 'vitest';

import { stringifyDeep, stringifyJson } from '../../src/text/json.js';

describe('JSON text without recursion', () => {
  it('writes what JSON.stringify writes for what JSON.parse makes (and undefined, non-finite numbers, empty containers)', () => {
    const values: unknown[] = [
      null,
      true,
      0,
      -1.5e-7,
      'a"b\\c\n\u2028\u0000中',
      [],
      {},
      [1, [2, [3, {}]], { a: [] }],
      { '': 1, 'k"ey': { x: null, y: [true, false] }, n: Infinity, u: undefined, z: 'z' },
      [undefined, NaN, () => 1],
      JSON.parse('{"id":"1","quote":{"id":"2","quote":{"id":"3","quote":null}},"list":[{"a":1},{"b":[1,2,3]}]}'),
    ];
    for (const value of values) expect(stringifyDeep(value)).toBe(JSON.stringify(value));
  });

  it('writes a value nested deeper than the stack allows, exactly as it was read', () => {
    const text = `{"id":"7","extra":${'{"a":['.repeat(20_000)}1${']}'.repeat(20_000)}}`;
    const value = JSON.parse(text) as unknown;
    expect(() => JSON.stringify(value)).toThrow(RangeError);
    expect(stringifyJson(value)).toBe(text);
  });
});
