/**
 * Damaged and unusual archives through the real CLI: corrupt pages, a dropped
 * or damaged full-text index, a copy without its -wal, a broken header, a reset
 * schema version, a read-only mount. Each ends with one line naming the damage
 * and the way out (exit 2 before a run, 6 during one) — never exit 1 — and
 * where only the index is hurt, rebuilding it gives back exactly the hits of
 * the intact archive. The damage is done with python3's sqlite3 and plain
 * byte writes, independent of src/.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SCHEMA_VERSION } from '../../src/archive/schema.js';
import { startFixtureServer, type FixtureServer } from '../../fixtures/server.js';
import { createSandbox, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';

const box: Sandbox = createSandbox();
let server: FixtureServer;
/** an intact archive of two channels, folded (no -wal beside it) */
let intact: string;
const CHANNELS = ['R1', 'R2'];

beforeAll(async () => {
  server = await startFixtureServer({
    channels: [
      { provider: 'relation', id: 'R1', count: 3000, seed: 21 },
      { provider: 'relation', id: 'R2', count: 1500, seed: 22 },
    ],
  });
  intact = join(box.dir, 'intact.sqlite');
  const made = await dump(intact);
  expect(made.code, explain(made)).toBe(0);
  expect(existsSync(`${intact}-wal`)).toBe(false);
});

afterAll(async () => {
  await server?.close();
  box.cleanup();
});

function explain(result: Pick<RunResult, 'code' | 'stderr'>): string {
  return `exit ${result.code}\n--- stderr\n${result.stderr}`;
}

function dump(archive: string, extra: string[] = []): Promise<RunResult> {
  const args = ['dump', '--provider', 'relation', '--base-url', server.url, '--no-progress', '--rate', '1000', '--page-size', '1000'];
  for (const channel of CHANNELS) args.push('--channel', channel);
  return runCli([...args, '-o', archive, ...extra], { env: box.env() });
}

function cli(args: string[]): Promise<RunResult> {
  return runCli(args, { env: box.env() });
}

let copies = 0;
function copy(): string {
  const path = join(box.dir, `copy-${++copies}.sqlite`);
  copyFileSync(intact, path);
  return path;
}

/** SQL run by python3's sqlite3 (an independent writer), statements separated by ';'. */
function python(path: string, sql: string): void {
  const script = 'import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.executescript(sys.argv[2])\nc.commit()\nc.close()\n';
  const result = spawnSync('python3', ['-c', script, path, sql], { encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
}

/** The one line a failure prints: exactly one, naming what was asked, never an internal error. */
function oneLine(result: RunResult, ...patterns: RegExp[]): string {
  const lines = result.stderr.split('\n').filter(Boolean);
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).not.toMatch(/internal error|this is a bug/);
  for (const pattern of patterns) expect(lines[0]).toMatch(pattern);
  return lines[0]!;
}

const QUERIES = ['hello', '开会', 'report Friday', 'ok'];

async function hits(archive: string): Promise<string[]> {
  const out: string[] = [];
  for (const query of QUERIES) {
    const result = await cli(['search', archive, query, '--json', '--limit', '100000']);
    expect(result.code, explain(result)).toBe(0);
    out.push(`${query}: ${result.stdout.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id).join(',')}`);
  }
  return out;
}

describe('pages of the file overwritten (dd over pages 40-59)', () => {
  it('search, convert and dump each end with one line naming the damage and the way out; convert leaves no output', async () => {
    const path = copy();
    const fd = openSync(path, 'r+');
    const garbage = Buffer.alloc(20 * 4096, 0xa5);
    writeSync(fd, garbage, 0, garbage.length, 39 * 4096);
    closeSync(fd);
    const search = await cli(['search', path, 'hello']);
    expect(search.code, explain(search)).toBe(2);
    oneLine(search, /damaged/, /\.recover|--rebuild-index/);
    const out = join(box.dir, 'from-corrupt.jsonl');
    const convert = await cli(['convert', path, '-o', out]);
    expect(convert.code, explain(convert)).toBe(2);
    oneLine(convert, /damaged/, /\.recover|--rebuild-index/);
    expect(existsSync(out)).toBe(false);
    // the rebuild the line may offer cannot help here: it says so, with the recovery instead
    const rebuild = await cli(['search', path, '--rebuild-index']);
    expect(rebuild.code, explain(rebuild)).toBe(2);
    oneLine(rebuild, /damaged/, /\.recover/);
    const run = await dump(path, ['--full']);
    expect([2, 6], explain(run)).toContain(run.code);
    expect(run.stderr).toMatch(/damaged/);
    expect(run.stderr).not.toMatch(/internal error/);
  });
});

describe('the full-text index dropped to reclaim space', () => {
  it('convert does not need it; search says how to rebuild it; --rebuild-index, or the next dump, makes it again with the same hits', async () => {
    const expected = await hits(intact);
    const rendered = await cli(['convert', intact, '-o', '-']);
    for (const how of ['search', 'dump'] as const) {
      const path = copy();
      python(path, 'DROP TABLE messages_fts');
      const convert = await cli(['convert', path, '-o', '-']);
      expect(convert.code, explain(convert)).toBe(0);
      expect(convert.stdout).toBe(rendered.stdout);
      const search = await cli(['search', path, 'hello']);
      expect(search.code, explain(search)).toBe(2);
      expect(oneLine(search, /no full-text index/)).toContain(`search ${path} --rebuild-index`);
      // short words need no index: still answered
      expect((await cli(['search', path, 'ok'])).code).toBe(0);
      if (how === 'search') {
        const rebuilt = await cli(['search', path, '--rebuild-index']);
        expect(rebuilt.code, explain(rebuilt)).toBe(0);
        expect(rebuilt.stderr).toMatch(/full-text index rebuilt/);
      } else {
        const run = await dump(path);
        expect(run.code, explain(run)).toBe(0);
        expect(run.stderr).toMatch(/full-text index was missing; made it again/);
      }
      expect(await hits(path)).toEqual(expected);
    }
  });
});

describe('a damaged full-text index', () => {
  it('search names the index and the rebuild; --rebuild-index with the query answers exactly as the intact archive', async () => {
    const expected = await hits(intact);
    const path = copy();
    python(path, 'DELETE FROM messages_fts_data WHERE id > 10 AND rowid % 3 = 0');
    const search = await cli(['search', path, 'hello']);
    expect(search.code, explain(search)).toBe(2);
    oneLine(search, /full-text index is damaged/, /--rebuild-index/);
    const rebuilt = await cli(['search', path, '--rebuild-index', 'hello', '--json', '--limit', '100000']);
    expect(rebuilt.code, explain(rebuilt)).toBe(0);
    expect(await hits(path)).toEqual(expected);
  });
});

describe('unusual files given as an archive', () => {
  it('an archive copied without its -wal is said to be one, not "schema 0"', async () => {
    // a writer holds the file open with every commit still in the -wal; the copy takes the main file only
    const live = join(box.dir, 'live.sqlite');
    const copied = join(box.dir, 'copied.sqlite');
    const script =
      'import sqlite3, shutil, sys\n' +
      'c = sqlite3.connect(sys.argv[1])\n' +
      'c.execute("PRAGMA journal_mode = WAL"); c.execute("PRAGMA wal_autocheckpoint = 0")\n' +
      'c.execute("CREATE TABLE messages (id TEXT)"); c.commit()\n' +
      'shutil.copyfile(sys.argv[1], sys.argv[2])\n';
    const made = spawnSync('python3', ['-c', script, live, copied], { encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    for (const args of [['search', copied, 'hello'], ['convert', copied, '-o', '-']]) {
      const result = await cli(args);
      expect(result.code, explain(result)).toBe(2);
      const line = oneLine(result, /-wal/);
      expect(line).not.toMatch(/schema 0|upgrade/);
    }
  });

  it('an archive whose header is damaged is said to be damaged, not read as JSONL', async () => {
    const path = copy();
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from('XXXXXXXXXXXXXXXX'), 0, 16, 0);
    closeSync(fd);
    for (const args of [['convert', path, '-o', join(box.dir, 'x.jsonl')], ['search', path, 'hello'], ['dump', '--provider', 'relation', '--base-url', server.url, '--channel', 'R1', '-o', path]]) {
      const result = await cli(args);
      expect(result.code, explain(result)).toBe(2);
      const line = oneLine(result, /not an SQLite database/);
      expect(line).not.toMatch(/line 1|not JSON/);
    }
  });

  it('search given a JSONL export says so and names the convert command that makes an archive of it, which works', async () => {
    const jsonl = join(box.dir, 'work.jsonl');
    const exported = await cli(['dump', '--provider', 'relation', '--base-url', server.url, '--channel', 'R1', '-o', jsonl]);
    expect(exported.code, explain(exported)).toBe(0);
    const result = await cli(['search', jsonl, 'hello']);
    expect(result.code, explain(result)).toBe(2);
    const line = oneLine(result, /work\.jsonl is a JSONL export, not an archive/);
    expect(line).not.toMatch(/restore|backup/);
    const command = /chat-export (convert \S+ -o \S+)/.exec(line)![1]!.split(' ');
    const made = await cli(command);
    expect(made.code, explain(made)).toBe(0);
    expect(command.at(-1)).toBe(join(box.dir, 'work.sqlite'));
  });

  it('a schema version reset to 0 is named with the command that sets it back, which works', async () => {
    const path = copy();
    python(path, 'PRAGMA user_version = 0');
    // the archive was made by this build: the version to set back is this build's, known from its tables
    const set = `PRAGMA user_version = ${SCHEMA_VERSION}`;
    for (const args of [['search', path, 'hello'], ['convert', path, '-o', '-']]) {
      const result = await cli(args);
      expect(result.code, explain(result)).toBe(2);
      oneLine(result, /user_version/, new RegExp(set));
    }
    const run = await dump(path);
    expect(run.code, explain(run)).toBe(2);
    expect(oneLine(run, new RegExp(set))).not.toMatch(/already exists|writable disk/);
    python(path, set);
    expect(await hits(path)).toEqual(await hits(intact));
  });
});

/** A read-only view of `dir` at `at` (a bind mount), or undefined where this machine cannot make one. */
function readOnlyMount(dir: string, at: string): (() => void) | undefined {
  mkdirSync(at, { recursive: true });
  if (spawnSync('mount', ['--bind', dir, at]).status !== 0) return undefined;
  const unmount = () => void spawnSync('umount', [at]);
  if (spawnSync('mount', ['-o', 'remount,ro,bind', at]).status !== 0) {
    unmount();
    return undefined;
  }
  return unmount;
}

describe('an archive on a read-only mount (a snapshot, a backup disk)', () => {
  const source = join(box.dir, 'ro-source');
  const view = join(box.dir, 'ro-view');
  let unmount: (() => void) | undefined;
  let path = '';
  beforeAll(() => {
    mkdirSync(source, { recursive: true });
    copyFileSync(intact, join(source, 'a.sqlite'));
    unmount = readOnlyMount(source, view);
    if (unmount) path = join(view, 'a.sqlite');
    else if (process.getuid?.() !== 0) {
      // without mount rights, plain permissions make it read-only (for anyone but root, who ignores them)
      spawnSync('chmod', ['0444', join(source, 'a.sqlite')]);
      spawnSync('chmod', ['0555', source]);
      path = join(source, 'a.sqlite');
    }
  });
  afterAll(() => {
    unmount?.();
    spawnSync('chmod', ['-R', 'u+w', source]);
  });

  it('search and convert read it without writing anything: the hits and output of a writable copy, the directory unchanged', async (test) => {
    // root without mount rights has no read-only place to try
    if (path === '') test.skip();
    const before = statSync(path);
    const listing = readdirSync(join(path, '..')).sort();
    expect(await hits(path)).toEqual(await hits(intact));
    const convert = await cli(['convert', path, '-o', join(box.dir, 'ro.md')]);
    expect(convert.code, explain(convert)).toBe(0);
    const rendered = await cli(['convert', intact, '-o', join(box.dir, 'rw.md')]);
    expect(rendered.code).toBe(0);
    expect(readFileSync(join(box.dir, 'ro.md'), 'utf8')).toBe(readFileSync(join(box.dir, 'rw.md'), 'utf8'));
    const after = statSync(path);
    expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs]);
    expect(readdirSync(join(path, '..')).sort()).toEqual(listing);
  });
});
