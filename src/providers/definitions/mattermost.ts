/**
 * Mattermost channels, as a definition (API v4, from the reference at
 * https://developers.mattermost.com/api-documentation/ — "Get posts for a
 * channel", "Post", "FileInfo").
 * GET {server}/api/v4/channels/{channel_id}/posts?before=POST_ID&per_page=N
 *
 * Quirks the reference gives:
 * - every server is self-hosted (or a cloud workspace URL): no default base;
 *   `--base-url` is the server root (`https://chat.example.com`);
 * - a personal access token or a bot account's token, `Authorization: Bearer`;
 * - `page` counts from 0, newest first; numbered pages shift while they are
 *   read (a new post pushes the others back, a deleted one pulls them forward)
 *   and there is no total: the walk asks for page 0 `before` a post of the
 *   previous answer instead (below); `per_page` is capped at 200; an empty
 *   answer ends the walk;
 * - the answer is a `posts` map keyed by id plus `order`, the ids newest first:
 *   the records are `order` looked up in `posts`;
 * - replies are ordinary posts of the channel with `root_id` (collapsed threads
 *   are not asked for), so no separate thread walk is needed;
 * - `edit_at` is the edit time (0 = never edited); `update_at` also moves for
 *   reactions, pins and replies, so it is not an edit;
 * - `type` is `""` for an ordinary post and `system_…` for joins, leaves,
 *   header changes; deleted posts are left out of the answer;
 * - webhook and bot posts name themselves in `props.override_username` and
 *   `props.override_icon_url` (the `user_id` is the integration's owner);
 * - posts carry only `user_id`: names come from the users directory
 *   (`GET /api/v4/users`, pages from 0, deactivated accounts included), avatars
 *   are `/api/v4/users/{id}/image`;
 * - files are `metadata.files[]` (FileInfo: id, name, mime_type); their content
 *   is at `/api/v4/files/{id}` on the same server, with the same token;
 * - errors: `{ id, message, status_code }` with 400 / 401 / 403 / 404; a rate
 *   limit is HTTP 429 with `Retry-After` and `X-Ratelimit-*` headers.
 */
import type { Definition } from '../definition.js';

export const mattermostDefinition = {
  summary: 'Mattermost channels by id (API v4; self-hosted: --base-url is the server root; a personal access or bot token)',
  noun: 'channel',
  auth: [{ type: 'bearer', from: 'token' }],
  request: { path: '/api/v4/channels/{channel}/posts' },
  // Each page is asked for `before` a post of the last one (page 0 of what is older than it): numbered pages shift
  // under new posts and, worse, under deleted ones (an older post slides onto a page already read, unseen), and the
  // answer has no total to notice it by. `before` compares creation times strictly, so the anchor is the oldest post
  // of the page newer than the page's oldest millisecond: posts sharing that millisecond come again (deduped), none
  // is skipped — unless a whole page is one millisecond (more than per_page posts at once), where the walk moves on.
  paging: {
    type: 'cursor',
    param: 'before',
    from: { body: 'let $t = min(map(&lookup($page.posts, @).create_at, order || `[]`)) in (order[?lookup($page.posts, @).create_at > $t] | [-1]) || order[-1]' },
    size: { param: 'per_page', default: 200, max: 200 },
  },
  order: 'newest-first',
  // the server's limiter states the budget on every answer; Reset is seconds from now
  rateLimit: { remaining: 'X-Ratelimit-Remaining', resetAfter: 'X-Ratelimit-Reset' },
  records: 'map(&lookup($page.posts, @), order || `[]`)',
  httpErrors: {
    message: 'message',
    status: {
      '400': { kind: 'usage', hint: 'check the channel id (--channel: 26 characters, from the channel\'s "View Info" or the channels list)' },
      '401': { kind: 'auth', hint: 'check the Mattermost token (CHAT_EXPORT_TOKEN): a personal access token or a bot token, not expired' },
      '403': { kind: 'unreadable', hint: 'the token\'s user may not read this channel: add the user or bot to it (private channels and DMs need membership)' },
      '404': { kind: 'usage', text: 'channel not found', hint: 'check the channel id (--channel) and --base-url (the server root, without /api/v4)' },
    },
  },
  fields: {
    id: 'id',
    time: { path: 'create_at', format: 'epoch-ms' },
    sender: {
      id: 'user_id',
      // Mattermost shows the username unless the server is set to show nicknames or full names
      name: 'props.override_username || lookup($people, user_id).username || `null`',
      avatar: "props.override_icon_url || join('', ['/api/v4/users/', user_id, '/image'])",
    },
    type: { path: "starts_with(type || '', 'system_') && 'system' || `null`", default: 'text', lowercase: true },
    text: 'message',
    replyTo: 'root_id || `null`',
    updated: { path: 'edit_at', format: 'epoch-ms' },
    deleted: 'delete_at > `0`',
    attachments: "metadata.files[].{url: join('', ['/api/v4/files/', id]), name: name, type: mime_type || `null`} || `[]`",
  },
  // every channel of every team the user is in (Mattermost 6.1+), archived ones too (they stay readable)
  channels: {
    request: { path: '/api/v4/users/me/channels', query: { include_deleted: true } },
    records: '@',
    fields: {
      id: 'id',
      name: 'display_name || name',
      kind: { path: 'type', map: { O: 'channel', P: 'private', D: 'direct', G: 'group' } },
      archived: 'delete_at > `0`',
    },
  },
  people: {
    // every account, deactivated ones too (old posts are theirs); per_page is capped at 200
    request: { path: '/api/v4/users' },
    paging: { type: 'pages', param: 'page', first: 0, size: { param: 'per_page', default: 200, max: 200 } },
    records: '@',
    fields: { id: 'id', name: 'username', avatar: "join('', ['/api/v4/users/', id, '/image'])" },
  },
} satisfies Definition;
