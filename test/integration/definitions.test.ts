/**
 * APIs the code has never heard of, exported by a config definition alone:
 * an opaque next-token cursor (tokenchat, Slack-style), offset paging served
 * oldest first (offsetchat, Rocket.Chat-style) and a `Link` header
 * (linkchat, GitHub-style). Each is checked exactly against the fixture
 * server's ground truth while messages arrive during the walk. The first two
 * definitions are read from the README, so the manual stays true.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

import type { Api as Provider, CanonicalMessage, FixtureServer } from '../../fixtures/server.js';
import { API_KEY, TOKEN, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { exportProblems, linesOf } from '../helpers/ground-truth.js';
import { useSandbox, useServer } from '../helpers/fixtures.js';
import { readmeExample } from '../helpers/readme.js';

const linkchat = {
  summary: 'GitHub-style: bare JSON array, next page in the Link header',
  auth: [{ type: 'query', name: 'access_token', from: 'token' }],
  request: { path: '/api/rooms/{channel}/messages' },
  paging: { type: 'link', from: { header: 'Link' }, size: { param: 'per_page', default: 30, max: 100 } },
  order: 'newest-first',
  records: '@',
  httpErrors: { message: 'message', status: { '404': { kind: 'usage', text: 'room not found', hint: 'check --channel' } } },
  fields: {
    id: 'id',
    time: { path: 'created_at', format: 'iso' },
    sender: { id: 'author.id', name: 'author.login', avatar: 'author.avatar_url' },
    text: 'body',
    updated: { path: 'updated_at', format: 'iso' },
  },
};

function writeConfig(sandbox: Sandbox, providers: Record<string, unknown>): void {
  mkdirSync(dirname(sandbox.config), { recursive: true });
  writeFileSync(sandbox.config, JSON.stringify({ profiles: {}, providers }, null, 2), { mode: 0o600 });
}

interface Dumped {
  result: RunResult;
  lines: string[];
  start: CanonicalMessage[];
  end: CanonicalMessage[];
}

async function dump(server: FixtureServer, sandbox: Sandbox, provider: Provider, channel: string, extra: string[] = []): Promise<Dumped> {
  server.resetLog();
  const start = server.messages(provider, channel);
  const result = await runCli(
    ['dump', '--provider', provider, '--channel', channel, '--base-url', server.url, '--rate', '1000', '--no-progress', ...extra],
    { env: sandbox.env(), timeoutMs: 60_000 },
  );
  return { result, lines: linesOf(result.stdout), start, end: server.messages(provider, channel) };
}

const explain = (r: RunResult) => `exit ${r.code}\n${r.stderr.slice(0, 2000)}`;

describe('APIs the code never heard of, exported by a config definition alone, while messages arrive', () => {
  const server = useServer({
    auth: { token: TOKEN, apiKey: API_KEY },
    latencyMs: 2,
    channels: [
      // a message arrives after every 2nd answer; ties straddle page edges
      { provider: 'tokenchat', id: 'C024BE91L', count: 730, insertEvery: 2, ties: [{ at: 300, size: 40 }] },
      { provider: 'offsetchat', id: 'GENERAL', count: 640, insertEvery: 2, ties: [{ at: 99, size: 7 }] },
      { provider: 'linkchat', id: 'team/room 1', count: 480, insertEvery: 2 },
    ],
  });
  const sandbox = useSandbox();
  const setUp = () => writeConfig(sandbox(), { tokenchat: readmeExample('tokenchat'), offsetchat: readmeExample('offsetchat'), linkchat });

  it.each<[Provider, string, string[]]>([
    ['tokenchat', 'C024BE91L', ['--page-size', '50']],
    ['offsetchat', 'GENERAL', ['--page-size', '40']],
    ['linkchat', 'team/room 1', ['--page-size', '25']],
  ])('%s: every message once, exact lines, oldest first', async (provider, channel, extra) => {
    setUp();
    const out = await dump(server(), sandbox(), provider, channel, extra);
    expect(out.result.code, explain(out.result)).toBe(0);
    expect(exportProblems({ provider, channel, lines: out.lines, start: out.start, end: out.end, order: 'asc' })).toEqual([]);
    expect(out.lines.length).toBeGreaterThanOrEqual(out.start.length);
    // messages did arrive during the walk
    expect(out.end.length).toBeGreaterThan(out.start.length);
  });

  it.each<[Provider, string]>([
    ['tokenchat', 'C024BE91L'],
    ['linkchat', 'team/room 1'],
  ])('%s: the next page is asked for while this one is read; answers read again (a 503, a cut body) change nothing', async (provider, channel) => {
    setUp();
    // answers 3 and 6 fail once (a 503, a cut body): the page is read again, and the request sent ahead of it stands or is replaced
    server().addFault({ provider, kind: 'status', status: 503, nth: 3 });
    server().addFault({ provider, kind: 'truncate', nth: 6 });
    const out = await dump(server(), sandbox(), provider, channel, ['--page-size', '20', '--retries', '3']);
    expect(out.result.code, explain(out.result)).toBe(0);
    expect(exportProblems({ provider, channel, lines: out.lines, start: out.start, end: out.end, order: 'asc' })).toEqual([]);
    expect(server().log.filter((entry) => entry.provider === provider && entry.fault !== undefined)).toHaveLength(2);
    // one request at a time still: the next leaves only once this answer has arrived
    expect(server().maxInFlight(provider, channel)).toBe(1);
    // every page once, plus the two read again and at most one asked for ahead that the end made needless
    const pages = server().log.filter((entry) => entry.provider === provider && entry.status === 200).length;
    expect(server().log.filter((entry) => entry.provider === provider).length).toBeLessThanOrEqual(pages + 2 + 1);
  });

  it('a definition that does not say its server\'s largest page (no size.max) works: --page-size is sent as asked', async () => {
    const { max: _max, ...size } = linkchat.paging.size;
    writeConfig(sandbox(), { linkchat: { ...linkchat, paging: { ...linkchat.paging, size } } });
    const out = await dump(server(), sandbox(), 'linkchat', 'team/room 1', ['--page-size', '90']);
    expect(out.result.code, explain(out.result)).toBe(0);
    expect(exportProblems({ provider: 'linkchat', channel: 'team/room 1', lines: out.lines, start: out.start, end: out.end, order: 'asc' })).toEqual([]);
    expect(server().log.some((entry) => entry.url.includes('per_page=90'))).toBe(true);
  });

  it('tokenchat --order desc --since: newest first, stops early (not every page is read)', async () => {
    setUp();
    const all = server().messages('tokenchat', 'C024BE91L');
    const since = all[99]!.time; // the 100 newest or so
    const out = await dump(server(), sandbox(), 'tokenchat', 'C024BE91L', ['--page-size', '50', '--order', 'desc', '--since', String(since)]);
    expect(out.result.code, explain(out.result)).toBe(0);
    const start = out.start.filter((m) => m.time >= since);
    expect(exportProblems({ provider: 'tokenchat', channel: 'C024BE91L', lines: out.lines, start, end: out.end.filter((m) => m.time >= since), order: 'desc' })).toEqual([]);
    expect(server().log.length).toBeLessThan(6);
  });

  it('offsetchat --incremental twice: the second run appends only what arrived', async () => {
    setUp();
    mkdirSync(`${sandbox().dir}/inc`, { recursive: true });
    const target = `${sandbox().dir}/inc/offsetchat.jsonl`;
    const first = await dump(server(), sandbox(), 'offsetchat', 'GENERAL', ['-o', target, '--incremental']);
    expect(first.result.code, explain(first.result)).toBe(0);
    server().insert('offsetchat', 'GENERAL', 5);
    const second = await dump(server(), sandbox(), 'offsetchat', 'GENERAL', ['-o', target, '--incremental']);
    expect(second.result.code, explain(second.result)).toBe(0);
    const lines = linesOf(readFileSync(target, 'utf8'));
    expect(exportProblems({ provider: 'offsetchat', channel: 'GENERAL', lines, start: second.start, end: second.end, order: 'asc' })).toEqual([]);
  });

  it('a wrong token is exit 3 through the definition\'s error code map (tokenchat: HTTP 200, ok false)', async () => {
    setUp();
    const result = await runCli(['dump', '--provider', 'tokenchat', '--channel', 'C024BE91L', '--base-url', server().url, '--no-progress'], {
      env: sandbox().env({ CHAT_EXPORT_TOKEN: 'wrong-token' }),
    });
    expect(result.code, explain(result)).toBe(3);
    expect(result.stderr).toMatch(/tokenchat channel C024BE91L: code invalid_auth/);
    expect(result.stderr).not.toContain('wrong-token');
  });

  it('an unknown room is exit 2 with the definition\'s own words (linkchat: HTTP 404)', async () => {
    setUp();
    const result = await runCli(['dump', '--provider', 'linkchat', '--channel', 'nope', '--base-url', server().url, '--no-progress'], { env: sandbox().env() });
    expect(result.code, explain(result)).toBe(2);
    expect(result.stderr).toMatch(/room not found \(HTTP 404/);
    expect(result.stderr).not.toContain(TOKEN);
  });

  it.each<[Provider, string, RegExp]>([
    ['tokenchat', 'C024BE91L', /next "[A-Za-z0-9_-]+"/],
    ['offsetchat', 'GENERAL', /total \d+/],
    ['linkchat', 'team/room 1', /empty in every message: replyTo, deleted, attachments/],
  ])('providers check %s: one request, the first messages normalized, the empty fields named', async (provider, channel, signal) => {
    setUp();
    server().resetLog();
    const result = await runCli(['providers', 'check', provider, '--channel', channel, '--base-url', server().url, '--count', '2'], { env: sandbox().env() });
    expect(result.code, explain(result)).toBe(0);
    expect(server().log).toHaveLength(1);
    expect(result.stdout).toMatch(signal);
    expect(result.stdout).toMatch(/empty in every message: /);
    const shown = result.stdout.split('\n').filter((line) => line.startsWith('{'));
    expect(shown).toHaveLength(2);
    expect(JSON.parse(shown[0]!)).toMatchObject({ provider, channel });
    expect(result.stdout).not.toContain(TOKEN);
  });

  it('providers check shows a field map that reads nothing', async () => {
    writeConfig(sandbox(), { tokenchat: { ...readmeExample('tokenchat'), fields: { ...(readmeExample('tokenchat').fields as object), text: 'txt' } } });
    const result = await runCli(['providers', 'check', 'tokenchat', '--channel', 'C024BE91L', '--base-url', server().url], { env: sandbox().env() });
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toMatch(/empty in every message: .*\btext\b/);
  });

  it('providers lists the config definitions beside the built-ins; providers show prints one as JSON', async () => {
    setUp();
    const list = await runCli(['providers'], { env: sandbox().env() });
    expect(list.code, explain(list)).toBe(0);
    for (const name of ['relation', 'discuz', 'dishawang', 'tokenchat (config)', 'offsetchat (config)', 'linkchat (config)']) expect(list.stdout).toContain(name);
    const show = await runCli(['providers', 'show', 'offsetchat'], { env: sandbox().env() });
    expect(show.code, explain(show)).toBe(0);
    expect(JSON.parse(show.stdout)).toEqual(readmeExample('offsetchat'));
    const builtin = await runCli(['providers', 'show', 'relation'], { env: sandbox().env() });
    expect(JSON.parse(builtin.stdout)).toMatchObject({ paging: { type: 'time', param: 'maxCreateAt', inclusive: true } });
  });

  it('an invalid definition is exit 2 before any request, one line per problem', async () => {
    writeConfig(sandbox(), {
      broken: { ...linkchat, paging: { type: 'pagez' }, order: 'sideways', fields: { id: 'id', time: { path: 'created_at', format: 'unix' }, txt: 'body' } },
    });
    server().resetLog();
    const result = await runCli(['dump', '--provider', 'broken', '--channel', 'x', '--base-url', server().url], { env: sandbox().env() });
    expect(result.code).toBe(2);
    expect(server().log).toHaveLength(0);
    // one line per problem, each naming its full path
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/providers\.broken\.paging\.type: /),
        expect.stringMatching(/providers\.broken\.order: expected one of newest-first, oldest-first/),
        expect.stringMatching(/providers\.broken\.fields\.time\.format: expected one of epoch-ms, epoch-s, iso, local/),
        expect.stringMatching(/providers\.broken\.fields\.txt: unrecognized key/),
      ]),
    );
  });

  it('profile add --provider works with a definition of the config', async () => {
    setUp();
    const add = await runCli(['profile', 'add', 'team', '--provider', 'linkchat', '--base-url', server().url], { env: sandbox().env() });
    expect(add.code, explain(add)).toBe(0);
    const out = await runCli(['dump', '--provider', 'team', '--channel', 'team/room 1', '--no-progress', '--rate', '1000'], { env: sandbox().env() });
    expect(out.code, explain(out)).toBe(0);
    expect(linesOf(out.stdout).length).toBeGreaterThanOrEqual(480);
  });
});
