/**
 * A whole Discord-shaped guild by definition alone (test/helpers/guildchat.ts): channels and threads listed
 * by three listings (guild channels, active threads, each channel's archived threads), `channels`, `dump
 * --all-channels` with filters and `{name}` files, unreadable channels skipped and named, the per-route
 * rate-limit headers obeyed (not one 429), an archive killed at random moments and run again exact,
 * channels that appear and disappear between runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import type { FixtureServer } from '../../fixtures/server.js';
import { BIN, TOKEN, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { useSandbox, useServer } from '../helpers/fixtures.js';
import { exportProblems, linesOf } from '../helpers/ground-truth.js';
import { GUILDCHAT, guildchatFor, writeDefinitions } from '../helpers/guildchat.js';

const explain = (r: { code: number | null; stderr: string }) => `exit ${r.code}\n${r.stderr.slice(0, 3000)}`;

const GUILD = {
  rateLimit: { limit: 3, windowMs: 300 },
  channels: [
    { name: 'Text', type: 'category' as const },
    { name: 'general', parent: 'Text', count: 430, ties: [{ at: 200, size: 9 }] },
    { name: 'random', parent: 'Text', count: 260, hostile: true },
    { name: 'mods', parent: 'Text', count: 40, readable: false },
    { name: 'dev', count: 120 },
    { name: 'Dev', count: 90 },
    { name: 'announcements', type: 'announcement' as const, count: 35 },
    { name: 'help thread', type: 'public-thread' as const, parent: 'general', count: 150 },
    { name: 'old thread 1', type: 'public-thread' as const, parent: 'general', count: 30, archived: true },
    { name: 'old thread 2', type: 'public-thread' as const, parent: 'general', count: 12, archived: true },
    { name: 'old thread 3', type: 'public-thread' as const, parent: 'general', count: 0, archived: true },
    { name: 'fix/../../etc', type: 'public-thread' as const, parent: 'random', count: 8, archived: true },
    { name: 'secret plans', type: 'private-thread' as const, parent: 'general', count: 6, readable: false },
    { name: 'release notes', type: 'announcement-thread' as const, parent: 'announcements', count: 20, archived: true },
  ],
};

function setUp(server: FixtureServer, box: Sandbox): void {
  writeDefinitions(box, { [GUILDCHAT]: guildchatFor(server.discord!.guildId) });
}

function cli(server: FixtureServer, box: Sandbox, args: string[]): Promise<RunResult> {
  return runCli([...args, '--provider', GUILDCHAT, '--base-url', `${server.url}/api/v10`, '--rate', '1000', '--no-progress'], { env: box.env(), timeoutMs: 90_000 });
}

/** Channels and threads the bot may read (categories hold no messages). */
const readable = (server: FixtureServer) => server.discord!.channels().filter((c) => c.listed && c.readable && c.type !== 4);

function expectExact(server: FixtureServer, files: Map<string, string>): void {
  for (const channel of readable(server)) {
    const text = files.get(channel.id);
    expect(text, `${channel.name} (${channel.id}) has no file`).toBeDefined();
    const truth = server.messages('discord', channel.id);
    expect(exportProblems({ provider: 'discord', name: GUILDCHAT, channel: channel.id, lines: linesOf(text!), start: truth, end: truth, order: 'asc' })).toEqual([]);
  }
}

describe('a Discord-shaped guild by definition alone', () => {
  const server = useServer({ auth: { token: TOKEN }, latencyMs: 1, discord: GUILD });
  const sandbox = useSandbox();

  it('channels --json lists every channel and thread (active and archived, pages of archived threads), no category', async () => {
    setUp(server(), sandbox());
    const result = await cli(server(), sandbox(), ['channels', '--json']);
    expect(result.code, explain(result)).toBe(0);
    const listed = linesOf(result.stdout).map((line) => JSON.parse(line) as Record<string, unknown>);
    const truth = server().discord!.channels().filter((c) => c.type !== 4);
    const kind = (type: number) => ([10, 11, 12].includes(type) ? 'thread' : 'channel');
    expect(listed.sort((a, b) => String(a.id).localeCompare(String(b.id)))).toEqual(
      truth
        .map((c) => ({ id: c.id, name: c.name, kind: kind(c.type), parent: kind(c.type) === 'thread' ? c.parent : null, archived: c.archived, readable: true }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    );
    // ids above 2^53 came through as written
    expect(listed.every((c) => BigInt(String(c.id)) > 2n ** 53n)).toBe(true);
 
    // providers check walks the same list and sums it up; providers show prints the part
    const check = await runCli(['providers', 'check', GUILDCHAT, '--base-url', `${server().url}/api/v10`], { env: sandbox().env(), timeoutMs: 60_000 });
    expect(check.code, explain(check)).toBe(0);
    expect(check.stdout).toContain(`channels listed: ${truth.length} (channel ${truth.filter((c) => kind(c.type) === 'channel').length}, thread ${truth.filter((c) => kind(c.type) === 'thread').length})`);
    const show = await runCli(['providers', 'show', GUILDCHAT], { env: sandbox().env() });
    expect(JSON.parse(show.stdout).channels).toHaveLength(3);
  });

  it('dump --all-channels into {name} files: every readable channel and thread exact, colliding names by id, unreadable ones named, not one 429', async () => {
    setUp(server(), sandbox());
    server().resetLog();
    const dir = join(sandbox().dir, 'names');
    const result = await cli(server(), sandbox(), ['dump', '--all-channels', '-o', `${dir}/{name}.jsonl`, '--page-size', '100', '--concurrency', '4']);
    expect(result.code, explain(result)).toBe(0);
    const byName = new Map(server().discord!.channels().map((c) => [c.id, c]));
    const files = new Map<string, string>();
    const names = readdirSync(dir).sort();
    for (const file of names) {
      const lines = linesOf(readFileSync(join(dir, file), 'utf8'));
      const channel = lines.length > 0 ? (JSON.parse(lines[0]!) as { channel: string }).channel : [...byName.values()].find((c) => `${c.name}.jsonl` === file)?.id;
      if (channel !== undefined) files.set(channel, readFileSync(join(dir, file), 'utf8'));
    }
    expectExact(server(), files);
    const id = (name: string) => server().discord!.channels().find((c) => c.name === name)!.id;
    // dev and Dev would be one file on macOS or Windows: both get their id; a name with a path in it stays one file here
    expect(names).toEqual(expect.arrayContaining([`dev-${id('dev')}.jsonl`, `Dev-${id('Dev')}.jsonl`, 'general.jsonl', 'fix_.._.._etc.jsonl', 'old thread 3.jsonl']));
    expect(names).toHaveLength(readable(server()).length);
    for (const name of ['mods', 'secret plans']) expect(result.stderr).toMatch(new RegExp(`${id(name)}.*${name}.*skipped: not readable|${name}.*${id(name)}.*not readable`));
    expect(server().log.filter((entry) => entry.status === 429)).toEqual([]);
  }, 120_000);

  it('--include / --exclude / --kind choose among the listed channels (names or ids)', async () => {
    setUp(server(), sandbox());
    const id = (name: string) => server().discord!.channels().find((c) => c.name === name)!.id;
    const result = await cli(server(), sandbox(), ['dump', '--all-channels', '--include', 'old*', '--include', id('dev'), '--exclude', 'old thread 2', '--kind', 'thread', '--kind', 'channel']);
    expect(result.code, explain(result)).toBe(0);
    const channels = new Set(linesOf(result.stdout).map((line) => (JSON.parse(line) as { channel: string }).channel));
    expect([...channels].sort()).toEqual([id('old thread 1'), id('dev')].sort());
    const threads = await cli(server(), sandbox(), ['dump', '--all-channels', '--kind', 'thread', '--include', 'g*', '--include', 'help*']);
    expect(new Set(linesOf(threads.stdout).map((line) => (JSON.parse(line) as { channel: string }).channel))).toEqual(new Set([id('help thread')]));
  }, 60_000);
});

/** The CLI killed once the server has seen `requests` more requests. */
function killedAfter(server: FixtureServer, box: Sandbox, args: string[], requests: number): Promise<{ signal: NodeJS.Signals | null; stderr: string }> {
  const base = server.log.length;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--provider', GUILDCHAT, '--base-url', `${server.url}/api/v10`, '--rate', '1000', '--no-progress'], {
      env: box.env(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const poll = setInterval(() => {
      if (server.log.length - base >= requests) child.kill('SIGKILL');
    }, 2);
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearInterval(poll);
      clearTimeout(guard);
      resolve({ signal, stderr });
    });
  });
}

describe('a readable channel that fails', () => {
  const server = useServer({ auth: { token: TOKEN }, discord: { channels: [{ name: 'a', count: 30 }, { name: 'b', count: 20 }, { name: 'c', count: 10 }] } });
  const sandbox = useSandbox();

  it('is exit 5 naming it; the others are written', async () => {
    setUp(server(), sandbox());
    const b = server().discord!.channels().find((c) => c.name === 'b')!.id;
    server().addFault({ provider: 'discord', channel: b, kind: 'status', status: 500 });
    const result = await cli(server(), sandbox(), ['dump', '--all-channels', '--retries', '1']);
    expect(result.code, explain(result)).toBe(5);
    expect(result.stderr).toMatch(new RegExp(`${GUILDCHAT} channel ${b} \\(b\\).*HTTP 500`));
    expect(new Set(linesOf(result.stdout).map((line) => (JSON.parse(line) as { channel: string }).channel)).size).toBe(2);
  });
});

describe('a guild into one archive, night after night', () => {
  const server = useServer({ auth: { token: TOKEN }, latencyMs: 1, discord: GUILD });
  const sandbox = useSandbox();

  it('SIGKILL at random moments, then a rerun: exact; a channel that appears is picked up, one deleted keeps its backup and is named', async () => {
    setUp(server(), sandbox());
    const archive = join(sandbox().dir, 'guild.sqlite');
    const args = ['dump', '--all-channels', '-o', archive, '--page-size', '50', '--concurrency', '3'];
    for (let k = 0; k < 3; k++) {
      const killed = await killedAfter(server(), sandbox(), args, 4 + Math.floor(Math.random() * 30));
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      server().insert('discord', readable(server())[k]!.id, 7);
    }
    server().resetLog();
    const rerun = await cli(server(), sandbox(), args);
    expect(rerun.code, explain(rerun)).toBe(0);
    expect(server().log.filter((entry) => entry.status === 429)).toEqual([]);
    const convert = async () => {
      const out = join(sandbox().dir, `converted-${Date.now()}`) + '/';
      const converted = await runCli(['convert', archive, '-o', out], { env: sandbox().env(), timeoutMs: 60_000 });
      expect(converted.code, explain(converted)).toBe(0);
      return new Map(readdirSync(out).map((file) => [file.replace(/^guildchat-/, '').replace(/\.jsonl$/, ''), readFileSync(join(out, file), 'utf8')]));
    };
    let files = await convert();
    for (const channel of readable(server())) if (server().messages('discord', channel.id).length === 0) files.set(channel.id, '');
    expectExact(server(), files);

    // the next night: a channel appears, one is deleted, one gets news
    const added = server().discord!.add({ name: 'new-channel', count: 25 });
    const gone = server().discord!.channels().find((c) => c.name === 'dev')!;
    const kept = server().messages('discord', gone.id);
    server().discord!.remove(gone.id);
    server().insert('discord', readable(server())[0]!.id, 5);
    const next = await cli(server(), sandbox(), args);
    expect(next.code, explain(next)).toBe(0);
    expect(next.stderr).toContain(`dev (${gone.id}) is no longer listed; its backup is kept`);
    files = await convert();
    for (const channel of readable(server())) if (server().messages('discord', channel.id).length === 0) files.set(channel.id, '');
    expectExact(server(), files);
    expect(linesOf(files.get(added)!)).toHaveLength(25);
    // the archive's channels table: what the list said of each channel (the deleted one kept)
    const code = `import json, sqlite3, sys
con = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
sys.stdout.write(json.dumps(con.execute('SELECT id, name, kind, parent, archived FROM channels WHERE provider = ? ORDER BY id', ('${GUILDCHAT}',)).fetchall()))`;
    const table = JSON.parse(spawnSync('python3', ['-c', code, archive], { encoding: 'utf8' }).stdout) as Array<[string, string, string, string | null, number]>;
    const help = server().discord!.channels().find((c) => c.name === 'release notes')!;
    expect(table).toContainEqual([help.id, 'release notes', 'thread', help.parent, 1]);
    expect(table.map((row) => row[0])).toEqual(expect.arrayContaining([added, gone.id, server().discord!.channels().find((c) => c.name === 'mods')!.id]));
    expect(linesOf(files.get(gone.id)!).map((line) => (JSON.parse(line) as { id: string }).id).sort()).toEqual(kept.map((m) => m.id).sort());
  }, 240_000);
});
