/**
 * Matrix rooms, as a definition (Client-Server API v3, from the spec at
 * https://spec.matrix.org/latest/client-server-api/ — "GET
 * /_matrix/client/v3/rooms/{roomId}/messages", "Lazy-loading room members",
 * "Redactions", "Rich replies", "Event replacements", "Content repository").
 * GET {homeserver}/_matrix/client/v3/rooms/{roomId}/messages?dir=b&from=T&limit=N&filter={"lazy_load_members":true}
 *
 * Quirks the spec gives:
 * - every homeserver is its own: no default base; `--base-url` is the
 *   homeserver's client URL (`https://matrix.example.org`, as in
 *   `/.well-known/matrix/client`);
 * - an access token, `Authorization: Bearer`;
 * - room ids (`!abc:example.org`) are percent-encoded into the path;
 * - `dir=b` walks back from the newest event (`from` may be left out since
 *   v1.3); each answer's `end` is the next `from`; no `end` = the start of the
 *   room; `chunk` is newest first;
 * - the timeline holds every event: joins, reactions, topic changes,
 *   redaction events and edit events are not messages; a run of them makes a
 *   page with no message while `end` moves on;
 * - with `lazy_load_members` the answer's `state` holds the `m.room.member`
 *   events of the senders in the chunk: display names and avatars;
 * - a redacted message keeps its id, sender and time, loses its content, and
 *   carries `unsigned.redacted_because`: deleted;
 * - a reply names its parent in `content["m.relates_to"]["m.in_reply_to"]`;
 * - an edit is its own event (`m.relates_to.rel_type: m.replace`); the server
 *   bundles the latest edit into the original's `unsigned["m.relations"]
 *   ["m.replace"]` (v1.7), whose `m.new_content` is the text now;
 * - media are `mxc://server/id` URIs, downloaded (authenticated, v1.11) from
 *   `/_matrix/client/v1/media/download/server/id`;
 * - errors: `{ errcode, error }`; M_UNKNOWN_TOKEN / M_MISSING_TOKEN 401,
 *   M_FORBIDDEN 403 (not in the room), M_LIMIT_EXCEEDED 429 with
 *   `retry_after_ms` (and `Retry-After`);
 * - in an encrypted room messages are `m.room.encrypted` events: exported as
 *   type `encrypted` with no text (no keys are held here).
 */
import type { Definition } from '../definition.js';

const REPLACE = 'unsigned."m.relations"."m.replace"';
/** mxc://server/media → the authenticated download path (empty when not an mxc URI) */
const media = (uri: string) => `starts_with(${uri} || '', 'mxc://') && join('', ['/_matrix/client/v1/media/download/', ${uri}[6:]]) || \`null\``;

export const matrixDefinition = {
  summary: 'Matrix rooms by room id (Client-Server API v3; --base-url is the homeserver; an access token)',
  noun: 'room',
  auth: [{ type: 'bearer', from: 'token' }],
  request: {
    path: '/_matrix/client/v3/rooms/{channel}/messages',
    query: { dir: 'b', filter: { lazy_load_members: true } },
  },
  paging: { type: 'cursor', param: 'from', from: { body: 'end' }, size: { param: 'limit', default: 100, max: 1000 } },
  order: 'newest-first',
  lookups: { members: { from: "state[?type=='m.room.member']", key: 'state_key' } },
  records: 'chunk',
  // messages (redacted ones too) and encrypted events (kept, unreadable, so the backup shows they exist);
  // edits are folded into their original
  filter: "(type == 'm.room.message' || type == 'm.room.encrypted') && content.\"m.relates_to\".rel_type != 'm.replace'",
  httpErrors: {
    message: "join(': ', [errcode || '', error || ''])",
    status: {
      '400': { kind: 'usage', hint: 'check the room id (--channel: !id:server, not the #alias)' },
      '401': { kind: 'auth', hint: 'check the access token (CHAT_EXPORT_TOKEN): Settings → Help & About → Access token, or a bot\'s /login token' },
      '403': { kind: 'unreadable', hint: 'the account is not in this room (join it first), or the room\'s history is not visible to it' },
      '404': { kind: 'usage', text: 'room not found', hint: 'check the room id (--channel) and --base-url (the homeserver\'s client URL)' },
    },
  },
  // the joined rooms with their names: one initial /sync whose filter keeps only the name and tombstone state
  // (GET joined_rooms gives ids alone; a room's name is its m.room.name state)
  channels: {
    request: {
      path: '/_matrix/client/v3/sync',
      query: {
        timeout: 0,
        filter: {
          room: { state: { types: ['m.room.name', 'm.room.tombstone'] }, timeline: { limit: 1 }, ephemeral: { types: [] }, account_data: { types: [] } },
          presence: { types: [] },
          account_data: { types: [] },
        },
      },
    },
    records: 'items(rooms.join || `{}`)',
    fields: {
      id: '[0]',
      name: "[1].state.events[?type=='m.room.name'] | [0].content.name",
      // a room with no name is a direct chat as clients show it
      kind: "([1].state.events[?type=='m.room.name'] | [0]) && 'channel' || 'direct'",
      archived: "length([1].state.events[?type=='m.room.tombstone']) > `0`",
    },
  },
  fields: {
    id: 'event_id',
    time: { path: 'origin_server_ts', format: 'epoch-ms' },
    sender: {
      id: 'sender',
      name: 'lookup($members, sender).content.displayname || `null`',
      avatar: media('lookup($members, sender).content.avatar_url'),
    },
    type: {
      path: "type == 'm.room.encrypted' && 'encrypted' || content.msgtype",
      default: 'text',
      lowercase: true,
      map: { 'm.text': 'text', 'm.emote': 'emote', 'm.notice': 'notice', 'm.image': 'image', 'm.file': 'file', 'm.video': 'video', 'm.audio': 'audio', 'm.location': 'location' },
    },
    text: `not_null(${REPLACE}.content."m.new_content".body, content.body, '')`,
    replyTo: 'content."m.relates_to"."m.in_reply_to".event_id',
    updated: { path: `${REPLACE}.origin_server_ts`, format: 'epoch-ms' },
    deleted: 'unsigned.redacted_because != `null`',
    attachments: `content.url && [{url: ${media('content.url')}, name: content.filename || content.body || \`null\`, type: content.info.mimetype || \`null\`}] || \`[]\``,
  },
} satisfies Definition;
