/**
 * The Slack-shaped fixture API against its own ground truth: a client that
 * walks conversations.history and, for each parent, conversations.replies the
 * way Slack's reference says (cursor paging, the parent first on every replies
 * page, broadcast replies also in the history) finds every message and every
 * reply exactly once; a reply posted to an old thread changes that parent's
 * reply_count and latest_reply and nothing in the history's newest page.
 */
import { describe, expect, it } from 'vitest';

import { TOMBSTONE_TEXT } from '../../fixtures/slack.js';
import { useServer } from '../helpers/fixtures.js';

type Json = any;

const TOKEN = 'xoxb-fixture';
const BIG = { at: 40, replies: 230 };

describe('slack fixture', () => {
  const server = useServer({
    auth: { token: TOKEN },
    workspaces: { slack: { users: 30 } },
    channels: [
      { provider: 'slack', id: 'C0GENERAL1', count: 400, name: 'general', hostile: true, threads: { big: [BIG] } },
      { provider: 'slack', id: 'C0ARCHIVE2', count: 20, name: 'old-stuff', archived: true },
      { provider: 'slack', id: 'C0OUTSIDE3', count: 15, name: 'not-mine', member: false },
      { provider: 'slack', id: 'G0PRIVATE4', count: 25, name: 'secret-project', kind: 'private' },
      { provider: 'slack', id: 'G0HIDDEN05', count: 5, name: 'hidden', kind: 'private', member: false },
      { provider: 'slack', id: 'D0DIRECT06', count: 12, kind: 'im', user: 'U01BOB0003' },
    ],
  });

  async function call(method: string, query: Record<string, string | number> = {}, token: string | null = TOKEN): Promise<Json> {
    const params = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
    const response = await fetch(`${server().url}/slack/api/${method}?${params}`, token === null ? {} : { headers: { Authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    return response.json();
  }

  /** Every page of a cursor-paged method, each checked ok. */
  async function pages(method: string, query: Record<string, string | number>): Promise<Json[]> {
    const out: Json[] = [];
    let cursor = '';
    for (;;) {
      const body = await call(method, cursor === '' ? query : { ...query, cursor });
      expect(body.ok, JSON.stringify(body)).toBe(true);
      out.push(body);
      cursor = body.response_metadata.next_cursor;
      if (cursor === '') return out;
      expect(out.length).toBeLessThan(500);
    }
  }

  /** Everything a correct client collects from one channel: ts → record, counting how often each was seen. */
  async function walk(channel: string, limit: number): Promise<{ seen: Map<string, number>; history: Json[]; replyPages: number }> {
    const seen = new Map<string, number>();
    const note = (ts: string) => seen.set(ts, (seen.get(ts) ?? 0) + 1);
    const history = (await pages('conversations.history', { channel, limit })).flatMap((body) => body.messages);
    let replyPages = 0;
    for (const record of history) {
      // a broadcast reply shows in the history and in its thread: counted where its thread is read
      if (record.subtype !== 'thread_broadcast') note(record.ts);
      if (!(record.reply_count > 0)) continue;
      for (const body of await pages('conversations.replies', { channel, ts: record.ts, limit })) {
        replyPages++;
        expect(body.messages[0].ts).toBe(record.ts);
        body.messages.slice(1).forEach((reply: Json) => note(reply.ts));
      }
    }
    return { seen, history, replyPages };
  }

  it('history and replies walked by cursor give every message and every reply exactly once', async () => {
    const { seen, history, replyPages } = await walk('C0GENERAL1', 50);
    const truth = server().messages('slack', 'C0GENERAL1');
    expect([...seen.keys()].sort()).toEqual(truth.map((m) => m.id).sort());
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    // newest first, ts rising never
    const times = history.map((m: Json) => Number(m.ts));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    // the history leaves replies out but for broadcast ones
    const replies = history.filter((m: Json) => m.thread_ts !== undefined && m.thread_ts !== m.ts);
    expect(replies.length).toBeGreaterThan(0);
    expect(replies.every((m: Json) => m.subtype === 'thread_broadcast')).toBe(true);
    // the big thread took several replies pages, each starting with its parent
    const threads = server().threads('slack', 'C0GENERAL1');
    expect(threads.find((t) => t.replies === BIG.replies)).toBeDefined();
    expect(replyPages).toBeGreaterThan(threads.length + 3);
    const inThreads = threads.reduce((sum, t) => sum + t.replies, 0);
    expect(truth.filter((m) => m.replyTo !== null)).toHaveLength(inThreads);
  });

  it('serves the traps the reference documents: ts as id and time, tombstones, bots, joins, files, edits, escaped text', async () => {
    const truth = server().messages('slack', 'C0GENERAL1');
    const history = (await pages('conversations.history', { channel: 'C0GENERAL1', limit: 999 })).flatMap((body) => body.messages);
    expect(history.length).toBeGreaterThan(400);
    for (const record of history) {
      expect(record.ts).toMatch(/^\d{10}\.\d{6}$/);
      const canonical = truth.find((m) => m.id === record.ts)!;
      // truncated to the millisecond, never rounded
      expect(canonical.time).toBe(Math.floor(Number(record.ts.replace('.', '')) / 1000));
    }
    const tombstone = history.find((m: Json) => m.subtype === 'tombstone');
    expect(tombstone).toMatchObject({ text: TOMBSTONE_TEXT, user: 'USLACKBOT', hidden: true });
    expect(tombstone.reply_count).toBeGreaterThan(0);
    expect(truth.find((m) => m.id === tombstone.ts)).toMatchObject({ deleted: true, senderName: 'Slackbot' });
    const bot = history.find((m: Json) => m.subtype === 'bot_message');
    expect(bot.user).toBeUndefined();
    expect(truth.find((m) => m.id === bot.ts)).toMatchObject({ senderId: bot.bot_id, senderName: bot.username, senderAvatar: bot.icons.image_48 });
    const join = history.find((m: Json) => m.subtype === 'channel_join');
    expect(truth.find((m) => m.id === join.ts)).toMatchObject({ type: 'system', text: `<@${join.user}> has joined the channel` });
    const withFile = history.find((m: Json) => m.files?.length > 0);
    expect(truth.find((m) => m.id === withFile.ts)!.attachments).toEqual([{ url: withFile.files[0].url_private, name: withFile.files[0].name, type: withFile.files[0].mimetype }]);
    const edited = history.find((m: Json) => m.edited !== undefined);
    expect(truth.find((m) => m.id === edited.ts)!.updatedTime).toBeGreaterThan(truth.find((m) => m.id === edited.ts)!.time);
    expect(history.some((m: Json) => m.text.includes('&lt;script&gt;'))).toBe(true);
    expect(history.some((m: Json) => m.text.includes('<script>'))).toBe(false);
  });

  it('takes oldest / latest as exclusive bounds (inclusive on request) and pages within them', async () => {
    const truth = server().messages('slack', 'C0GENERAL1');
    const inHistory = (await pages('conversations.history', { channel: 'C0GENERAL1', limit: 999 })).flatMap((body) => body.messages).map((m: Json) => m.ts);
    const [newer, older] = [inHistory[10], inHistory[60]];
    const between = (await pages('conversations.history', { channel: 'C0GENERAL1', limit: 7, oldest: older, latest: newer })).flatMap((b) => b.messages).map((m: Json) => m.ts);
    expect(between).toEqual(inHistory.slice(11, 60));
    const inclusive = (await pages('conversations.history', { channel: 'C0GENERAL1', limit: 7, oldest: older, latest: newer, inclusive: 'true' })).flatMap((b) => b.messages).map((m: Json) => m.ts);
    expect(inclusive).toEqual(inHistory.slice(10, 61));
    expect(truth.length).toBeGreaterThan(inHistory.length);
  });

  it('a reply posted to an old thread is newest of all, changes its parent\'s reply_count and latest_reply, and stays out of the history', async () => {
    const before = server().threads('slack', 'C0ARCHIVE2');
    const plain = (await pages('conversations.history', { channel: 'C0ARCHIVE2', limit: 100 })).flatMap((b) => b.messages).at(-1);
    expect(plain.reply_count).toBeUndefined();
    const parent = before[0]!;
    const newestBefore = server().messages('slack', 'C0ARCHIVE2')[0]!;
    const posted = server().reply('slack', 'C0ARCHIVE2', parent.id)[0]!;
    const started = server().reply('slack', 'C0ARCHIVE2', plain.ts, 1)[0]!;
    const truth = server().messages('slack', 'C0ARCHIVE2');
    expect(truth.slice(0, 2).map((m) => m.id)).toEqual([started, posted]);
    expect(truth[1]!.time).toBeGreaterThan(newestBefore.time);
    expect(truth.filter((m) => m.id === posted)).toHaveLength(1);
    const history = (await pages('conversations.history', { channel: 'C0ARCHIVE2', limit: 100 })).flatMap((b) => b.messages);
    expect(history.some((m: Json) => m.ts === posted || m.ts === started)).toBe(false);
    expect(history.find((m: Json) => m.ts === parent.id)).toMatchObject({ reply_count: parent.replies + 1, latest_reply: posted });
    expect(history.find((m: Json) => m.ts === plain.ts)).toMatchObject({ reply_count: 1, latest_reply: started, thread_ts: plain.ts });
    const thread = (await pages('conversations.replies', { channel: 'C0ARCHIVE2', ts: parent.id })).flatMap((b) => b.messages);
    expect(thread.at(-1)).toMatchObject({ ts: posted, thread_ts: parent.id });
    // asked by a reply's ts, the whole thread comes back
    const byReply = (await call('conversations.replies', { channel: 'C0ARCHIVE2', ts: posted })).messages;
    expect(byReply.map((m: Json) => m.ts)).toEqual(thread.map((m: Json) => m.ts));
    const broadcast = server().reply('slack', 'C0ARCHIVE2', parent.id, 1, { broadcast: true })[0];
    const newest = (await call('conversations.history', { channel: 'C0ARCHIVE2', limit: 1 })).messages[0];
    expect(newest).toMatchObject({ ts: broadcast, subtype: 'thread_broadcast', thread_ts: parent.id });
  });

  it('lists conversations as conversations.list does: types, archived, membership, cursor', async () => {
    const all = (await pages('conversations.list', { types: 'public_channel,private_channel,mpim,im', limit: 2 })).flatMap((b) => b.channels);
    expect(all.map((c: Json) => c.id)).toEqual(['C0GENERAL1', 'C0ARCHIVE2', 'C0OUTSIDE3', 'G0PRIVATE4', 'D0DIRECT06']);
    expect(all.find((c: Json) => c.id === 'C0OUTSIDE3')).toMatchObject({ is_member: false, is_private: false, name: 'not-mine' });
    expect(all.find((c: Json) => c.id === 'C0ARCHIVE2')).toMatchObject({ is_archived: true, is_member: true });
    expect(all.find((c: Json) => c.id === 'G0PRIVATE4')).toMatchObject({ is_private: true, is_channel: false, is_group: true });
    expect(all.find((c: Json) => c.id === 'D0DIRECT06')).toMatchObject({ is_im: true, user: 'U01BOB0003' });
    const publicOnly = (await pages('conversations.list', {})).flatMap((b) => b.channels);
    expect(publicOnly.map((c: Json) => c.id)).toEqual(['C0GENERAL1', 'C0ARCHIVE2', 'C0OUTSIDE3']);
    const live = (await pages('conversations.list', { exclude_archived: 'true' })).flatMap((b) => b.channels);
    expect(live.map((c: Json) => c.id)).toEqual(['C0GENERAL1', 'C0OUTSIDE3']);
    expect(await call('conversations.list', { types: 'everything' })).toEqual({ ok: false, error: 'invalid_types' });
  });

  it('pages users.list; the directory names people by display name, else real name', async () => {
    const members = (await pages('users.list', { limit: 7 })).flatMap((b) => b.members);
    expect(members).toHaveLength(30);
    const people = server().people('slack');
    expect(members.map((m: Json) => m.id)).toEqual(people.map((p) => p.id));
    const zhang = members.find((m: Json) => m.id === 'U01ZHANG02');
    expect(zhang.profile.display_name).toBe('');
    expect(people.find((p) => p.id === 'U01ZHANG02')!.name).toBe(zhang.real_name);
    expect(people.find((p) => p.id === 'U01BOB0003')!.name).toBe('bob 🚀');
    expect(members.find((m: Json) => m.deleted === true)).toBeDefined();
    // messages carry only the id: every sender of the channel is in the directory (or a bot)
    const known = new Set(people.map((p) => p.id));
    const senders = server().messages('slack', 'C0GENERAL1').filter((m) => !m.senderId.startsWith('B'));
    expect(senders.every((m) => known.has(m.senderId))).toBe(true);
  });

  it('fails as Slack does, with HTTP 200 and ok: false', async () => {
    expect(await call('conversations.history', { channel: 'C0OUTSIDE3' })).toEqual({ ok: false, error: 'not_in_channel' });
    expect(await call('conversations.history', { channel: 'G0HIDDEN05' })).toEqual({ ok: false, error: 'channel_not_found' });
    expect(await call('conversations.history', { channel: 'C0NOPE' })).toEqual({ ok: false, error: 'channel_not_found' });
    expect(await call('conversations.history', { channel: 'C0GENERAL1', cursor: 'garbage' })).toEqual({ ok: false, error: 'invalid_cursor' });
    expect(await call('conversations.replies', { channel: 'C0GENERAL1', ts: '1.000001' })).toEqual({ ok: false, error: 'thread_not_found' });
    expect(await call('conversations.history', { channel: 'C0GENERAL1' }, 'xoxb-wrong')).toEqual({ ok: false, error: 'invalid_auth' });
    expect(await call('conversations.history', { channel: 'C0GENERAL1' }, null)).toEqual({ ok: false, error: 'not_authed' });
    expect((await call('users.list', { token: TOKEN }, null)).ok).toBe(true);
  });

  it('a fault rule can aim at one method: a 429 ratelimited only on conversations.replies', async () => {
    server().resetLog();
    server().addFault({ provider: 'slack', path: 'conversations.replies', kind: 'status', status: 429, headers: { 'Retry-After': '1' }, body: { ok: false, error: 'ratelimited' } });
    try {
      expect((await call('conversations.history', { channel: 'D0DIRECT06' })).ok).toBe(true);
      const parent = server().threads('slack', 'C0GENERAL1')[0]!;
      const response = await fetch(`${server().url}/slack/api/conversations.replies?channel=C0GENERAL1&ts=${parent.id}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(await response.json()).toEqual({ ok: false, error: 'ratelimited' });
      expect(server().log.map((e) => [e.channel, e.fault])).toEqual([['D0DIRECT06', undefined], ['C0GENERAL1', 'status']]);
    } finally {
      server().clearFaults();
    }
  });
});
