/**
 * --incremental through the real CLI (DESIGN.md sections 2, 4 and 5): a
 * series of incremental runs must leave exactly the file one full export of
 * the final history would write, fetch only what is new, and survive a crash
 * at any point (the output is repaired from the state's `pending` record).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { startFixtureServer, type ChannelSpec, type FixtureServer, type Provider } from '../../fixtures/server.js';
import { BIN, createSandbox, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { jsonlIds, truthIds } from '../helpers/ground-truth.js';
import { readmeExample } from '../helpers/readme.js';
import { stateFileName } from '../../src/state.js';

const servers: FixtureServer[] = [];
const boxes: Sandbox[] = [];

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  for (const box of boxes) box.cleanup();
});

async function serve(channels: ChannelSpec[], latencyMs = 0): Promise<FixtureServer> {
  const server = await startFixtureServer({ channels, latencyMs });
  servers.push(server);
  return server;
}

function sandbox(): Sandbox {
  const box = createSandbox();
  boxes.push(box);
  mkdirSync(join(box.dir, 'out'), { recursive: true });
  return box;
}

function dump(server: FixtureServer, box: Sandbox, args: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> {
  return runCli(['dump', '--base-url', server.url, '--no-progress', '--rate', '1000', ...args], { env: box.env(env), timeoutMs: 30_000 });
}

function explain(result: RunResult): string {
  return `exit ${result.code}\n--- stderr\n${result.stderr}`;
}

/** What a fresh, non-incremental export of the server's history right now writes (in a sandbox of its own). */
async function fullExport(server: FixtureServer, provider: Provider, channel: string, file: string, extra: string[] = []): Promise<string> {
  const box = sandbox();
  const target = join(box.dir, 'out', file);
  const result = await dump(server, box, ['--provider', provider, '--channel', channel, '-o', target, ...extra]);
  expect(result.code, explain(result)).toBe(0);
  return readFileSync(target, 'utf8');
}

function stateDirOf(box: Sandbox): string {
  return join(box.dir, 'config', 'state');
}

/** The one state file of the sandbox (one profile+channel per sandbox here). */
function stateFile(box: Sandbox): string {
  const names = readdirSync(stateDirOf(box)).filter((name) => name.endsWith('.json') && !name.startsWith('.'));
  expect(names).toHaveLength(1);
  return join(stateDirOf(box), names[0]!);
}

interface StateJson {
  newest: { time: number; ids: string[] } | null;
  size: number;
  pending: { size: number } | null;
  output: string;
  messages: number;
  [key: string]: unknown;
}

function readStateJson(box: Sandbox): StateJson {
  return JSON.parse(readFileSync(stateFile(box), 'utf8')) as StateJson;
}

function writeStateJson(box: Sandbox, state: StateJson): void {
  writeFileSync(stateFile(box), JSON.stringify(state, null, 2));
}

const CASES: Array<{ provider: Provider; channel: string; spec: ChannelSpec }> = [
  // a tie cluster straddling the end of the history: inserted messages share the newest millisecond
  { provider: 'relation', channel: 'inc-rel', spec: { provider: 'relation', id: 'inc-rel', count: 120, ties: [{ at: 117, size: 6 }] } },
  { provider: 'discuz', channel: '31', spec: { provider: 'discuz', id: '31', count: 90, ties: [{ at: 88, size: 5 }] } },
  { provider: 'dishawang', channel: '41', spec: { provider: 'dishawang', id: '41', count: 75, ties: [{ at: 73, size: 4 }] } },
];

describe.concurrent('a series of incremental runs equals one full export of the final history', () => {
  it.each(CASES)('$provider (JSONL, asc)', async ({ provider, channel, spec }) => {
    const server = await serve([spec]);
    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.jsonl');
    const args = ['--provider', provider, '--channel', channel, '-o', target, '--incremental'];

    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    expect(jsonlIds(readFileSync(target, 'utf8'))).toEqual(truthIds(server, provider, channel));

    server.insert(provider, channel, 3); // lands inside the tie cluster at the newest time
    const second = await dump(server, box, args);
    expect(second.code, explain(second)).toBe(0);

    server.insert(provider, channel, 7);
    const third = await dump(server, box, args);
    expect(third.code, explain(third)).toBe(0);

    const got = readFileSync(target, 'utf8');
    const ids = jsonlIds(got);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(truthIds(server, provider, channel));
    expect(got).toBe(await fullExport(server, provider, channel, 'full.jsonl'));

    // nothing new: nothing appended, the state unchanged, exit 0
    const stateBefore = readStateJson(box);
    const idle = await dump(server, box, args);
    expect(idle.code, explain(idle)).toBe(0);
    expect(idle.stdout).toBe('');
    expect(readFileSync(target, 'utf8')).toBe(got);
    expect(readStateJson(box)).toEqual(stateBefore);
    expect(readdirSync(join(box.dir, 'out'))).toEqual(['backup.jsonl']);

    const state = readStateJson(box);
    expect(state.pending).toBeNull();
    expect(state.size).toBe(Buffer.byteLength(got));
    expect(state.messages).toBe(ids.length);
    const newestTime = server.messages(provider, channel)[0]!.time;
    expect(state.newest?.time).toBe(newestTime);
    expect([...(state.newest?.ids ?? [])].sort()).toEqual(
      server
        .messages(provider, channel)
        .filter((m) => m.time === newestTime)
        .map((m) => m.id)
        .sort(),
    );
  });

  it('CSV: appended rows, no second header, byte-identical to a full export', async () => {
    const server = await serve([{ provider: 'discuz', id: '32', count: 60, hostile: true }]);
    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.csv');
    const args = ['--provider', 'discuz', '--channel', '32', '-o', target, '--incremental'];
    for (const inserted of [0, 4, 9]) {
      server.insert('discuz', '32', inserted);
      const result = await dump(server, box, args);
      expect(result.code, explain(result)).toBe(0);
    }
    const got = readFileSync(target, 'utf8');
    expect(got.split('\n').filter((line) => line.startsWith('id,timestamp,'))).toHaveLength(1);
    expect(got).toBe(await fullExport(server, 'discuz', '32', 'full.csv'));
  });

  it('Markdown: one title, the day heading is continued (not repeated) for messages on the same day', async () => {
    // two hours apart: 30 messages end on 2024-01-03; the next 2 fall on that day, later ones on the next
    const server = await serve([{ provider: 'relation', id: 'inc-md', count: 30, stepMs: 2 * 3_600_000, hostile: true }]);
    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.md');
    const args = ['--provider', 'relation', '--channel', 'inc-md', '-o', target, '--incremental'];

    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    const day = (time: number) => new Date(time).toISOString().slice(0, 10);
    const lastOld = server.messages('relation', 'inc-md')[0]!;

    server.insert('relation', 'inc-md', 2);
    const [newer] = server.messages('relation', 'inc-md');
    expect(day(newer!.time)).toBe(day(lastOld.time)); // the premise: same day as the last one written
    const second = await dump(server, box, args);
    expect(second.code, explain(second)).toBe(0);
    expect(readFileSync(target, 'utf8').split('\n').filter((line) => line === `## ${day(lastOld.time)}`)).toHaveLength(1);

    server.insert('relation', 'inc-md', 8);
    expect(day(server.messages('relation', 'inc-md')[0]!.time)).not.toBe(day(lastOld.time)); // and a new day after
    const third = await dump(server, box, args);
    expect(third.code, explain(third)).toBe(0);

    const got = readFileSync(target, 'utf8');
    const full = await fullExport(server, 'relation', 'inc-md', 'full.md');
    const titles = got.split('\n').filter((line) => line.startsWith('# '));
    expect(titles).toHaveLength(1);
    // A title under --incremental states no count (it would be the first run's, soon false), only where it starts.
    expect(titles[0]).not.toMatch(/\d+ messages?/);
    expect(titles[0]).toMatch(/ — from \d{4}-\d\d-\d\d \(times in /);
    // Everything after the title is the full export's.
    const body = (text: string) => text.slice(text.indexOf('\n'));
    expect(body(got)).toBe(body(full));
    const headings = got.split('\n').filter((line) => line.startsWith('## '));
    expect(new Set(headings).size).toBe(headings.length);
  });

  it('several channels into a directory: each file and each state is its own', async () => {
    const server = await serve([
      { provider: 'relation', id: 'dir-a', count: 40 },
      { provider: 'relation', id: 'dir-b', count: 25 },
    ]);
    const box = sandbox();
    const out = join(box.dir, 'out', 'all') + '/';
    const args = ['--provider', 'relation', '--channel', 'dir-a', '--channel', 'dir-b', '-o', out, '--incremental', '--format', 'csv'];
    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    server.insert('relation', 'dir-a', 3); // only one channel has something new
    const second = await dump(server, box, args);
    expect(second.code, explain(second)).toBe(0);
    server.insert('relation', 'dir-b', 2);
    const third = await dump(server, box, args);
    expect(third.code, explain(third)).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['relation-dir-a.csv', 'relation-dir-b.csv']);
    for (const channel of ['dir-a', 'dir-b']) {
      expect(readFileSync(join(out, `relation-${channel}.csv`), 'utf8')).toBe(await fullExport(server, 'relation', channel, `${channel}.csv`));
    }
    expect(readdirSync(stateDirOf(box)).filter((name) => name.endsWith('.json'))).toHaveLength(2);
  });

  it.each([
    ['jsonl', 'backup.jsonl'],
    ['csv', 'backup.csv'],
  ])('--order desc (%s): new messages go on top, equal to a full desc export', async (_format, file) => {
    const server = await serve([{ provider: 'dishawang', id: '42', count: 45 }]);
    const box = sandbox();
    const target = join(box.dir, 'out', file);
    const args = ['--provider', 'dishawang', '--channel', '42', '-o', target, '--incremental', '--order', 'desc'];
    for (const inserted of [0, 5, 12]) {
      server.insert('dishawang', '42', inserted);
      const result = await dump(server, box, args);
      expect(result.code, explain(result)).toBe(0);
    }
    expect(readFileSync(target, 'utf8')).toBe(await fullExport(server, 'dishawang', '42', `full-${file}`, ['--order', 'desc']));
  });
});

describe.concurrent('what is fetched', () => {
  it.each<[Provider, string, string[]]>([
    ['relation', 'big-rel', ['--page-size', '50']],
    ['discuz', '51', ['--page-size', '50']],
    ['dishawang', '61', []], // its page size is the server's: 50 here
  ])('%s: --incremental on a 2,000-message history with a few new messages asks for a page or two, not the whole walk', async (provider, channel, flags) => {
    const server = await serve([{ provider, id: channel, count: 2000, ...(provider === 'dishawang' ? { perPage: 50 } : {}) }]);
    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.jsonl');
    const args = ['--provider', provider, '--channel', channel, '-o', target, '--incremental', ...flags];
    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    expect(server.log.length).toBeGreaterThanOrEqual(40); // the full walk: 2,000 at 50 a page

    server.insert(provider, channel, 4);
    server.resetLog();
    const second = await dump(server, box, args);
    expect(second.code, explain(second)).toBe(0);
    expect(server.log.length).toBeGreaterThanOrEqual(1);
    expect(server.log.length).toBeLessThanOrEqual(3);
    expect(jsonlIds(readFileSync(target, 'utf8'))).toEqual(truthIds(server, provider, channel));
  });
});

/** Markdown titles carry the first run's count and span: below the title, the file must be the full export's. */
function expectSameAsFull(got: string, full: string, format: 'jsonl' | 'csv' | 'md'): void {
  if (format !== 'md') {
    expect(got).toBe(full);
    return;
  }
  expect(got.split('\n').filter((line) => line.startsWith('# '))).toHaveLength(1);
  expect(got.slice(got.indexOf('\n'))).toBe(full.slice(full.indexOf('\n')));
}

describe.concurrent('crash points of an incremental run', () => {
  it.each<{ provider: Provider; channel: string; format: 'jsonl' | 'csv' | 'md'; spec: ChannelSpec }>([
    { provider: 'relation', channel: 'crash-a', format: 'jsonl', spec: { provider: 'relation', id: 'crash-a', count: 80, ties: [{ at: 78, size: 5 }] } },
    { provider: 'dishawang', channel: '44', format: 'md', spec: { provider: 'dishawang', id: '44', count: 50 } },
    { provider: 'discuz', channel: '34', format: 'csv', spec: { provider: 'discuz', id: '34', count: 50 } },
  ])('$provider $format: killed mid-append (pending recorded, part of the append written) → the rerun cuts it and equals an uninterrupted run', async ({ provider, channel, format, spec }) => {
    const server = await serve([spec]);
    const box = sandbox();
    const target = join(box.dir, 'out', `backup.${format}`);
    const args = ['--provider', provider, '--channel', channel, '-o', target, '--incremental'];
    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    const old = readFileSync(target, 'utf8');

    server.insert(provider, channel, 6);
    const full = await fullExport(server, provider, channel, `full.${format}`);
    // What a crash halfway through the append leaves: pending recorded, some new lines and half of another.
    writeStateJson(box, { ...readStateJson(box), pending: { size: Buffer.byteLength(old) } });
    const partial = format === 'md' ? '\n## 2099-01-01\n\n**half a mess' : full.slice(old.length, old.length + Math.floor((full.length - old.length) / 2));
    appendFileSync(target, partial + '\u0000\u0000"garbage');

    const rerun = await dump(server, box, args);
    expect(rerun.code, explain(rerun)).toBe(0);
    expect(rerun.stderr).toMatch(/interrupted while appending/);
    expectSameAsFull(readFileSync(target, 'utf8'), full, format);
    const state = readStateJson(box);
    expect(state.pending).toBeNull();
    expect(state.size).toBe(readFileSync(target).length);
  });

  it.each<{ provider: Provider; channel: string; format: 'jsonl' | 'csv' | 'md'; spec: ChannelSpec }>([
    { provider: 'discuz', channel: '35', format: 'jsonl', spec: { provider: 'discuz', id: '35', count: 60, ties: [{ at: 58, size: 4 }] } },
    { provider: 'relation', channel: 'crash-b', format: 'csv', spec: { provider: 'relation', id: 'crash-b', count: 60 } },
    { provider: 'dishawang', channel: '45', format: 'md', spec: { provider: 'dishawang', id: '45', count: 40 } },
  ])('$provider $format: killed after the append but before the new state → the rerun adds no duplicates', async ({ provider, channel, format, spec }) => {
    const server = await serve([spec]);
    const box = sandbox();
    const target = join(box.dir, 'out', `backup.${format}`);
    const args = ['--provider', provider, '--channel', channel, '-o', target, '--incremental'];
    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    const sizeBefore = readFileSync(target).length;
    const oldState = readStateJson(box);

    server.insert(provider, channel, 5);
    const second = await dump(server, box, args);
    expect(second.code, explain(second)).toBe(0);
    const afterAppend = readFileSync(target, 'utf8');
    expect(Buffer.byteLength(afterAppend)).toBeGreaterThan(sizeBefore);
    // the state as it was between "appended and fsynced" and "new state written"
    writeStateJson(box, { ...oldState, pending: { size: sizeBefore } });

    const rerun = await dump(server, box, args);
    expect(rerun.code, explain(rerun)).toBe(0);
    const got = readFileSync(target, 'utf8');
    expect(got).toBe(afterAppend);
    if (format === 'jsonl') expect(jsonlIds(got)).toEqual(truthIds(server, provider, channel));
    expectSameAsFull(got, await fullExport(server, provider, channel, `full.${format}`), format);
  });

  it.each([
    ['with no pending record', false],
    ['with a pending record', true],
  ])('--order desc: killed after the rewrite but before the new state (%s) → the rerun refuses (exit 2, the file untouched); --adopt continues it with no duplicates', async (_name, pending) => {
    const server = await serve([{ provider: 'relation', id: 'crash-desc', count: 50 }]);
    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.jsonl');
    const args = ['--provider', 'relation', '--channel', 'crash-desc', '-o', target, '--incremental', '--order', 'desc'];
    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    const oldState = readStateJson(box);
    server.insert('relation', 'crash-desc', 4);
    const second = await dump(server, box, args);
    expect(second.code, explain(second)).toBe(0);
    const rewritten = readFileSync(target, 'utf8');
    // the file was renamed into place; the state still describes the one before
    writeStateJson(box, { ...oldState, pending: pending ? { size: oldState.size } : null });

    server.insert('relation', 'crash-desc', 2);
    server.resetLog();
    const refused = await dump(server, box, args);
    expect(refused.code, explain(refused)).toBe(2);
    expect(refused.stderr).toMatch(/backup\.jsonl is not the file the last incremental run .* wrote: its size changed [\s\S]*--adopt/);
    expect(server.log).toHaveLength(0);
    expect(readFileSync(target, 'utf8')).toBe(rewritten);
    const rerun = await dump(server, box, [...args, '--adopt']);
    expect(rerun.code, explain(rerun)).toBe(0);
    const got = readFileSync(target, 'utf8');
    expect(got.endsWith(rewritten.slice(rewritten.indexOf('\n') + 1))).toBe(true);
    expect(jsonlIds(got)).toEqual(truthIds(server, 'relation', 'crash-desc').reverse());
    expect(got).toBe(await fullExport(server, 'relation', 'crash-desc', 'full.jsonl', ['--order', 'desc']));
  });

  it('killed between the first full export and its first state write → the rerun refuses (exit 2); --adopt continues the file, no duplicates', async () => {
    const server = await serve([{ provider: 'discuz', id: '33', count: 70 }]);
    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.jsonl');
    const args = ['--provider', 'discuz', '--channel', '33', '-o', target, '--incremental'];
    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    rmSync(stateFile(box));
    const written = readFileSync(target, 'utf8');
    server.insert('discuz', '33', 3);
    server.resetLog();
    const refused = await dump(server, box, args);
    expect(refused.code, explain(refused)).toBe(2);
    expect(refused.stderr).toMatch(/backup\.jsonl already exists and no incremental state of discuz .* records it[\s\S]*--adopt/);
    expect(server.log).toHaveLength(0);
    expect(readFileSync(target, 'utf8')).toBe(written);
    const rerun = await dump(server, box, [...args, '--adopt']);
    expect(rerun.code, explain(rerun)).toBe(0);
    expect(readFileSync(target, 'utf8')).toBe(await fullExport(server, 'discuz', '33', 'full.jsonl'));
  });

  it.each([
    ['a plain rerun', false],
    ['a rerun with --resume', true],
  ])('SIGKILL during the walk of an incremental run, then %s → the right output', async (_name, resume) => {
    const server = await serve([{ provider: 'relation', id: 'kill-inc', count: 100 }], 25);
    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.jsonl');
    const args = ['--provider', 'relation', '--channel', 'kill-inc', '-o', target, '--incremental', '--page-size', '10'];
    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    const before = readFileSync(target);
    const stateBefore = readFileSync(stateFile(box), 'utf8');

    server.insert('relation', 'kill-inc', 150); // 15 pages of new messages
    server.resetLog();
    const killed = await runKilled(server, box, args, { CHAT_EXPORT_RUN_SIZE: '20' }, 8);
    expect(killed.signal).toBe('SIGKILL');
    // the walk never touches the output or the state
    expect(readFileSync(target).equals(before)).toBe(true);
    expect(readFileSync(stateFile(box), 'utf8')).toBe(stateBefore);
    const killedRequests = server.log.length;

    server.resetLog();
    const rerun = await dump(server, box, resume ? [...args, '--resume'] : args, { CHAT_EXPORT_RUN_SIZE: '20' });
    expect(rerun.code, explain(rerun)).toBe(0);
    const rerunRequests = server.log.length;
    const got = readFileSync(target, 'utf8');
    expect(jsonlIds(got)).toEqual(truthIds(server, 'relation', 'kill-inc'));
    expect(got).toBe(await fullExport(server, 'relation', 'kill-inc', 'full.jsonl'));
    if (resume) {
      // it continued from the checkpoint: the pages already read are not asked for again
      expect(rerun.stderr).toMatch(/resuming after \d+ messages/);
      // (an uninterrupted incremental walk of these 150 takes 17 requests; at least 4 pages were checkpointed)
      expect(rerunRequests, `${killedRequests} requests before the kill`).toBeLessThanOrEqual(14);
    }
    expect(existsSync(join(stateDirOf(box), 'checkpoints'))).toBe(true);
    expect(readdirSync(join(stateDirOf(box), 'checkpoints'))).toEqual([]);
  });
});

/** Starts the CLI and SIGKILLs it once the server has seen `requests` requests. */
function runKilled(
  server: FixtureServer,
  box: Sandbox,
  args: string[],
  env: Record<string, string>,
  requests: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'dump', '--base-url', server.url, '--no-progress', '--rate', '1000', ...args], {
      env: box.env(env),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const poll = setInterval(() => {
      if (server.log.length >= requests) child.kill('SIGKILL');
    }, 5);
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(poll);
      clearTimeout(guard);
      resolve({ code, signal, stderr });
    });
  });
}

describe.concurrent('state command and unreadable state', () => {
  it('one channel kept nightly in two outputs (a transcript and a data file): each keeps its own state and gets only what is new', async () => {
    const server = await serve([{ provider: 'discuz', id: '37', count: 30 }]);
    const box = sandbox();
    const md = join(box.dir, 'out', 'd.md');
    const csv = join(box.dir, 'out', 'd.csv');
    const base = ['--provider', 'discuz', '--channel', '37', '--incremental', '--tz', 'UTC'];
    for (const inserted of [0, 3, 5]) {
      server.insert('discuz', '37', inserted);
      for (const target of [md, csv]) {
        const result = await dump(server, box, [...base, '-o', target]);
        expect(result.code, `${target}: ${explain(result)}`).toBe(0);
        expect(result.stderr).not.toMatch(/starting a new full export|already exists/);
      }
    }
    expect(readFileSync(csv, 'utf8')).toBe(await fullExport(server, 'discuz', '37', 'full.csv'));
    const transcript = readFileSync(md, 'utf8').split('\n');
    expect(transcript.filter((line) => line.startsWith('**')), 'one line per message').toHaveLength(38);
    expect(transcript.filter((line) => line.startsWith('# '))).toHaveLength(1);
    const list = (await runCli(['state', 'list'], { env: box.env() })).stdout.trim().split('\n');
    expect(list.map((line) => line.split('\t')[3]).sort()).toEqual([csv, md]);
    for (const line of list) expect(line).toContain('38 messages');
    // forgetting the channel forgets it for both outputs
    const reset = await runCli(['state', 'reset', 'discuz', '--channel', '37'], { env: box.env() });
    expect(reset.code, explain(reset)).toBe(0);
    expect(reset.stderr).toContain('(2 outputs)');
    expect((await runCli(['state', 'list'], { env: box.env() })).stdout).toBe('');
  });

  it('a state written before each output had its own (named by the source alone) is continued, then moved under the output', async () => {
    const server = await serve([{ provider: 'discuz', id: '38', count: 25 }]);
    const box = sandbox();
    const target = join(box.dir, 'out', 'old.jsonl');
    const args = ['--provider', 'discuz', '--channel', '38', '-o', target, '--incremental'];
    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    // what an earlier release left: the same state under the source's name
    const own = stateFile(box);
    const state = readFileSync(own, 'utf8');
    const sourceName = stateFileName('discuz', 'channel', '38', server.url);
    rmSync(own);
    writeFileSync(join(stateDirOf(box), sourceName), state);
    server.insert('discuz', '38', 4);
    const next = await dump(server, box, args);
    expect(next.code, explain(next)).toBe(0);
    expect(next.stderr).not.toMatch(/already exists|full export/);
    expect(readFileSync(target, 'utf8')).toBe(await fullExport(server, 'discuz', '38', 'full.jsonl'));
    expect(stateFile(box)).not.toBe(join(stateDirOf(box), sourceName));
    expect(readStateJson(box).messages).toBe(29);
  });

  it('state list shows the channel after an incremental run; after state reset the next run refuses the existing file, and a full export once it is moved away', async () => {
    const server = await serve([{ provider: 'dishawang', id: '43', count: 40 }]);
    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.jsonl');
    const args = ['--provider', 'dishawang', '--channel', '43', '-o', target, '--incremental'];

    const empty = await runCli(['state', 'list'], { env: box.env() });
    expect(empty.code, explain(empty)).toBe(0);
    expect(empty.stdout).toBe('');

    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    const list = await runCli(['state', 'list'], { env: box.env() });
    expect(list.code, explain(list)).toBe(0);
    const lines = list.stdout.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    const fields = lines[0]!.split('\t');
    // the API root tells apart one channel id on two servers
    expect(fields.slice(0, 5)).toEqual(['dishawang', '43', server.url, target, 'jsonl']);
    expect(lines[0]).toContain(`newest ${new Date(server.messages('dishawang', '43')[0]!.time).toISOString()}`);
    expect(lines[0]).toContain('40 messages');

    // the user edits the file by hand, then resets: the next run starts over instead of appending
    writeFileSync(target, 'hand-edited\n');
    server.insert('dishawang', '43', 2);
    const reset = await runCli(['state', 'reset', 'dishawang', '--channel', '43'], { env: box.env() });
    expect(reset.code, explain(reset)).toBe(0);
    expect(readdirSync(stateDirOf(box)).filter((name) => name.endsWith('.json'))).toEqual([]);

    server.resetLog();
    const refused = await dump(server, box, args);
    expect(refused.code, explain(refused)).toBe(2);
    expect(readFileSync(target, 'utf8')).toBe('hand-edited\n');
    expect(server.log.length).toBe(0);
    renameSync(target, `${target}.old`);
    const again = await dump(server, box, args);
    expect(again.code, explain(again)).toBe(0);
    expect(server.log.length).toBe(5); // 42 messages, 10 a page: the whole walk again
    expect(readFileSync(target, 'utf8')).toBe(await fullExport(server, 'dishawang', '43', 'full.jsonl'));
    const relisted = await runCli(['state', 'list'], { env: box.env() });
    expect(relisted.stdout).toContain('42 messages');
  });

  it('state reset that matches nothing is a usage error (exit 2), not a silent success', async () => {
    const box = sandbox();
    for (const args of [['dishawang'], ['nosuch', '--channel', '1'], []]) {
      const result = await runCli(['state', 'reset', ...args], { env: box.env() });
      expect(result.code, explain(result)).toBe(2);
      expect(result.stderr).toMatch(/^chat-export: (no incremental state for|say which state)/);
    }
  });

  it('a state file that is not JSON, or JSON of the wrong shape: exit 2 naming the file and how to start over; the output is untouched', async () => {
    const server = await serve([{ provider: 'relation', id: 'bad-state', count: 30 }]);
    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.jsonl');
    const args = ['--provider', 'relation', '--channel', 'bad-state', '-o', target, '--incremental'];
    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    const before = readFileSync(target);
    const file = stateFile(box);
    server.insert('relation', 'bad-state', 2);
    for (const [content, problem] of [
      ['{"version": 1, "newest": ', /not valid JSON/],
      ['{"version": 1, "newest": "yesterday"}', /not readable/],
    ] as const) {
      writeFileSync(file, content);
      const result = await dump(server, box, args);
      expect(result.code, explain(result)).toBe(2);
      expect(result.stderr).toContain(file);
      expect(result.stderr).toMatch(problem);
      expect(result.stderr).toMatch(/state reset/);
      expect(result.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
      expect(readFileSync(target).equals(before)).toBe(true);
    }
    const list = await runCli(['state', 'list'], { env: box.env() });
    expect(list.code, explain(list)).toBe(0);
    expect(list.stdout).toContain(`${file}\tunreadable`);
  });
});

describe('--incremental after the provider definition was edited', () => {
  const oldestFirst = (server: FixtureServer, channel: string) => server.messages('tokenchat', channel).map((m) => m.id).reverse();
  /** tokenchat's README definition with its time read as `format`, in the sandbox's config. */
  function defineTokenchat(box: Sandbox, format: 'epoch-ms' | 'epoch-s', summary = 'tokenchat'): void {
    const definition = readmeExample('tokenchat') as { summary: string; fields: { time: { format: string } } };
    definition.fields.time.format = format;
    definition.summary = summary;
    mkdirSync(dirname(box.config), { recursive: true });
    writeFileSync(box.config, JSON.stringify({ profiles: {}, providers: { tokenchat: definition } }), { mode: 0o600 });
  }

  it('epoch-ms fixed to epoch-s: exit 2 before anything is appended, naming the file and the way forward; a new file is exact', async () => {
    const channel = 'C0INCDEF1';
    const server = await serve([{ provider: 'tokenchat', id: channel, count: 20 }]);
    const box = sandbox();
    const target = join(box.dir, 'out', 'chat.jsonl');
    const args = ['--provider', 'tokenchat', '--channel', channel, '--incremental', '-o', target];
    defineTokenchat(box, 'epoch-ms'); // Slack's "1704067298.691501" read as milliseconds: January 1970
    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    const written = readFileSync(target, 'utf8');
    expect(jsonlIds(written)).toHaveLength(20);

    defineTokenchat(box, 'epoch-s');
    server.insert('tokenchat', channel, 2);
    const second = await dump(server, box, args);
    // before: 42 lines, the 20 already written appended again, exit 0
    expect(second.code, explain(second)).toBe(2);
    expect(readFileSync(target, 'utf8')).toBe(written);
    expect(second.stderr).toContain(`the provider definition changed since the last incremental run wrote ${target}`);
    expect(second.stderr).toMatch(/came back dated 2024-.*written as 1970-/);
    expect(second.stderr).toMatch(/export into a new file/);

    // the way forward: a new file holds the history exactly, read under the new definition
    const fresh = join(box.dir, 'out', 'fixed.jsonl');
    const third = await dump(server, box, ['--provider', 'tokenchat', '--channel', channel, '--incremental', '-o', fresh]);
    expect(third.code, explain(third)).toBe(0);
    const lines = readFileSync(fresh, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { id: string; timestamp: string });
    expect(lines.map((m) => m.id)).toEqual(oldestFirst(server, channel));
    expect(lines.every((m) => m.timestamp.startsWith('2024-'))).toBe(true);
  });

  it('an edit that reads ids and times as before (the summary): the newest message comes back the same, and exactly the new ones are appended', async () => {
    const channel = 'C0INCDEF2';
    const server = await serve([{ provider: 'tokenchat', id: channel, count: 30 }]);
    const box = sandbox();
    const target = join(box.dir, 'out', 'chat.jsonl');
    const args = ['--provider', 'tokenchat', '--channel', channel, '--incremental', '-o', target];
    defineTokenchat(box, 'epoch-s', 'before');
    expect((await dump(server, box, args)).code).toBe(0);
    defineTokenchat(box, 'epoch-s', 'after an edit');
    server.insert('tokenchat', channel, 3);
    const second = await dump(server, box, args);
    expect(second.code, explain(second)).toBe(0);
    expect(jsonlIds(readFileSync(target, 'utf8'))).toEqual(oldestFirst(server, channel));
  });
});
