import { describe, expect, it } from 'vitest';

import { chooseChannels, fileNamesOf, globPattern, safeFileName } from '../../src/dump/select-channels.js';
import type { ListedChannel } from '../../src/providers/types.js';

const channel = (id: string, name: string | null, more: Partial<ListedChannel> = {}): ListedChannel => ({
  id,
  name,
  kind: 'channel',
  parent: null,
  archived: false,
  readable: true,
  raw: {},
  ...more,
});

const LISTED = [
  channel('C1', 'general'),
  channel('C2', 'General-Chat'),
  channel('C3', 'random'),
  channel('C4', 'mods', { readable: false }),
  channel('T1', 'help thread', { kind: 'thread', parent: 'C1' }),
  channel('D1', null, { kind: 'direct' }),
  channel('C1', 'general'),
];

const ids = (list: ListedChannel[]) => list.map((c) => c.id);

describe('chooseChannels', () => {
  it('keeps every readable channel once without filters, and sets the unreadable ones apart', () => {
    const { chosen, unreadable } = chooseChannels(LISTED, { include: [], exclude: [], kinds: [] });
    expect(ids(chosen)).toEqual(['C1', 'C2', 'C3', 'T1', 'D1']);
    expect(ids(unreadable)).toEqual(['C4']);
  });

  it('--include and --exclude match names (any case) or ids (exactly), repeatable; --kind picks kinds', () => {
    expect(ids(chooseChannels(LISTED, { include: ['gen*'], exclude: [], kinds: [] }).chosen)).toEqual(['C1', 'C2']);
    expect(ids(chooseChannels(LISTED, { include: ['gen*', 'C3'], exclude: ['*chat'], kinds: [] }).chosen)).toEqual(['C1', 'C3']);
    expect(ids(chooseChannels(LISTED, { include: ['c3'], exclude: [], kinds: [] }).chosen)).toEqual([]);
    expect(ids(chooseChannels(LISTED, { include: [], exclude: [], kinds: ['thread', 'DIRECT'] }).chosen)).toEqual(['T1', 'D1']);
    // an unreadable channel the filter leaves out is not named as skipped either
    expect(ids(chooseChannels(LISTED, { include: [], exclude: ['m?ds'], kinds: [] }).unreadable)).toEqual([]);
    expect(ids(chooseChannels(LISTED, { include: ['[gr]*'], exclude: ['r*'], kinds: [] }).chosen)).toEqual(['C1', 'C2']);
    // a negated class matches ids too: C1 is not g*
    expect(ids(chooseChannels(LISTED, { include: [], exclude: ['[!g]*'], kinds: [] }).chosen)).toEqual([]);
  });

  it('reads a glob as a whole-name pattern where regex characters are plain', () => {
    expect(globPattern('a.b', '--include').name.test('axb')).toBe(false);
    expect(globPattern('(x)+', '--include').name.test('(x)+')).toBe(true);
    expect(() => globPattern('[abc', '--exclude')).toThrow(/--exclude "\[abc": a \[ without its \]/);
  });
});

describe('{name}: safe file names, collisions resolved by id', () => {
  it('keeps what a person reads and removes what a file system refuses or a path would climb with', () => {
    expect(safeFileName('général 💬')).toBe('général 💬');
    expect(safeFileName('a/b\\c:d*e?f"g<h>i|j')).toBe('a_b_c_d_e_f_g_h_i_j');
    expect(safeFileName('../../etc/passwd')).toBe('.._.._etc_passwd'.replace(/^\.\./, '__'));
    expect(safeFileName('..')).toBe('__');
    expect(safeFileName('evil\u202Egnp.exe')).toBe('evil_gnp.exe');
    expect(safeFileName('line\nbreak\u0000')).toBe('line_break_');
    expect(safeFileName('name. ')).toBe('name');
    expect(safeFileName('CON')).toBe('_CON');
    expect(safeFileName('   ')).toBe('_');
    const long = safeFileName('频道'.repeat(100));
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(120);
    expect(long).toBe('频道'.repeat(20));
  });

  it('two channels whose names come out the same (case aside) both get their id; others keep their name', () => {
    const names = fileNamesOf([channel('1', 'General'), channel('2', 'general'), channel('3', 'gen/eral'), channel('4', 'gen:eral'), channel('5', 'random'), channel('6', null)]);
    expect([...names.values()]).toEqual(['General-1', 'general-2', 'gen_eral-3', 'gen_eral-4', 'random', '6']);
    expect(new Set([...names.values()].map((n) => n.toLowerCase())).size).toBe(6);
  });

  it('a name with an id appended that meets another channel\'s own name falls back to the id', () => {
    const names = fileNamesOf([channel('1', 'a'), channel('2', 'a'), channel('3', 'a-1')]);
    expect(new Set([...names.values()].map((n) => n.toLowerCase())).size).toBe(3);
    expect(names.get('3')).toBe('a-1');
    expect(names.get('1')).toBe('1');
  });
});
