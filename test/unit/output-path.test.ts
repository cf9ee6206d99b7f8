/**
 * Where output goes (DESIGN.md sections 2 and 5): `-o` as stdout, a file or a
 * directory, and per-channel file names that channel ids cannot use to escape
 * the directory or to land on each other.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { channelFileName, channelFilePath, planOutput } from '../../src/sinks/output-path.js';

const scratch = mkdtempSync(join(tmpdir(), 'chat-export-output-path-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const HOSTILE_IDS = [
  '../x',
  '../../etc/passwd',
  '/x',
  '/',
  'a/b',
  'a\\b',
  'a%2Fb',
  'a%2fb',
  '..',
  '.',
  '...',
  '%2E%2E',
  '.hidden',
  '~',
  '~root',
  'a\u0000b',
  'line\nbreak',
  ' ',
  'x'.repeat(300),
  `${'x'.repeat(299)}y`,
  '频'.repeat(300),
  '频道 1',
  'C1',
  'c1',
  '4f326124812c41448bc587bf6b2eaf42',
  '12',
];

function expectSafeName(name: string): void {
  expect(name).not.toContain('/');
  expect(name).not.toContain('\\');
  expect(name).not.toContain('\u0000');
  expect(name).not.toMatch(/[\u0000-\u001f\u007f]/);
  expect(name.startsWith('.')).toBe(false);
  expect(name === '.' || name === '..').toBe(false);
  // NAME_MAX is 255 bytes on Linux, macOS and Windows file systems alike
  expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
}

describe('planOutput', () => {
  it('- and an empty value are stdout', () => {
    expect(planOutput('-')).toEqual({ kind: 'stdout' });
    expect(planOutput('')).toEqual({ kind: 'stdout' });
  });

  it('a path ending in / is a directory, there or not', () => {
    expect(planOutput(join(scratch, 'not', 'there') + '/')).toEqual({ kind: 'directory', dir: join(scratch, 'not', 'there') });
  });

  it('an existing directory is a directory without the /', () => {
    const dir = join(scratch, 'exists');
    mkdirSync(dir);
    expect(planOutput(dir)).toEqual({ kind: 'directory', dir });
  });

  it('anything else is a file, made absolute', () => {
    expect(planOutput(join(scratch, 'backup.csv'))).toEqual({ kind: 'file', path: join(scratch, 'backup.csv') });
    expect(planOutput('relative.jsonl')).toEqual({ kind: 'file', path: resolve('relative.jsonl') });
    expect(planOutput('/dev/null')).toEqual({ kind: 'file', path: '/dev/null' });
  });
});

describe('templates', () => {
  it('an unknown placeholder is a usage error naming it, with the placeholder it most likely meant', () => {
    let caught: unknown;
    try {
      planOutput('tpl/{chanel}.jsonl');
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ exitCode: 2 });
    expect(String((caught as Error).message)).toMatch(/unknown placeholder \{chanel\} \(did you mean \{channel\}\?\)/);
    expect(() => planOutput('tpl/{nothing_like_it}/{channel}.{ext}')).toThrow(/unknown placeholder \{nothing_like_it\}/);
  });

  it('known placeholders make a template; braces that are no placeholder stay part of a file name', () => {
    expect(planOutput('b/{host}/{channel}.{ext}').kind).toBe('template');
    expect(planOutput(join(scratch, 'a{1}.jsonl'))).toEqual({ kind: 'file', path: join(scratch, 'a{1}.jsonl') });
  });
});

describe('channelFileName', () => {
  it('is {provider}-{channel}.{ext} for ordinary ids', () => {
    expect(channelFileName('relation', '4f326124812c41448bc587bf6b2eaf42', 'jsonl')).toBe('relation-4f326124812c41448bc587bf6b2eaf42.jsonl');
    expect(channelFileName('discuz', '12', 'csv')).toBe('discuz-12.csv');
    expect(channelFileName('dishawang', '26', 'md')).toBe('dishawang-26.md');
  });

  it('hostile ids give safe names with the right prefix and extension', () => {
    for (const id of HOSTILE_IDS) {
      const name = channelFileName('relation', id, 'jsonl');
      expectSafeName(name);
      expect(name.startsWith('relation-'), id).toBe(true);
      expect(name.endsWith('.jsonl'), id).toBe(true);
    }
  });

  it('distinct ids give distinct names (case, encodings, long ids with a common prefix)', () => {
    const long = Array.from({ length: 50 }, (_, k) => `${'z'.repeat(250)}${k}`);
    const ids = [...HOSTILE_IDS, ...long];
    const names = ids.map((id) => channelFileName('relation', id, 'csv'));
    expect(new Set(names).size).toBe(ids.length);
  });

  it('random ids over the dangerous alphabet: always safe, never two ids on one name', () => {
    const alphabet = ['/', '\\', '.', '%', '2', 'E', 'F', 'a', '~', '\u0000', '\n', ' ', '频', '😀', '-', '_'];
    let seed = 12345;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const byName = new Map<string, string>();
    for (let k = 0; k < 5000; k++) {
      const length = 1 + Math.floor(random() * (random() < 0.1 ? 400 : 12));
      let id = '';
      for (let j = 0; j < length; j++) id += alphabet[Math.floor(random() * alphabet.length)];
      const name = channelFileName('discuz', id, 'md');
      expectSafeName(name);
      const other = byName.get(name);
      if (other !== undefined) expect(other, `${JSON.stringify(id)} and ${JSON.stringify(other)} share ${name}`).toBe(id);
      byName.set(name, id);
    }
  });
});

describe('channelFilePath', () => {
  it('every hostile id lands directly inside the directory', () => {
    for (const dir of [join(scratch, 'out'), join(scratch, 'out') + '/', 'relative/out', 'relative/../out2']) {
      const paths = HOSTILE_IDS.map((id) => channelFilePath(dir, 'relation', id, 'jsonl'));
      for (const [k, path] of paths.entries()) {
        expect(dirname(path), HOSTILE_IDS[k]).toBe(resolve(dir));
        expect(path.startsWith(resolve(dir) + sep)).toBe(true);
      }
      expect(new Set(paths).size).toBe(HOSTILE_IDS.length);
    }
  });
});
