/**
 * The built-in `discord` definition through the real binary, against the
 * fixture's Discord-shaped guild (fixtures/providers/discord.js, written from
 * Discord's API reference): channels and threads exactly (snowflakes above
 * 2^53 kept, ties in a millisecond, replies, joins, pins, attachments,
 * edits); new messages picked up by --incremental and the archive; a 429 with
 * only a JSON retry_after and 5xx waited out; per-route X-RateLimit-* headers
 * obeyed so the guild never refuses a run; Discord's errors as their exits.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import type { CanonicalMessage } from '../../fixtures/server.js';
import { runCli, TOKEN, type RunResult } from '../helpers/cli.js';
import { exportProblems, linesOf } from '../helpers/ground-truth.js';
import { useSandbox, useServer } from '../helpers/fixtures.js';

const explain = (result: RunResult) => `exit ${result.code}\n--- stderr\n${result.stderr.slice(0, 3000)}`;

describe('discord (built in)', () => {
  const server = useServer({
    auth: { token: TOKEN },
    discord: {
      // four requests per route and channel every 400 ms: a run that ignored the headers would be refused at once
      rateLimit: { limit: 4, windowMs: 400 },
      channels: [
        { name: 'Text', type: 'category' },
        { name: 'general', parent: 'Text', count: 460, hostile: true, ties: [{ at: 150, size: 130 }] },
        { name: 'release-plans', type: 'public-thread', parent: 'general', count: 140 },
        { name: 'old-thread', type: 'public-thread', parent: 'general', count: 90, archived: true },
        { name: 'nightly', parent: 'Text', count: 210 },
        { name: 'archive', parent: 'Text', count: 180 },
        { name: 'faults', parent: 'Text', count: 260 },
        { name: 'mods-only', parent: 'Text', count: 20, readable: false },
        { name: 'voice', type: 'voice' },
      ],
    },
  });
  const sandbox = useSandbox();
  const idOf = (name: string): string => server().discord!.channels().find((c) => c.name === name)!.id;
  const truth = (name: string): CanonicalMessage[] => server().messages('discord', idOf(name));

  function dump(args: string[], token = TOKEN): Promise<RunResult> {
    return runCli(['dump', '--provider', 'discord', '--base-url', `${server().url}/api/v10`, '--no-progress', '--rate', '1000', ...args], {
      env: sandbox().env({ CHAT_EXPORT_TOKEN: token }),
      timeoutMs: 90_000,
    });
  }

  it('a channel and its threads exactly, snowflakes above 2^53 as written, never refused by the rate limit', async () => {
    const from = server().log.length;
    const names = ['general', 'release-plans', 'old-thread'];
    const out = join(sandbox().dir, 'guild') + '/';
    const result = await dump([...names.flatMap((n) => ['--channel', idOf(n)]), '-o', out, '--page-size', '40', '--concurrency', '3']);
    expect(result.code, explain(result)).toBe(0);
    for (const name of names) {
      const start = truth(name);
      expect(start.every((m) => BigInt(m.id) > 2n ** 53n)).toBe(true);
      const lines = linesOf(readFileSync(join(out, `discord-${idOf(name)}.jsonl`), 'utf8'));
      expect(exportProblems({ provider: 'discord', channel: idOf(name), lines, start, end: start, order: 'asc' })).toEqual([]);
    }
    const general = truth('general');
    // the traps were there: replies, joins, pins, files, edits, 130 messages in one millisecond
    for (const type of ['REPLY', 'USER_JOIN', 'CHANNEL_PINNED_MESSAGE']) expect(general.some((m) => m.type === type)).toBe(true);
    expect(general.some((m) => m.attachments.length > 0)).toBe(true);
    expect(general.some((m) => m.updatedTime !== null)).toBe(true);
    // the budget was spent and waited for, and not one request was refused
    const log = server().log.slice(from);
    expect(log.filter((e) => e.status === 429)).toEqual([]);
    expect(log.filter((e) => e.channel === idOf('general')).length).toBeGreaterThan(4);
  });

  it('--incremental twice: new messages (also in a thread) are in the second run, once', async () => {
    const dir = join(sandbox().dir, 'inc');
    mkdirSync(dir, { recursive: true });
    const channels = ['nightly', 'release-plans'];
    const run = () => dump([...channels.flatMap((n) => ['--channel', idOf(n)]), '-o', `${dir}/{channel}.jsonl`, '--incremental']);
    const first = await run();
    expect(first.code, explain(first)).toBe(0);
    server().insert('discord', idOf('nightly'), 5);
    server().insert('discord', idOf('release-plans'), 2);
    const second = await run();
    expect(second.code, explain(second)).toBe(0);
    for (const name of channels) {
      const end = truth(name);
      const lines = linesOf(readFileSync(join(dir, `${idOf(name)}.jsonl`), 'utf8'));
      expect(lines).toHaveLength(end.length);
      expect(exportProblems({ provider: 'discord', channel: idOf(name), lines, start: end, end, order: 'asc' })).toEqual([]);
    }
  });

  it('into an archive twice: what arrived between the runs is in it, exact', async () => {
    const db = join(sandbox().dir, 'arch', 'discord.sqlite');
    mkdirSync(join(sandbox().dir, 'arch'), { recursive: true });
    const first = await dump(['--channel', idOf('archive'), '-o', db]);
    expect(first.code, explain(first)).toBe(0);
    server().insert('discord', idOf('archive'), 7);
    const second = await dump(['--channel', idOf('archive'), '-o', db]);
    expect(second.code, explain(second)).toBe(0);
    const converted = await runCli(['convert', db, '-o', '-', '--format', 'jsonl'], { env: sandbox().env() });
    expect(converted.code, explain(converted)).toBe(0);
    const end = truth('archive');
    expect(exportProblems({ provider: 'discord', channel: idOf('archive'), lines: linesOf(converted.stdout), start: end, end, order: 'asc' })).toEqual([]);
  });

  it('a 429 with only a JSON retry_after, and 5xx, are waited out: exact', async () => {
    const id = idOf('faults');
    const from = server().log.length;
    const limited = { kind: 'status', status: 429, body: { message: 'You are being rate limited.', retry_after: 0.4, global: false } } as const;
    server().addFault({ provider: 'discord', channel: id, nth: 2, ...limited });
    server().addFault({ provider: 'discord', channel: id, nth: 4, kind: 'status', status: 502 });
    server().addFault({ provider: 'discord', channel: id, nth: 5, ...limited });
    server().addFault({ provider: 'discord', channel: id, nth: 7, kind: 'status', status: 503 });
    try {
      const start = truth('faults');
      const result = await dump(['--channel', id, '--page-size', '50']);
      expect(result.code, explain(result)).toBe(0);
      expect(exportProblems({ provider: 'discord', channel: id, lines: linesOf(result.stdout), start, end: start, order: 'asc' })).toEqual([]);
      const log = server().log.slice(from);
      expect(log.filter((e) => e.status === 429)).toHaveLength(2);
      expect(log.filter((e) => e.status >= 500)).toHaveLength(2);
    } finally {
      server().clearFaults();
    }
  });

  it("Discord's errors: a bad token is exit 3, a channel the bot may not read a refusal naming it, an unknown channel exit 2", async () => {
    const bad = await dump(['--channel', idOf('general')], 'not-the-token');
    expect(bad.code, explain(bad)).toBe(3);
    expect(bad.stderr).toMatch(/HTTP 401/);
    expect(bad.stderr).not.toContain('not-the-token');
    const hidden = await dump(['--channel', idOf('mods-only')]);
    expect(hidden.code, explain(hidden)).toBe(3);
    expect(hidden.stderr).toContain(idOf('mods-only'));
    expect(hidden.stderr).toMatch(/the bot may not read this channel.*Missing Access/);
    expect(hidden.stderr).toMatch(/Read Message History/);
    const unknown = await dump(['--channel', '1234567890123456789']);
    expect(unknown.code, explain(unknown)).toBe(2);
    expect(unknown.stderr).toMatch(/1234567890123456789.*unknown channel/);
  });

  it('providers lists discord with the credential it needs', async () => {
    const listed = await runCli(['providers'], { env: sandbox().env() });
    expect(listed.code, explain(listed)).toBe(0);
    expect(listed.stdout).toMatch(/^discord\n .*bot token.*\n  auth: +header Authorization: Bot … \(token required; CHAT_EXPORT_TOKEN\)\n  paging: +next token \(\[-1\]\.id\), newest first\n  base URL: +https:\/\/discord\.com\/api\/v10\n/m);
  });
});

describe('discord (built in): a whole guild', () => {
  const server = useServer({
    auth: { token: TOKEN },
    discord: {
      name: 'Fixture Guild',
      rateLimit: { limit: 3, windowMs: 400 },
      channels: [
        { name: 'Text', type: 'category' },
        { name: 'general', parent: 'Text', count: 260, hostile: true },
        { name: 'plans', type: 'public-thread', parent: 'general', count: 60 },
        { name: 'old-thread', type: 'public-thread', parent: 'general', count: 45, archived: true },
        { name: 'news', type: 'announcement', parent: 'Text', count: 30 },
        { name: 'mods-only', parent: 'Text', count: 20, readable: false },
        { name: 'ideas', type: 'forum' },
        { name: 'post-1', type: 'public-thread', parent: 'ideas', count: 25 },
        { name: 'post-old', type: 'public-thread', parent: 'ideas', count: 15, archived: true },
        { name: 'voice', type: 'voice', count: 8 },
      ],
    },
  });
  const sandbox = useSandbox();
  const env = () => sandbox().env({ CHAT_EXPORT_TOKEN: TOKEN });
  const base = () => `${server().url}/api/v10`;
  const idOf = (name: string): string => server().discord!.channels().find((c) => c.name === name)!.id;
  /** what --all-channels must back up: every listed channel and thread but categories, forums and the unreadable one */
  const readable = () =>
    server()
      .discord!.channels()
      .filter((c) => c.listed && c.readable && c.type !== 4 && c.type !== 15)
      .map((c) => c.id);

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
    expect([...byChannel.keys()].sort()).toEqual(readable().filter((id) => server().messages('discord', id).length > 0).sort());
    for (const id of readable()) {
      const end = server().messages('discord', id);
      expect(exportProblems({ provider: 'discord', channel: id, lines: byChannel.get(id) ?? [], start: end, end, order: 'asc' }), id).toEqual([]);
    }
  }

  it('channels lists the guild found from the bot: channels, active and archived threads (forum posts too), no category, forum or guild', async () => {
    const listed = await runCli(['channels', '--provider', 'discord', '--base-url', base(), '--json'], { env: env() });
    expect(listed.code, explain(listed)).toBe(0);
    const rows = linesOf(listed.stdout).map((line) => JSON.parse(line) as { id: string; name: string; kind: string; parent: string | null; archived: boolean });
    expect(rows.map((r) => [r.name, r.kind, r.parent, r.archived]).sort()).toEqual(
      [
        ['general', 'channel', null, false],
        ['plans', 'thread', idOf('general'), false],
        ['old-thread', 'thread', idOf('general'), true],
        ['news', 'channel', null, false],
        ['mods-only', 'channel', null, false],
        ['post-1', 'thread', idOf('ideas'), false],
        ['post-old', 'thread', idOf('ideas'), true],
        ['voice', 'channel', null, false],
      ].sort(),
    );
  });

  it('--all-channels into one archive, twice: every readable channel and thread exact, not one 429; a new thread and messages in an old one between the runs are in it', async () => {
    const db = join(sandbox().dir, 'guild', 'discord.sqlite');
    mkdirSync(join(sandbox().dir, 'guild'), { recursive: true });
    const run = () => runCli(['dump', '--provider', 'discord', '--all-channels', '--base-url', base(), '-o', db, '--no-progress', '--rate', '1000', '--concurrency', '4'], { env: env(), timeoutMs: 90_000 });
    const from = server().log.length;
    const first = await run();
    expect(first.code, explain(first)).toBe(0);
    expect(first.stderr).toContain(`${idOf('mods-only')} (mods-only): skipped: not readable`);
    expectExact(await archived(db));
    server().insert('discord', idOf('old-thread'), 4);
    server().discord!.add({ name: 'new-thread', type: 'public-thread', parent: 'general', count: 33 });
    const second = await run();
    expect(second.code, explain(second)).toBe(0);
    const byChannel = await archived(db);
    expectExact(byChannel);
    expect(byChannel.get(idOf('new-thread'))).toHaveLength(33);
    expect([...byChannel.values()].flat().every((line) => BigInt((JSON.parse(line) as { id: string }).id) > 2n ** 53n)).toBe(true);
    // the headers were obeyed: the guild never had to refuse a request
    expect(server().log.slice(from).filter((e) => e.status === 429)).toEqual([]);
  });
});
