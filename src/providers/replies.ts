/**
 * The `replies` part (DESIGN.md 4c): threads kept apart from the channel
 * history, as Slack's conversations.replies keeps them. A message record
 * meeting `when` is a thread's parent; its thread is a stream of the same
 * parts as messages (requester, paginator, record selector, end/error
 * policy), its request templated from the parent's fields (`{record.ts}`),
 * its records normalized with the definition's field map (`replies.fields`
 * overrides some). The walkers drive a thread exactly as they drive a
 * channel: `threadProvider` gives them a Provider for one thread.
 */
import type { Definition } from './definition.js';
import type { Expr, ExprScope } from './expression.js';
import { compileMessageMap } from './field-map.js';
import { truthy } from './field-values.js';
import type { RunScope } from './record-selector.js';
import type { RequestTemplate, Requester } from './requester.js';
import { compileStream } from './stream.js';
import type { ChannelTarget, Entry, Provider, ProviderPage, ProviderSettings, ResponseMeta } from './types.js';

/** A thread's parent as the walk keeps it: small, JSON (it goes into checkpoints). */
export interface ThreadRef {
  /** the parent message's id */
  id: string;
  /** the parent's time, epoch ms */
  time: number;
  /** the parent record's fields the request template names (`{record.ts}` → `{ ts }`) */
  record: Record<string, unknown>;
  /** the parent's reply count and latest reply as the record says them (null when the definition does not read them) */
  count: unknown;
  latest: unknown;
}

export interface RepliesPart {
  /** The thread a message record starts, or undefined: `when` is not met. */
  parentOf(raw: unknown, scope: ExprScope | undefined, entry: Entry): ThreadRef | undefined;
  /** The walkers' provider for one thread of a channel. */
  threadProvider(parent: ThreadRef): Provider;
  /** "slack thread 1704067298.691501" */
  label(channel: ChannelTarget, parent: ThreadRef): string;
}

type RepliesSpec = NonNullable<Definition['replies']>;
interface ThreadTarget {
  channel: ChannelTarget;
  parent: ThreadRef;
}

const RECORD_PLACEHOLDER = /\{record\.([A-Za-z0-9_.-]+)\}/g;

export function compileReplies(name: string, definition: Definition, requester: Requester, compileMain: (text: string) => Expr, run: RunScope): RepliesPart {
  const spec = definition.replies as RepliesSpec;
  const when = compileMain(spec.when);
  const countOf = spec.count === undefined ? undefined : compileMain(spec.count);
  const latestOf = spec.latest === undefined ? undefined : compileMain(spec.latest);
  const paths = recordPaths(spec.request);
  const label = (channel: ChannelTarget, parent: ThreadRef) => `${name} thread ${parent.id} in ${definition.noun} ${channel.id}`;
  const stream = compileStream<ThreadTarget>(
    {
      request: spec.request,
      paging: spec.paging,
      records: spec.records,
      filter: spec.filter,
      lookups: spec.lookups ?? definition.lookups,
      end: spec.end,
      envelope: spec.envelope ?? definition.envelope,
      httpErrors: spec.httpErrors ?? definition.httpErrors,
    },
    requester,
    {
      template: (target) => fillRecord(spec.request, target.parent.record),
      values: (target) => ({ channel: target.channel.id }),
      label: (target) => label(target.channel, target.parent),
    },
    run,
  );
  const fields = compileMessageMap(name, { ...definition.fields, ...spec.fields }, stream.selector.compile, definition.timezone);
  const { selector: _selector, describeStatus, parsePage, defaultPageSize, maxPageSize, takesPageSize, ...paging } = stream;

  return {
    label,
    parentOf(raw, scope, entry) {
      if (!truthy(when(raw, scope))) return undefined;
      const record: Record<string, unknown> = {};
      for (const path of paths) setPath(record, path, readPath(raw, path));
      return {
        id: entry.message.id,
        time: entry.time,
        record,
        count: countOf ? (countOf(raw, scope) ?? null) : null,
        latest: latestOf ? (latestOf(raw, scope) ?? null) : null,
      };
    },
    threadProvider(parent) {
      const bind = (target: ChannelTarget): ThreadTarget => ({ channel: target, parent });
      // the walkers call with the channel; the thread's parent is this provider's own
      const part =
        paging.paging === 'cursor'
          ? { paging: 'cursor' as const, buildRequest: (s: ProviderSettings, t: ChannelTarget, c: { maxCreateAt: number; limit: number }) => paging.buildRequest(s, bind(t), c) }
          : paging.paging === 'pages'
            ? { paging: 'pages' as const, buildRequest: (s: ProviderSettings, t: ChannelTarget, p: { number: number; size: number }) => paging.buildRequest(s, bind(t), p) }
            : { paging: 'sequential' as const, step: paging.step, buildRequest: (s: ProviderSettings, t: ChannelTarget, p: Parameters<typeof paging.buildRequest>[2], size: number) => paging.buildRequest(s, bind(t), p, size) };
      return {
        ...part,
        name,
        summary: `${name} replies`,
        definition,
        order: spec.order,
        credentials: requester.credentials,
        defaultBaseUrl: definition.baseUrl,
        defaultTimezone: definition.timezone,
        defaultPageSize,
        maxPageSize,
        takesPageSize,
        parsePage: (body: unknown, target: ChannelTarget, response?: ResponseMeta): ProviderPage => parsePage(body, bind(target), response),
        normalize(item: unknown, target: ChannelTarget, settings: ProviderSettings, page: ProviderPage): Entry {
          const entry = fields.normalize(item, target, settings, page);
          // a reply answers its thread's parent unless the record says more
          if (entry.message.replyTo === null && entry.message.id !== parent.id) entry.message.replyTo = parent.id;
          return entry;
        },
        ...(describeStatus ? { describeStatus } : {}),
      } as Provider;
    },
  };
}

/** The record paths a template names: `{record.ts}` → ['ts']. */
function recordPaths(template: RequestTemplate): string[] {
  const texts = [template.path, ...Object.values(template.query ?? {}).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))), ...Object.values(template.headers ?? {})];
  const paths = new Set<string>();
  for (const text of texts) for (const found of text.matchAll(RECORD_PLACEHOLDER)) paths.add(found[1]!);
  return [...paths];
}

function readPath(value: unknown, path: string): unknown {
  let at: unknown = value;
  for (const key of path.split('.')) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  if (value === undefined) return;
  const keys = path.split('.');
  let at = target;
  for (const key of keys.slice(0, -1)) at = (at[key] ??= {}) as Record<string, unknown>;
  at[keys.at(-1)!] = value;
}

/**
 * The template with the parent's fields in place, each escaped for where it lands: percent-encoded in the
 * path, as-is in a query text (the URL encodes it), JSON-escaped inside a JSON-valued parameter.
 */
function fillRecord(template: RequestTemplate, record: Record<string, unknown>): RequestTemplate {
  const text = (path: string) => {
    const value = readPath(record, path);
    return value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  };
  const plain = (s: string) => s.replace(RECORD_PLACEHOLDER, (_whole, path: string) => text(path));
  const query: Record<string, NonNullable<RequestTemplate['query']>[string]> = {};
  for (const [key, value] of Object.entries(template.query ?? {})) {
    query[key] = typeof value === 'string' ? plain(value) : typeof value === 'object' ? (JSON.parse(JSON.stringify(value).replace(RECORD_PLACEHOLDER, (_w, path: string) => JSON.stringify(text(path)).slice(1, -1))) as typeof value) : value;
  }
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(template.headers ?? {})) headers[key] = plain(value);
  return {
    path: template.path.replace(RECORD_PLACEHOLDER, (_whole, path: string) => encodeURIComponent(text(path))),
    query,
    headers,
  };
}
