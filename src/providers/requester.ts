/**
 * The requester (Airbyte's HttpRequester): a request template — path, query,
 * headers — filled with a stream's values and signed with the definition's
 * auth rules. Each value is escaped for where it lands. Messages, channels,
 * replies and people all build their requests here.
 */
import type { RateLimitHeaders } from '../http/budget.js';
import type { HttpRequest } from '../http/client.js';
import { UsageError } from '../errors.js';
import type { Definition } from './definition.js';
import { apiUrl, type ProviderSettings, type Requirement } from './types.js';

export type AuthRule = Definition['auth'][number];
export type QueryValue = string | number | boolean | unknown[] | Record<string, unknown>;

/** What a stream asks for: `path` is appended to the API root. */
export interface RequestTemplate {
  path: string;
  query?: Readonly<Record<string, QueryValue>> | undefined;
  headers?: Readonly<Record<string, string>> | undefined;
}

/**
 * The values placeholders take: `{channel}`, `{peer}`, `{page}`, and
 * `{record.a.b}` — that path of a parent record (a thread's replies are
 * asked for with the parent's fields). A value absent here leaves its
 * placeholder as written (`providers check` warns about those).
 */
export interface TemplateValues {
  channel?: string | undefined;
  peer?: string | undefined;
  page?: number | string | undefined;
  record?: unknown;
}

export interface Credentials {
  token: Requirement;
  apiKey: Requirement;
  /** how they are sent, for `providers show` and error hints */
  how: string;
}

export interface Requester {
  credentials: Credentials;
  /** The request for these values, auth applied. */
  request(settings: ProviderSettings, template: RequestTemplate, values: TemplateValues): HttpRequest;
  /** Auth only (a followed next link already carries everything else). */
  authorize(url: URL, headers: Record<string, string>, settings: ProviderSettings): void;
}

/** Every placeholder a template may hold; any other `{word}` is sent as written. */
const PLACEHOLDER = /\{(channel|peer|page|record(?:\.[A-Za-z0-9_$-]+)+)\}/g;
const ANY_PLACEHOLDER = /\{[A-Za-z_][A-Za-z0-9_.$-]*\}/g;

/** `name` is the provider's, for messages; `rateLimit` the headers stating the budget every request of the definition shares. */
export function compileRequester(name: string, auth: readonly AuthRule[], rateLimit?: RateLimitHeaders): Requester {
  const authorize = (url: URL, headers: Record<string, string>, settings: ProviderSettings) => applyAuth(auth, url, headers, settings);
  return {
    credentials: credentialNeeds(auth),
    authorize,
    request(settings, template, values) {
      const url = apiUrl(settings.baseUrl, fillPath(name, template.path, values));
      for (const [key, value] of Object.entries(template.query ?? {})) url.searchParams.set(key, queryText(value, values));
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(template.headers ?? {})) headers[key] = headerText(value, values);
      authorize(url, headers, settings);
      return { url, headers, rateLimit };
    },
  };
}

/**
 * A query value as sent: text filled as it is (URLSearchParams encodes it),
 * JSON text and JSON values (objects, lists) filled inside their strings,
 * JSON-escaped, so a channel named `dev "ops"` stays one string.
 */
function queryText(value: QueryValue, values: TemplateValues): string {
  if (typeof value === 'string') return fill(value, values, looksLikeJson(value) ? jsonEscape : same);
  if (typeof value === 'object') return JSON.stringify(fillStrings(value, values));
  return String(value);
}

/**
 * A header value: JSON text as in a query; otherwise the value as it is,
 * except what a header cannot carry (control characters, non-ASCII), which
 * is percent-encoded as UTF-8.
 */
function headerText(value: string, values: TemplateValues): string {
  return fill(value, values, looksLikeJson(value) ? (v) => jsonEscape(v).replace(/[^\x20-\x7e]/g, unicodeEscape) : headerSafe);
}

/** `"{channel|number}"`: the whole string is one placeholder, sent as a JSON number when its value is an integer. */
const AS_NUMBER = /^\{(channel|peer)\|number\}$/;

/**
 * Strings anywhere inside a JSON value, filled (JSON.stringify escapes them after). A string that is only
 * `{channel|number}` becomes a number when the value is an integer (Zulip reads a number operand as a channel id
 * and text as a name), else stays text.
 */
function fillStrings(value: unknown, values: TemplateValues): unknown {
  if (typeof value === 'string') {
    const typed = AS_NUMBER.exec(value);
    if (typed) {
      const given = values[typed[1] as 'channel' | 'peer'];
      if (given === undefined) return value;
      return /^-?\d{1,15}$/.test(given) ? Number(given) : given;
    }
    return fill(value, values, same);
  }
  if (Array.isArray(value)) return value.map((item) => fillStrings(item, values));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = fillStrings(item, values);
    return out;
  }
  return value;
}

function fill(template: string, values: TemplateValues, escape: (value: string) => string): string {
  if (!template.includes('{')) return template;
  return template.replace(PLACEHOLDER, (whole, key: string) => {
    const value = valueOf(key, values);
    return value === undefined ? whole : escape(value);
  });
}

function valueOf(key: string, values: TemplateValues): string | undefined {
  if (key === 'channel' || key === 'peer' || key === 'page') {
    const value = values[key];
    return value === undefined ? undefined : String(value);
  }
  if (!('record' in values)) return undefined;
  let at: unknown = values.record;
  for (const part of key.split('.').slice(1)) {
    at = at !== null && typeof at === 'object' && !Array.isArray(at) ? (at as Record<string, unknown>)[part] : undefined;
  }
  // a field the record does not have is empty, never the placeholder's own text
  return at === undefined || at === null ? '' : typeof at === 'object' ? JSON.stringify(at) : String(at);
}

function fillPath(name: string, template: string, values: TemplateValues): string {
  // encodeURIComponent leaves `.` and `..` alone, and a URL resolves them: another endpoint would be asked
  for (const match of template.matchAll(PLACEHOLDER)) {
    const value = valueOf(match[1]!, values);
    if (value === '.' || value === '..') throw new UsageError(`${name}: the id "${value}" cannot be placed in the request path`, { hint: 'check --channel / --peer' });
  }
  // a path's {page} is always filled: empty when the paging does not number pages
  return fill(template, { ...values, page: values.page ?? '' }, encodeURIComponent);
}

const same = (value: string) => value;
/** The inside of a JSON string literal. */
const jsonEscape = (value: string) => JSON.stringify(value).slice(1, -1);
const unicodeEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
const headerSafe = (value: string) => value.replace(/[^\x20-\x7e]+/g, (run) => encodeURIComponent(run));

/** JSON written as text (`"[{\"operand\": \"{channel}\"}]"`): its placeholders sit inside JSON strings. */
function looksLikeJson(text: string): boolean {
  const trimmed = text.trim();
  if (!(trimmed.startsWith('{') && trimmed.endsWith('}')) && !(trimmed.startsWith('[') && trimmed.endsWith(']'))) return false;
  try {
    JSON.parse(trimmed);
    return true;
  } catch {
    return false;
  }
}

/**
 * Placeholders of a request template that nothing fills (`{channel_id}`,
 * `{room}`; `{record.…}` unless the stream has a parent record): sent as
 * written. For `providers check`, which warns about each.
 */
export function unfilledPlaceholders(template: RequestTemplate & { peer?: Partial<RequestTemplate> | undefined }, options: { record: boolean } = { record: false }): string[] {
  const known = new RegExp(`^${PLACEHOLDER.source}$`);
  const texts: Array<[string, string]> = [];
  const collect = (where: string, value: unknown): void => {
    if (typeof value === 'string') texts.push([where, value]);
    else if (Array.isArray(value)) value.forEach((item, index) => collect(`${where}[${index}]`, item));
    else if (value !== null && typeof value === 'object') for (const [key, item] of Object.entries(value)) collect(`${where}.${key}`, item);
  };
  collect('request.path', template.path);
  collect('request.query', template.query ?? {});
  collect('request.headers', template.headers ?? {});
  if (template.peer) collect('request.peer', template.peer);
  const found: string[] = [];
  for (const [where, text] of texts) {
    for (const match of text.matchAll(ANY_PLACEHOLDER)) {
      if (!known.test(match[0]) || (!options.record && match[0].startsWith('{record.'))) found.push(`${where}: ${match[0]}`);
    }
  }
  return found;
}

function applyAuth(auth: readonly AuthRule[], url: URL, headers: Record<string, string>, settings: ProviderSettings): void {
  const value = (from: 'token' | 'apiKey' | { text: string }) => (typeof from === 'object' ? from.text : from === 'token' ? settings.token : settings.apiKey);
  for (const rule of auth) {
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
}

function credentialNeeds(auth: readonly AuthRule[]): Credentials {
  const need = { token: 'unused' as Requirement, apiKey: 'unused' as Requirement };
  const how: string[] = [];
  for (const rule of auth) {
    const uses: Array<'token' | 'apiKey'> =
      rule.type === 'basic' ? [rule.username, rule.password].filter((v): v is 'token' | 'apiKey' => typeof v === 'string') : [rule.from];
    for (const use of uses) {
      const level: Requirement = rule.optional ? 'optional' : 'required';
      if (need[use] !== 'required') need[use] = level;
    }
    how.push(
      rule.type === 'bearer' ? 'Authorization: Bearer' : rule.type === 'basic' ? 'HTTP Basic' : rule.type === 'header' ? `header ${rule.name}${rule.prefix ? `: ${rule.prefix.trim()} …` : ''}` : `query parameter ${rule.name}`,
    );
  }
  return { ...need, how: how.length > 0 ? how.join(', ') : 'none' };
}
