/**
 * dishawang IM conversation history, as a definition.
 * GET {base}/api/v1/im/{conversation_id}/message/{page}   header `token`
 *
 * Quirks (api-docs/dishawang-im-messages.txt):
 * - Laravel paginator envelope; success is `code == 1`, else `msg` says why
 *   (HTTP status stays 200), so a refused login is recognised from `msg`;
 * - fixed page size (`per_page`), newest first, pages 1…`last_page`;
 * - `create_time` / `update_time` are naive local times: read them in
 *   --timezone (default +08:00, the service's zone);
 * - `is_revoke = 1` marks a withdrawn message.
 */
import type { Definition } from '../definition.js';

export const DISHAWANG_DEFAULT_TIMEZONE = '+08:00';

export const dishawangDefinition = {
  summary: 'dishawang IM conversations (fixed page size, naive +08:00 times)',
  baseUrl: 'https://sqapi2.dishawang.com',
  noun: 'conversation',
  auth: [{ type: 'header', name: 'token', from: 'token' }],
  request: { path: '/api/v1/im/{channel}/message/{page}' },
  paging: { type: 'pages', first: 1, size: { default: 10, max: 10_000 } },
  order: 'newest-first',
  envelope: {
    success: { path: 'code', equals: [1] },
    message: 'msg',
    messages: [
      {
        pattern: '登录|登陆|token|login|auth|权限|unauthori[sz]ed|permission|forbidden',
        kind: 'auth',
        hint: 'check the dishawang token (CHAT_EXPORT_TOKEN, profile or --token)',
      },
    ],
    hint: 'the dishawang API refused the request; check the conversation id',
  },
  // Success with no paginator at all: an empty conversation, not a malformed answer.
  records: 'data.data',
  end: { total: 'data.total', perPage: 'data.per_page', lastPage: 'data.last_page' },
  timezone: DISHAWANG_DEFAULT_TIMEZONE,
  fields: {
    id: 'id',
    time: { path: 'create_time', format: 'local' },
    sender: { id: 'user_id', name: 'name', avatar: 'avatar' },
    type: { path: 'type', default: 'text', lowercase: true },
    text: 'body',
    updated: { path: 'update_time', format: 'local' },
    deleted: "is_revoke == `true` || is_revoke == `1` || is_revoke == '1'",
  },
} satisfies Definition;
