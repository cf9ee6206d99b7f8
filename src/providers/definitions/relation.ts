/**
 * relation (Relation Labs) group and direct messages, as a definition.
 * GET {base}/api/v1/message/list?channelUuid=…|toRelationId=…&maxCreateAt=MS&limit=N
 *
 * Quirks (api-docs/relation-message-list.txt):
 * - served newest first; `maxCreateAt` is inclusive, so the message the cursor
 *   points at comes back on the next page too (a time cursor, inclusive);
 * - errors come as HTTP 200 with `code` != "0": 10112 parameter error,
 *   10120 permission denied;
 * - `createAt` is epoch ms as a string; `fromName`/`fromAvatar` may be null.
 */
import type { Definition } from '../definition.js';

export const relationDefinition = {
  summary: 'Relation Labs group channels (channelUuid) and direct conversations (--peer toRelationId)',
  baseUrl: 'https://api.relationlabs.ai',
  noun: 'channel',
  // The doc asks for both; some deployments only check the bearer token.
  auth: [
    { type: 'header', name: 'ApiKey', from: 'apiKey', optional: true },
    { type: 'bearer', from: 'token' },
  ],
  request: {
    path: '/api/v1/message/list',
    query: { channelUuid: '{channel}' },
    peer: { query: { toRelationId: '{peer}' } },
  },
  paging: { type: 'time', param: 'maxCreateAt', format: 'epoch-ms', inclusive: true, size: { param: 'limit', default: 50, max: 1000 } },
  order: 'newest-first',
  envelope: {
    success: { path: 'code', equals: ['0'] },
    message: 'desc',
    codes: {
      '10112': { kind: 'usage', note: 'parameter error', hint: 'check --channel / --peer and --page-size' },
      '10120': { kind: 'auth', note: 'permission denied', hint: 'check the API key and token, and that this account is a member of the channel' },
    },
    hint: 'the relation API refused the request',
  },
  records: 'data',
  fields: {
    id: 'id',
    time: { path: 'createAt', format: 'epoch-ms' },
    sender: { id: 'from', name: 'fromName', avatar: 'fromAvatar' },
    type: { path: 'type', default: 'text', lowercase: true, map: { sys: 'system' } },
    text: 'content',
    // a quote is context: one without an id (a deleted original) must not fail the page
    replyTo: 'quote.id',
  },
} satisfies Definition;
