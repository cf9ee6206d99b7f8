/**
 * --incremental state files and export checkpoints on disk (src/state.ts,
 * src/checkpoint.ts, src/commands/state.ts): atomic writes, round trips,
 * and a clear usage error (exit 2) for a state file that cannot be used.
 */
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { checkpointDir, clearCheckpoint, readCheckpoint, saveCheckpoint, type Checkpoint } from '../../src/checkpoint.js';
import { stateList, stateReset } from '../../src/commands/state.js';
import { redactUrl } from '../../src/text/sanitize.js';
import { UsageError } from '../../src/errors.js';
import { listStates, readState, removeState, stateFileName, writeJsonAtomic, writeState, type ChannelState } from '../../src/state.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(join(os.tmpdir(), 'chat-export-state-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function sample(overrides: Partial<ChannelState> = {}): ChannelState {
  return {
    version: 1,
    profile: 'work',
    provider: 'relation',
    channel: 'C1',
    kind: 'channel',
    newest: { time: 1_706_000_000_123, ids: ['1578671129498664948', '1578671129498664949'] },
    output: '/srv/chat/relation-C1.jsonl',
    format: 'jsonl',
    order: 'asc',
    size: 123_456,
    lastDay: null,
    messages: 321,
    updatedAt: '2024-01-23T10:00:00.000Z',
    pending: null,
    fingerprint: null,
    future: [],
    ...overrides,
  };
}

async function usageError(promise: Promise<unknown>): Promise<UsageError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UsageError);
  return error as UsageError;
}

describe('stateFileName', () => {
  it('keeps the same channel id on two API roots apart', () => {
    expect(stateFileName('work', 'channel', 'C1', 'http://127.0.0.1:1')).not.toBe(stateFileName('work', 'channel', 'C1', 'http://127.0.0.1:2'));
    expect(stateFileName('work', 'channel', 'C1', 'http://127.0.0.1:1')).toBe(stateFileName('work', 'channel', 'C1', 'http://127.0.0.1:1'));
  });

  it('is stable, readable, and distinct for each profile, kind and channel', () => {
    const name = stateFileName('work', 'channel', 'C1');
    expect(name).toBe(stateFileName('work', 'channel', 'C1'));
    expect(name).toMatch(/^work-channel-C1-[0-9a-f]{12}\.json$/);
    const names = [
      name,
      stateFileName('work', 'peer', 'C1'),
      stateFileName('home', 'channel', 'C1'),
      stateFileName('work', 'channel', 'C2'),
      // the same readable part, different keys: the hash keeps them apart
      stateFileName('a-channel', 'channel', 'b'),
      stateFileName('a', 'channel', 'channel-b'),
      stateFileName('work', 'channel', 'a/b'),
      stateFileName('work', 'channel', 'a_b'),
    ];
    expect(new Set(names).size).toBe(names.length);
  });

  it('cannot leave the state directory, whatever the channel id', () => {
    for (const channel of ['../../etc/passwd', '/abs', '..', 'a\\b', '频道 1', 'x'.repeat(500), '\u0000nul']) {
      const name = stateFileName('work', 'channel', channel);
      expect(name).toMatch(/^[A-Za-z0-9_.-]+\.json$/);
      expect(name).not.toContain('/');
      expect(name.length).toBeLessThanOrEqual(80 + 1 + 12 + 5);
      expect(join(dir, name).startsWith(`${dir}/`)).toBe(true);
      expect(name.startsWith('.')).toBe(false);
    }
  });
});

describe('writeState / readState', () => {
  it('round-trips every field, including pending and a Markdown last day', async () => {
    const name = stateFileName('work', 'channel', 'C1');
    const state = sample({ format: 'md', lastDay: '2024-01-23', pending: { size: 99 } });
    await writeState(dir, name, state);
    expect(await readState(dir, name)).toEqual(state);
    const cleared = { ...state, pending: null, size: 200, newest: null };
    await writeState(dir, name, cleared);
    expect(await readState(dir, name)).toEqual(cleared);
  });

  it('writes atomically: only the target remains (no temp file), mode 0600, in a directory it creates', async () => {
    const stateDir = join(dir, 'nested', 'state');
    const name = stateFileName('work', 'channel', 'C1');
    await writeState(stateDir, name, sample());
    await writeState(stateDir, name, sample({ size: 1 }));
    expect(fs.readdirSync(stateDir)).toEqual([name]);
    expect(fs.statSync(join(stateDir, name)).mode & 0o077).toBe(0);
    expect(JSON.parse(fs.readFileSync(join(stateDir, name), 'utf8'))).toEqual(sample({ size: 1 }));
  });

  it('concurrent writes leave one whole state and no temp files', async () => {
    const name = stateFileName('work', 'channel', 'C1');
    await Promise.all(Array.from({ length: 25 }, (_, i) => writeState(dir, name, sample({ size: i }))));
    expect(fs.readdirSync(dir)).toEqual([name]);
    const state = await readState(dir, name);
    expect(state?.size).toBeGreaterThanOrEqual(0);
    expect(state?.size).toBeLessThan(25);
  });

  it('a write that fails leaves no temp file and the old state intact', async () => {
    const name = 'blocked.json';
    fs.mkdirSync(join(dir, name)); // rename over a directory fails
    fs.writeFileSync(join(dir, name, 'keep'), 'x');
    await expect(writeJsonAtomic(dir, name, { a: 1 })).rejects.toThrow();
    expect(fs.readdirSync(dir)).toEqual([name]);
  });

  it('refuses to write a state that does not fit the schema, and writes nothing', async () => {
    const name = stateFileName('work', 'channel', 'C1');
    await expect(writeState(dir, name, sample({ size: -1 }))).rejects.toThrow();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a missing state is undefined (a first run), not an error', async () => {
    expect(await readState(dir, 'nothing.json')).toBeUndefined();
    expect(await readState(join(dir, 'no-such-dir'), 'nothing.json')).toBeUndefined();
  });

  it.each([
    ['truncated JSON', '{"version": 1, "profile": "wo', /is not valid JSON/],
    ['empty', '', /is not valid JSON/],
    ['the wrong shape', JSON.stringify({ ...sample(), newest: 'yesterday' }), /is not readable/],
    ['another version', JSON.stringify({ ...sample(), version: 2 }), /is not readable/],
    ['a negative size', JSON.stringify({ ...sample(), size: -5 }), /is not readable/],
  ])('a state file that is %s is a usage error (exit 2) naming it and how to start over', async (_name, content, message) => {
    const name = stateFileName('work', 'channel', 'C1');
    fs.writeFileSync(join(dir, name), content);
    const error = await usageError(readState(dir, name));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(join(dir, name));
    expect(error.message).toMatch(message);
    expect(error.hint).toMatch(/state reset/);
  });

  it('a state path that cannot be read at all (a directory) is a usage error too, not an internal error', async () => {
    const name = stateFileName('work', 'channel', 'C1');
    fs.mkdirSync(join(dir, name));
    const error = await usageError(readState(dir, name));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(join(dir, name));
  });
});

describe('listStates / removeState', () => {
  it('lists readable and unreadable states in name order, skipping temp files and files not named like a state', async () => {
    const a = stateFileName('work', 'channel', 'A');
    const b = stateFileName('work', 'channel', 'B');
    await writeState(dir, a, sample({ channel: 'A' }));
    await writeState(dir, b, sample({ channel: 'B' }));
    fs.writeFileSync(join(dir, 'broken-0123456789ab.json'), '{');
    fs.writeFileSync(join(dir, 'package.json'), '{}'); // not a name the tool writes
    fs.writeFileSync(join(dir, `.${a}.123.abcd.tmp`), '{');
    fs.writeFileSync(join(dir, 'notes.txt'), 'hello');
    fs.mkdirSync(join(dir, 'checkpoints'));

    const listed = await listStates(dir);
    expect(listed.map((entry) => entry.file)).toEqual([join(dir, 'broken-0123456789ab.json'), join(dir, a), join(dir, b)].sort());
    const broken = listed.find((entry) => entry.file.endsWith('broken-0123456789ab.json'))!;
    expect(broken.state).toBeUndefined();
    expect(broken.error).toMatch(/not valid JSON/);
    expect(listed.find((entry) => entry.file === join(dir, a))?.state?.channel).toBe('A');
    expect(await listStates(join(dir, 'missing'))).toEqual([]);
  });

  it('removeState says whether there was one', async () => {
    const name = stateFileName('work', 'channel', 'C1');
    await writeState(dir, name, sample());
    expect(await removeState(dir, name)).toBe(true);
    expect(await removeState(dir, name)).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('checkpoints', () => {
  const row = (time: number, id: string) => ({ time, id, line: JSON.stringify({ id, timestamp: new Date(time).toISOString() }) });
  const checkpoint = (runDir: string): Checkpoint => ({
    version: 1,
    key: '{"profile":"work","channel":{"id":"C1","kind":"channel"}}',
    runs: [{ path: join(runDir, 'run-0.jsonl'), count: 2, first: row(1, '1'), last: row(2, '2') }],
    walk: { kind: 'cursor', maxCreateAt: 2, boundaryIds: ['2'] },
    kept: 2,
    newest: { time: 2, ids: ['2'] },
    since: null,
    until: 10,
  });

  it('live in a directory per state name, round-trip, and are cleared with their runs', async () => {
    const name = stateFileName('work', 'channel', 'C1');
    const cpDir = checkpointDir(dir, name);
    expect(cpDir).toBe(join(dir, 'checkpoints', name.replace(/\.json$/, '')));
    const saved = checkpoint(join(cpDir, 'spool'));
    await saveCheckpoint(cpDir, saved);
    fs.mkdirSync(join(cpDir, 'spool'));
    fs.writeFileSync(saved.runs[0]!.path, `${saved.runs[0]!.first.line}\n`);
    expect(await readCheckpoint(cpDir)).toEqual({ ...saved, complete: false, future: [], missing: [] });
    expect(fs.readdirSync(cpDir).sort()).toEqual(['checkpoint.json', 'spool']);

    const pages: Checkpoint = { ...saved, walk: { kind: 'pages', nextPage: 7, total: 600, lastIds: ['a', 'b'] } };
    await saveCheckpoint(cpDir, pages);
    expect(await readCheckpoint(cpDir)).toEqual({ ...pages, complete: false, future: [], missing: [] });

    await clearCheckpoint(cpDir);
    expect(fs.existsSync(cpDir)).toBe(false);
    expect(await readCheckpoint(cpDir)).toBeUndefined();
    await clearCheckpoint(cpDir); // clearing nothing is fine
  });

  it('a damaged checkpoint is ignored (the export starts over), never an error', async () => {
    const cpDir = join(dir, 'checkpoints', 'x');
    fs.mkdirSync(cpDir, { recursive: true });
    fs.writeFileSync(join(cpDir, 'checkpoint.json'), '{"version":1,"key":');
    expect(await readCheckpoint(cpDir)).toBeUndefined();
    fs.writeFileSync(join(cpDir, 'checkpoint.json'), JSON.stringify({ ...checkpoint(cpDir), walk: { kind: 'pages' } }));
    expect(await readCheckpoint(cpDir)).toBeUndefined();
  });
});

describe('state list / state reset', () => {
  function io() {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out: string[] = [];
    const err: string[] = [];
    stdout.on('data', (chunk: Buffer) => out.push(chunk.toString()));
    stderr.on('data', (chunk: Buffer) => err.push(chunk.toString()));
    return { ctx: { stateDir: dir, stdout, stderr }, out: () => out.join(''), err: () => err.join('') };
  }

  it('list prints one tab-separated line per channel (in file name order) and flags unreadable ones', async () => {
    await writeState(dir, stateFileName('work', 'channel', 'C1'), sample({ api: 'https://user:pw@api.example.com' }));
    await writeState(dir, stateFileName('work', 'peer', 'P9'), sample({ kind: 'peer', channel: 'P9', newest: null, messages: 0 }));
    fs.writeFileSync(join(dir, 'zz-broken-0123456789ab.json'), 'nope');
    const { ctx, out } = io();
    await stateList(ctx);
    const lines = out().trimEnd().split('\n');
    expect(lines).toEqual([
      ['work', 'C1', redactUrl('https://user:pw@api.example.com').replace(/\/$/, ''), '/srv/chat/relation-C1.jsonl', 'jsonl', `newest ${new Date(1_706_000_000_123).toISOString()}`, '321 messages', 'updated 2024-01-23T10:00:00.000Z'].join('\t'),
      ['work', 'peer:P9', '(API root not recorded)', '/srv/chat/relation-C1.jsonl', 'jsonl', 'newest -', '0 messages', 'updated 2024-01-23T10:00:00.000Z'].join('\t'),
      expect.stringMatching(/^.*zz-broken-0123456789ab\.json\tunreadable: .*not valid JSON/),
    ]);
    // the API root is shown without its credentials
    expect(lines[0]!.split('\t')[2]).toMatch(/api\.example\.com/);
    expect(lines[0]).not.toContain('pw');
  });

  it('list on a terminal starts with a row of column names; in a pipe only the rows', async () => {
    await writeState(dir, stateFileName('work', 'channel', 'C1'), sample({}));
    const terminal = io();
    Object.assign(terminal.ctx.stdout, { isTTY: true });
    await stateList(terminal.ctx);
    const piped = io();
    await stateList(piped.ctx);
    const [header, ...rows] = terminal.out().trimEnd().split('\n');
    expect(header!.split('\t')).toEqual(['profile', 'channel', 'API root', 'output', 'format', 'newest', 'messages', 'updated']);
    expect(rows.join('\n') + '\n').toBe(piped.out());
    expect(piped.out().split('\n')[0]).toMatch(/^work\tC1\t/);
  });

  it('list with no state says so on stderr and prints nothing on stdout', async () => {
    const { ctx, out, err } = io();
    await stateList(ctx);
    expect(out()).toBe('');
    expect(err()).toMatch(/no incremental state/);
  });

  it('reset removes one channel’s state and checkpoint, leaving the others; --all removes everything', async () => {
    const c1 = stateFileName('work', 'channel', 'C1');
    const c2 = stateFileName('work', 'channel', 'C2');
    const p1 = stateFileName('work', 'peer', 'C1');
    // reset matches a state by its content (file names also hash the API root)
    await writeState(dir, c1, sample());
    await writeState(dir, c2, sample({ channel: 'C2' }));
    await writeState(dir, p1, sample({ kind: 'peer' }));
    await saveCheckpoint(checkpointDir(dir, c1), checkpoint());
    await saveCheckpoint(checkpointDir(dir, c2), checkpoint());

    const { ctx, err } = io();
    // one target that matches nothing refuses the whole command, before anything is removed
    expect((await usageError(stateReset('work', { channel: ['C1', 'nope'] }, ctx))).message).toBe('no incremental state for work channel nope');
    expect(fs.existsSync(join(dir, c1))).toBe(true);
    await stateReset('work', { channel: ['C1'] }, ctx);
    expect(fs.existsSync(join(dir, c1))).toBe(false);
    expect(fs.existsSync(checkpointDir(dir, c1))).toBe(false);
    expect(fs.existsSync(join(dir, c2))).toBe(true);
    expect(fs.existsSync(join(dir, p1))).toBe(true); // the peer of the same id is another conversation
    expect(fs.existsSync(checkpointDir(dir, c2))).toBe(true);
    expect(err()).toMatch(/reset work channel C1/);

    await stateReset(undefined, { all: true }, ctx);
    expect(fs.readdirSync(dir).filter((name) => name.endsWith('.json'))).toEqual([]);
    expect(fs.existsSync(checkpointDir(dir, c2))).toBe(false);
  });

  it('reset without a profile, or of a profile with no state, is a usage error', async () => {
    const { ctx } = io();
    await usageError(stateReset('work', {}, ctx));
    await usageError(stateReset(undefined, { channel: ['C1'] }, ctx));
  });

  function checkpoint(): Checkpoint {
    return {
      version: 1,
      key: 'k',
      runs: [],
      walk: { kind: 'cursor', maxCreateAt: 1, boundaryIds: [] },
      kept: 0,
      newest: null,
      since: null,
      until: null,
    };
  }
});
