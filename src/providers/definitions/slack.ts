/**
 * Slack conversations, as a definition (Web API, from the method reference at
 * https://docs.slack.dev/reference/methods/ — conversations.history,
 * conversations.replies, users.list — the message object and its subtypes,
 * and the rate-limit guide).
 * GET https://slack.com/api/conversations.history?channel=C…&cursor=…&limit=N   Authorization: Bearer xoxb-…/xoxp-…
 *
 * Quirks the reference gives:
 * - every answer is HTTP 200 with `ok`; a refusal is `ok: false` and an
 *   `error` code (invalid_auth, not_in_channel, channel_not_found,
 *   missing_scope with the scope `needed`…); a rate limit is HTTP 429 with
 *   `Retry-After` (seconds) and `{ ok: false, error: "ratelimited" }`, which the
 *   client waits out and retries before any code rule is read;
 * - paging is by opaque cursor (`response_metadata.next_cursor`, "" at the
 *   end), newest first; history's `limit` is capped at 999 (200 advised);
 * - `ts` ("1704067298.691501") is the message's id within its channel and its
 *   time: epoch seconds with microseconds, truncated to the millisecond;
 * - the history leaves thread replies out (but for replies also sent to the
 *   channel, subtype `thread_broadcast`): a parent carries `reply_count` and
 *   `latest_reply`, and conversations.replies serves its thread, parent first
 *   on every page (the replies part; the parent and broadcasts come once);
 * - a deleted parent that still has replies stays as subtype `tombstone`;
 * - bot messages (subtype `bot_message`) carry `bot_id`, `username` and
 *   `icons` instead of a user; other messages carry only the user's id, so
 *   names and avatars come from users.list (the people part);
 * - joins, leaves, topic/purpose/name changes, archiving and pins are
 *   subtypes: system messages;
 * - files are `files[]` (`url_private` needs the same token; a deleted file is
 *   a `tombstone` without a URL and is left out); `edited.ts` is the edit time.
 */
import type { Definition } from '../definition.js';

/** Slack's cursor paging, shared by history, replies and users.list (their caps differ). */
const cursor = (max: number) =>
  ({ type: 'cursor', param: 'cursor', from: { body: 'response_metadata.next_cursor' }, size: { param: 'limit', default: 200, max } }) as const;

const SYSTEM_SUBTYPES = [
  'channel_join',
  'channel_leave',
  'channel_topic',
  'channel_purpose',
  'channel_name',
  'channel_archive',
  'channel_unarchive',
  'channel_convert_to_private',
  'channel_convert_to_public',
  'group_join',
  'group_leave',
  'group_topic',
  'group_purpose',
  'group_name',
  'group_archive',
  'group_unarchive',
  'pinned_item',
  'unpinned_item',
  'bot_add',
  'bot_remove',
  'reminder_add',
];
/** Subtypes that are still someone's message: kept as text. */
const TEXT_SUBTYPES = ['bot_message', 'thread_broadcast', 'tombstone', 'me_message', 'file_share', 'file_comment', 'file_mention', 'slackbot_response'];

const TOKEN_HINT = 'check the Slack token (CHAT_EXPORT_TOKEN): a bot token xoxb-… or user token xoxp-… of an app installed in this workspace';
const SCOPES_HINT =
  'add the scopes the error names to the app (OAuth & Permissions: channels:history, groups:history, im:history, mpim:history, users:read), then reinstall it';

const PERSON = 'lookup($people, user)';

export const slackDefinition = {
  summary: 'Slack channels, private channels and DMs by id (a bot token xoxb-… or user token xoxp-…; threads and names included)',
  baseUrl: 'https://slack.com/api',
  noun: 'channel',
  auth: [{ type: 'bearer', from: 'token' }],
  request: { path: '/conversations.history', query: { channel: '{channel}' } },
  paging: cursor(999),
  order: 'newest-first',
  envelope: {
    success: { path: 'ok', equals: [true] },
    code: 'error',
    // missing_scope names the scope the method needs and those the token has
    message: "needed && join('', ['needs the scope ', needed, ', the token has ', provided || 'none']) || `null`",
    codes: {
      invalid_auth: { kind: 'auth', hint: TOKEN_HINT },
      not_authed: { kind: 'auth', hint: 'set the Slack token (CHAT_EXPORT_TOKEN, a profile, or --token)' },
      account_inactive: { kind: 'auth', note: 'the token belongs to a deactivated user or an uninstalled app', hint: TOKEN_HINT },
      token_revoked: { kind: 'auth', note: 'the token was revoked', hint: TOKEN_HINT },
      token_expired: { kind: 'auth', note: 'the token expired', hint: TOKEN_HINT },
      no_permission: { kind: 'auth', hint: SCOPES_HINT },
      missing_scope: { kind: 'auth', hint: SCOPES_HINT },
      not_allowed_token_type: { kind: 'auth', hint: 'use a bot token (xoxb-…) or a user token (xoxp-…)' },
      // by id: exit 3 naming the channel; under --all-channels it is skipped and named
      not_in_channel: {
        kind: 'unreadable',
        note: 'the app is not a member of this channel',
        hint: 'invite the app into the channel (/invite @your-app in Slack), or use a user token of a member',
      },
      channel_not_found: {
        kind: 'usage',
        hint: 'check the channel id (--channel: C…, G… or D…, from the channel\'s details); a private channel the app is not in is not found either',
      },
      thread_not_found: { kind: 'remote', note: 'the thread is gone (its parent was deleted)' },
      invalid_cursor: { kind: 'remote', note: 'the server refused its own next cursor' },
    },
    hint: 'the Slack Web API refused the request',
  },
  records: 'messages',
  fields: {
    id: 'ts',
    time: { path: 'ts', format: 'epoch-s' },
    sender: {
      id: 'user || bot_id',
      // a bot message names itself; anyone else is named by the directory, then by the profile the message may carry
      name: `username || ${PERSON}.profile.display_name || ${PERSON}.real_name || user_profile.display_name || user_profile.real_name || bot_profile.name || \`null\``,
      avatar: `icons.image_48 || icons.image_72 || icons.image_36 || ${PERSON}.profile.image_72 || user_profile.image_72 || bot_profile.icons.image_48 || \`null\``,
    },
    type: {
      path: 'subtype',
      default: 'text',
      lowercase: true,
      map: Object.fromEntries([...SYSTEM_SUBTYPES.map((s) => [s, 'system']), ...TEXT_SUBTYPES.map((s) => [s, 'text'])]),
    },
    text: 'text',
    // a reply (also a broadcast one) names its thread's parent; the parent's thread_ts is its own ts
    replyTo: 'thread_ts != ts && thread_ts || `null`',
    updated: { path: 'edited.ts', format: 'epoch-s' },
    deleted: "subtype == 'tombstone'",
    attachments: 'files[?url_private].{url: url_private, name: name || title || `null`, type: mimetype || `null`} || `[]`',
  },
  replies: {
    when: 'reply_count > `0`',
    request: { path: '/conversations.replies', query: { channel: '{channel}', ts: '{record.ts}' } },
    paging: cursor(1000),
    order: 'oldest-first',
    records: 'messages',
    count: 'reply_count',
    latest: 'latest_reply',
  },
  channels: {
    // every kind the scopes allow (channels:read, groups:read, im:read, mpim:read), archived ones too (still readable)
    request: { path: '/conversations.list', query: { types: 'public_channel,private_channel,mpim,im', exclude_archived: false } },
    paging: cursor(1000),
    records: 'channels',
    fields: {
      id: 'id',
      // a DM has no name: the other person's id
      name: 'name || user',
      kind: "is_im && 'direct' || is_mpim && 'group' || is_private && 'private' || 'channel'",
      archived: 'is_archived',
      // a public channel the app is not in is listed, but its history says not_in_channel
      readable: 'is_im == `true` || is_member == `true`',
    },
  },
  people: {
    // deactivated accounts are listed too (deleted: true): their old messages keep their names
    request: { path: '/users.list' },
    paging: cursor(1000),
    records: 'members',
    fields: { id: 'id', name: 'profile.display_name || real_name || name', avatar: 'profile.image_72 || `null`' },
  },
} satisfies Definition;
