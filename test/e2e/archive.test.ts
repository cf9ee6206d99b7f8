/**
 * The archive through the real CLI (DESIGN.md section 6): `dump -o X.sqlite`
 * against the fixture server, read back by an independent reader (python3's
 * sqlite3 module, through the documented columns only) and compared with the
 * server's ground truth — after inserts, edits, revokes, retention, a
 * SIGKILL mid-walk, two processes at once, and a year of nightly runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { startFixtureServer, type CanonicalMessage, type ChannelSpec, type FixtureServer, type Api, type Provider } from '../../fixtures/server.js';
import { BIN, createSandbox, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { expectedMessage } from '../helpers/ground-truth.js';

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
  return box;
}

function cliArgs(server: FixtureServer, args: string[]): string[] {
  return ['dump', '--base-url', server.url, '--no-progress', '--rate', '1000', ...args];
}

function dump(server: FixtureServer, box: Sandbox, args: string[]): Promise<RunResult> {
  return runCli(cliArgs(server, args), { env: box.env(), timeoutMs: 60_000 });
}

function explain(result: { code: number | null; stderr: string }): string {
  return `exit ${result.code}\n--- stderr\n${result.stderr}`;
}

function requestsTo(server: FixtureServer, channel: string, from = 0): number {
  return server.log.slice(from).filter((entry) => entry.channel === channel).length;
}

/** A row of `messages` as the documented columns say it, independent of src/. */
interface ArchiveRow {
  provider: string;
  api: string;
  channel: string;
  id: string;
  timestamp: string;
  sender_id: string;
  sender_name: string | null;
  sender_avatar: string | null;
  type: string;
  text: string;
  reply_to: string | null;
  edited_at: string | null;
  deleted: number;
  attachments: string;
  raw: string | null;
  first_seen: string;
  last_seen: string;
}

interface VersionRow {
  id: string;
  channel: string;
  seen_at: string;
  text: string;
  edited_at: string | null;
  deleted: number;
  attachments: string;
}

const PYTHON_READER = `
import json, sqlite3, sys
con = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
con.row_factory = sqlite3.Row
out = {
  'messages': [dict(r) for r in con.execute('SELECT provider, api, channel, id, timestamp, sender_id, sender_name, sender_avatar, type, text, reply_to, edited_at, deleted, attachments, raw, first_seen, last_seen FROM messages ORDER BY channel, timestamp, id')],
  'versions': [dict(r) for r in con.execute('SELECT provider, api, channel, id, seen_at, text, edited_at, deleted, attachments FROM message_versions ORDER BY rowid')],
}
sys.stdout.write(json.dumps(out, ensure_ascii=True))
`;

/** The archive as python3's sqlite3 module reads it. */
function readArchive(path: string): { messages: ArchiveRow[]; versions: VersionRow[] } {
  const result = spawnSync('python3', ['-c', PYTHON_READER, path], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(`python3 could not read ${path}: ${result.stderr}`);
  return JSON.parse(result.stdout) as { messages: ArchiveRow[]; versions: VersionRow[] };
}

/** The media table as python3's sqlite3 module reads it. */
function readMedia(path: string): Array<{ url: string; file: string | null; sha256: string | null; size: number | null; error: string | null }> {
  const code = `import json, sqlite3, sys
con = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
con.row_factory = sqlite3.Row
sys.stdout.write(json.dumps([dict(r) for r in con.execute('SELECT url, file, sha256, size, error FROM media ORDER BY url')]))`;
  const result = spawnSync('python3', ['-c', code, path], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`python3 could not read ${path}: ${result.stderr}`);
  return JSON.parse(result.stdout) as ReturnType<typeof readMedia>;
}

/** The documented row for a message the server shows (or showed). */
function expectedRow(provider: Api, channel: string, m: CanonicalMessage) {
  const e = expectedMessage(provider, channel, m);
  return {
    provider,
    channel,
    id: e.id,
    timestamp: e.timestamp,
    sender_id: e.sender.id,
    sender_name: e.sender.name,
    sender_avatar: e.sender.avatar,
    type: e.type,
    text: e.text,
    reply_to: e.replyTo,
    edited_at: e.editedAt,
    deleted: e.deleted ? 1 : 0,
    attachments: JSON.stringify(e.attachments),
  };
}

function documented(row: ArchiveRow) {
  return {
    provider: row.provider,
    channel: row.channel,
    id: row.id,
    timestamp: row.timestamp,
    sender_id: row.sender_id,
    sender_name: row.sender_name,
    sender_avatar: row.sender_avatar,
    type: row.type,
    text: row.text,
    reply_to: row.reply_to,
    edited_at: row.edited_at,
    deleted: row.deleted,
    attachments: row.attachments,
  };
}

const byId = (a: { id: string }, b: { id: string }) => (BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0);

/** Every message of `channel` in the archive equals the expected rows, nothing more, nothing less. */
function expectChannel(path: string, provider: Api, channel: string, truth: readonly CanonicalMessage[]): void {
  const rows = readArchive(path).messages.filter((row) => row.provider === provider && row.channel === channel);
  expect(rows.map(documented).sort(byId)).toEqual(truth.map((m) => expectedRow(provider, channel, m)).sort(byId));
}

const SPECS: Record<Provider, ChannelSpec> = {
  relation: { provider: 'relation', id: 'arc-rel', count: 260, ties: [{ at: 100, size: 30 }], hostile: true },
  discuz: { provider: 'discuz', id: '41', count: 230, hostile: true },
  dishawang: { provider: 'dishawang', id: '51', count: 190, hostile: true },
};
const PAGE = ['--page-size', '20'];

describe.each<Provider>(['relation', 'discuz', 'dishawang'])('%s into an archive', (provider) => {
  const spec = SPECS[provider];
  const args = ['--provider', provider, '--channel', spec.id, ...PAGE];

  it('holds exactly the ground truth (hostile texts byte for byte, raw kept); a second run adds exactly the new messages with far fewer requests', async () => {
    const server = await serve([spec]);
    const box = sandbox();
    const archive = join(box.dir, 'chat.sqlite');
    const first = await dump(server, box, [...args, '-o', archive]);
    expect(first.code, explain(first)).toBe(0);
    expectChannel(archive, provider, spec.id, server.messages(provider, spec.id));
    const rows = readArchive(archive).messages;
    expect(rows.every((row) => row.raw !== null && typeof JSON.parse(row.raw) === 'object')).toBe(true);
    expect(new Set(rows.map((row) => row.api))).toEqual(new Set([server.url]));
    const full = requestsTo(server, spec.id);

    server.insert(provider, spec.id, 7);
    const before = server.log.length;
    const second = await dump(server, box, [...args, '-o', archive]);
    expect(second.code, explain(second)).toBe(0);
    expectChannel(archive, provider, spec.id, server.messages(provider, spec.id));
    expect(requestsTo(server, spec.id, before)).toBeLessThanOrEqual(3);
    expect(full).toBeGreaterThanOrEqual(10);
    // the seven new ones were first seen by the second run, the others earlier
    const after = readArchive(archive).messages;
    const firstSeen = new Set(after.map((row) => row.first_seen));
    expect(firstSeen.size).toBeGreaterThan(1);
    expect(readArchive(archive).versions).toEqual([]);
  }, 120_000);

  it('--lookback picks up an edit (and a dishawang revoke) and keeps the earlier version; retention leaves old messages in the archive', async () => {
    // relation: a tie cluster larger than a page that retention makes the oldest thing left, so the
    // cursor walk ends on a short page of one millisecond — the end, not a page cap (exit 0)
    const server = await serve([{ ...spec, id: `${spec.id}9`, hostile: false }]);
    const channel = `${spec.id}9`;
    const box = sandbox();
    const archive = join(box.dir, 'chat.sqlite');
    const run = (extra: string[] = []) => dump(server, box, ['--provider', provider, '--channel', channel, ...PAGE, '-o', archive, ...extra]);
    expect((await run()).code).toBe(0);
    const everything = server.messages(provider, channel);
    const [newest, second, , fourth] = everything;
    server.edit(provider, channel, second!.id, 'edited: 今天不开会了');
    if (provider === 'dishawang') server.revoke(provider, channel, fourth!.id);
    server.insert(provider, channel, 2);

    // without --lookback, the run stops at what the archive holds: the edit is not seen
    expect((await run()).code).toBe(0);
    expect(readArchive(archive).versions).toEqual([]);
    const looked = await run(['--lookback', '1d']);
    expect(looked.code, explain(looked)).toBe(0);
    expectChannel(archive, provider, channel, server.messages(provider, channel));
    const versions = readArchive(archive).versions;
    const replaced = provider === 'dishawang' ? [second!, fourth!] : [second!];
    expect(versions.map((v) => v.id).sort()).toEqual(replaced.map((m) => m.id).sort());
    for (const version of versions) {
      const old = everything.find((m) => m.id === version.id)!;
      const row = expectedRow(provider, channel, old);
      expect({ text: version.text, edited_at: version.edited_at, deleted: version.deleted, attachments: version.attachments }).toEqual({
        text: row.text,
        edited_at: row.edited_at,
        deleted: row.deleted,
        attachments: row.attachments,
      });
    }
    expect(newest).toBeDefined();

    // retention: the server forgets its oldest 100; a full re-read removes nothing
    const shown = server.messages(provider, channel);
    server.dropOldest(provider, channel, 100);
    const full = await run(['--full']);
    expect(full.code, explain(full)).toBe(0);
    const now = server.messages(provider, channel);
    const still = new Set(now.map((m) => m.id));
    // what is still shown as the server shows it now (a quote of a dropped message is gone), the rest as last seen
    expectChannel(archive, provider, channel, [...now, ...shown.filter((m) => !still.has(m.id))]);
  }, 120_000);

  it('SIGKILL mid-walk, new messages, rerun: exactly the ground truth, and fewer requests than a full walk', async () => {
    const channel = `${spec.id}7`;
    const server = await serve([{ ...spec, id: channel, count: 600, hostile: false }], 10);
    const box = sandbox();
    const archive = join(box.dir, 'chat.sqlite');
    const runArgs = cliArgs(server, ['--provider', provider, '--channel', channel, ...PAGE, '-o', archive]);
    // first a complete archive, then more than a few pages of news, so the killed run leaves a gap
    expect((await dump(server, box, ['--provider', provider, '--channel', channel, ...PAGE, '-o', archive])).code).toBe(0);
    server.insert(provider, channel, 300);
    const killed = await runKilledAfter(server, box, runArgs, 8);
    expect(killed.signal).toBe('SIGKILL');
    const partial = readArchive(archive).messages.length;
    expect(partial).toBeGreaterThan(600);
    expect(partial).toBeLessThan(900);
    server.insert(provider, channel, 45);
    const before = server.log.length;
    const rerun = await dump(server, box, ['--provider', provider, '--channel', channel, ...PAGE, '-o', archive]);
    expect(rerun.code, explain(rerun)).toBe(0);
    expectChannel(archive, provider, channel, server.messages(provider, channel));
    const rerunRequests = requestsTo(server, channel, before);
    // what one walk of the whole history takes now (dishawang serves 10 a page whatever is asked)
    const fullWalk = Math.ceil(server.messages(provider, channel).length / (provider === 'dishawang' ? 10 : 20));
    expect(rerunRequests).toBeLessThan(0.6 * fullWalk);
  }, 120_000);
});

describe('an unfinished walk is continued only as the same walk', () => {
  /** Several SIGKILLs at random moments, each run continuing the last one's walk: an unfinished walk is left. */
  async function killRepeatedly(server: FixtureServer, box: Sandbox, args: string[], kills: number): Promise<void> {
    for (let k = 0; k < kills; k++) {
      const killed = await runKilledAfter(server, box, cliArgs(server, args), 5 + Math.floor(Math.random() * 23));
      expect(killed.signal, explain({ code: killed.code, stderr: killed.stderr })).toBe('SIGKILL');
    }
  }

  it('killed walks under --page-size 10, rerun with --page-size 50: walked again from the top, says so, exact', async () => {
    // 1,500 messages, 10 a page: the kills (at most 4 × 28 requests) cannot finish the walk
    const channel = '88';
    const server = await serve([{ provider: 'discuz', id: channel, count: 1500 }], 2);
    const box = sandbox();
    const archive = join(box.dir, 'chat.sqlite');
    const base = ['--provider', 'discuz', '--channel', channel, '-o', archive];
    await killRepeatedly(server, box, [...base, '--page-size', '10'], 4);
    const partial = readArchive(archive).messages.length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(1500);
    // before: "completing the walk an earlier run left unfinished" from page N counted in tens, read in fifties:
    // four fifths of the rest never fetched, exit 0, and no later run fetched them
    const rerun = await dump(server, box, [...base, '--page-size', '50']);
    expect(rerun.code, explain(rerun)).toBe(0);
    expectChannel(archive, 'discuz', channel, server.messages('discuz', channel));
    const said = rerun.stderr.split('\n').filter((line) => line.includes('left unfinished'));
    expect(said, rerun.stderr).toHaveLength(1);
    expect(said[0]).toContain('--page-size 10 → 50');
    expect(said[0]).toContain('walked again from the newest message');
  }, 180_000);

  it('killed walks, then the definition edited (a larger default page): walked again from the top, says so, exact', async () => {
    const channel = '89';
    const server = await serve([{ provider: 'discuz', id: channel, count: 1500 }], 2);
    const box = sandbox();
    const shown = await runCli(['providers', 'show', 'discuz'], { env: box.env() });
    expect(shown.code, explain(shown)).toBe(0);
    const definition = JSON.parse(shown.stdout) as { paging: { size: { default: number } } };
    const write = (size: number) => {
      definition.paging.size.default = size;
      mkdirSync(dirname(box.config), { recursive: true });
      writeFileSync(box.config, JSON.stringify({ profiles: {}, providers: { forum: definition } }), { mode: 0o600 });
    };
    write(10);
    const archive = join(box.dir, 'chat.sqlite');
    const args = ['--provider', 'forum', '--channel', channel, '-o', archive];
    await killRepeatedly(server, box, args, 3);
    expect(readArchive(archive).messages.length).toBeLessThan(1500);
    write(40);
    const rerun = await dump(server, box, args);
    expect(rerun.code, explain(rerun)).toBe(0);
    // the archive names the provider as the config does: compare the rest of each row with the ground truth
    const rows = readArchive(archive).messages.filter((row) => row.provider === 'forum' && row.channel === channel);
    expect(rows.map((row) => ({ ...documented(row), provider: 'discuz' })).sort(byId)).toEqual(
      server.messages('discuz', channel).map((m) => expectedRow('discuz', channel, m)).sort(byId),
    );
    const said = rerun.stderr.split('\n').filter((line) => line.includes('left unfinished'));
    expect(said, rerun.stderr).toHaveLength(1);
    expect(said[0]).toContain('another provider definition');
  }, 180_000);
});

function runKilledAfter(
  server: FixtureServer,
  box: Sandbox,
  args: string[],
  requests: number,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const base = server.log.length;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: box.env(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    let sent = false;
    const poll = setInterval(() => {
      if (!sent && server.log.length - base >= requests) {
        sent = true;
        child.kill(signal);
      }
    }, 2);
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code, ended) => {
      clearInterval(poll);
      clearTimeout(guard);
      resolve({ code, signal: ended, stderr });
    });
  });
}

/** The JSON block after `<!-- example: NAME -->` in the README: a provider definition. */
function readmeDefinition(name: string): unknown {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const match = new RegExp(`<!-- example: ${name} -->\\s*\`\`\`json\\n([\\s\\S]*?)\\n\`\`\``).exec(readme);
  if (!match) throw new Error(`README has no example ${name}`);
  return (JSON.parse(match[1]!) as { providers: Record<string, unknown> }).providers[name];
}

describe('APIs defined in the config alone into an archive', () => {
  const withDefinitions = (): Sandbox => {
    const box = sandbox();
    mkdirSync(dirname(box.config), { recursive: true });
    const providers = { tokenchat: readmeDefinition('tokenchat'), offsetchat: readmeDefinition('offsetchat') };
    writeFileSync(box.config, JSON.stringify({ profiles: {}, providers }), { mode: 0o600 });
    return box;
  };

  it('tokenchat (next token, newest first): exact, incremental, --lookback edits, retention, SIGKILL then rerun; convert equals dump', async () => {
    const channel = 'C0ARCHIVE1';
    const server = await serve([{ provider: 'tokenchat', id: channel, count: 420, ties: [{ at: 200, size: 30 }] }], 5);
    const box = withDefinitions();
    const archive = join(box.dir, 'chat.sqlite');
    const args = ['--provider', 'tokenchat', '--channel', channel, ...PAGE, '-o', archive];
    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    expectChannel(archive, 'tokenchat', channel, server.messages('tokenchat', channel));
    const full = requestsTo(server, channel);

    const everything = server.messages('tokenchat', channel);
    server.edit('tokenchat', channel, everything[1]!.id, 'edited: 今天不开会了');
    server.insert('tokenchat', channel, 5);
    const before = server.log.length;
    // one message a minute: an hour back is about three pages of the twenty-odd a full walk takes
    const second = await dump(server, box, [...args, '--lookback', '1h']);
    expect(second.code, explain(second)).toBe(0);
    expectChannel(archive, 'tokenchat', channel, server.messages('tokenchat', channel));
    expect(requestsTo(server, channel, before)).toBeLessThan(full / 2);
    expect(readArchive(archive).versions.map((v) => v.id)).toEqual([everything[1]!.id]);
    // the archive renders byte for byte as a dump of the same messages
    const dumped = await dump(server, box, ['--provider', 'tokenchat', '--channel', channel, ...PAGE, '-o', '-']);
    const converted = await runCli(['convert', archive, '-o', '-', '--channel', channel], { env: box.env() });
    expect(converted.code, explain(converted)).toBe(0);
    expect(converted.stdout).toBe(dumped.stdout);

    // SIGKILL mid-walk of a re-read: the sequential walk's position is in the archive; the rerun ends exact
    server.insert('tokenchat', channel, 300);
    const killed = await runKilledAfter(server, box, cliArgs(server, args), 6);
    expect(killed.signal).toBe('SIGKILL');
    server.insert('tokenchat', channel, 9);
    const rerun = await dump(server, box, args);
    expect(rerun.code, explain(rerun)).toBe(0);
    expectChannel(archive, 'tokenchat', channel, server.messages('tokenchat', channel));

    // retention, then a full re-read: nothing removed
    const shown = server.messages('tokenchat', channel);
    server.dropOldest('tokenchat', channel, 150);
    const again = await dump(server, box, [...args, '--full']);
    expect(again.code, explain(again)).toBe(0);
    const still = new Set(server.messages('tokenchat', channel).map((m) => m.id));
    expectChannel(archive, 'tokenchat', channel, [...server.messages('tokenchat', channel), ...shown.filter((m) => !still.has(m.id))]);

  }, 180_000);

  it('page numbers served oldest first (discuz sorted by createdAt): the second run reads past its first page, and so does --since', async () => {
    const channel = '77';
    const server = await serve([{ provider: 'discuz', id: channel, count: 300 }]);
    const box = sandbox();
    const shown = await runCli(['providers', 'show', 'discuz'], { env: box.env() });
    expect(shown.code, explain(shown)).toBe(0);
    const definition = JSON.parse(shown.stdout) as { request: { query: Record<string, string> }; order: string };
    definition.request.query.sort = 'createdAt';
    definition.order = 'oldest-first';
    mkdirSync(dirname(box.config), { recursive: true });
    writeFileSync(box.config, JSON.stringify({ profiles: {}, providers: { ascending: definition } }), { mode: 0o600 });
    const archive = join(box.dir, 'chat.sqlite');
    const args = ['--provider', 'ascending', '--channel', channel, ...PAGE];
    const first = await dump(server, box, [...args, '-o', archive]);
    expect(first.code, explain(first)).toBe(0);
    const rowsOf = () => readArchive(archive).messages.filter((row) => row.channel === channel).map((row) => row.id).sort();
    const truthIds = () => server.messages('discuz', channel).map((m) => m.id).sort();
    expect(rowsOf()).toEqual(truthIds());
    server.insert('discuz', channel, 15);
    const second = await dump(server, box, [...args, '-o', archive]);
    expect(second.code, explain(second)).toBe(0);
    // before the fix: one page read, "0 messages", exit 0 — the 15 new ones silently never fetched
    expect(rowsOf()).toEqual(truthIds());
    const since = server.messages('discuz', channel).map((m) => m.time).sort((a, b) => a - b)[250]!;
    const windowed = await dump(server, box, [...args, '--since', String(since), '-o', '-']);
    expect(windowed.code, explain(windowed)).toBe(0);
    expect(windowed.stdout.split('\n').filter(Boolean)).toHaveLength(server.messages('discuz', channel).filter((m) => m.time >= since).length);
  }, 120_000);

  it('offsetchat (offset, oldest first): exact, and a rerun after inserts adds exactly the new ones', async () => {
    const channel = 'GENERAL-ARCHIVE';
    const server = await serve([{ provider: 'offsetchat', id: channel, count: 260, ties: [{ at: 99, size: 7 }] }]);
    const box = withDefinitions();
    const archive = join(box.dir, 'chat.sqlite');
    const args = ['--provider', 'offsetchat', '--channel', channel, ...PAGE, '-o', archive];
    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    expectChannel(archive, 'offsetchat', channel, server.messages('offsetchat', channel));
    const lastOfFirstRun = readArchive(archive).messages.reduce((latest, row) => (row.first_seen > latest ? row.first_seen : latest), '');
    const held = new Set(server.messages('offsetchat', channel).map((m) => m.id));
    server.insert('offsetchat', channel, 11);
    const second = await dump(server, box, args);
    expect(second.code, explain(second)).toBe(0);
    expectChannel(archive, 'offsetchat', channel, server.messages('offsetchat', channel));
    // served oldest first, the whole list is read again (no early stop is possible), but only the new ones are new
    const newer = readArchive(archive).messages.filter((row) => row.first_seen > lastOfFirstRun).map((row) => row.id);
    const added = server.messages('offsetchat', channel).filter((m) => !held.has(m.id)).map((m) => m.id);
    expect(added).toHaveLength(11);
    expect(newer.sort()).toEqual(added.sort());
  }, 120_000);
});

describe('--media into an archive', () => {
  it('records every downloaded file in the media table; the messages stay as served, so a rerun makes no versions', async () => {
    const server = await serve([
      { provider: 'relation', id: 'arc-media', count: 60, mediaBase: 'self' },
      { provider: 'discuz', id: '71', count: 20, mediaBase: 'self', attachmentsAt: { 4: { url: '{self}/media/missing.png', name: 'missing.png', type: 'image/png' } } },
    ]);
    const box = sandbox();
    const archive = join(box.dir, 'chat.sqlite');
    const first = await dump(server, box, ['--provider', 'relation', '--channel', 'arc-media', '--media', ...PAGE, '-o', archive]);
    expect(first.code, explain(first)).toBe(0);
    const truth = server.messages('relation', 'arc-media');
    expectChannel(archive, 'relation', 'arc-media', truth);
    const fetched = server.mediaLog().length;
    const urls = new Set([...truth.map((m) => m.senderAvatar), ...truth.filter((m) => m.type === 'IMAGE').map((m) => m.text)].filter((u): u is string => Boolean(u)));
    expect(urls.size).toBeGreaterThan(3);
    const media = readMedia(archive);
    expect(new Set(media.map((row) => row.url))).toEqual(urls);
    for (const row of media) {
      expect(row.file).toMatch(/^media\/[0-9a-f]{2}\/[0-9a-f]{32}\.\w+$/);
      const bytes = readFileSync(join(box.dir, row.file!));
      expect(row.size).toBe(bytes.length);
      expect(row.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(row.error).toBeNull();
    }

    // a full re-read with --media: nothing downloaded again, no message looks edited
    const again = await dump(server, box, ['--provider', 'relation', '--channel', 'arc-media', '--media', '--full', ...PAGE, '-o', archive]);
    expect(again.code, explain(again)).toBe(0);
    expect(server.mediaLog()).toHaveLength(fetched);
    expect(readArchive(archive).versions).toEqual([]);
    expect(readMedia(archive)).toEqual(media);

    // convert --media links those copies exactly as dump --media beside the archive does (offline: nothing fetched)
    for (const format of ['html', 'jsonl'] as const) {
      const d = await dump(server, box, ['--provider', 'relation', '--channel', 'arc-media', '--media', ...PAGE, '-o', join(box.dir, `d.${format}`)]);
      expect(d.code, explain(d)).toBe(0);
      const c = await runCli(['convert', archive, '--channel', 'arc-media', '--media', '-o', join(box.dir, `c.${format}`)], { env: box.env() });
      expect(c.code, explain(c)).toBe(0);
      expect(readFileSync(join(box.dir, `c.${format}`), 'utf8')).toBe(readFileSync(join(box.dir, `d.${format}`), 'utf8'));
    }
    expect(readFileSync(join(box.dir, 'c.jsonl'), 'utf8')).toContain('"avatarFile":"media/');
    expect(server.mediaLog()).toHaveLength(fetched);

    // a download that fails: the message is archived, the URL recorded with its error, exit 5
    const failing = await dump(server, box, ['--provider', 'discuz', '--channel', '71', '--media', '--retries', '0', ...PAGE, '-o', archive]);
    expect(failing.code, explain(failing)).toBe(5);
    expectChannel(archive, 'discuz', '71', server.messages('discuz', '71'));
    const missing = readMedia(archive).find((row) => row.url.endsWith('/media/missing.png'));
    expect(missing).toMatchObject({ file: null, error: expect.stringMatching(/404/) });
  }, 120_000);
});

describe('--media added to an archive made without it', () => {
  it('fetches what the messages it already holds refer to and it has no copy of, each file counted once', async () => {
    const server = await serve([{ provider: 'relation', id: 'arc-late-media', count: 120, mediaBase: 'self' }]);
    const box = sandbox();
    const archive = join(box.dir, 'chat.sqlite');
    const args = ['--provider', 'relation', '--channel', 'arc-late-media', ...PAGE, '-o', archive];
    const plain = await dump(server, box, args);
    expect(plain.code, explain(plain)).toBe(0);
    expect(readMedia(archive)).toEqual([]);
    const truth = server.messages('relation', 'arc-late-media');
    const urls = new Set([...truth.map((m) => m.senderAvatar), ...truth.filter((m) => m.type === 'IMAGE').map((m) => m.text)].filter((u): u is string => Boolean(u)));

    // nothing new on the server: the run still fetches every file of the 120 messages it holds
    const late = await dump(server, box, [...args, '--media']);
    expect(late.code, explain(late)).toBe(0);
    expect(new Set(readMedia(archive).filter((row) => row.file).map((row) => row.url))).toEqual(urls);
    expect(new Set(server.mediaLog().map((e) => e.url)).size).toBe(urls.size);
    expect(server.mediaLog()).toHaveLength(urls.size);
    // files, not references: each URL once however many messages name it
    expect(late.stderr).toContain(`media files: ${urls.size} downloaded, 0 already in the media directory`);

    // the next run has nothing left to fetch
    server.resetLog();
    const again = await dump(server, box, [...args, '--media']);
    expect(again.code, explain(again)).toBe(0);
    expect(server.mediaLog()).toEqual([]);
    const converted = await runCli(['convert', archive, '--channel', 'arc-late-media', '--media', '-o', join(box.dir, 'c.jsonl')], { env: box.env() });
    expect(converted.code, explain(converted)).toBe(0);
    const lines = readFileSync(join(box.dir, 'c.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { sender: { avatar: string | null; avatarFile?: string } });
    expect(lines.filter((m) => m.sender.avatar && !m.sender.avatarFile)).toEqual([]);
  }, 120_000);
});

describe('a stopped archive run', () => {
  it('SIGTERM mid-ingest: exit 143 naming the archive, the run recorded as interrupted, a consistent file; the rerun ends exact', async () => {
    const channel = 'arc-term';
    const server = await serve([{ provider: 'relation', id: channel, count: 400 }], 10);
    const box = sandbox();
    const archive = join(box.dir, 'chat.sqlite');
    const args = ['--provider', 'relation', '--channel', channel, ...PAGE, '-o', archive];
    expect((await dump(server, box, args)).code).toBe(0);
    server.insert('relation', channel, 300);
    const stopped = await runKilledAfter(server, box, cliArgs(server, args), 6, 'SIGTERM');
    expect(stopped.code, stopped.stderr).toBe(143);
    expect(stopped.stderr).toContain(archive);
    expect(stopped.stderr).not.toMatch(/internal error/);
    const check = spawnSync('python3', ['-c', `import sqlite3,sys\ncon=sqlite3.connect(sys.argv[1])\nprint(con.execute('PRAGMA integrity_check').fetchone()[0], [r[0] for r in con.execute('SELECT status FROM runs ORDER BY id')])`, archive], { encoding: 'utf8' });
    expect(check.stdout.trim()).toBe("ok ['ok', 'interrupted']");
    const rerun = await dump(server, box, args);
    expect(rerun.code, explain(rerun)).toBe(0);
    expectChannel(archive, 'relation', channel, server.messages('relation', channel));
  }, 120_000);
});

describe('one archive, many channels and processes', () => {
  it('several channels of one run, and two processes on one archive at once, all wait their turn and end exact', async () => {
    const channels: ChannelSpec[] = [
      { provider: 'discuz', id: '61', count: 140 },
      { provider: 'discuz', id: '62', count: 90 },
      { provider: 'dishawang', id: '63', count: 120 },
      { provider: 'dishawang', id: '64', count: 70 },
    ];
    const server = await serve(channels, 5);
    const box = sandbox();
    const archive = join(box.dir, 'chat.sqlite');
    const runs = await Promise.all([
      dump(server, box, ['--provider', 'discuz', '--channel', '61', '--channel', '62', ...PAGE, '-o', archive]),
      dump(server, box, ['--provider', 'dishawang', '--channel', '63', '--channel', '64', '-o', archive]),
      dump(server, box, ['--provider', 'discuz', '--channel', '62', '--channel', '61', ...PAGE, '-o', archive]),
    ]);
    for (const result of runs) expect(result.code, explain(result)).toBe(0);
    for (const spec of channels) expectChannel(archive, spec.provider, spec.id, server.messages(spec.provider, spec.id));
  }, 120_000);

  it('refuses, before any request, a file that is not an archive and options that do not apply', async () => {
    const server = await serve([
      { provider: 'dishawang', id: '65', count: 5 },
      { provider: 'dishawang', id: '66', count: 3 },
    ]);
    const box = sandbox();
    const notes = join(box.dir, 'notes.db');
    spawnSync('python3', ['-c', `import sqlite3; c=sqlite3.connect(${JSON.stringify(notes)}); c.execute('create table t(x)'); c.commit()`]);
    const foreign = await dump(server, box, ['--provider', 'dishawang', '--channel', '65', '-o', notes]);
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/did not create/);
    const limit = await dump(server, box, ['--provider', 'dishawang', '--channel', '65', '-o', join(box.dir, 'a.sqlite'), '--limit', '3']);
    expect(limit.code).toBe(2);
    const lookback = await dump(server, box, ['--provider', 'dishawang', '--channel', '65', '-o', join(box.dir, 'a.jsonl'), '--lookback', '7d']);
    expect(lookback.code).toBe(2);
    const stdout = await dump(server, box, ['--provider', 'dishawang', '--channel', '65', '--format', 'sqlite']);
    expect(stdout.code).toBe(2);
    expect(server.log).toHaveLength(0);
    // --incremental is what an archive does anyway: accepted
    const incremental = await dump(server, box, ['--provider', 'dishawang', '--channel', '65', '--channel', '66', '-o', join(box.dir, 'b.sqlite'), '--incremental', '--resume']);
    expect(incremental.code, explain(incremental)).toBe(0);
  });
});

describe('convert and search', () => {
  const channels: ChannelSpec[] = [SPECS.relation, SPECS.discuz, SPECS.dishawang];

  it('convert renders an archive byte-identical to dump, for JSONL, CSV, Markdown and HTML, either order, and in --partition parts; search finds CJK, words, phrases', async () => {
    const server = await serve(channels);
    const box = sandbox();
    const archive = join(box.dir, 'chat.sqlite');
    for (const spec of channels) {
      const result = await dump(server, box, ['--provider', spec.provider, '--channel', spec.id, ...PAGE, '-o', archive]);
      expect(result.code, explain(result)).toBe(0);
    }
    const cases = [
      [SPECS.relation, 'md', 'asc'],
      [SPECS.relation, 'jsonl', 'desc'],
      [SPECS.discuz, 'csv', 'desc'],
      [SPECS.discuz, 'jsonl', 'asc'],
      [SPECS.dishawang, 'csv', 'asc'],
      [SPECS.dishawang, 'md', 'desc'],
      [SPECS.relation, 'html', 'asc'],
      [SPECS.discuz, 'html', 'desc'],
    ] as const;
    await Promise.all(
      cases.map(async ([spec, format, order]) => {
        const dumped = join(box.dir, `d-${spec.id}-${order}.${format}`);
        const converted = join(box.dir, `c-${spec.id}-${order}.${format}`);
        const d = await dump(server, box, ['--provider', spec.provider, '--channel', spec.id, ...PAGE, '--order', order, '-o', dumped]);
        expect(d.code, explain(d)).toBe(0);
        const c = await runCli(['convert', archive, '--channel', spec.id, '--order', order, '-o', converted], { env: box.env() });
        expect(c.code, explain(c)).toBe(0);
        expect(readFileSync(converted, 'utf8'), `${spec.provider} ${format} ${order}`).toBe(readFileSync(dumped, 'utf8'));
      }),
    );
    // --partition: the same parts as dump's, file by file (HTML: one page per part; CSV: a header each)
    mkdirSync(join(box.dir, 'dparts'));
    mkdirSync(join(box.dir, 'cparts'));
    for (const [spec, format] of [[SPECS.dishawang, 'html'], [SPECS.relation, 'csv']] as const) {
      const d = await dump(server, box, ['--provider', spec.provider, '--channel', spec.id, ...PAGE, '--partition', '70', '-o', join(box.dir, 'dparts', `p.${format}`)]);
      expect(d.code, explain(d)).toBe(0);
      const c = await runCli(['convert', archive, '--channel', spec.id, '--partition', '70', '-o', join(box.dir, 'cparts', `p.${format}`)], { env: box.env() });
      expect(c.code, explain(c)).toBe(0);
      const parts = readdirSync(join(box.dir, 'dparts')).filter((name) => name.endsWith(format)).sort();
      expect(parts.length).toBeGreaterThanOrEqual(3);
      expect(readdirSync(join(box.dir, 'cparts')).filter((name) => name.endsWith(format)).sort()).toEqual(parts);
      for (const name of parts) expect(readFileSync(join(box.dir, 'cparts', name), 'utf8'), name).toBe(readFileSync(join(box.dir, 'dparts', name), 'utf8'));
    }
    // a directory: one file per channel, each provider's own header
    const dir = await runCli(['convert', archive, '--format', 'html', '-o', join(box.dir, 'html') + '/'], { env: box.env() });
    expect(dir.code, explain(dir)).toBe(0);
    for (const spec of channels) {
      const page = readFileSync(join(box.dir, 'html', `${spec.provider}-${spec.id}.html`), 'utf8');
      expect(page).toContain(`data-provider="${spec.provider}" data-channel="${spec.id}"`);
      expect(page.match(/ data-id="/g)).toHaveLength(server.messages(spec.provider, spec.id).length);
    }
    // outputs that cannot be written: before anything is read (exit 2), or while writing (exit 6), named
    const missingDir = await runCli(['convert', archive, '-o', join(box.dir, 'no-such-dir', 'x.jsonl')], { env: box.env() });
    expect(missingDir.code, explain(missingDir)).toBe(2);
    expect(missingDir.stderr).toMatch(/no-such-dir does not exist/);
    const full = await runCli(['convert', archive, '--format', 'html', '-o', '/dev/full'], { env: box.env() });
    expect(full.code, explain(full)).toBe(6);
    expect(full.stderr).toMatch(/cannot write \/dev\/full: disk full/);
    expect(full.stderr).not.toMatch(/internal error/);
    // a JSONL backup converts to the same CSV as the archive, and imports into an archive
    const jsonl = join(box.dir, `d-${SPECS.discuz.id}-asc.jsonl`);
    const fromJsonl = await runCli(['convert', jsonl, '-o', join(box.dir, 'j.csv'), '--order', 'desc'], { env: box.env() });
    expect(fromJsonl.code, explain(fromJsonl)).toBe(0);
    expect(readFileSync(join(box.dir, 'j.csv'), 'utf8')).toBe(readFileSync(join(box.dir, `d-${SPECS.discuz.id}-desc.csv`), 'utf8'));
    const fromJsonlMd = await runCli(['convert', join(box.dir, `d-${SPECS.relation.id}-desc.jsonl`), '-o', join(box.dir, 'j.md')], { env: box.env() });
    expect(fromJsonlMd.code, explain(fromJsonlMd)).toBe(0);
    expect(readFileSync(join(box.dir, 'j.md'), 'utf8')).toBe(readFileSync(join(box.dir, `d-${SPECS.relation.id}-asc.md`), 'utf8'));
    const imported = join(box.dir, 'imported.sqlite');
    const imp = await runCli(['convert', jsonl, '-o', imported, '--base-url', server.url], { env: box.env() });
    expect(imp.code, explain(imp)).toBe(0);
    expectChannel(imported, 'discuz', SPECS.discuz.id, server.messages('discuz', SPECS.discuz.id));
    // …and importing it again into the archive that already holds those messages adds nothing
    const again = await runCli(['convert', jsonl, '-o', archive, '--base-url', `${server.url}/`], { env: box.env() });
    expect(again.code, explain(again)).toBe(0);
    expectChannel(archive, 'discuz', SPECS.discuz.id, server.messages('discuz', SPECS.discuz.id));
    expect(readArchive(archive).versions).toEqual([]);

    // search: a two-character Chinese word inside a sentence, an English word, a phrase, and --channel
    const search = (query: string, extra: string[] = []) => runCli(['search', archive, query, '--limit', '1000', ...extra], { env: box.env() });
    const chinese = await search('开会');
    expect(chinese.code, explain(chinese)).toBe(0);
    const hits = chinese.stdout.split('\n').filter(Boolean);
    expect(hits.length).toBeGreaterThan(3);
    for (const line of hits) expect(line).toContain('[开会]');
    const truthCount = channels
      .flatMap((spec) => server.messages(spec.provider, spec.id))
      .filter((m) => m.text.includes('开会') || (m.senderName ?? '').includes('开会')).length;
    expect(hits).toHaveLength(truthCount);
    const json = await search('开会', ['--json', '--channel', SPECS.dishawang.id]);
    const records = json.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { channel: string; text: string; timestamp: string });
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => r.channel === SPECS.dishawang.id && r.text.includes('开会'))).toBe(true);
    expect(records.map((r) => r.timestamp)).toEqual(records.map((r) => r.timestamp).sort().reverse());
    const phrase = await search('"send the report"');
    expect(phrase.stdout.split('\n').filter(Boolean).length).toBeGreaterThan(0);
    expect((await search('"the report send"')).stdout).toBe('');
    const english = await search('Friday', ['--channel', SPECS.relation.id]);
    expect(english.stdout.split('\n').filter(Boolean).every((line) => line.includes(SPECS.relation.id))).toBe(true);
    expect((await search('开会', ['--channel', 'no-such-channel'])).stdout).toBe('');
    // hostile text in a hit cannot reach the terminal as an escape or a line break
    const hostile = await search('red');
    expect(hostile.stdout).not.toContain('\u001b');
  }, 240_000);
});

describe('a year of nightly runs', () => {
  it.each<Provider>(['relation', 'discuz', 'dishawang'])(
    '%s: inserts, edits, revokes and retention between runs; the archive ends equal to everything the server ever showed, with every earlier version',
    async (provider) => {
      const channel = `year-${provider === 'relation' ? 'r' : provider === 'discuz' ? '81' : '82'}`;
      const id = provider === 'relation' ? channel : provider === 'discuz' ? '81' : '82';
      const server = await serve([{ provider, id, count: 80 }]);
      const box = sandbox();
      const archive = join(box.dir, 'year.sqlite');
      /** id → the row as last seen, and every distinct version (text, edit time, revoke, attachments) the runs could see */
      const seen = new Map<string, { latest: ReturnType<typeof expectedRow>; versions: string[] }>();
      const versionOf = (row: { text: string; edited_at: string | null; deleted: number; attachments: string }) =>
        JSON.stringify({ text: row.text, edited_at: row.edited_at, deleted: row.deleted, attachments: row.attachments });
      const snapshot = () => {
        for (const m of server.messages(provider, id)) {
          const row = expectedRow(provider, id, m);
          const entry = seen.get(m.id) ?? { latest: row, versions: [] };
          if (entry.versions[entry.versions.length - 1] !== versionOf(row)) entry.versions.push(versionOf(row));
          entry.latest = row;
          seen.set(m.id, entry);
        }
      };
      let state = 7;
      const rand = (n: number) => {
        state = (state * 1103515245 + 12345) % 2147483648;
        return state % n;
      };
      for (let night = 0; night < 12; night++) {
        snapshot();
        const args = ['--provider', provider, '--channel', id, ...PAGE, '-o', archive, '--lookback', '1d'];
        if (night % 5 === 3) args.push('--full');
        const result = await dump(server, box, args);
        expect(result.code, `night ${night}: ${explain(result)}`).toBe(0);
        // the day's traffic
        server.insert(provider, id, 1 + rand(30));
        const shown = server.messages(provider, id);
        for (let k = 0; k < 3; k++) {
          const target = shown[rand(Math.min(15, shown.length))]!;
          server.edit(provider, id, target.id, `${target.text} ✎${night}.${k}`);
        }
        if (provider === 'dishawang') server.revoke(provider, id, shown[rand(Math.min(15, shown.length))]!.id);
        if (night % 4 === 2) server.dropOldest(provider, id, 20 + rand(20));
      }
      snapshot();
      expect((await dump(server, box, ['--provider', provider, '--channel', id, ...PAGE, '-o', archive, '--lookback', '1d'])).code).toBe(0);

      const { messages, versions } = readArchive(archive);
      const latest = [...seen.values()].map((entry) => entry.latest);
      expect(messages.map(documented).sort(byId)).toEqual(latest.sort(byId));
      // message_versions, in the order they were replaced, per message
      const earlier = [...seen.entries()].flatMap(([messageId, entry]) => entry.versions.slice(0, -1).map((version) => `${messageId} ${version}`));
      const got = versions.map((v) => `${v.id} ${versionOf(v)}`);
      const sortStable = (list: string[]) => [...list].sort((a, b) => byId({ id: a.split(' ')[0]! }, { id: b.split(' ')[0]! }));
      expect(sortStable(got)).toEqual(sortStable(earlier));
      expect(earlier.length).toBeGreaterThan(8);
      expect(messages.length).toBeGreaterThan(server.messages(provider, id).length);
    },
    240_000,
  );
});
