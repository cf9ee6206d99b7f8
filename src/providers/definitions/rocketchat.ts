/**
 * Rocket.Chat rooms, as a definition (REST API v1, from the reference at
 * https://developer.rocket.chat/apidocs — "Get Channel History", "Get Group
 * History", "Get IM History", "Authentication headers").
 * GET {server}/api/v1/channels.history?roomId=R&latest=ISO&inclusive=true&count=N
 *
 * Quirks the reference gives:
 * - self-hosted (or a cloud workspace URL): no default base; `--base-url` is
 *   the server root;
 * - every request carries `X-Auth-Token` (a personal access token) and
 *   `X-User-Id` (its user's id): `--token` and `--api-key`;
 * - public channels are read with `channels.history`, direct messages with
 *   `im.history` (`--peer` the DM room id); private groups use
 *   `groups.history` (the workspace listing knows which is which);
 * - newest first; `latest` (an ISO time, default now) and `inclusive=true`
 *   make a time cursor that cannot lose a message to a shift; `count` is
 *   capped by the server (API_Upper_Count_Limit, 100 by default); no total;
 * - thread replies are in the history (showThreadMessages defaults to true)
 *   with `tmid`, their thread's first message;
 * - `t` marks system messages (`uj` joined, `ul` left, `au` added, …);
 * - `editedAt` is an edit; `_updatedAt` also moves for reactions and
 *   thread counts, so it is not one;
 * - integrations post with `alias` and `avatar` overriding the user;
 * - files: `attachments[]` with `title_link` (`/file-upload/ID/name`, on the
 *   same server); avatars at `/avatar/USERNAME`;
 * - errors: `{ success: false, error, errorType }` with HTTP 400/403, 401
 *   `{ status: "error", message }`; a rate limit is HTTP 429 with
 *   `X-RateLimit-Reset` (epoch ms) and errorType `error-too-many-requests`.
 */
import type { Definition } from '../definition.js';

export const rocketchatDefinition = {
  summary: 'Rocket.Chat channels by room id, DMs with --peer (self-hosted: --base-url is the server root; token + user id)',
  noun: 'room',
  auth: [
    { type: 'header', name: 'X-Auth-Token', from: 'token' },
    { type: 'header', name: 'X-User-Id', from: 'apiKey' },
  ],
  request: {
    path: '/api/v1/channels.history',
    query: { roomId: '{channel}', inclusive: true },
    peer: { path: '/api/v1/im.history', query: { roomId: '{peer}', inclusive: true } },
    // each room type answers only its own method: what the channel list says a room is picks it
    kinds: {
      private: { path: '/api/v1/groups.history' },
      direct: { path: '/api/v1/im.history' },
    },
  },
  paging: { type: 'time', param: 'latest', format: 'iso', inclusive: true, size: { param: 'count', default: 100, max: 100 } },
  order: 'newest-first',
  // X-RateLimit-Reset is epoch milliseconds; a refusal states no Retry-After, so the budget is what keeps the run going
  rateLimit: { remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset' },
  records: 'messages',
  envelope: {
    success: { path: 'success', equals: [true] },
    message: 'error || message',
    code: 'errorType',
    codes: {
      'error-room-not-found': { kind: 'usage', note: 'room not found', hint: 'check the room id (--channel: the rid, not the #name; private groups and DMs are listed by `chat-export channels`)' },
      'error-not-allowed': { kind: 'unreadable', note: 'not allowed', hint: 'the user may not read this room: join it, or use an account that is a member' },
      'error-room-archived': { kind: 'usage', note: 'room archived' },
    },
  },
  httpErrors: {
    message: 'error || message',
    status: {
      '401': { kind: 'auth', hint: 'check the personal access token (CHAT_EXPORT_TOKEN) and its user id (CHAT_EXPORT_API_KEY)' },
      '403': { kind: 'unreadable', hint: 'the user may not read this room' },
    },
  },
  // every room the user is subscribed to, of every type, in one answer
  channels: {
    request: { path: '/api/v1/rooms.get' },
    records: 'update',
    fields: {
      id: '_id',
      name: "fname || name || join(', ', usernames || `[]`)",
      kind: { path: 't', map: { c: 'channel', p: 'private', d: 'direct', l: 'livechat' } },
      archived: 'archived || `false`',
    },
  },
  fields: {
    id: '_id',
    time: { path: 'ts', format: 'iso' },
    sender: {
      id: 'u._id',
      name: 'alias || u.name || u.username || `null`',
      avatar: "avatar || (u.username && join('', ['/avatar/', u.username])) || `null`",
    },
    type: { path: "t && 'system' || `null`", default: 'text', lowercase: true },
    text: 'msg',
    replyTo: 'tmid',
    updated: { path: 'editedAt', format: 'iso' },
    attachments: 'attachments[?title_link].{url: title_link, name: title || `null`, type: not_null(image_type, video_type, audio_type)} || `[]`',
  },
} satisfies Definition;
