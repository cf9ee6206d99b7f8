/**
 * Discord guild channels and threads, as a definition (HTTP API v10, from the
 * reference at https://discord.com/developers/docs — "Get Channel Messages",
 * the Message object and its types, "Rate Limits", "Opcodes and Status Codes").
 * GET https://discord.com/api/v10/channels/{channel.id}/messages?before=ID&limit=N   Authorization: Bot TOKEN
 *
 * Quirks the reference gives:
 * - a bot token is sent as `Authorization: Bot TOKEN`;
 * - messages come newest first, at most 100 a page (`limit`, default 50);
 *   the next page is `before` the oldest id of the last one, until a page is
 *   empty; ids are snowflakes, JSON strings above 2^53 (kept as written);
 * - a thread is a channel of its own (its id is `--channel`), and so is a
 *   forum post;
 * - `type` says what a message is: 0 default, 19 a reply (its
 *   `message_reference.message_id` is the message replied to), 20/23
 *   application commands and 21 a thread's starter are someone's message;
 *   7 a member joined, 6 a pin notice and the other types are system messages;
 * - `edited_timestamp` is null until an edit; deleted messages are not served;
 * - `author.global_name` is the display name (null: the username is shown);
 *   `author.avatar` is a hash on the CDN (null: Discord's default avatar);
 *   `attachments[]` carry `url`, `filename`, `content_type` (their URLs are
 *   signed and expire: --media keeps the files);
 * - without the Message Content intent a bot gets `content` and `attachments`
 *   empty for messages that do not mention it;
 * - errors are `{ message, code }` with the status: 401 (code 0), 403 Missing
 *   Access (50001) where the bot may not view the channel or read its
 *   history, 404 Unknown Channel (10003), 400 on a category (50024);
 * - every answer states its route's budget (`X-RateLimit-Remaining`, `Reset`
 *   as epoch seconds, `Reset-After`, `Bucket`); a 429 says `retry_after`
 *   (seconds, a float) in its JSON body.
 */
import type { Definition } from '../definition.js';

/** Message types that are someone's message (default, reply, slash and context-menu commands, a thread's starter); every other type is a system notice. */
const TEXT_TYPES = [0, 19, 20, 21, 23];
const SYSTEM_TYPES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 36, 37, 38, 39, 44, 46];

/** Channel types: 0 text, 2 voice (its text chat), 5 announcement, 13 stage; 10, 11, 12 threads. */
const CHANNEL_KIND = { path: 'to_string(type)', map: { '0': 'channel', '2': 'channel', '5': 'channel', '13': 'channel', '10': 'thread', '11': 'thread', '12': 'thread' } };
const THREAD_FIELDS = { id: 'id', name: 'name', parent: 'parent_id', kind: "'thread'", archived: 'thread_metadata.archived' };

const ACCESS_HINT =
  'give the bot View Channel and Read Message History on this channel (and, for a private thread, add it to the thread)';

export const discordDefinition = {
  summary: 'Discord guild channels and threads by id (a bot token, with the Message Content intent; View Channel + Read Message History)',
  baseUrl: 'https://discord.com/api/v10',
  noun: 'channel',
  auth: [{ type: 'header', name: 'Authorization', from: 'token', prefix: 'Bot ' }],
  request: { path: '/channels/{channel}/messages' },
  // newest first: the next page is before the oldest message of this one; an empty page ends the walk
  paging: { type: 'cursor', param: 'before', from: { body: '[-1].id' }, size: { param: 'limit', default: 100, max: 100 } },
  order: 'newest-first',
  // each route's budget, stated on every answer: a run waits for the reset instead of being refused
  rateLimit: { remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset', resetAfter: 'X-RateLimit-Reset-After', bucket: 'X-RateLimit-Bucket' },
  records: '@',
  httpErrors: {
    message: 'message',
    status: {
      '401': { kind: 'auth', hint: 'check the Discord bot token (CHAT_EXPORT_TOKEN): Developer Portal → your application → Bot → Reset Token' },
      // Missing Access: by id, exit 3 naming the channel; under --all-channels it is skipped and named
      '403': { kind: 'unreadable', text: 'the bot may not read this channel', hint: ACCESS_HINT },
      '404': { kind: 'usage', text: 'unknown channel', hint: 'check the channel id (--channel; Developer Mode → right-click the channel → Copy Channel ID) and that the bot is in its server' },
      '400': { kind: 'usage', hint: 'a category or voice channel has no messages to read: pick a text channel or thread' },
    },
  },
  channels: [
    {
      // the guilds the bot is in: places to list channels under, not channels themselves
      request: { path: '/users/@me/guilds' },
      paging: { type: 'cursor', param: 'after', from: { body: '[-1].id' }, size: { param: 'limit', default: 200, max: 200 } },
      records: '@',
      container: '`true`',
      fields: { id: 'id', name: 'name' },
    },
    {
      // each guild's channels (no threads); a guild has no type, a channel always has one
      forEach: 'type == `null`',
      request: { path: '/guilds/{channel}/channels' },
      records: '@',
      // categories hold no messages; a forum's (or media channel's) posts are threads, listed below
      filter: 'type != `4`',
      container: 'type == `15` || type == `16`',
      fields: { id: 'id', name: 'name', kind: CHANNEL_KIND, archived: '`false`' },
    },
    {
      // each guild's active threads, in every channel the bot can see
      forEach: 'type == `null`',
      request: { path: '/guilds/{channel}/threads/active' },
      records: 'threads',
      fields: THREAD_FIELDS,
    },
    {
      // each text, announcement, forum and media channel's archived public threads, newest archived first
      forEach: 'type == `0` || type == `5` || type == `15` || type == `16`',
      request: { path: '/channels/{channel}/threads/archived/public' },
      paging: { type: 'cursor', param: 'before', from: { body: 'threads[-1].thread_metadata.archive_timestamp' }, size: { param: 'limit', default: 100, max: 100 } },
      end: { hasMore: 'has_more' },
      records: 'threads',
      fields: THREAD_FIELDS,
    },
  ],
  fields: {
    id: 'id',
    time: { path: 'timestamp', format: 'iso' },
    sender: {
      id: 'author.id',
      name: 'author.global_name || author.username',
      avatar: "author.avatar && join('', ['https://cdn.discordapp.com/avatars/', author.id, '/', author.avatar, '.png']) || `null`",
    },
    type: {
      path: 'to_string(type)',
      default: 'text',
      lowercase: true,
      map: Object.fromEntries([...TEXT_TYPES.map((t) => [String(t), 'text']), ...SYSTEM_TYPES.map((t) => [String(t), 'system'])]),
    },
    text: 'content',
    replyTo: 'type == `19` && message_reference.message_id || `null`',
    updated: { path: 'edited_timestamp', format: 'iso' },
    attachments: 'attachments[].{url: url, name: filename, type: content_type || `null`} || `[]`',
  },
} satisfies Definition;
