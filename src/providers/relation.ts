/**
 * relation (Relation Labs) group and direct messages.
 * GET {base}/api/v1/message/list?channelUuid=…|toRelationId=…&maxCreateAt=MS&limit=N
 *
 * Quirks (api-docs/relation-message-list.txt):
 * - served newest first; `maxCreateAt` is inclusive, so the message the cursor
 *   points at comes back on the next page too;
 * - errors come as HTTP 200 with `code` != "0": 10112 parameter error,
 *   10120 permission denied;
 * - `createAt` is epoch ms as a string; `fromName`/`fromAvatar` may be null.
 */
import { z } from 'zod';
import { AuthError, RemoteError, UsageError } from '../errors.js';
import { createMessage } from '../message.js';
import { sanitizeForTerminal } from '../text/sanitize.js';
import { apiUrl, idSchema, type CursorProvider } from './types.js';

const id = idSchema;
const epochMs = z.union([z.string().regex(/^-?\d+$/), z.number().int()]).transform(Number);

const envelopeSchema = z.object({
  code: z.union([z.string(), z.number()]).transform(String),
  desc: z.string().nullish(),
  data: z.unknown().optional(),
});

const itemSchema = z.object({
  id,
  createAt: epochMs,
  type: z.string().nullish(),
  // a sender id may be a 19-digit number too: exact like every id (two senders must not become one)
  from: id.nullish(),
  fromName: z.string().nullish(),
  fromAvatar: z.string().nullish(),
  content: z.string().nullish(),
  // a quote is context: one without an id (a deleted original) must not fail the page
  quote: z.object({ id: id.nullish() }).loose().nullish(),
});

export const relation: CursorProvider = {
  name: 'relation',
  summary: 'Relation Labs group channels (channelUuid) and direct conversations (--peer toRelationId)',
  paging: 'cursor',
  credentials: {
    token: 'required',
    // The doc asks for both; some deployments only check the bearer token.
    apiKey: 'optional',
    how: 'headers ApiKey and Authorization: Bearer',
  },
  defaultBaseUrl: 'https://api.relationlabs.ai',
  defaultPageSize: 50,
  maxPageSize: 1000,

  buildRequest(settings, target, cursor) {
    const url = apiUrl(settings.baseUrl, '/api/v1/message/list');
    url.searchParams.set(target.kind === 'peer' ? 'toRelationId' : 'channelUuid', target.id);
    url.searchParams.set('maxCreateAt', String(cursor.maxCreateAt));
    url.searchParams.set('limit', String(cursor.limit));
    const headers: Record<string, string> = {};
    if (settings.apiKey) headers.ApiKey = settings.apiKey;
    if (settings.token) headers.Authorization = `Bearer ${settings.token}`;
    return { url, headers };
  },

  parsePage(body, target) {
    const envelope = envelopeSchema.parse(body);
    if (envelope.code !== '0') {
      const desc = sanitizeForTerminal(envelope.desc ?? '');
      const what = `relation ${target.kind === 'peer' ? 'peer' : 'channel'} ${target.id}: code ${envelope.code} ${desc}`.trim();
      if (envelope.code === '10112') {
        throw new UsageError(`${what} (parameter error)`, { hint: 'check --channel / --peer and --page-size' });
      }
      if (envelope.code === '10120') {
        // desc usually says "permission denied" itself: do not say it twice.
        throw new AuthError(/permission denied/i.test(desc) ? what : `${what} (permission denied)`, {
          hint: 'check the API key and token, and that this account is a member of the channel',
        });
      }
      throw new RemoteError(what, { hint: 'the relation API refused the request' });
    }
    const items = z.array(z.unknown()).nullable().parse(envelope.data) ?? [];
    return { items };
  },

  normalize(raw, target, settings) {
    const item = itemSchema.parse(raw);
    const type = (item.type ?? 'text').toLowerCase();
    return {
      time: item.createAt,
      message: createMessage(
        {
          id: item.id,
          provider: 'relation',
          channel: target.id,
          time: item.createAt,
          sender: {
            id: item.from ?? '',
            name: item.fromName ?? null,
            avatar: item.fromAvatar ?? null,
          },
          type: type === 'sys' ? 'system' : type,
          text: item.content ?? '',
          replyTo: item.quote?.id ?? null,
        },
        settings.raw ? raw : undefined,
      ),
    };
  },
};
