/**
 * The built-in definitions of real platforms (mattermost, zulip, matrix,
 * rocketchat), through the real binary, against fixture APIs written from the
 * same public references (fixtures/providers/{mattermost,zulip,matrix,
 * rocketchat}.js): every message exactly once while posts arrive, ties past a
 * page, hostile texts and names, edits, deletions, files, runs of events that
 * are not messages; --incremental and the archive; faults and each
 * platform's own errors and rate-limit answers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { startFixtureServer, type ChannelSpec, type FaultRule, type FixtureServer, type Platform } from '../../fixtures/server.js';
import { API_KEY, BIN, TOKEN, runCli, type RunResult } from '../helpers/cli.js';
import { expectedMessage, exportProblems, linesOf } from '../helpers/ground-truth.js';
import { useSandbox, useServer } from '../helpers/fixtures.js';

interface Case {
  provider: Platform;
  /** a channel id as each platform spells one */
  id: (name: string) => string;
  pageSize: string;
  /** the platform's own rate-limit answer */
  rateLimited: Extract<FaultRule, { kind: 'status' }>;
  /** what a wrong token gets, and its exit */
  badToken: { code: number; stderr: RegExp };
  unknown: { code: number; stderr: RegExp };
  extra?: Partial<ChannelSpec>;
}

const ALL_CASES: Case[] = [
  {
    provider: 'mattermost',
    id: (name) => `${name}${'x'.repeat(26)}`.slice(0, 26),
    // a page holds more posts than share any one millisecond (see the definition's paging)
    pageSize: '40',
    rateLimited: { kind: 'status', status: 429, headers: { 'Retry-After': '1', 'X-Ratelimit-Limit': '10', 'X-Ratelimit-Remaining': '0', 'X-Ratelimit-Reset': '1' }, body: 'limit exceeded\n' },
    badToken: { code: 3, stderr: /\(HTTP 401\): Invalid or expired session, please login again\./ },
    unknown: { code: 2, stderr: /channel not found.*HTTP 404/ },
  },
  {
    provider: 'zulip',
    id: (name) => String(10 + name.length * 3 + name.charCodeAt(0)),
    pageSize: '40',
    rateLimited: { kind: 'status', status: 429, headers: { 'Retry-After': '1' }, body: { result: 'error', msg: 'API usage exceeded rate limit', code: 'RATE_LIMIT_HIT', 'retry-after': 0.5 } },
    badToken: { code: 3, stderr: /code INVALID_API_KEY Invalid API key/ },
    unknown: { code: 2, stderr: /code BAD_NARROW Invalid narrow operator: unknown channel/ },
    extra: { ties: [] },
  },
  {
    provider: 'matrix',
    id: (name) => `!${name}Room:example.org`,
    pageSize: '15',
    rateLimited: { kind: 'status', status: 429, headers: { 'Retry-After': '1' }, body: { errcode: 'M_LIMIT_EXCEEDED', error: 'Too Many Requests', retry_after_ms: 500 } },
    badToken: { code: 3, stderr: /\(HTTP 401\): M_UNKNOWN_TOKEN: Invalid access token passed\./ },
    unknown: { code: 3, stderr: /M_FORBIDDEN: User @bot:example\.org not in room/ },
    extra: { noise: [{ at: 40, size: 45 }, { at: 41, size: 3 }] },
  },
  {
    provider: 'rocketchat',
    id: (name) => `${name.toUpperCase()}ROOM`,
    pageSize: '20',
    // Rocket.Chat states no Retry-After: its X-RateLimit-Reset is epoch milliseconds
    rateLimited: {
      kind: 'status',
      status: 429,
      headers: () => ({ 'X-RateLimit-Limit': '10', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': String(Date.now() + 500) }),
      body: { success: false, error: 'Error, too many requests. Please slow down. You must wait 1 seconds before trying this endpoint again. [error-too-many-requests]', errorType: 'error-too-many-requests' },
    },
    badToken: { code: 3, stderr: /\(HTTP 401\): You must be logged in to do this\./ },
    unknown: { code: 2, stderr: /error-room-not-found.*room not found/ },
  },
];

const CASES = ALL_CASES;

/** Channels of one platform: one per test, so arrivals in one never meet another. */
function specs(c: Case): ChannelSpec[] {
  const base = { provider: c.provider, hostile: true, ...(c.extra ?? {}) } as const;
  const ties = c.provider === 'zulip' ? [] : [{ at: 120, size: 30 }];
  return [
    { ...base, id: c.id('arrive'), count: 420, insertEvery: 2, ties, name: 'arrivals' },
    { ...base, id: c.id('inc'), count: 230, ties, name: 'incremental' },
    { ...base, id: c.id('arch'), count: 150, name: 'archive' },
    { ...base, id: c.id('fault'), count: 160, name: 'faults' },
  ];
}

const EXTRA: ChannelSpec[] = [
  { provider: 'zulip', id: '77', name: 'dev "ops" / 测试', count: 120, hostile: true },
  { provider: 'rocketchat', id: 'aliceIDbobID', kind: 'im', count: 90, name: 'alice-bob' },
  { provider: 'rocketchat', id: 'SECRETROOM', kind: 'private', count: 40, name: 'secret' },
  { provider: 'mattermost', id: 'privatexxxxxxxxxxxxxxxxxxx', kind: 'private', member: false, count: 10 },
  { provider: 'mattermost', id: 'deletesxxxxxxxxxxxxxxxxxxx', count: 300, deleteEvery: 2, hostile: true },
];

/** A channel whose server allows 4 requests a second, as each platform says it (or does not). */
const BUDGETS: ChannelSpec[] = ALL_CASES.map((c) => ({ provider: c.provider, id: c.id('budget'), count: 200, rateLimit: { limit: 4, windowMs: 1000 }, name: 'budget' }));

const server = useServer({ auth: { token: TOKEN, apiKey: API_KEY }, latencyMs: 1, channels: [...CASES.flatMap(specs), ...EXTRA, ...BUDGETS.filter((b) => CASES.some((c) => c.provider === b.provider))] });
const sandbox = useSandbox();

async function dump(provider: string, args: string[], env?: Record<string, string>): Promise<RunResult> {
  return runCli(['dump', '--provider', provider, '--base-url', server().url, '--no-progress', '--rate', '1000', ...args], { env: sandbox().env(env), timeoutMs: 60_000 });
}

const explain = (r: RunResult) => `exit ${r.code}\n${r.stderr.slice(0, 3000)}`;

/** The archive's messages as python3's sqlite3 reads them (documented columns only). */
function archived(path: string, channel: string): Array<{ id: string; text: string; edited_at: string | null; deleted: number; sender_name: string | null }> {
  const code = `import json, sqlite3, sys
con = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
con.row_factory = sqlite3.Row
sys.stdout.write(json.dumps([dict(r) for r in con.execute('SELECT id, text, edited_at, deleted, sender_name FROM messages WHERE channel = ? ORDER BY timestamp, id', (sys.argv[2],))]))`;
  const result = spawnSync('python3', ['-c', code, path, channel], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (result.status !== 0) throw new Error(`python3 could not read ${path}: ${result.stderr}`);
  return JSON.parse(result.stdout) as ReturnType<typeof archived>;
}

describe.each(CASES)('$provider (built-in definition, fixture API from the public reference)', (c) => {
  const [arrive, inc, arch, fault] = specs(c).map((s) => s.id) as [string, string, string, string];

  it('every message exactly once, oldest first, while posts arrive (ties, hostile texts and names, files, edits)', async () => {
    const start = server().messages(c.provider, arrive);
    const result = await dump(c.provider, ['--channel', arrive, '--page-size', c.pageSize]);
    expect(result.code, explain(result)).toBe(0);
    const end = server().messages(c.provider, arrive);
    expect(exportProblems({ provider: c.provider, channel: arrive, lines: linesOf(result.stdout), start, end, order: 'asc' })).toEqual([]);
    expect(end.length).toBeGreaterThan(start.length);
    // the traps were there: files, edits, hostile names
    // (Zulip uploads are links in the Markdown text)
    expect(start.some((m) => m.attachments.length > 0 || m.text.includes('](/user_uploads/'))).toBe(true);
    expect(start.some((m) => m.updatedTime !== null && m.updatedTime > m.time)).toBe(true);
  });

  it('--incremental appends only what arrived; the archive holds each message once, with its edits and deletions', async () => {
    mkdirSync(join(sandbox().dir, c.provider), { recursive: true });
    const file = join(sandbox().dir, c.provider, 'inc.jsonl');
    const first = await dump(c.provider, ['--channel', inc, '-o', file, '--incremental']);
    expect(first.code, explain(first)).toBe(0);
    server().insert(c.provider, inc, 7);
    const second = await dump(c.provider, ['--channel', inc, '-o', file, '--incremental']);
    expect(second.code, explain(second)).toBe(0);
    const truth = server().messages(c.provider, inc);
    expect(exportProblems({ provider: c.provider, channel: inc, lines: linesOf(readFileSync(file, 'utf8')), start: truth, end: truth, order: 'asc' })).toEqual([]);

    const archive = join(sandbox().dir, c.provider, 'archive.sqlite');
    const one = await dump(c.provider, ['--channel', arch, '-o', archive]);
    expect(one.code, explain(one)).toBe(0);
    const before = server().messages(c.provider, arch);
    const edited = before[5]!;
    server().edit(c.provider, arch, edited.id, 'edited after the first backup');
    // Matrix keeps a redacted message (deleted, content gone); the others stop showing a deleted one
    const redacted = c.provider === 'matrix' ? before.find((m) => !m.deleted && m.id !== edited.id && m.time > before[12]!.time) : undefined;
    if (redacted) server().revoke(c.provider, arch, redacted.id);
    server().insert(c.provider, arch, 4);
    const two = await dump(c.provider, ['--channel', arch, '-o', archive, '--lookback', '1d']);
    expect(two.code, explain(two)).toBe(0);
    const truthNow = server().messages(c.provider, arch);
    const rows = archived(archive, arch);
    expect(rows.map((r) => r.id).sort()).toEqual(truthNow.map((m) => m.id).sort());
    for (const m of truthNow) {
      const e = expectedMessage(c.provider, arch, m);
      expect(rows.find((r) => r.id === m.id), m.id).toMatchObject({ text: e.text, edited_at: e.editedAt, deleted: e.deleted ? 1 : 0, sender_name: e.sender.name });
    }
    expect(rows.find((r) => r.id === edited.id)!.text).toBe('edited after the first backup');
    if (redacted) expect(rows.find((r) => r.id === redacted.id)).toMatchObject({ deleted: 1, text: '' });
  });

  it('a 503, a cut body and the platform\'s own rate-limit answer are retried; the export is still exact', async () => {
    server().clearFaults();
    server().addFault({ provider: c.provider, channel: fault, nth: 2, kind: 'status', status: 503 });
    server().addFault({ provider: c.provider, channel: fault, nth: 4, kind: 'truncate' });
    server().addFault({ provider: c.provider, channel: fault, nth: 5, ...c.rateLimited });
    server().resetLog();
    const truth = server().messages(c.provider, fault);
    const result = await dump(c.provider, ['--channel', fault, '--page-size', c.pageSize, '--retries', '4']);
    server().clearFaults();
    expect(result.code, explain(result)).toBe(0);
    expect(exportProblems({ provider: c.provider, channel: fault, lines: linesOf(result.stdout), start: truth, end: truth, order: 'asc' })).toEqual([]);
    expect(server().log.filter((e) => e.fault !== undefined).map((e) => e.status)).toEqual([503, 200, 429]);
  });

  it('a wrong token and an unknown channel are the platform\'s own words, with the right exit and no secret', async () => {
    const wrong = await dump(c.provider, ['--channel', arrive], { CHAT_EXPORT_TOKEN: 'wrong-token-123' });
    expect(wrong.code, explain(wrong)).toBe(c.badToken.code);
    expect(wrong.stderr).toMatch(c.badToken.stderr);
    expect(wrong.stderr).not.toContain('wrong-token-123');
    const unknown = await dump(c.provider, ['--channel', c.id('nope')]);
    expect(unknown.code, explain(unknown)).toBe(c.unknown.code);
    expect(unknown.stderr).toMatch(c.unknown.stderr);
    expect(unknown.stderr).not.toContain(TOKEN);
  });
});

describe('providers check: one request, the first messages normalized', () => {
  it.each(CASES)('$provider', async (c) => {
    server().resetLog();
    const result = await runCli(['providers', 'check', c.provider, '--channel', c.id('fault'), '--base-url', server().url, '--count', '2'], { env: sandbox().env() });
    expect(result.code, explain(result)).toBe(0);
    // one page of messages (Mattermost: and the first page of its users directory, to name them)
    expect(server().log).toHaveLength(c.provider === 'mattermost' ? 2 : 1);
    const shown = result.stdout.split('\n').filter((line) => line.startsWith('{'));
    expect(shown).toHaveLength(2);
    expect(JSON.parse(shown[0]!)).toMatchObject({ provider: c.provider, channel: c.id('fault') });
    expect(result.stdout).not.toContain(TOKEN);
  });
});

describe('providers lists the platforms with what credentials they need', () => {
  it('each built-in, its auth and that its base URL is the user\'s own', async () => {
    const result = await runCli(['providers', '--json'], { env: sandbox().env() });
    expect(result.code, explain(result)).toBe(0);
    const rows = JSON.parse(result.stdout) as Array<{ name: string; auth: string; token: string; apiKey: string; defaultBaseUrl: string | null; source: string }>;
    const pick = (name: string) => rows.find((row) => row.name === name);
    expect(pick('mattermost')).toMatchObject({ source: 'built-in', auth: 'Authorization: Bearer', token: 'required', apiKey: 'unused', defaultBaseUrl: null });
    expect(pick('zulip')).toMatchObject({ source: 'built-in', auth: 'HTTP Basic', token: 'required', apiKey: 'required', defaultBaseUrl: null });
    expect(pick('matrix')).toMatchObject({ source: 'built-in', auth: 'Authorization: Bearer', token: 'required', apiKey: 'unused', defaultBaseUrl: null });
    expect(pick('rocketchat')).toMatchObject({ source: 'built-in', auth: 'header X-Auth-Token, header X-User-Id', token: 'required', apiKey: 'required', defaultBaseUrl: null });
  });
});

describe('what only one platform does', () => {
  it('rocketchat: a direct conversation is --peer (im.history); a private group is not a public channel (exit 2, the server\'s words)', async () => {
    const truth = server().messages('rocketchat', 'aliceIDbobID');
    const dm = await dump('rocketchat', ['--peer', 'aliceIDbobID', '--page-size', '30']);
    expect(dm.code, explain(dm)).toBe(0);
    expect(exportProblems({ provider: 'rocketchat', channel: 'aliceIDbobID', lines: linesOf(dm.stdout), start: truth, end: truth, order: 'asc' })).toEqual([]);
    expect(server().log.some((e) => e.url.startsWith('/api/v1/im.history?roomId=aliceIDbobID'))).toBe(true);
    const group = await dump('rocketchat', ['--channel', 'SECRETROOM']);
    expect(group.code, explain(group)).toBe(2);
    expect(group.stderr).toMatch(/does not match any channel \[error-room-not-found\]/);
  });

  it('mattermost: names come from the users directory (deactivated accounts too), kept in the archive\'s people table', async () => {
    const archive = join(sandbox().dir, 'mattermost-people.sqlite');
    const result = await dump('mattermost', ['--channel', CASES[0]!.id('fault'), '-o', archive, '--refresh-people']);
    expect(result.code, explain(result)).toBe(0);
    const code = `import json, sqlite3, sys
con = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
sys.stdout.write(json.dumps([list(r) for r in con.execute("SELECT id, name, avatar FROM people WHERE provider = 'mattermost' ORDER BY name")]))`;
    const read = spawnSync('python3', ['-c', code, archive], { encoding: 'utf8' });
    expect(read.status, read.stderr).toBe(0);
    const people = JSON.parse(read.stdout) as Array<[string, string, string]>;
    expect(people.map(([, name]) => name)).toEqual(['alice', 'bob', 'deploy-bot', 'evil', 'former', 'omega', 'quote', 'zhang', 'zoe']);
    for (const [id, , avatar] of people) expect(avatar).toBe(`${server().url}/api/v4/users/${id}/image`);
  });

  it('zulip: a channel by id (a number in the narrow) or by its name (text, escaped in the JSON), the same export', async () => {
    const truth = server().messages('zulip', '77');
    server().resetLog();
    const byId = await dump('zulip', ['--channel', '77', '--page-size', '50']);
    expect(byId.code, explain(byId)).toBe(0);
    expect(exportProblems({ provider: 'zulip', channel: '77', lines: linesOf(byId.stdout), start: truth, end: truth, order: 'asc' })).toEqual([]);
    const narrow = new URL(server().log[0]!.url, server().url).searchParams.get('narrow');
    expect(JSON.parse(narrow!)).toEqual([{ operator: 'stream', operand: 77 }]);
    const byName = await dump('zulip', ['--channel', 'dev "ops" / 测试', '--page-size', '50']);
    expect(byName.code, explain(byName)).toBe(0);
    // the same messages, filed under the channel as it was named
    expect(linesOf(byName.stdout).map((line) => ({ ...JSON.parse(line), channel: '77' }))).toEqual(linesOf(byId.stdout).map((line) => JSON.parse(line)));
    const gone = await dump('zulip', ['--channel', 'no such channel']);
    expect(gone.code, explain(gone)).toBe(2);
    expect(gone.stderr).toMatch(/BAD_NARROW Invalid narrow operator: unknown channel no such channel/);
  });

  it('mattermost: posts deleted while the walk goes on pull older ones forward; asked for before a post, none is skipped', async () => {
    const channel = 'deletesxxxxxxxxxxxxxxxxxxx';
    const start = server().messages('mattermost', channel);
    const result = await dump('mattermost', ['--channel', channel, '--page-size', '30']);
    expect(result.code, explain(result)).toBe(0);
    const end = server().messages('mattermost', channel);
    const deleted = start.filter((m) => !end.some((e) => e.id === m.id));
    // posts were deleted during the walk (every 2nd answer): page numbers would have slid under it
    expect(deleted.length).toBeGreaterThan(3);
    const survivors = start.filter((m) => end.some((e) => e.id === m.id));
    expect(exportProblems({ provider: 'mattermost', channel, lines: linesOf(result.stdout), start: survivors, end: [...end, ...deleted], order: 'asc' })).toEqual([]);
  });

  it('mattermost: a private channel the token\'s user is not in is exit 3 with what to do', async () => {
    const result = await dump('mattermost', ['--channel', 'privatexxxxxxxxxxxxxxxxxxx']);
    expect(result.code, explain(result)).toBe(3);
    expect(result.stderr).toMatch(/You do not have the appropriate permissions\..*add the user or bot to it/);
  });
});

describe('a request budget stated in headers is obeyed: the server never has to refuse the run', () => {
  it.each(CASES)('$provider', async (c) => {
    const channel = c.id('budget');
    server().resetLog();
    const truth = server().messages(c.provider, channel);
    const result = await dump(c.provider, ['--channel', channel, '--page-size', '20']);
    expect(result.code, explain(result)).toBe(0);
    expect(exportProblems({ provider: c.provider, channel, lines: linesOf(result.stdout), start: truth, end: truth, order: 'asc' })).toEqual([]);
    const answers = server().log.filter((e) => e.channel === channel);
    // more requests than one window allows: the budget was spent and waited for
    expect(answers.length).toBeGreaterThan(4);
    const refused = answers.filter((e) => e.status === 429).length;
    // Matrix states no budget: its refusals (M_LIMIT_EXCEEDED, Retry-After) are waited out and read again
    if (c.provider === 'matrix') expect(refused).toBeGreaterThan(0);
    else expect(refused).toBe(0);
  });
});

describe('SIGKILL in the middle of an archive run, then a rerun: exactly the ground truth', () => {
  it.each(['matrix', 'rocketchat', 'mattermost'] as const)('%s', async (provider) => {
    const c = ALL_CASES.find((k) => k.provider === provider)!;
    const channel = c.id('kill');
    // a server slow enough (10 ms an answer) that the kill lands mid-walk
    const slow = await startFixtureServer({ auth: { token: TOKEN, apiKey: API_KEY }, latencyMs: 10, channels: [{ provider, id: channel, count: 500, hostile: true, ...(provider === 'matrix' ? { noise: [{ at: 200, size: 40 }] } : {}) }] });
    try {
      const archive = join(sandbox().dir, `${provider}-kill.sqlite`);
      const args = ['dump', '--provider', provider, '--base-url', slow.url, '--no-progress', '--rate', '1000', '--channel', channel, '--page-size', c.pageSize, '-o', archive];
      const killed = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, ...args], { env: sandbox().env(), stdio: ['ignore', 'ignore', 'ignore'] });
        const poll = setInterval(() => {
          if (slow.log.length >= 6) child.kill('SIGKILL');
        }, 2);
        child.on('error', reject);
        child.on('close', (_code, signal) => {
          clearInterval(poll);
          resolve(signal);
        });
      });
      expect(killed).toBe('SIGKILL');
      slow.insert(provider, channel, 5);
      const rerun = await runCli(args, { env: sandbox().env(), timeoutMs: 60_000 });
      expect(rerun.code, explain(rerun)).toBe(0);
      const truth = slow.messages(provider, channel);
      const rows = archived(archive, channel);
      expect(rows.map((r) => r.id).sort()).toEqual(truth.map((m) => m.id).sort());
      for (const m of truth) expect(rows.find((r) => r.id === m.id)!.text, m.id).toBe(expectedMessage(provider, channel, m).text);
    } finally {
      await slow.close();
    }
  }, 90_000);
});
