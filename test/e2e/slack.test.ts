/**
 * The built-in `slack` definition through the real binary, against the
 * fixture's Slack-shaped Web API (fixtures/slack.js, written from Slack's
 * method reference): every message and every thread reply exactly once with
 * names from users.list, ids as Slack's `ts`, bots, joins and leaves,
 * tombstones, files, edits; a reply to an old thread picked up by the next
 * --incremental run and the next archive run; 429 `ratelimited` with
 * Retry-After and 5xx waited out; `ok: false` refusals as the exits they mean.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import type { CanonicalMessage, FixtureServer } from '../../fixtures/server.js';
import { openDatabase } from '../../src/archive/sqlite.js';
import { runCli, type RunResult } from '../helpers/cli.js';
import { exportProblems, linesOf } from '../helpers/ground-truth.js';
import { useSandbox, useServer } from '../helpers/fixtures.js';

const TOKEN = 'xoxb-1234-fixture';
const explain = (result: RunResult) => `exit ${result.code}\n--- stderr\n${result.stderr.slice(0, 3000)}`;

describe('slack (built in)', () => {
  const server = useServer({
    auth: { token: TOKEN },
    workspaces: { slack: { users: 30 } },
    channels: [
      { provider: 'slack', id: 'C0GENERAL1', count: 400, name: 'general', hostile: true, threads: { big: [{ at: 30, replies: 230 }] } },
      { provider: 'slack', id: 'C0NIGHTLY2', count: 180, name: 'nightly' },
      { provider: 'slack', id: 'C0ARCHIVE3', count: 150, name: 'archive' },
      { provider: 'slack', id: 'C0FAULTS04', count: 220, name: 'faults', threads: { big: [{ at: 5, replies: 90 }] } },
      { provider: 'slack', id: 'C0OUTSIDE5', count: 15, name: 'not-mine', member: false },
      { provider: 'slack', id: 'G0PRIVATE6', count: 40, name: 'secret', kind: 'private' },
      { provider: 'slack', id: 'D0DIRECT07', count: 30, kind: 'im', user: 'U01BOB0003' },
    ],
  });
  const sandbox = useSandbox();

  function dump(args: string[], token = TOKEN): Promise<RunResult> {
    return runCli(['dump', '--provider', 'slack', '--base-url', `${server().url}/slack/api`, '--no-progress', '--rate', '1000', ...args], {
      env: sandbox().env({ CHAT_EXPORT_TOKEN: token }),
      timeoutMs: 90_000,
    });
  }
  const truth = (channel: string): CanonicalMessage[] => server().messages('slack', channel);
  const asked = (from: number, method: string) => server().log.slice(from).filter((e) => e.url.includes(`/${method}`));

  it('a channel exactly: every message and thread reply once, in time order, ids as ts, senders named from users.list', async () => {
    const start = truth('C0GENERAL1');
    const result = await dump(['--channel', 'C0GENERAL1', '--page-size', '60']);
    expect(result.code, explain(result)).toBe(0);
    const lines = linesOf(result.stdout);
    expect(exportProblems({ provider: 'slack', channel: 'C0GENERAL1', lines, start, end: start, order: 'asc' })).toEqual([]);
    // the traps were there and came out as the contract says
    const out = lines.map((line) => JSON.parse(line) as { id: string; type: string; sender: { id: string; name: string | null }; deleted: boolean; attachments: unknown[]; replyTo: string | null; editedAt: string | null });
    expect(out.filter((m) => m.replyTo !== null).length).toBeGreaterThan(230);
    expect(out.some((m) => m.deleted)).toBe(true);
    expect(out.some((m) => m.sender.id.startsWith('B') && m.sender.name === 'deploy-bot')).toBe(true);
    expect(out.some((m) => m.type === 'system')).toBe(true);
    expect(out.some((m) => m.attachments.length > 0)).toBe(true);
    expect(out.some((m) => m.editedAt !== null)).toBe(true);
    expect(out.every((m) => /^\d{10}\.\d{6}$/.test(m.id))).toBe(true);
    expect(out.find((m) => m.sender.id === 'U01ZHANG02')?.sender.name).toBe('张伟');
    // the directory is walked once; the big thread over several pages
    expect(asked(0, 'users.list').length).toBeGreaterThan(0);
  });

  it('private channels and DMs by id, newest first too', async () => {
    for (const channel of ['G0PRIVATE6', 'D0DIRECT07']) {
      const start = truth(channel);
      const result = await dump(['--channel', channel, '--order', 'desc', '--page-size', '7']);
      expect(result.code, explain(result)).toBe(0);
      expect(exportProblems({ provider: 'slack', channel, lines: linesOf(result.stdout), start, end: start, order: 'desc' })).toEqual([]);
    }
  });

  it('--incremental twice: a reply to a month-old thread and new messages are in the second run, once', async () => {
    const out = join(sandbox().dir, 'inc', 'nightly.jsonl');
    mkdirSync(join(sandbox().dir, 'inc'), { recursive: true });
    const first = await dump(['--channel', 'C0NIGHTLY2', '-o', out, '--incremental']);
    expect(first.code, explain(first)).toBe(0);
    const threads = server().threads('slack', 'C0NIGHTLY2');
    const [posted] = server().reply('slack', 'C0NIGHTLY2', threads[0]!.id, 1);
    server().insert('slack', 'C0NIGHTLY2', 3);
    const before = server().log.length;
    const second = await dump(['--channel', 'C0NIGHTLY2', '-o', out, '--incremental']);
    expect(second.code, explain(second)).toBe(0);
    const end = truth('C0NIGHTLY2');
    expect(end.some((m) => m.id === posted && m.replyTo === threads[0]!.id)).toBe(true);
    const lines = linesOf(readFileSync(out, 'utf8'));
    expect(lines).toHaveLength(end.length);
    expect(exportProblems({ provider: 'slack', channel: 'C0NIGHTLY2', lines: [...lines].sort((a, b) => a.localeCompare(b)), start: end, end, order: 'asc' }).filter((p) => !p.startsWith('not in'))).toEqual([]);
    // only the thread that changed was walked again
    expect(asked(before, 'conversations.replies').map((e) => new URL(e.url, server().url).searchParams.get('ts'))).toEqual([threads[0]!.id]);
  });

  it('into an archive twice: a reply posted to an old thread between the runs is in it; people and names kept', async () => {
    const db = join(sandbox().dir, 'arch', 'slack.sqlite');
    mkdirSync(join(sandbox().dir, 'arch'), { recursive: true });
    const first = await dump(['--channel', 'C0ARCHIVE3', '-o', db]);
    expect(first.code, explain(first)).toBe(0);
    const old = server().threads('slack', 'C0ARCHIVE3')[0]!;
    const [posted] = server().reply('slack', 'C0ARCHIVE3', old.id);
    const second = await dump(['--channel', 'C0ARCHIVE3', '-o', db]);
    expect(second.code, explain(second)).toBe(0);
    const converted = await runCli(['convert', db, '-o', '-', '--format', 'jsonl'], { env: sandbox().env() });
    expect(converted.code, explain(converted)).toBe(0);
    const end = truth('C0ARCHIVE3');
    expect(end.some((m) => m.id === posted)).toBe(true);
    expect(exportProblems({ provider: 'slack', channel: 'C0ARCHIVE3', lines: linesOf(converted.stdout), start: end, end, order: 'asc' })).toEqual([]);
    const sqlite = openDatabase(db, { readonly: true });
    try {
      const rows = sqlite.prepare("SELECT id, name, avatar FROM people WHERE provider = 'slack' ORDER BY id").all();
      expect(rows).toEqual(server().people('slack').map((p) => ({ id: p.id, name: p.name, avatar: p.avatar })).sort((a, b) => (a.id < b.id ? -1 : 1)));
    } finally {
      sqlite.close();
    }
  });

  it('429 ratelimited with Retry-After and 5xx, on history, replies and users.list, are waited out: exact', async () => {
    const ratelimited = { kind: 'status', status: 429, headers: { 'Retry-After': '1' }, body: { ok: false, error: 'ratelimited' } } as const;
    const from = server().log.length;
    server().addFault({ provider: 'slack', channel: 'C0FAULTS04', path: 'conversations.history', nth: 2, ...ratelimited });
    server().addFault({ provider: 'slack', channel: 'C0FAULTS04', path: 'conversations.replies', nth: 2, ...ratelimited });
    server().addFault({ provider: 'slack', path: 'users.list', nth: 1, ...ratelimited });
    server().addFault({ provider: 'slack', channel: 'C0FAULTS04', path: 'conversations.history', nth: 4, kind: 'status', status: 503 });
    server().addFault({ provider: 'slack', channel: 'C0FAULTS04', path: 'conversations.replies', nth: 5, kind: 'status', status: 502 });
    try {
      const start = truth('C0FAULTS04');
      const result = await dump(['--channel', 'C0FAULTS04', '--page-size', '50', '--refresh-people']);
      expect(result.code, explain(result)).toBe(0);
      expect(exportProblems({ provider: 'slack', channel: 'C0FAULTS04', lines: linesOf(result.stdout), start, end: start, order: 'asc' })).toEqual([]);
      // each fault was served, and the names still came from the directory
      expect(server().log.slice(from).filter((e) => e.status === 429)).toHaveLength(3);
      expect(server().log.slice(from).filter((e) => e.status >= 500)).toHaveLength(2);
      expect(result.stderr).toMatch(/ [1-9]\d* retries /);
    } finally {
      server().clearFaults();
    }
  });

  it('ok:false refusals: invalid_auth is exit 3, not_in_channel a refusal naming the channel, channel_not_found exit 2', async () => {
    const bad = await dump(['--channel', 'C0GENERAL1'], 'xoxb-wrong');
    expect(bad.code, explain(bad)).toBe(3);
    expect(bad.stderr).toMatch(/code invalid_auth/);
    expect(bad.stderr).not.toContain('xoxb-wrong');
    const outside = await dump(['--channel', 'C0OUTSIDE5']);
    expect(outside.code, explain(outside)).toBe(3);
    expect(outside.stderr).toMatch(/C0OUTSIDE5.*code not_in_channel/);
    expect(outside.stderr).toMatch(/invite the app/);
    const unknown = await dump(['--channel', 'C0NOSUCH99']);
    expect(unknown.code, explain(unknown)).toBe(2);
    expect(unknown.stderr).toMatch(/C0NOSUCH99.*code channel_not_found/);
  });

  it('providers lists slack with the credential it needs', async () => {
    const listed = await runCli(['providers'], { env: sandbox().env() });
    expect(listed.code, explain(listed)).toBe(0);
    expect(listed.stdout).toMatch(/^slack\n .*xoxb-.*\n  auth: +Authorization: Bearer \(token required; CHAT_EXPORT_TOKEN\)\n  paging: +next token \(response_metadata\.next_cursor\), newest first\n  base URL: +https:\/\/slack\.com\/api\n/m);
  });
});

describe('slack (built in): a whole workspace', () => {
  const server = useServer({
    auth: { token: TOKEN },
    workspaces: { slack: { users: 20 } },
    channels: [
      { provider: 'slack', id: 'C0GENERAL1', count: 220, name: 'general', hostile: true, threads: { big: [{ at: 12, replies: 75 }] } },
      { provider: 'slack', id: 'C0OUTSIDE2', count: 15, name: 'not-mine', member: false },
      { provider: 'slack', id: 'G0PRIVATE3', count: 60, name: 'secret', kind: 'private' },
      { provider: 'slack', id: 'G0HIDDEN04', count: 10, name: 'hidden', kind: 'private', member: false },
      { provider: 'slack', id: 'C0OLDSTUF5', count: 40, name: 'old-stuff', archived: true },
      { provider: 'slack', id: 'D0DIRECT06', count: 35, kind: 'im', user: 'U01BOB0003' },
      { provider: 'slack', id: 'G0MPIM0007', count: 30, kind: 'mpim', name: 'mpdm-alice--bob--zoe-1' },
    ],
  });
  const sandbox = useSandbox();
  const READABLE = ['C0GENERAL1', 'G0PRIVATE3', 'C0OLDSTUF5', 'D0DIRECT06', 'G0MPIM0007'];
  const env = () => sandbox().env({ CHAT_EXPORT_TOKEN: TOKEN });
  const base = () => `${server().url}/slack/api`;

  /** The archive as JSONL, split by channel. */
  async function archived(db: string): Promise<Map<string, string[]>> {
    const converted = await runCli(['convert', db, '-o', '-', '--format', 'jsonl'], { env: env() });
    expect(converted.code, explain(converted)).toBe(0);
    const byChannel = new Map<string, string[]>();
    for (const line of linesOf(converted.stdout)) {
      const channel = (JSON.parse(line) as { channel: string }).channel;
      byChannel.set(channel, [...(byChannel.get(channel) ?? []), line]);
    }
    return byChannel;
  }

  function expectExact(byChannel: Map<string, string[]>): void {
    expect([...byChannel.keys()].sort()).toEqual([...READABLE].sort());
    for (const channel of READABLE) {
      const end = server().messages('slack', channel);
      expect(exportProblems({ provider: 'slack', channel, lines: byChannel.get(channel) ?? [], start: end, end, order: 'asc' }), channel).toEqual([]);
    }
  }

  it('channels lists what the token sees: kinds, archived, not-a-member; private channels it is not in are not there', async () => {
    const listed = await runCli(['channels', '--provider', 'slack', '--base-url', base(), '--json'], { env: env() });
    expect(listed.code, explain(listed)).toBe(0);
    const rows = linesOf(listed.stdout).map((line) => JSON.parse(line) as { id: string; name: string; kind: string; archived: boolean; readable: boolean });
    expect(rows.map((r) => [r.id, r.name, r.kind, r.archived, r.readable]).sort()).toEqual(
      [
        ['C0GENERAL1', 'general', 'channel', false, true],
        ['C0OUTSIDE2', 'not-mine', 'channel', false, false],
        ['G0PRIVATE3', 'secret', 'private', false, true],
        ['C0OLDSTUF5', 'old-stuff', 'channel', true, true],
        ['D0DIRECT06', 'U01BOB0003', 'direct', false, true],
        ['G0MPIM0007', 'mpdm-alice--bob--zoe-1', 'group', false, true],
      ].sort(),
    );
  });

  it('--all-channels into one archive, twice: every readable conversation exact with every reply once; a reply to an old thread and new messages between the runs are in it', async () => {
    const db = join(sandbox().dir, 'ws', 'slack.sqlite');
    mkdirSync(join(sandbox().dir, 'ws'), { recursive: true });
    const run = () => runCli(['dump', '--provider', 'slack', '--all-channels', '--base-url', base(), '-o', db, '--no-progress', '--rate', '1000'], { env: env(), timeoutMs: 90_000 });
    const first = await run();
    expect(first.code, explain(first)).toBe(0);
    expect(first.stderr).toMatch(/skipped not-mine \(C0OUTSIDE2\): not readable/);
    expect(first.stderr).not.toMatch(/G0HIDDEN04/);
    expectExact(await archived(db));
    const old = server().threads('slack', 'C0GENERAL1')[0]!;
    const [posted] = server().reply('slack', 'C0GENERAL1', old.id, 1);
    server().insert('slack', 'G0PRIVATE3', 3);
    const before = server().log.length;
    const second = await run();
    expect(second.code, explain(second)).toBe(0);
    const byChannel = await archived(db);
    expectExact(byChannel);
    expect(byChannel.get('C0GENERAL1')!.some((line) => line.includes(`"id":"${posted}"`))).toBe(true);
    // only the thread that changed was walked again
    expect(server().log.slice(before).filter((e) => e.url.includes('/conversations.replies')).map((e) => new URL(e.url, server().url).searchParams.get('ts'))).toEqual([old.id]);
  });
});
