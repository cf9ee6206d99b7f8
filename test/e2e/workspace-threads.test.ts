/**
 * Threads and names by definition alone: the README's Slack-shaped definition
 * (`replies`, `people`) against the fixture's Slack-shaped API, checked
 * exactly against its ground truth — every top-level message and every reply
 * once, in time order, senders named from the directory; a reply posted to an
 * old thread between two --incremental runs and between two archive runs is
 * in the second; --resume continues a walk that was inside a thread.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

import type { Api, CanonicalMessage, FixtureServer } from '../../fixtures/server.js';
import { openDatabase } from '../../src/archive/sqlite.js';
import { BIN, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { exportProblems, linesOf } from '../helpers/ground-truth.js';
import { useSandbox, useServer } from '../helpers/fixtures.js';
import { readmeExample } from '../helpers/readme.js';

// the definition's name: what the exported lines say in `provider`
const NAME = 'slackish' as Api;

function writeConfig(sandbox: Sandbox): void {
  mkdirSync(dirname(sandbox.config), { recursive: true });
  writeFileSync(sandbox.config, JSON.stringify({ profiles: {}, providers: { slackish: readmeExample('slackish') } }, null, 2), { mode: 0o600 });
}

const explain = (result: RunResult) => `exit ${result.code}\n--- stderr\n${result.stderr}`;

function dump(server: FixtureServer, sandbox: Sandbox, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return runCli(['dump', '--provider', 'slackish', '--base-url', `${server.url}/slack/api`, '--no-progress', '--rate', '1000', ...args], {
    env: sandbox.env({ CHAT_EXPORT_TOKEN: 'xoxb-fixture', ...env }),
    timeoutMs: 60_000,
  });
}

const truth = (server: FixtureServer, channel: string): CanonicalMessage[] => server.messages('slack', channel);
const repliesAsked = (server: FixtureServer, from: number) => server.log.slice(from).filter((e) => e.url.includes('/conversations.replies'));

describe('threads and names from a definition (Slack-shaped)', () => {
  const server = useServer({
    auth: { token: 'xoxb-fixture' },
    workspaces: { slack: { users: 30 } },
    channels: [
      { provider: 'slack', id: 'C0THREADS1', count: 300, hostile: true, threads: { big: [{ at: 20, replies: 130 }] } },
      { provider: 'slack', id: 'C0NIGHTLY2', count: 200 },
      { provider: 'slack', id: 'C0ARCHIVE3', count: 200 },
      { provider: 'slack', id: 'C0RESUME04', count: 80, threads: { every: 1e9, big: [{ at: 10, replies: 150 }] } },
    ],
  });
  const sandbox = useSandbox();

  it.each(['asc', 'desc'] as const)('every message and every reply once, exact lines in %s order, senders named from the directory', async (order) => {
    writeConfig(sandbox());
    const start = truth(server(), 'C0THREADS1');
    const result = await dump(server(), sandbox(), ['--channel', 'C0THREADS1', '--page-size', '40', '--order', order]);
    expect(result.code, explain(result)).toBe(0);
    const lines = linesOf(result.stdout);
    expect(exportProblems({ provider: NAME, channel: 'C0THREADS1', lines, start, end: start, order })).toEqual([]);
    // the traps were there: replies (the big thread over several pages), broadcast replies, a tombstone, names only in the directory
    expect(start.filter((m) => m.replyTo !== null).length).toBeGreaterThan(130);
    expect(lines.some((line) => line.includes('"deleted":true'))).toBe(true);
    const zhang = start.find((m) => m.senderId === 'U01ZHANG02')!;
    expect(zhang.senderName).toBe('张伟');
    expect(lines.some((line) => line.includes('"name":"张伟"'))).toBe(true);
  });

  it('--incremental twice: a reply to an old thread, a first reply to an old message and a broadcast reply are in the second run; only changed threads are walked again', async () => {
    writeConfig(sandbox());
    const out = join(sandbox().dir, 'inc', 'nightly.jsonl');
    mkdirSync(dirname(out), { recursive: true });
    const first = await dump(server(), sandbox(), ['--channel', 'C0NIGHTLY2', '-o', out, '--incremental', '--page-size', '50']);
    expect(first.code, explain(first)).toBe(0);
    const threads = server().threads('slack', 'C0NIGHTLY2');
    const oldest = threads[0]!;
    const plain = truth(server(), 'C0NIGHTLY2').filter((m) => m.replyTo === null && !threads.some((t) => t.id === m.id) && m.type === 'text').at(-3)!;
    server().reply('slack', 'C0NIGHTLY2', oldest.id, 2);
    server().reply('slack', 'C0NIGHTLY2', plain.id, 1);
    server().reply('slack', 'C0NIGHTLY2', threads[1]!.id, 1, { broadcast: true });
    server().insert('slack', 'C0NIGHTLY2', 4);
    const before = server().log.length;
    const second = await dump(server(), sandbox(), ['--channel', 'C0NIGHTLY2', '-o', out, '--incremental', '--page-size', '50']);
    expect(second.code, explain(second)).toBe(0);
    const end = truth(server(), 'C0NIGHTLY2');
    const lines = linesOf(readFileSync(out, 'utf8'));
    // appended: each run's part in time order, the whole exact
    expect(exportProblems({ provider: NAME, channel: 'C0NIGHTLY2', lines: [...lines].sort((a, b) => a.localeCompare(b)), start: end, end, order: 'asc' }).filter((p) => !p.startsWith('not in'))).toEqual([]);
    expect(lines).toHaveLength(end.length);
    // the three changed threads, and no other, were walked again
    expect(repliesAsked(server(), before).map((e) => new URL(e.url, server().url).searchParams.get('ts')).sort()).toEqual([oldest.id, plain.id, threads[1]!.id].sort());
    expect(second.stderr).toMatch(/8 new messages appended/);
    // a third run finds nothing new and walks no thread
    const mark = server().log.length;
    const third = await dump(server(), sandbox(), ['--channel', 'C0NIGHTLY2', '-o', out, '--incremental', '--page-size', '50']);
    expect(third.code, explain(third)).toBe(0);
    expect(readFileSync(out, 'utf8').split('\n').length - 1).toBe(end.length);
    expect(repliesAsked(server(), mark)).toEqual([]);
  });

  it('the archive twice: a reply posted to an old thread between the runs is in it; the people table holds the directory; the day-old copy is reused', async () => {
    writeConfig(sandbox());
    const db = join(sandbox().dir, 'arch', 'workspace.sqlite');
    mkdirSync(dirname(db), { recursive: true });
    const users = () => server().log.filter((e) => e.url.includes('/users.list')).length;
    const first = await dump(server(), sandbox(), ['--channel', 'C0ARCHIVE3', '-o', db, '--page-size', '50', '--refresh-people']);
    expect(first.code, explain(first)).toBe(0);
    const usersBefore = users();
    const old = server().threads('slack', 'C0ARCHIVE3')[0]!;
    const [posted] = server().reply('slack', 'C0ARCHIVE3', old.id);
    const second = await dump(server(), sandbox(), ['--channel', 'C0ARCHIVE3', '-o', db, '--page-size', '50']);
    expect(second.code, explain(second)).toBe(0);
    // the directory kept from the first run: not asked for again
    expect(users()).toBe(usersBefore);
    const converted = await runCli(['convert', db, '-o', '-', '--format', 'jsonl'], { env: sandbox().env() });
    expect(converted.code, explain(converted)).toBe(0);
    const end = truth(server(), 'C0ARCHIVE3');
    expect(exportProblems({ provider: NAME, channel: 'C0ARCHIVE3', lines: linesOf(converted.stdout), start: end, end, order: 'asc' })).toEqual([]);
    expect(end.some((m) => m.id === posted && m.replyTo === old.id)).toBe(true);
    const sqlite = openDatabase(db, { readonly: true });
    try {
      const rows = sqlite.prepare('SELECT id, name, avatar FROM people WHERE provider = ? ORDER BY id').all('slackish') as Array<{ id: string; name: string; avatar: string }>;
      expect(rows).toEqual(server().people('slack').map((p) => ({ id: p.id, name: p.name, avatar: p.avatar })).sort((a, b) => (a.id < b.id ? -1 : 1)));
    } finally {
      sqlite.close();
    }
    const refreshed = await dump(server(), sandbox(), ['--channel', 'C0ARCHIVE3', '-o', db, '--page-size', '50', '--refresh-people']);
    expect(refreshed.code, explain(refreshed)).toBe(0);
    expect(users()).toBeGreaterThan(usersBefore);
  });

  it('providers check walks one page of each part: the directory (names then come from it), the messages, the first thread', async () => {
    writeConfig(sandbox());
    const result = await runCli(['providers', 'check', 'slackish', '--channel', 'C0THREADS1', '--base-url', `${server().url}/slack/api`, '--count', '50'], {
      env: sandbox().env({ CHAT_EXPORT_TOKEN: 'xoxb-fixture' }),
    });
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toMatch(/^people: GET http:\/\/127\.0\.0\.1:\d+\/slack\/api\/users\.list\?limit=200$/m);
    expect(result.stdout).toMatch(/^people on the first page: 30, named 30;/m);
    expect(result.stdout).toMatch(/^threads: [1-9]\d* records on this page meet replies\.when/m);
    expect(result.stdout).toMatch(/^GET .*\/conversations\.replies\?channel=C0THREADS1&ts=\d{10}\.\d{6}&limit=200$/m);
    expect(result.stdout).toMatch(/^replies on its first page: [1-9]\d* \(the parent, repeated, is dropped\)$/m);
    // the messages are named from the directory: no sender is left without a name
    const shown = result.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { sender: { name: string | null } });
    expect(shown.length).toBeGreaterThan(10);
    expect(shown.every((m) => m.sender.name !== null)).toBe(true);
  });

  it('--resume continues a walk that failed inside a thread: from that thread\'s page, exact', async () => {
    writeConfig(sandbox());
    const out = join(sandbox().dir, 'resume', 'thread.jsonl');
    mkdirSync(dirname(out), { recursive: true });
    const env = { CHAT_EXPORT_RUN_SIZE: '25' };
    // the 5th page of the big thread and every one after fails: the walk stops inside the thread (exit 4)
    server().addFault({ provider: 'slack', channel: 'C0RESUME04', path: 'conversations.replies', nth: 5, times: 1000, kind: 'status', status: 503 });
    try {
      const failed = await dump(server(), sandbox(), ['--channel', 'C0RESUME04', '-o', out, '--page-size', '20', '--retries', '0'], env);
      expect(failed.code, explain(failed)).toBe(4);
      expect(failed.stderr).toMatch(/--resume/);
    } finally {
      server().clearFaults();
    }
    const saved = readdirSync(join(sandbox().dir, 'config', 'state', 'checkpoints'), { recursive: true }).map(String).find((f) => f.endsWith('checkpoint.json'));
    const checkpoint = JSON.parse(readFileSync(join(sandbox().dir, 'config', 'state', 'checkpoints', saved!), 'utf8')) as { walk: { kind: string; inner: unknown; pending: unknown[] } };
    expect(checkpoint.walk.kind).toBe('threads');
    expect(checkpoint.walk.inner).not.toBeNull();
    const before = server().log.length;
    const resumed = await dump(server(), sandbox(), ['--channel', 'C0RESUME04', '-o', out, '--page-size', '20', '--resume'], env);
    expect(resumed.code, explain(resumed)).toBe(0);
    expect(resumed.stderr).toMatch(/resuming after \d+ messages/);
    const asked = repliesAsked(server(), before);
    // the thread went on from a page inside it: its first page was not asked for again
    expect(new URL(asked[0]!.url, server().url).searchParams.get('cursor')).toBeTruthy();
    expect(asked.length).toBeLessThan(150 / 20);
    const start = truth(server(), 'C0RESUME04');
    expect(exportProblems({ provider: NAME, channel: 'C0RESUME04', lines: linesOf(readFileSync(out, 'utf8')), start, end: start, order: 'asc' })).toEqual([]);
  });
});

describe('SIGKILL at random moments of a run with threads into an archive', () => {
  // a little latency, so the kills land inside the walk: in the history, inside a thread, past the watermark
  const server = useServer({
    auth: { token: 'xoxb-fixture' },
    latencyMs: 3,
    channels: [{ provider: 'slack', id: 'C0KILLED05', count: 300, threads: { big: [{ at: 30, replies: 120 }] } }],
  });
  const sandbox = useSandbox();

  /** The dump, killed once the server has seen `requests` more requests (or ended by itself before). */
  function killedAfter(args: string[], requests: number): Promise<NodeJS.Signals | null> {
    const base = server().log.length;
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { env: sandbox().env({ CHAT_EXPORT_TOKEN: 'xoxb-fixture' }), stdio: 'ignore' });
      const poll = setInterval(() => {
        if (server().log.length - base >= requests) child.kill('SIGKILL');
      }, 2);
      const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('error', reject);
      child.on('close', (_code, signal) => {
        clearInterval(poll);
        clearTimeout(guard);
        resolve(signal);
      });
    });
  }

  it('replies posted and messages inserted between the kills; the rerun leaves the archive exactly the ground truth', async () => {
    writeConfig(sandbox());
    const db = join(sandbox().dir, 'killed.sqlite');
    const args = ['dump', '--provider', 'slackish', '--channel', 'C0KILLED05', '--base-url', `${server().url}/slack/api`, '--no-progress', '--rate', '1000', '--page-size', '20', '-o', db];
    let kills = 0;
    for (let round = 0; round < 5; round++) {
      if ((await killedAfter(args, 3 + Math.floor(Math.random() * 40))) === 'SIGKILL') kills++;
      const threads = server().threads('slack', 'C0KILLED05');
      server().reply('slack', 'C0KILLED05', threads[Math.floor(Math.random() * threads.length)]!.id, 1 + (round % 2), { broadcast: round === 3 });
      server().insert('slack', 'C0KILLED05', round);
    }
    expect(kills).toBeGreaterThan(0);
    const rerun = await runCli(args.slice(0), { env: sandbox().env({ CHAT_EXPORT_TOKEN: 'xoxb-fixture' }), timeoutMs: 60_000 });
    expect(rerun.code, explain(rerun)).toBe(0);
    const converted = await runCli(['convert', db, '-o', '-', '--format', 'jsonl'], { env: sandbox().env() });
    expect(converted.code, explain(converted)).toBe(0);
    const end = truth(server(), 'C0KILLED05');
    expect(exportProblems({ provider: NAME, channel: 'C0KILLED05', lines: linesOf(converted.stdout), start: end, end, order: 'asc' })).toEqual([]);
  }, 120_000);
});
