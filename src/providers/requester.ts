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
 * The values placeholders take: `{channel}`, `{peer}`, `{page}`. A value
 * absent here leaves its placeholder as written.
 */
export interface TemplateValues {
  channel?: string | undefined;
  peer?: string | undefined;
  page?: number | string | undefined;
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

const PLACEHOLDER = /\{(channel|peer|page)\}/g;

/** `name` is the provider's, for messages; `rateLimit` the headers stating the budget every request of the definition shares. */
export function compileRequester(name: string, auth: readonly AuthRule[], rateLimit?: RateLimitHeaders): Requester {
  const authorize = (url: URL, headers: Record<string, string>, settings: ProviderSettings) => applyAuth(auth, url, headers, settings);
  return {
    credentials: credentialNeeds(auth),
    authorize,
    request(settings, template, values) {
      const path = fillPath(name, template.path, values);
      const url = apiUrl(settings.baseUrl, path);
      for (const [key, value] of Object.entries(template.query ?? {})) {
        const text = typeof value === 'string' ? fill(value, { channel: values.channel, peer: values.peer }, (v) => v) : typeof value === 'object' ? JSON.stringify(value) : String(value);
        url.searchParams.set(key, text);
      }
      const headers: Record<string, string> = { ...template.headers };
      authorize(url, headers, settings);
      return { url, headers, rateLimit };
    },
  };
}

function fill(template: string, values: TemplateValues, escape: (value: string) => string): string {
  return template.replace(PLACEHOLDER, (whole, key: keyof TemplateValues) => {
    const value = values[key];
    return value === undefined ? whole : escape(String(value));
  });
}

function fillPath(name: string, template: string, values: TemplateValues): string {
  for (const key of ['channel', 'peer'] as const) {
    const value = values[key];
    // encodeURIComponent leaves `.` and `..` alone, and a URL resolves them: another endpoint would be asked
    if ((value === '.' || value === '..') && /\{(channel|peer)\}/.test(template)) {
      throw new UsageError(`${name}: the id "${value}" cannot be placed in the request path`, { hint: 'check --channel / --peer' });
    }
  }
  // a path's {page} is always filled: empty when the paging does not number pages
  return fill(template, { ...values, page: values.page ?? '' }, encodeURIComponent);
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
