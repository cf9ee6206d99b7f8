/**
 * Discuz! Q dialog messages (JSON:API), as a definition.
 * GET {base}/api/dialog/message?filter[dialog_id]=ID&include=user,attachment&page[number]=P&page[limit]=N&sort=-createdAt
 *
 * Quirks (api-docs/discuz-dialog-messages.txt):
 * - every site is self-hosted: there is no default base URL;
 * - senders and attachments live in the document's `included`, joined by
 *   type and id (the lookups); a message's user may be missing there
 *   (deleted account); a relationship may be one object or a list;
 * - a missing dialog is HTTP 404; errors carry JSON:API `errors[].detail`;
 * - the doc's sample repeats `"id": "1"` for four different messages. A
 *   JSON:API id names one resource, so the exporter keeps the first message
 *   with an id and drops later ones (the walker's dedupe).
 */
import type { Definition } from '../definition.js';

const USER_ID = 'not_null(to_array(relationships.user.data)[0].id, attributes.user_id)';

export const discuzDefinition = {
  summary: 'Discuz! Q dialog messages (self-hosted: --base-url is required)',
  auth: [{ type: 'bearer', from: 'token' }],
  noun: 'channel',
  request: {
    path: '/api/dialog/message',
    // Newest first, so --since, --limit and --incremental can stop early.
    query: { 'filter[dialog_id]': '{channel}', include: 'user,attachment', sort: '-createdAt' },
  },
  paging: { type: 'pages', param: 'page[number]', first: 1, size: { param: 'page[limit]', default: 50, max: 100 } },
  order: 'newest-first',
  lookups: {
    users: { from: "included[?type=='users']", key: 'id' },
    attachments: { from: "included[?type=='attachments']", key: 'id' },
  },
  records: 'data',
  end: { total: 'meta.total', lastPage: 'meta.pageCount', hasMore: 'links != `null` ? (links.next && `true` || `false`) : `null`' },
  httpErrors: {
    message: 'errors[].not_null(detail, code)',
    status: {
      '404': { kind: 'remote', text: 'dialog not found', hint: 'check the dialog id (--channel) and --base-url' },
      '401': { kind: 'auth', hint: 'check the Discuz! Q token (CHAT_EXPORT_TOKEN, profile or --token) and that it may read this dialog' },
      '403': { kind: 'auth', hint: 'check the Discuz! Q token (CHAT_EXPORT_TOKEN, profile or --token) and that it may read this dialog' },
    },
  },
  fields: {
    id: 'id',
    time: { path: 'attributes.created_at', format: 'iso' },
    sender: {
      id: USER_ID,
      name: `lookup($users, ${USER_ID}).attributes.username || \`null\``,
      avatar: `lookup($users, ${USER_ID}).attributes.avatarUrl || \`null\``,
    },
    type: { default: 'text', lowercase: true, attachmentsOnly: 'image' },
    text: 'attributes.message_text',
    updated: { path: 'attributes.updated_at', format: 'iso' },
    attachments:
      "map(&lookup($attachments, @), to_array(relationships.attachment.data)[].id || to_array(attributes.attachment_id))[?attributes.url]" +
      '.{url: attributes.url, name: attributes.attachment || attributes.fileName || `null`, type: attributes.fileType || attributes.type || `null`}' +
      " || (attributes.image_url && [{url: attributes.image_url, name: `null`, type: 'image'}]) || `[]`",
  },
} satisfies Definition;
