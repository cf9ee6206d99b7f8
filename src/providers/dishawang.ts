/**
 * dishawang IM conversation history.
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
import { z } from 'zod';
import { AuthError, RemoteError } from '../errors.js';
import { createMessage } from '../message.js';
import { sanitizeForTerminal } from '../text/sanitize.js';
import { localToEpoch, parseZone } from '../text/zone.js';
import { apiUrl, idSchema, type PageProvider } from './types.js';

export const DISHAWANG_DEFAULT_TIMEZONE = '+08:00';

const id = idSchema;
const localTime = z.string().regex(/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/, 'expected "YYYY-MM-DD HH:mm:ss"');
const count = z.union([z.number(), z.string().regex(/^\d+$/)]).transform(Number);

const envelopeSchema = z.object({
  code: z.union([z.number(), z.string()]).transform(Number),
  msg: z.string().nullish(),
  data: z.unknown().optional(),
});

const paginatorSchema = z.object({
  total: count.nullish(),
  per_page: count.nullish(),
  current_page: count.nullish(),
  last_page: count.nullish(),
  data: z.array(z.unknown()),
});

const itemSchema = z.object({
  id,
  user_id: id.nullish(),
  is_revoke: z.union([z.number(), z.string(), z.boolean()]).nullish(),
  type: z.string().nullish(),
  body: z.union([z.string(), z.number()]).nullish(),
  create_time: localTime,
  update_time: localTime.nullish(),
  name: z.string().nullish(),
  avatar: z.string().nullish(),
});

const AUTH_WORDS = /登录|登陆|token|login|auth|权限|unauthori[sz]ed|permission|forbidden/i;

export const dishawang: PageProvider = {
  name: 'dishawang',
  summary: 'dishawang IM conversations (fixed page size, naive +08:00 times)',
  paging: 'pages',
  takesPageSize: false,
  credentials: { token: 'required', apiKey: 'unused', how: 'header token' },
  defaultBaseUrl: 'https://sqapi2.dishawang.com',
  defaultTimezone: DISHAWANG_DEFAULT_TIMEZONE,
  defaultPageSize: 10,
  maxPageSize: 10_000,

  buildRequest(settings, target, page) {
    const url = apiUrl(settings.baseUrl, `/api/v1/im/${encodeURIComponent(target.id)}/message/${page.number}`);
    const headers: Record<string, string> = {};
    if (settings.token) headers.token = settings.token;
    return { url, headers };
  },

  parsePage(body, target) {
    const envelope = envelopeSchema.parse(body);
    if (envelope.code !== 1) {
      const msg = sanitizeForTerminal(envelope.msg ?? '');
      const what = `dishawang conversation ${target.id}: code ${envelope.code}${msg ? ` ${msg}` : ''}`;
      if (AUTH_WORDS.test(msg)) {
        throw new AuthError(what, { hint: 'check the dishawang token (CHAT_EXPORT_TOKEN, profile or --token)' });
      }
      throw new RemoteError(what, { hint: 'the dishawang API refused the request; check the conversation id' });
    }
    // Success with no paginator at all: an empty conversation, not a malformed answer.
    if (envelope.data == null) return { items: [] };
    const page = paginatorSchema.parse(envelope.data);
    return {
      items: page.data,
      total: page.total ?? undefined,
      perPage: page.per_page ?? undefined,
      lastPage: page.last_page ?? undefined,
    };
  },

  normalize(raw, target, settings) {
    const item = itemSchema.parse(raw);
    const zone = parseZone(settings.timezone ?? DISHAWANG_DEFAULT_TIMEZONE);
    const time = localToEpoch(item.create_time, zone);
    const revoked = item.is_revoke === true || Number(item.is_revoke) === 1;
    return {
      time,
      message: createMessage(
        {
          id: item.id,
          provider: 'dishawang',
          channel: target.id,
          time,
          sender: { id: item.user_id ?? '', name: item.name ?? null, avatar: item.avatar ?? null },
          type: (item.type ?? 'text').toLowerCase(),
          text: item.body == null ? '' : String(item.body),
          updatedTime: !item.update_time ? null : item.update_time === item.create_time ? time : localToEpoch(item.update_time, zone),
          deleted: revoked,
        },
        settings.raw ? raw : undefined,
      ),
    };
  },
};
