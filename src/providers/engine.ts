/**
 * The one engine: a validated definition (./definition.ts) compiled into the
 * provider the walkers drive — request building, envelope checks, records,
 * end signals and the field map. Every expression is compiled here, once per
 * definition; normalize runs per message and allocates only the message.
 */
import { LossyNumberError, type HttpRequest, type StatusDescriber } from '../http/client.js';
import { AuthError, RemoteError, UsageError, type ChatExportError } from '../errors.js';
import { ImpossibleValueError, createMessage, type Attachment } from '../message.js';
import { sanitizeForTerminal } from '../text/sanitize.js';
import { localToEpoch, parseZone, type Zone } from '../text/zone.js';
import type { Definition } from './definition.js';
import { compileExpression, createScope, type Expr, type ExprScope } from './expression.js';
import {
  apiUrl,
  type ChannelTarget,
  type Entry,
  type Provider,
  type ProviderPage,
  type ProviderSettings,
  type Requirement,
  type ResponseMeta,
  type SequentialPosition,
} from './types.js';

/** A value the definition extracted that does not fit: reported like a schema issue, with its path. */
export class FieldIssue extends Error {
  readonly issues: Array<{ path: PropertyKey[]; message: string }>;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.issues = [{ path: path.split('.'), message }];
  }
}

const NO_BOUND = Number.MAX_SAFE_INTEGER;

export function compileDefinition(name: string, definition: Definition): Provider {
  const variables = ['page', ...Object.keys(definition.lookups ?? {})];
  const x = (text: string): Expr => compileExpression(text, variables);
  const opt = (text: string | undefined): Expr | undefined => (text === undefined ? undefined : x(text));

  const paging = definition.paging;
  const sizeSpec = paging.size ?? { default: 50, max: 1000, param: undefined };
  const takesPageSize = sizeSpec.param !== undefined;

  // ---------------------------------------------------------------- requests
  const credentials = credentialNeeds(definition);
  const applyAuth = (url: URL, headers: Record<string, string>, settings: ProviderSettings) => {
    const value = (from: 'token' | 'apiKey' | { text: string }) =>
      typeof from === 'object' ? from.text : from === 'token' ? settings.token : settings.apiKey;
    for (const rule of definition.auth) {
      if (rule.type === 'bearer') {
        const v = value(rule.from);
        if (v) headers.Authorization = `Bearer ${v}`;
      } else if (rule.type === 'header') {
        const v = value(rule.from);
        if (v) headers[rule.name] = `${rule.prefix ?? ''}${v}`;
      } else if (rule.type === 'query') {
        const v = value(rule.from);
        if (v) url.searchParams.set(rule.name, v);
      } else {
        const user = value(rule.username);
        const password = value(rule.password);
        if (user !== undefined && password !== undefined) headers.Authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      }
    }
  };
  const baseRequest = (settings: ProviderSettings, target: ChannelTarget, page?: number): HttpRequest => {
    const peer = target.kind === 'peer' ? definition.request.peer : undefined;
    if (target.kind === 'peer' && !peer) {
      throw new UsageError(`${name} has no direct conversations (--peer)`, { hint: 'use --channel' });
    }
    const template = peer?.path ?? definition.request.path;
    // encodeURIComponent leaves `.` and `..` alone, and a URL resolves them: another endpoint would be asked
    if ((target.id === '.' || target.id === '..') && /\{(channel|peer)\}/.test(template)) {
      throw new UsageError(`${name}: the id "${target.id}" cannot be placed in the request path`, { hint: 'check --channel / --peer' });
    }
    const id = encodeURIComponent(target.id);
    const path = template.replaceAll('{channel}', id).replaceAll('{peer}', id).replaceAll('{page}', String(page ?? ''));
    const url = apiUrl(settings.baseUrl, path);
    const query = peer?.query ?? definition.request.query ?? {};
    for (const [key, value] of Object.entries(query)) {
      const text = typeof value === 'string' ? value.replaceAll('{channel}', target.id).replaceAll('{peer}', target.id) : typeof value === 'object' ? JSON.stringify(value) : String(value);
      url.searchParams.set(key, text);
    }
    const headers: Record<string, string> = { ...definition.request.headers };
    applyAuth(url, headers, settings);
    return { url, headers };
  };
  const withSize = (req: HttpRequest, size: number): HttpRequest => {
    if (sizeSpec.param) req.url.searchParams.set(sizeSpec.param, String(size));
    return req;
  };

  // ---------------------------------------------------------------- answers
  const records = x(definition.records);
  const filter = opt(definition.filter);
  const lookups = Object.entries(definition.lookups ?? {}).map(([key, lookup]) => ({ key, from: x(lookup.from), id: x(lookup.key) }));
  const end = {
    total: opt(definition.end?.total),
    lastPage: opt(definition.end?.lastPage),
    perPage: opt(definition.end?.perPage),
    hasMore: opt(definition.end?.hasMore),
  };
  const next =
    paging.type === 'cursor' || paging.type === 'link'
      ? 'body' in paging.from
        ? { body: x(paging.from.body) }
        : { header: paging.from.header.toLowerCase() }
      : undefined;
  const envelope = definition.envelope;
  const success = envelope?.success ? { path: x(envelope.success.path), equals: new Set(envelope.success.equals.map(String)) } : undefined;
  const envelopeMessage = opt(envelope?.message);
  const envelopeCode = opt(envelope?.code);
  const messageRules = (envelope?.messages ?? []).map((rule) => ({ ...rule, regex: new RegExp(rule.pattern, 'i') }));
  const httpMessage = opt(definition.httpErrors?.message);

  const targetLabel = (target: ChannelTarget) => `${name} ${target.kind === 'peer' ? 'peer' : definition.noun} ${target.id}`;

  const checkEnvelope = (body: unknown, target: ChannelTarget, scope: ExprScope) => {
    if (!success) return;
    if (body === null || typeof body !== 'object') throw new FieldIssue('(root)', 'expected a JSON object');
    const value = success.path(body, scope);
    if (value === null) throw new FieldIssue(envelope!.success!.path, 'required');
    if (success.equals.has(String(value))) return;
    const code = envelopeCode ? envelopeCode(body, scope) : value;
    const said = envelopeMessage?.(body, scope);
    const message = sanitizeForTerminal(typeof said === 'string' ? said : said == null ? '' : JSON.stringify(said));
    const what = `${targetLabel(target)}: code ${stringOf(code)}${message ? ` ${message}` : ''}`;
    const rule = envelope?.codes?.[stringOf(code)] ?? messageRules.find((r) => r.regex.test(message));
    // the server's message often says it already ("permission denied"): do not say it twice
    const text = rule?.note && !message.toLowerCase().includes(rule.note.toLowerCase()) ? `${what} (${rule.note})` : what;
    const hint = rule?.hint ?? envelope?.hint;
    throw errorOf(rule?.kind ?? 'remote', text, hint);
  };

  const parsePage = (body: unknown, target: ChannelTarget, response?: ResponseMeta): ProviderPage => {
    const values: Record<string, unknown> = { page: body };
    const early = createScope(values);
    checkEnvelope(body, target, early);
    for (const lookup of lookups) {
      const index: Record<string, unknown> = Object.create(null);
      const list = lookup.from(body, early);
      if (Array.isArray(list)) {
        for (const item of list) {
          const key = lookup.id(item, early);
          if (key !== null && typeof key !== 'object') index[String(key)] = item;
        }
      }
      values[lookup.key] = index;
    }
    const scope = lookups.length > 0 ? createScope(values) : early;
    const found = records(body, scope);
    if (found !== null && !Array.isArray(found)) throw new FieldIssue(definition.records, 'expected a list of records');
    const all = (found ?? []) as unknown[];
    let items = all;
    let filteredOldest: number | undefined;
    if (filter) {
      items = [];
      for (const record of all) {
        if (truthy(filter(record, scope))) items.push(record);
        else if (paging.type === 'time') {
          // Events between messages still carry a time: the cursor moves past them too.
          const time = toTime(timeOf(record, scope), f.time.format, NO_SETTINGS);
          if (time !== undefined && representable(time) && (filteredOldest === undefined || time < filteredOldest)) filteredOldest = time;
        }
      }
    }
    return {
      items,
      records: all.length,
      filteredOldest,
      total: count(end.total?.(body, scope)),
      lastPage: count(end.lastPage?.(body, scope)),
      perPage: count(end.perPage?.(body, scope)),
      hasNext: flag(end.hasMore?.(body, scope)),
      next: next ? readNext(next, body, scope, response) : undefined,
      context: scope,
    };
  };

  const readNext = (source: { body: Expr } | { header: string }, body: unknown, scope: ExprScope, response?: ResponseMeta): string | null => {
    if ('body' in source) {
      const value = source.body(body, scope);
      if (value === null || value === '' || value === false) return null;
      if (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value)) throw new LossyNumberError();
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
    }
    const raw = response?.headers[source.header];
    const header = Array.isArray(raw) ? raw.join(', ') : raw;
    if (!header) return null;
    return paging.type === 'link' && source.header === 'link' ? nextFromLinkHeader(header) : header;
  };

  /**
   * A non-2xx answer: an envelope code or message the definition maps wins
   * (APIs that send `{ ok: false, error: "invalid_auth" }` with any status),
   * then the definition's status rules; otherwise the client's defaults
   * (which know what to retry).
   */
  const describeStatus: StatusDescriber | undefined =
    definition.httpErrors || envelope?.codes || envelope?.messages
      ? (status, body, where) => {
          if (success && body !== null && typeof body === 'object') {
            const value = success.path(body);
            if (value !== null && !success.equals.has(String(value))) {
              const code = envelopeCode ? envelopeCode(body) : value;
              const said = envelopeMessage?.(body);
              const message = sanitizeForTerminal(typeof said === 'string' ? said : '');
              const rule = envelope?.codes?.[stringOf(code)] ?? messageRules.find((r) => r.regex.test(message));
              if (rule) {
                const note = rule.note && !message.toLowerCase().includes(rule.note.toLowerCase()) ? ` (${rule.note})` : '';
                const what = `${where.label}: code ${stringOf(code)}${message ? ` ${message}` : ''}${note} (HTTP ${status} from ${where.url})`;
                return errorOf(rule.kind, what, rule.hint ?? envelope?.hint);
              }
            }
          }
          if (!definition.httpErrors) return undefined;
          const said = httpMessage?.(body ?? null);
          const detail = sanitizeForTerminal(Array.isArray(said) ? said.filter((s) => typeof s === 'string' && s).join('; ') : typeof said === 'string' ? said : '');
          const rule = definition.httpErrors.status?.[String(status)];
          if (rule) {
            const text =
              rule.text !== undefined
                ? `${where.label}: ${rule.text} (HTTP ${status} from ${where.url})`
                : rule.kind === 'auth'
                  ? `${where.label}: ${where.url} refused the credentials (HTTP ${status})`
                  : `${where.label}: HTTP ${status} from ${where.url}`;
            return errorOf(rule.kind, `${text}${detail ? `: ${detail}` : ''}`, rule.hint);
          }
          if (detail && status >= 400 && status < 500 && status !== 408 && status !== 425 && status !== 429) {
            return new RemoteError(`${where.label}: HTTP ${status} from ${where.url}: ${detail}`);
          }
          return undefined;
        }
      : undefined;

  // ---------------------------------------------------------------- fields
  const f = definition.fields;
  const idOf = x(f.id);
  const timeOf = x(f.time.path);
  const senderId = opt(f.sender?.id);
  const senderName = opt(f.sender?.name);
  const senderAvatar = opt(f.sender?.avatar);
  const typeOf = opt(f.type?.path);
  const typeDefault = f.type?.default ?? 'text';
  const lowercase = f.type?.lowercase ?? true;
  const typeMap = f.type?.map ? new Map(Object.entries(f.type.map)) : undefined;
  const attachmentsOnly = f.type?.attachmentsOnly;
  const textOf = opt(f.text);
  const replyOf = opt(f.replyTo);
  const updatedOf = opt(f.updated?.path);
  const deletedOf = opt(f.deleted);
  const attachmentsOf = opt(f.attachments);
  const zones = new Map<string, Zone>();
  const zoneOf = (settings: ProviderSettings): Zone => {
    const tz = settings.timezone ?? definition.timezone ?? 'UTC';
    let zone = zones.get(tz);
    if (!zone) zones.set(tz, (zone = parseZone(tz)));
    return zone;
  };
  const readTime = (value: unknown, format: Definition['fields']['time']['format'], path: string, settings: ProviderSettings, id: string): number => {
    const time = toTime(value, format, settings);
    if (time === undefined) throw new FieldIssue(path, `expected ${FORMAT_WORDS[format]}, got ${shape(value)}`);
    // The right form, but no date can hold it: this one message is counted missing, the page is good.
    if (!representable(time)) throw new ImpossibleValueError(id, `timestamp out of range (${shape(value)})`);
    return time;
  };
  const toTime = (value: unknown, format: Definition['fields']['time']['format'], settings: ProviderSettings): number | undefined => {
    switch (format) {
      case 'epoch-ms':
      case 'epoch-s': {
        const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
        if (Number.isNaN(n)) return undefined;
        // digits too many for a double: a number, but no time
        if (!Number.isFinite(n)) return n;
        return format === 'epoch-s' ? Math.round(n * 1000) : Number.isInteger(n) ? n : undefined;
      }
      case 'iso': {
        if (typeof value !== 'string' || !ISO.test(value)) return undefined;
        const t = Date.parse(value);
        // An ISO time no date can hold (year +300000, month 13): the form is right, the value impossible.
        return Number.isNaN(t) ? Infinity : t;
      }
      case 'local':
        if (typeof value !== 'string' || !LOCAL.test(value)) return undefined;
        try {
          return localToEpoch(value, zoneOf(settings));
        } catch {
          // The right form, but no such day: MySQL's zero date "0000-00-00 00:00:00" (PHP backends), "2024-02-30".
          return Infinity;
        }
    }
  };

  const normalize = (raw: unknown, target: ChannelTarget, settings: ProviderSettings, page: ProviderPage): Entry => {
    const scope = page.context as ExprScope | undefined;
    const id = idText(idOf(raw, scope), f.id, true)!;
    const timeValue = timeOf(raw, scope);
    const time = readTime(timeValue, f.time.format, f.time.path, settings, id);
    const text = textOf ? plainText(textOf(raw, scope), f.text!) : '';
    let attachments: Attachment[] = EMPTY;
    if (attachmentsOf) attachments = toAttachments(attachmentsOf(raw, scope), f.attachments!);
    let type: string;
    const given = typeOf?.(raw, scope);
    if (given !== null && given !== undefined) {
      type = String(given);
      if (lowercase) type = type.toLowerCase();
    } else if (attachmentsOnly !== undefined && attachments.length > 0 && text === '') {
      type = attachmentsOnly;
    } else {
      type = typeDefault;
    }
    if (typeMap) type = typeMap.get(type) ?? type;
    let updatedTime: number | null = null;
    if (updatedOf) {
      const updated = updatedOf(raw, scope);
      if (updated !== null && updated !== '') updatedTime = updated === timeValue ? time : toTime(updated, f.updated!.format, settings) ?? null;
      // an edit time nothing can hold is unknown, not a reason to lose the message
      if (updatedTime !== null && !representable(updatedTime)) updatedTime = null;
    }
    return {
      time,
      message: createMessage(
        {
          id,
          provider: name,
          channel: target.id,
          time,
          sender: {
            id: senderId ? idText(senderId(raw, scope), f.sender!.id!, false) ?? '' : '',
            name: senderName ? optionalText(senderName(raw, scope), f.sender!.name!) : null,
            avatar: senderAvatar ? optionalText(senderAvatar(raw, scope), f.sender!.avatar!) : null,
          },
          type,
          text,
          replyTo: replyOf ? idText(replyOf(raw, scope), f.replyTo!, false) : null,
          updatedTime,
          deleted: deletedOf ? deletedOf(raw, scope) === true : false,
          attachments: attachments === EMPTY ? [] : attachments,
        },
        settings.raw ? raw : undefined,
      ),
    };
  };

  // ---------------------------------------------------------------- the provider
  const base = {
    name,
    summary: definition.summary ?? name,
    definition,
    order: definition.order,
    credentials,
    defaultBaseUrl: definition.baseUrl,
    defaultTimezone: definition.timezone,
    defaultPageSize: sizeSpec.default,
    maxPageSize: sizeSpec.max ?? Math.max(sizeSpec.default, DEFAULT_MAX_PAGE_SIZE),
    takesPageSize,
    parsePage,
    normalize,
    ...(describeStatus ? { describeStatus } : {}),
  };
  switch (paging.type) {
    case 'time': {
      const inclusive = paging.inclusive;
      return {
        ...base,
        paging: 'cursor',
        buildRequest(settings, target, cursor) {
          const req = withSize(baseRequest(settings, target), cursor.limit);
          // The walker thinks in "at or before"; an exclusive API gets the next millisecond.
          const bound = inclusive || cursor.maxCreateAt >= NO_BOUND ? cursor.maxCreateAt : cursor.maxCreateAt + 1;
          req.url.searchParams.set(paging.param, String(bound));
          return req;
        },
      };
    }
    case 'pages':
      return {
        ...base,
        paging: 'pages',
        buildRequest(settings, target, page) {
          // Walkers count pages from 1; a 0-based API gets one less.
          const number = page.number - 1 + paging.first;
          const req = withSize(baseRequest(settings, target, number), page.size);
          if (paging.param) req.url.searchParams.set(paging.param, String(number));
          return req;
        },
      };
    default: {
      const step = paging.type;
      return {
        ...base,
        paging: 'sequential',
        step,
        buildRequest(settings, target, position: SequentialPosition, size) {
          if ('link' in position) {
            const req = baseRequest(settings, target);
            const url = new URL(position.link, req.url);
            if (url.origin !== req.url.origin) {
              throw new RemoteError(`${targetLabel(target)}: the next link leads to another origin (${url.origin}); credentials are not sent there`, {
                hint: 'check --base-url is the API root the links point at',
              });
            }
            // The link carries the position; credentials sent as a query parameter go along again.
            const headers = req.headers;
            const auth = new URL(url);
            applyAuth(auth, {}, settings);
            return { url: auth, headers };
          }
          const req = withSize(baseRequest(settings, target), size);
          if ('offset' in position && paging.type === 'offset') req.url.searchParams.set(paging.param, String(position.offset));
          if ('token' in position && paging.type === 'cursor') req.url.searchParams.set(paging.param, position.token);
          if ('start' in position && paging.type === 'offset') req.url.searchParams.set(paging.param, '0');
          return req;
        },
      };
    }
  }
}

const EMPTY: Attachment[] = [];
/**
 * A definition that does not say how large a page its server accepts: `--page-size` up to this is sent as asked, and a
 * tie grows the page up to it. A server that caps lower answers a full page short, which the walkers already read as
 * its cap (a tie over it is exit 5, never silent).
 */
const DEFAULT_MAX_PAGE_SIZE = 1000;
const NO_SETTINGS: ProviderSettings = { baseUrl: 'http://invalid', token: undefined, apiKey: undefined, timezone: undefined, raw: false };
const ISO = /^(?:\d{4}|[+-]\d{6})-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/i;
const LOCAL = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;
const FORMAT_WORDS = {
  'epoch-ms': 'epoch milliseconds',
  'epoch-s': 'epoch seconds',
  iso: 'an ISO 8601 time',
  local: 'a local time "YYYY-MM-DD HH:mm:ss"',
} as const;

/** Within JavaScript's date range (±8.64e15 ms): a time a message can carry. */
function representable(time: number): boolean {
  return Number.isFinite(time) && Math.abs(time) <= 8.64e15;
}

function credentialNeeds(definition: Definition): { token: Requirement; apiKey: Requirement; how: string } {
  const need = { token: 'unused' as Requirement, apiKey: 'unused' as Requirement };
  const how: string[] = [];
  for (const rule of definition.auth) {
    const uses: Array<'token' | 'apiKey'> =
      rule.type === 'basic'
        ? [rule.username, rule.password].filter((v): v is 'token' | 'apiKey' => typeof v === 'string')
        : [rule.from];
    for (const use of uses) {
      const level: Requirement = rule.optional ? 'optional' : 'required';
      if (need[use] !== 'required') need[use] = level;
    }
    how.push(
      rule.type === 'bearer'
        ? 'Authorization: Bearer'
        : rule.type === 'basic'
          ? 'HTTP Basic'
          : rule.type === 'header'
            ? `header ${rule.name}`
            : `query parameter ${rule.name}`,
    );
  }
  return { ...need, how: how.length > 0 ? how.join(', ') : 'none' };
}

function errorOf(kind: 'usage' | 'auth' | 'remote', message: string, hint: string | undefined): ChatExportError {
  const options = hint === undefined ? {} : { hint };
  return kind === 'usage' ? new UsageError(message, options) : kind === 'auth' ? new AuthError(message, options) : new RemoteError(message, options);
}

function stringOf(value: unknown): string {
  return typeof value === 'string' ? value : value == null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function truthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/** Counts may come as numeric strings (PHP). */
function count(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

function flag(value: unknown): boolean | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'boolean' ? value : truthy(value);
}

function shape(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return `"${sanitizeForTerminal(value).slice(0, 40)}"`;
  return Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'an object' : typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

/**
 * Ids come as strings or numbers; always a string out. A number beyond 2^53
 * was already rounded by JSON.parse: asking the client for an exact re-parse
 * beats two messages collapsing into one id.
 */
function idText(value: unknown, path: string, required: boolean): string | null {
  if (typeof value === 'string') {
    if (value === '' && required) throw new FieldIssue(path, 'required');
    return value;
  }
  if (typeof value === 'number') {
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) throw new LossyNumberError();
    return String(value);
  }
  if (value === null || value === undefined) {
    if (required) throw new FieldIssue(path, 'required');
    return null;
  }
  throw new FieldIssue(path, `expected a string or number, got ${shape(value)}`);
}

function plainText(value: unknown, path: string): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return String(value);
  throw new FieldIssue(path, `expected text, got ${shape(value)}`);
}

function optionalText(value: unknown, path: string): string | null {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return String(value);
  throw new FieldIssue(path, `expected text, got ${shape(value)}`);
}

function toAttachments(value: unknown, path: string): Attachment[] {
  if (value === null || value === undefined) return EMPTY;
  if (!Array.isArray(value)) throw new FieldIssue(path, 'expected a list of { url, name, type }');
  const out: Attachment[] = [];
  for (const item of value) {
    if (item === null || typeof item !== 'object') continue;
    const { url, name, type } = item as Record<string, unknown>;
    if (typeof url !== 'string' || url === '') continue;
    out.push({ url, name: typeof name === 'string' ? name : null, type: typeof type === 'string' ? type : null });
  }
  return out.length > 0 ? out : EMPTY;
}

/** rel="next" of an RFC 8288 Link header. */
export function nextFromLinkHeader(header: string): string | null {
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (match && /;\s*rel\s*=\s*"?(?:[^";]*\s)?next(?:\s[^";]*)?"?\s*(;|$)/i.test(match[2]!)) return match[1]!;
  }
  return null;
}

/** The first request of a walk (dry runs, `providers check`). */
export function firstRequest(provider: Provider, settings: ProviderSettings, target: ChannelTarget, pageSize: number, until?: number): HttpRequest {
  switch (provider.paging) {
    case 'cursor':
      return provider.buildRequest(settings, target, { maxCreateAt: until !== undefined ? until - 1 : NO_BOUND, limit: Math.min(pageSize, provider.maxPageSize) });
    case 'pages':
      return provider.buildRequest(settings, target, { number: 1, size: pageSize });
    case 'sequential':
      return provider.buildRequest(settings, target, { start: true }, pageSize);
  }
}
