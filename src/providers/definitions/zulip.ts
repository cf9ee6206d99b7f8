/**
 * Zulip channels (streams), as a definition (REST API, from the reference at
 * https://zulip.com/api/ — "Get messages", "Construct a narrow", "HTTP
 * basic authentication", "Rate limits").
 * GET {server}/api/v1/messages?anchor=newest&num_before=N&num_after=0&include_anchor=false&narrow=[…]&apply_markdown=false
 *
 * Quirks the reference gives:
 * - every organization has its own URL (`https://your-org.zulipchat.com`, or
 *   a self-hosted server): no default base;
 * - HTTP Basic with the account's (or bot's) email as user name and its API
 *   key as password: `--api-key` the email, `--token` the API key;
 * - the walk is an anchor walk: `anchor=newest`, then the oldest id of each
 *   answer with `include_anchor=false` (Zulip 6.0+), until the answer says
 *   `found_oldest`; each answer is sorted oldest first; at most 5000 per
 *   request (1000 recommended);
 * - `narrow` picks the channel (the `stream` operator: every server version
 *   knows it; `channel` is its Zulip 9.0 name); the operand is the channel's
 *   id (a number) or its name (text);
 * - `apply_markdown=false` returns the Markdown the sender wrote instead of
 *   rendered HTML; `client_gravatar=false` returns every avatar URL;
 * - `last_edit_timestamp` is a content edit; `last_moved_timestamp` (a topic
 *   or channel move) is not;
 * - the topic is in `subject` (kept in `raw` with --raw); uploads are links
 *   in the text (`/user_uploads/…`); deleted messages are left out;
 * - errors: HTTP 4xx `{ result: "error", msg, code }` (BAD_NARROW for an
 *   unknown channel, UNAUTHORIZED / INVALID_API_KEY 401, RATE_LIMIT_HIT 429
 *   with `Retry-After`).
 */
import type { Definition } from '../definition.js';

export const zulipDefinition = {
  summary: 'Zulip channels by id or name (--base-url is the organization URL; bot email as --api-key, API key as --token)',
  noun: 'channel',
  auth: [{ type: 'basic', username: 'apiKey', password: 'token' }],
  request: {
    path: '/api/v1/messages',
    query: {
      anchor: 'newest',
      num_after: 0,
      include_anchor: false,
      apply_markdown: false,
      client_gravatar: false,
      // a number operand is a channel id, text a name: --channel 7 or --channel general
      narrow: [{ operator: 'stream', operand: '{channel|number}' }],
    },
  },
  paging: { type: 'cursor', param: 'anchor', from: { body: 'messages[0].id' }, size: { param: 'num_before', default: 1000, max: 5000 } },
  order: 'newest-first',
  // X-RateLimit-Reset is the epoch second the budget returns (a refusal: RATE_LIMIT_HIT with Retry-After)
  rateLimit: { remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset' },
  records: 'messages',
  end: { hasMore: '!found_oldest' },
  envelope: {
    success: { path: 'result', equals: ['success'] },
    message: 'msg',
    code: 'code',
    codes: {
      BAD_NARROW: { kind: 'usage', note: 'no such channel', hint: 'check --channel: the channel id (the number in its #narrow/channel/ID-name link) or its exact name' },
      UNAUTHORIZED: { kind: 'auth', hint: 'check the bot\'s email (CHAT_EXPORT_API_KEY) and API key (CHAT_EXPORT_TOKEN)' },
      INVALID_API_KEY: { kind: 'auth', hint: 'check the bot\'s email (CHAT_EXPORT_API_KEY) and API key (CHAT_EXPORT_TOKEN)' },
      USER_DEACTIVATED: { kind: 'auth', note: 'the account is deactivated' },
    },
  },
  // the channels the account can read: public ones and the private ones it is subscribed to
  channels: {
    request: { path: '/api/v1/streams' },
    records: 'streams',
    fields: { id: 'stream_id', name: 'name', kind: "invite_only && 'private' || 'channel'", archived: 'is_archived || `false`' },
  },
  fields: {
    id: 'id',
    time: { path: 'timestamp', format: 'epoch-s' },
    sender: { id: 'sender_id', name: 'sender_full_name', avatar: 'avatar_url' },
    type: { default: 'text', lowercase: true },
    text: 'content',
    updated: { path: 'last_edit_timestamp', format: 'epoch-s' },
  },
} satisfies Definition;
