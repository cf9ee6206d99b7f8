/**
 * The Discord-shaped fixture against Discord's documented behaviour (resources/guild, resources/channel,
 * resources/message, topics/rate-limits): what a definition will be written from must be what the docs say.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';

import { useServer } from '../helpers/fixtures.js';

const TOKEN = 'MTk4.bot.token';
const auth = { authorization: `Bot ${TOKEN}` };

async function get(url: string, headers: Record<string, string> = auth): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url, { headers });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

describe('discord guild', () => {
  const server = useServer({
    auth: { token: TOKEN },
    discord: {
      channels: [
        { name: 'Text Channels', type: 'category' },
        { name: 'general', parent: 'Text Channels', count: 260, ties: [{ at: 40, size: 12 }] },
        { name: 'mods-only', parent: 'Text Channels', count: 30, readable: false },
        { name: 'announcements', type: 'announcement', count: 12 },
        { name: 'help thread', type: 'public-thread', parent: 'general', count: 25 },
        { name: 'old thread 1', type: 'public-thread', parent: 'general', count: 7, archived: true },
        { name: 'old thread 2', type: 'public-thread', parent: 'general', count: 3, archived: true },
        { name: 'old thread 3', type: 'public-thread', parent: 'general', count: 0, archived: true },
        { name: 'secret plans', type: 'private-thread', parent: 'general', count: 4, readable: false },
        { name: 'release notes', type: 'announcement-thread', parent: 'announcements', count: 5, archived: true },
      ],
    },
  });
  const api = () => `${server().url}/api/v10`;
  const guild = () => server().discord!;
  const idOf = (name: string) => guild().channels().find((c) => c.name === name)!.id;

  it('lists guild channels without threads, categories included, ids as strings above 2^53', async () => {
    const { status, body } = await get(`${api()}/guilds/${guild().guildId}/channels`);
    expect(status).toBe(200);
    expect(body.map((c: { name: string }) => c.name)).toEqual(['Text Channels', 'general', 'mods-only', 'announcements']);
    expect(body.map((c: { type: number }) => c.type)).toEqual([4, 0, 0, 5]);
    for (const c of body) expect(typeof c.id === 'string' && BigInt(c.id) > 2n ** 53n).toBe(true);
    expect(body[1].parent_id).toBe(body[0].id);
    // the bot may not view mods-only: @everyone is denied VIEW_CHANNEL
    expect(body[2].permission_overwrites).toEqual([{ id: guild().guildId, type: 0, allow: '0', deny: '1024' }]);
  });

  it('lists active threads (public and private) by id descending, archived ones by their channel', async () => {
    const active = await get(`${api()}/guilds/${guild().guildId}/threads/active`);
    expect(active.body.threads.map((t: { name: string }) => t.name)).toEqual(['secret plans', 'help thread']);
    expect(active.body.threads[1].parent_id).toBe(idOf('general'));
    expect(active.body.threads[1].thread_metadata.archived).toBe(false);

    const names: string[] = [];
    let before = '';
    for (let n = 0; ; n++) {
      const { body } = await get(`${api()}/channels/${idOf('general')}/threads/archived/public?limit=2${before}`);
      names.push(...body.threads.map((t: { name: string }) => t.name));
      if (!body.has_more) break;
      before = `&before=${encodeURIComponent(body.threads.at(-1).thread_metadata.archive_timestamp)}`;
      expect(n).toBeLessThan(5);
    }
    // newest archive first; the private thread is not among the public ones
    expect(names).toEqual(['old thread 3', 'old thread 2', 'old thread 1']);
    const announcements = await get(`${api()}/channels/${idOf('announcements')}/threads/archived/public`);
    expect(announcements.body.threads.map((t: { type: number }) => t.type)).toEqual([10]);
  });

  it('walks a channel with before= exactly, newest first, in snowflake order', async () => {
    const id = idOf('general');
    const seen: any[] = [];
    let before = '';
    for (;;) {
      const { status, body } = await get(`${api()}/channels/${id}/messages?limit=100${before}`);
      expect(status).toBe(200);
      seen.push(...body);
      if (body.length < 100) break;
      before = `&before=${body.at(-1).id}`;
    }
    const truth = server().messages('discord', id);
    expect(seen.map((m) => m.id)).toEqual(truth.map((m) => m.id));
    expect(truth.every((m) => BigInt(m.id) > 2n ** 53n)).toBe(true);
    expect(seen[0].timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    const reply = seen.find((m) => m.type === 19);
    expect(reply.message_reference.message_id).toBe(truth.find((m) => m.id === reply.id)!.replyTo);
    expect(new Set(seen.map((m) => m.type))).toEqual(new Set([0, 6, 7, 19]));
    // the default page is 50; 101 is refused as the API refuses it
    expect((await get(`${api()}/channels/${id}/messages`)).body).toHaveLength(50);
    expect((await get(`${api()}/channels/${id}/messages?limit=101`)).body.code).toBe(50035);
  });

  it('refuses what the bot may not read with 403 Missing Access, and unknown channels with 404', async () => {
    for (const name of ['mods-only', 'secret plans']) {
      const { status, body } = await get(`${api()}/channels/${idOf(name)}/messages`);
      expect([status, body]).toEqual([403, { message: 'Missing Access', code: 50001 }]);
    }
    expect((await get(`${api()}/channels/${idOf('mods-only')}/threads/archived/public`)).status).toBe(403);
    expect((await get(`${api()}/channels/1/messages`)).body.code).toBe(10003);
    expect((await get(`${api()}/channels/${idOf('Text Channels')}/messages`)).body.code).toBe(50024);
    expect((await get(`${api()}/channels/${idOf('general')}/messages`, {})).status).toBe(401);
  });

  it('a channel that appears is listed; a deleted one is not and answers 404; an archived thread moves', async () => {
    const added = guild().add({ name: 'new-channel', count: 3 });
    const thread = idOf('help thread');
    guild().archive(thread);
    let list = await get(`${api()}/guilds/${guild().guildId}/channels`);
    expect(list.body.map((c: { id: string }) => c.id)).toContain(added);
    expect(server().messages('discord', added)).toHaveLength(3);
    const archived = await get(`${api()}/channels/${idOf('general')}/threads/archived/public?limit=1`);
    expect(archived.body.threads[0].id).toBe(thread);
    guild().remove(added);
    list = await get(`${api()}/guilds/${guild().guildId}/channels`);
    expect(list.body.map((c: { id: string }) => c.id)).not.toContain(added);
    expect((await get(`${api()}/channels/${added}/messages`)).status).toBe(404);
  });
});

describe('discord per-route rate limits', () => {
  const server = useServer({
    // a window long enough that four requests fit in it on a loaded machine
    discord: { rateLimit: { limit: 3, windowMs: 2500 }, channels: [{ name: 'a', count: 5 }, { name: 'b', count: 5 }] },
  });
  const id = (name: string) => server().discord!.channels().find((c) => c.name === name)!.id;

  it('states the bucket in headers, refuses a spent one with a JSON retry_after, and counts per channel', async () => {
    const url = `${server().url}/api/v10/channels/${id('a')}/messages`;
    const answers = [];
    for (let n = 0; n < 4; n++) answers.push(await get(url, {}));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    expect(answers.map((a) => a.headers.get('x-ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
    const first = answers[0]!.headers;
    expect(first.get('x-ratelimit-limit')).toBe('3');
    expect(first.get('x-ratelimit-bucket')).toMatch(/^[0-9a-f]{32}$/);
    expect(Number(first.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000 - 1);
    expect(Number(first.get('x-ratelimit-reset-after'))).toBeLessThanOrEqual(2.5);
    const refused = answers[3]!;
    expect(refused.body).toMatchObject({ message: 'You are being rate limited.', global: false });
    expect(refused.body.retry_after).toBeGreaterThan(0);
    expect(refused.headers.get('retry-after')).toBe(String(Math.ceil(refused.body.retry_after)));
    // the same route for another channel (another top-level resource) has its own count, and the same bucket
    const other = await get(`${server().url}/api/v10/channels/${id('b')}/messages`, {});
    expect(other.status).toBe(200);
    expect(other.headers.get('x-ratelimit-bucket')).toBe(first.get('x-ratelimit-bucket'));
    // waiting what the 429 said reaches a window that has reset
    await sleep(refused.body.retry_after * 1000);
    expect((await get(url, {})).status).toBe(200);
  });
});
