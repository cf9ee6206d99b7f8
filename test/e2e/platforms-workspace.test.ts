/**
 * A whole workspace of each real platform (mattermost, zulip, matrix,
 * rocketchat) by its built-in definition alone: `chat-export channels` lists
 * what the credential can read (public, private, direct, archived), and
 * `dump --all-channels -o P.sqlite` backs every listed channel up into one
 * archive exactly against the fixture's ground truth; a second run after new
 * posts adds them.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import type { ChannelSpec, Platform } from '../../fixtures/server.js';
import { API_KEY, TOKEN, runCli, type RunResult } from '../helpers/cli.js';
import { expectedMessage } from '../helpers/ground-truth.js';
import { useSandbox, useServer } from '../helpers/fixtures.js';

interface Room {
  id: string;
  name?: string;
  kind?: ChannelSpec['kind'];
  archived?: boolean;
  member?: boolean;
  count: number;
}

interface Workspace {
  provider: Platform;
  rooms: Room[];
  /** the rooms the listing shows, as { id, name, kind, archived } */
  listed: Array<{ id: string; name: string | null; kind: string; archived: boolean }>;
}

const WORKSPACES: Workspace[] = [
  {
    provider: 'mattermost',
    rooms: [
      { id: 'townsquarexxxxxxxxxxxxxxxx', name: 'Town Square', count: 140 },
      { id: 'secretxxxxxxxxxxxxxxxxxxxx', name: 'dev "ops" / 测试', kind: 'private', count: 60 },
      { id: 'directxxxxxxxxxxxxxxxxxxxx', kind: 'im', count: 30 },
      { id: 'archivedxxxxxxxxxxxxxxxxxx', name: 'old', archived: true, count: 20 },
      { id: 'notminexxxxxxxxxxxxxxxxxxx', name: 'not mine', kind: 'private', member: false, count: 10 },
    ],
    listed: [
      { id: 'townsquarexxxxxxxxxxxxxxxx', name: 'Town Square', kind: 'channel', archived: false },
      { id: 'secretxxxxxxxxxxxxxxxxxxxx', name: 'dev "ops" / 测试', kind: 'private', archived: false },
      { id: 'directxxxxxxxxxxxxxxxxxxxx', name: expect.stringMatching(/^[a-z0-9]{26}__[a-z0-9]{26}$/) as unknown as string, kind: 'direct', archived: false },
      { id: 'archivedxxxxxxxxxxxxxxxxxx', name: 'old', kind: 'channel', archived: true },
    ],
  },
  {
    provider: 'zulip',
    rooms: [
      { id: '7', name: 'general', count: 140 },
      { id: '8', name: 'dev "ops" / 测试', kind: 'private', count: 60 },
      { id: '9', name: 'hidden', kind: 'private', member: false, count: 10 },
      { id: '10', name: 'old', archived: true, count: 20 },
    ],
    listed: [
      { id: '7', name: 'general', kind: 'channel', archived: false },
      { id: '8', name: 'dev "ops" / 测试', kind: 'private', archived: false },
      { id: '10', name: 'old', kind: 'channel', archived: true },
    ],
  },
  {
    provider: 'matrix',
    rooms: [
      { id: '!general:example.org', name: 'General', count: 140 },
      { id: '!secret:example.org', name: 'dev "ops" / 测试', count: 60 },
      { id: '!direct:example.org', kind: 'im', count: 30 },
      { id: '!old:example.org', name: 'Old', archived: true, count: 20 },
      { id: '!notmine:example.org', name: 'not mine', member: false, count: 10 },
    ],
    listed: [
      { id: '!general:example.org', name: 'General', kind: 'channel', archived: false },
      { id: '!secret:example.org', name: 'dev "ops" / 测试', kind: 'channel', archived: false },
      { id: '!direct:example.org', name: null, kind: 'direct', archived: false },
      { id: '!old:example.org', name: 'Old', kind: 'channel', archived: true },
    ],
  },
  {
    provider: 'rocketchat',
    rooms: [
      { id: 'GENERAL', name: 'general', count: 140 },
      { id: 'SECRETROOM', name: 'dev "ops" / 测试', kind: 'private', count: 60 },
      { id: 'aliceIDzhangID', kind: 'im', count: 30 },
      { id: 'OLDROOM', name: 'old', archived: true, count: 20 },
      { id: 'NOTMINE', name: 'not mine', member: false, count: 10 },
    ],
    listed: [
      { id: 'GENERAL', name: 'general', kind: 'channel', archived: false },
      { id: 'SECRETROOM', name: 'dev "ops" / 测试', kind: 'private', archived: false },
      { id: 'aliceIDzhangID', name: 'alice, zhang', kind: 'direct', archived: false },
      { id: 'OLDROOM', name: 'old', kind: 'channel', archived: true },
    ],
  },
];

const specs: ChannelSpec[] = WORKSPACES.flatMap((w) =>
  w.rooms.map((room) => ({ provider: w.provider, hostile: true, ...room }) as ChannelSpec),
);

const server = useServer({ auth: { token: TOKEN, apiKey: API_KEY }, latencyMs: 1, channels: specs });
const sandbox = useSandbox();

const explain = (r: RunResult) => `exit ${r.code}\n${r.stderr.slice(0, 3000)}`;

function run(args: string[]): Promise<RunResult> {
  return runCli([...args, '--base-url', server().url], { env: sandbox().env(), timeoutMs: 90_000 });
}

/** The archive's messages of one channel, as python3's sqlite3 reads them. */
function archived(path: string): Array<{ channel: string; id: string; text: string; sender_name: string | null; reply_to: string | null; edited_at: string | null; deleted: number; timestamp: string }> {
  const code = `import json, sqlite3, sys
con = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
con.row_factory = sqlite3.Row
sys.stdout.write(json.dumps([dict(r) for r in con.execute('SELECT channel, id, text, sender_name, reply_to, edited_at, deleted, timestamp FROM messages ORDER BY channel, timestamp, id')]))`;
  const result = spawnSync('python3', ['-c', code, path], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (result.status !== 0) throw new Error(`python3 could not read ${path}: ${result.stderr}`);
  return JSON.parse(result.stdout) as ReturnType<typeof archived>;
}

describe.each(WORKSPACES)('$provider: the whole workspace from the built-in definition', (w) => {
  it('channels lists what the credential can read, with names, kinds and archived rooms', async () => {
    const result = await run(['channels', '--provider', w.provider, '--json']);
    expect(result.code, explain(result)).toBe(0);
    const rows = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows).toEqual(w.listed.map((l) => ({ ...l, parent: null, readable: true })));
  });

  it('dump --all-channels into one archive: every listed channel exactly; a second run adds the new posts', async () => {
    const archive = join(sandbox().dir, `${w.provider}.sqlite`);
    const first = await run(['dump', '--provider', w.provider, '--all-channels', '-o', archive, '--no-progress', '--rate', '1000', '--page-size', '30']);
    expect(first.code, explain(first)).toBe(0);
    const readable = w.listed.map((l) => l.id);
    const check = () => {
      const rows = archived(archive);
      for (const id of readable) {
        const truth = server().messages(w.provider, id);
        const got = rows.filter((r) => r.channel === id);
        expect(got.map((r) => r.id).sort(), `${w.provider} ${id}`).toEqual(truth.map((m) => m.id).sort());
        for (const m of truth) {
          const e = expectedMessage(w.provider, id, m);
          expect(got.find((r) => r.id === m.id), m.id).toMatchObject({ text: e.text, sender_name: e.sender.name, reply_to: e.replyTo, edited_at: e.editedAt, deleted: e.deleted ? 1 : 0, timestamp: e.timestamp });
        }
      }
      // what the credential cannot read is in no backup
      expect(rows.some((r) => !readable.includes(r.channel))).toBe(false);
    };
    check();

    server().insert(w.provider, w.listed[0]!.id, 9);
    const second = await run(['dump', '--provider', w.provider, '--all-channels', '-o', archive, '--no-progress', '--rate', '1000', '--page-size', '30']);
    expect(second.code, explain(second)).toBe(0);
    check();
  });
});
