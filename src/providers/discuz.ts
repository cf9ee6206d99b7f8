/**
 * Discuz! Q dialog messages (JSON:API).
 * GET {base}/api/dialog/message?filter[dialog_id]=ID&include=user,attachment&page[number]=P&page[limit]=N&sort=-createdAt
 *
 * Quirks (api-docs/discuz-dialog-messages.txt):
 * - every site is self-hosted: there is no default base URL;
 * - senders and attachments live in the document's `included`, joined by
 *   type and id; a message's user may be missing there (deleted account);
 * - a missing dialog is HTTP 404; errors carry JSON:API `errors[].detail`;
 * - the doc's sample repeats `"id": "1"` for four different messages. A
 *   JSON:API id names one resource, so the exporter keeps the first message
 *   with an id and drops later ones (the walker's dedupe).
 */
import { z } from 'zod';
import { AuthError, RemoteError } from '../errors.js';
import { createMessage, type Attachment } from '../message.js';
import { sanitizeForTerminal } from '../text/sanitize.js';
import { apiUrl, idSchema, type PageProvider } from './types.js';

const id = idSchema;
// Shape only: Date.parse runs once per value in normalize, where its NaN is checked.
const isoTime = z.string().regex(/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/i, 'expected an ISO 8601 time');

const resourceRef = z.object({ type: z.string(), id }).loose();
// Counts may come as numeric strings (PHP); JSON:API to-many relationships are arrays.
const count = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/).transform(Number)]);
const oneRef = z.union([resourceRef, z.array(resourceRef).transform((refs) => refs[0] ?? null)]);
const manyRefs = z.union([resourceRef.transform((ref) => [ref]), z.array(resourceRef)]);

const documentSchema = z.object({
  data: z.array(z.unknown()),
  included: z.array(z.object({ type: z.string(), id, attributes: z.record(z.string(), z.unknown()).nullish() }).loose()).nullish(),
  links: z.object({ next: z.string().nullish() }).loose().nullish(),
  meta: z
    .object({
      total: count.nullish(),
      pageCount: count.nullish(),
    })
    .loose()
    .nullish(),
});

const itemSchema = z.object({
  id,
  attributes: z
    .object({
      user_id: id.nullish(),
      message_text: z.union([z.string(), z.number()]).nullish(),
      created_at: isoTime,
      updated_at: isoTime.nullish(),
      attachment_id: id.nullish(),
      image_url: z.string().nullish(),
    })
    .loose(),
  relationships: z
    .object({
      user: z.object({ data: oneRef.nullish() }).loose().nullish(),
      attachment: z.object({ data: manyRefs.nullish() }).loose().nullish(),
    })
    .loose()
    .nullish(),
});

const errorsSchema = z.object({ errors: z.array(z.object({ detail: z.string().nullish(), code: z.string().nullish() }).loose()) });

interface Included {
  users: Map<string, { name: string | null; avatar: string | null }>;
  attachments: Map<string, Attachment>;
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function indexIncluded(included: Array<{ type: string; id: string; attributes?: Record<string, unknown> | null | undefined }>): Included {
  const users = new Map<string, { name: string | null; avatar: string | null }>();
  const attachments = new Map<string, Attachment>();
  for (const resource of included) {
    const attributes = resource.attributes ?? {};
    if (resource.type === 'users') {
      users.set(resource.id, { name: text(attributes.username), avatar: text(attributes.avatarUrl) });
    } else if (resource.type === 'attachments') {
      const url = text(attributes.url);
      if (url) {
        attachments.set(resource.id, {
          url,
          name: text(attributes.attachment) ?? text(attributes.fileName),
          type: text(attributes.fileType) ?? text(attributes.type),
        });
      }
    }
  }
  return { users, attachments };
}

function errorDetail(body: unknown): string {
  const parsed = errorsSchema.safeParse(body);
  if (!parsed.success) return '';
  return parsed.data.errors
    .map((error) => sanitizeForTerminal(error.detail ?? error.code ?? ''))
    .filter(Boolean)
    .join('; ');
}

export const discuz: PageProvider = {
  name: 'discuz',
  summary: 'Discuz! Q dialog messages (self-hosted: --base-url is required)',
  paging: 'pages',
  takesPageSize: true,
  credentials: { token: 'required', apiKey: 'unused', how: 'header Authorization: Bearer' },
  defaultBaseUrl: undefined,
  defaultPageSize: 50,
  maxPageSize: 100,

  buildRequest(settings, target, page) {
    const url = apiUrl(settings.baseUrl, '/api/dialog/message');
    url.searchParams.set('filter[dialog_id]', target.id);
    url.searchParams.set('include', 'user,attachment');
    url.searchParams.set('page[number]', String(page.number));
    url.searchParams.set('page[limit]', String(page.size));
    // Newest first, so --since, --limit and --incremental can stop early.
    url.searchParams.set('sort', '-createdAt');
    const headers: Record<string, string> = {};
    if (settings.token) headers.Authorization = `Bearer ${settings.token}`;
    return { url, headers };
  },

  parsePage(body) {
    const document = documentSchema.parse(body);
    return {
      items: document.data,
      total: document.meta?.total ?? undefined,
      lastPage: document.meta?.pageCount ?? undefined,
      hasNext: document.links ? Boolean(document.links.next) : undefined,
      context: indexIncluded(document.included ?? []),
    };
  },

  normalize(raw, target, settings, page) {
    const item = itemSchema.parse(raw);
    const included = (page.context as Included | undefined) ?? { users: new Map(), attachments: new Map() };
    const attributes = item.attributes;
    const userId = item.relationships?.user?.data?.id ?? attributes.user_id ?? '';
    const user = included.users.get(userId);
    const refs = item.relationships?.attachment?.data ?? [];
    const attachmentIds = refs.length > 0 ? refs.map((ref) => ref.id) : attributes.attachment_id != null ? [attributes.attachment_id] : [];
    const attachments: Attachment[] = [];
    for (const attachmentId of attachmentIds) {
      const attachment = included.attachments.get(attachmentId);
      if (attachment) attachments.push(attachment);
    }
    if (attachments.length === 0 && attributes.image_url) attachments.push({ url: attributes.image_url, name: null, type: 'image' });
    const messageText = attributes.message_text == null ? '' : String(attributes.message_text);
    const time = Date.parse(attributes.created_at);
    if (Number.isNaN(time)) throw new Error(`attributes.created_at: not a time: ${JSON.stringify(attributes.created_at)}`);
    const updated = attributes.updated_at;
    return {
      time,
      message: createMessage(
        {
          id: item.id,
          provider: 'discuz',
          channel: target.id,
          time,
          sender: { id: userId, name: user?.name ?? null, avatar: user?.avatar ?? null },
          type: attachments.length > 0 && messageText === '' ? 'image' : 'text',
          text: messageText,
          updatedTime: !updated ? null : updated === attributes.created_at ? time : Date.parse(updated) || null,
          attachments,
        },
        settings.raw ? raw : undefined,
      ),
    };
  },

  describeStatus(status, body, where) {
    const detail = errorDetail(body);
    if (status === 404) {
      return new RemoteError(`${where.label}: dialog not found (HTTP 404 from ${where.url})${detail ? `: ${detail}` : ''}`, {
        hint: 'check the dialog id (--channel) and --base-url',
      });
    }
    if (status === 401 || status === 403) {
      return new AuthError(`${where.label}: ${where.url} refused the credentials (HTTP ${status})${detail ? `: ${detail}` : ''}`, {
        hint: 'check the Discuz! Q token (CHAT_EXPORT_TOKEN, profile or --token) and that it may read this dialog',
      });
    }
    if (detail && status >= 400 && status < 500 && status !== 408 && status !== 425 && status !== 429) {
      return new RemoteError(`${where.label}: HTTP ${status} from ${where.url}: ${detail}`);
    }
    return undefined;
  },
};
