/**
 * The provider definition format (DESIGN.md section 4b): a chat API described
 * as data. The built-ins are definitions in this format (./definitions/), and
 * a user adds an API with one under `"providers"` in the config file. The
 * schema is the reference; the README's "Add your own API" is its manual.
 *
 * Expressions are JMESPath (./expression.ts), checked here when the
 * definition is read, so a typo is exit 2 before any request.
 */
import { z } from 'zod';
import { BUILTIN_VARIABLES, compileExpression, ExpressionError } from './expression.js';
import { patternProblem } from './pattern.js';

/** An expression, compiled once to check it; variables are checked again with the lookups known (checkVariables). */
function expressionSchema() {
  return z.string().min(1).superRefine((text, ctx) => {
    try {
      compileExpression(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    }
  });
}
type ExprSchema = ReturnType<typeof expressionSchema>;

const paramName = () => z.string().regex(/^[A-Za-z0-9_.\-[\]]+$/, 'expected a parameter name (letters, digits, _ . - [ ])');
const headerName = () => z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected an HTTP header name');

/** The requester's auth rules: the token or API key as a bearer token, HTTP Basic, a named header or a query parameter. */
function authSchema() {
  const credential = z.enum(['token', 'apiKey']);
  const optional = z.boolean().optional();
  return z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('bearer'), from: credential.default('token'), optional }),
    z.strictObject({
      type: z.literal('basic'),
      /** user name: the token or the API key, or a fixed text (Basic with the token as password) */
      username: z.union([credential, z.strictObject({ text: z.string() })]),
      password: z.union([credential, z.strictObject({ text: z.string() })]),
      optional,
    }),
    z.strictObject({ type: z.literal('header'), name: headerName(), from: credential, prefix: z.string().optional(), optional }),
    z.strictObject({ type: z.literal('query'), name: paramName(), from: credential, optional }),
  ]);
}

/** The requester's template: path, query, headers; `peer` is how `--peer ID` (a direct conversation) is asked for. */
function requestSchema() {
  /** Query values: text (a template: `{channel}`), numbers, booleans; objects and arrays are sent as JSON. */
  const queryValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.unknown()), z.record(z.string(), z.unknown())]);
  const shape = {
    /** appended to the API root; `{channel}` is the percent-encoded channel id, `{page}` the page number */
    path: z.string().startsWith('/', 'must start with /'),
    query: z.record(z.string(), queryValue).optional(),
    headers: z.record(headerName(), z.string()).optional(),
  };
  return z.strictObject({
    ...shape,
    /** without it --peer is refused */
    peer: z.strictObject({ path: shape.path.optional(), query: shape.query }).optional(),
    /**
     * a channel the `channels` part listed with this kind is asked for with this path and query (Rocket.Chat:
     * `groups.history` for private rooms, `im.history` for direct ones)
     */
    kinds: z.record(z.string(), z.strictObject({ path: shape.path.optional(), query: shape.query })).optional(),
  });
}

/** A value taken from the answer: a body expression or a response header. */
function sourceSchema(expr: ExprSchema) {
  return z.union([z.strictObject({ body: expr }), z.strictObject({ header: headerName() })]);
}

/** The paginator: the paging kinds and their page size. */
function pagingSchema(expr: ExprSchema) {
  const name = paramName();
  const size = z.strictObject({
    /** the page-size parameter; absent = the server fixes the size */
    param: name.optional(),
    default: z.number().int().positive(),
    /** the largest size the server accepts; absent = not known (see DEFAULT_MAX_PAGE_SIZE) */
    max: z.number().int().positive().optional(),
  });
  const source = sourceSchema(expr);
  return z.discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('pages'),
      /** the page-number parameter; absent = `{page}` in the path */
      param: name.optional(),
      first: z.union([z.literal(0), z.literal(1)]).default(1),
      size,
    }),
    z.strictObject({ type: z.literal('offset'), param: name, size }),
    /** `param`: the parameter the token is sent back in */
    z.strictObject({ type: z.literal('cursor'), param: name, from: source, size: size.optional() }),
    /** `{ "header": "Link" }` reads rel="next" of an RFC 8288 Link header */
    z.strictObject({ type: z.literal('link'), from: source, size: size.optional() }),
    z.strictObject({
      type: z.literal('time'),
      /** the parameter carrying the time bound */
      param: name,
      /** how the bound is written: epoch milliseconds, or an ISO 8601 UTC time with milliseconds (Rocket.Chat's `latest`) */
      format: z.enum(['epoch-ms', 'iso']).default('epoch-ms'),
      /** true: the server returns messages at or before the bound (relation maxCreateAt) */
      inclusive: z.boolean(),
      size,
    }),
  ]);
}

/** The record selector's page-wide indexes: `{ "users": { "from": "included[?type=='users']", "key": "id" } }` → `lookup($users, …)`. */
function lookupsSchema(expr: ExprSchema) {
  return z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a variable name'), z.strictObject({ from: expr, key: expr }));
}

/**
 * End signals: total, last page, the page size the server used, has-more
 * (false = no next page); each an expression over the answer, or
 * `{ "header": "X-Total-Count" }` (or `{ "body": expr }`).
 */
function endSchema(expr: ExprSchema) {
  const signal = z.union([expr, sourceSchema(expr)]).optional();
  return z.strictObject({ total: signal, lastPage: signal, perPage: signal, hasMore: signal });
}

const errorKind = () => z.enum(['usage', 'auth', 'remote', 'unreadable']);

/** The error policy's envelope: the success check, the failure's code and message, and what codes or messages mean. */
function envelopeSchema(expr: ExprSchema) {
  const errorRule = z.strictObject({
    kind: errorKind(),
    note: z.string().optional(),
    hint: z.string().optional(),
    /** the HTTP statuses the rule applies to; absent = any, except that a 429 or 5xx is retried first */
    status: z.array(z.number().int().min(100).max(599)).min(1).optional(),
  });
  return z.strictObject({
    /** the envelope is a success when this path holds one of these values (compared as text) */
    success: z.strictObject({ path: expr, equals: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1) }).optional(),
    /** the server's explanation of a failure */
    message: expr.optional(),
    /** the failure code shown and mapped below; default: the success path */
    code: expr.optional(),
    codes: z.record(z.string(), errorRule).optional(),
    /** rules by the text of the message (a regular expression), when the API has no codes */
    messages: z.array(errorRule.extend({ pattern: z.string() })).optional(),
    hint: z.string().optional(),
  });
}

/** The error policy's HTTP statuses. */
function httpErrorsSchema(expr: ExprSchema) {
  const rule = z.strictObject({ kind: errorKind(), text: z.string().optional(), hint: z.string().optional() });
  return z.strictObject({
    /** an explanation in an error body (JSON:API errors[].detail) */
    message: expr.optional(),
    status: z.record(z.string().regex(/^[1-5]\d\d$/, 'expected an HTTP status'), rule).optional(),
  });
}

function timeFieldSchema(expr: ExprSchema) {
  return z.strictObject({ path: expr, format: z.enum(['epoch-ms', 'epoch-s', 'iso', 'local']) });
}

/** The message field map. */
function fieldsSchema(expr: ExprSchema) {
  const timeField = timeFieldSchema(expr);
  return z.strictObject({
    id: expr,
    time: timeField,
    sender: z.strictObject({ id: expr.optional(), name: expr.optional(), avatar: expr.optional() }).optional(),
    type: z
      .strictObject({
        path: expr.optional(),
        default: z.string().default('text'),
        lowercase: z.boolean().default(true),
        /** value map after lower-casing (`{ "sys": "system" }`) */
        map: z.record(z.string(), z.string()).optional(),
        /** the type of a message that has attachments and no text */
        attachmentsOnly: z.string().optional(),
      })
      .optional(),
    text: expr.optional(),
    replyTo: expr.optional(),
    /** the provider's update time: editedAt when later than `time` */
    updated: timeField.optional(),
    /** true (the JSON value) marks a deleted / revoked message */
    deleted: expr.optional(),
    /** an array of { url, name, type } objects */
    attachments: expr.optional(),
  });
}

/**
 * Thread replies kept apart from the history (Slack's conversations.replies):
 * for each message record meeting `when`, a stream templated from that record
 * (`{record.ts}`), its records normalized with the message field map (`fields`
 * overrides some). `count` and `latest` read the parent's reply count and
 * latest reply, so a later run re-walks only threads that changed.
 */
function repliesSchema(parts: Omit<ReturnType<typeof streamParts>, 'fields'> & { fields: ReturnType<typeof fieldsSchema> }) {
  return z.strictObject({
    when: parts.expr,
    request: parts.request,
    paging: parts.paging,
    order: z.enum(['newest-first', 'oldest-first']).default('oldest-first'),
    records: parts.expr,
    filter: parts.expr.optional(),
    /** default: the definition's own */
    lookups: parts.lookups.optional(),
    end: parts.end.optional(),
    /** default: the definition's own */
    envelope: parts.envelope.optional(),
    httpErrors: parts.httpErrors.optional(),
    fields: parts.fields.partial().optional(),
    count: parts.expr.optional(),
    latest: parts.expr.optional(),
  });
}

/** The people directory: a list of users walked once per run, read in field expressions as `$people`. */
function peopleSchema(parts: Omit<ReturnType<typeof streamParts>, 'fields'>) {
  return z.strictObject({
    request: parts.request,
    paging: parts.paging,
    records: parts.expr,
    filter: parts.expr.optional(),
    lookups: parts.lookups.optional(),
    end: parts.end.optional(),
    envelope: parts.envelope.optional(),
    httpErrors: parts.httpErrors.optional(),
    fields: z.strictObject({ id: parts.expr, name: parts.expr.optional(), avatar: parts.expr.optional() }),
  });
}

/**
 * How to list the conversations the credential can see (DESIGN.md 4c): one
 * listing, or several walked in order (Discord: the guild's channels, its
 * active threads, then each text channel's archived threads). A listing with
 * `forEach` is walked once for each readable channel listed before it whose
 * record meets that condition, `{channel}` being that channel's id. Without
 * `paging` a listing is one request.
 */
function channelsSchema(parts: Omit<ReturnType<typeof streamParts>, 'fields'>) {
  const kind = z.union([
    parts.expr,
    z.strictObject({ path: parts.expr, map: z.record(z.string(), z.string()).optional(), default: z.string().optional() }),
  ]);
  const listing = z.strictObject({
    forEach: parts.expr.optional(),
    /**
     * Records meeting it are places channels are listed under, not channels (Discord's guilds, its forums):
     * later listings' forEach walks under them; they are never shown, backed up or named as skipped.
     */
    container: parts.expr.optional(),
    request: parts.request,
    paging: parts.paging.optional(),
    records: parts.expr,
    filter: parts.expr.optional(),
    lookups: parts.lookups.optional(),
    end: parts.end.optional(),
    envelope: parts.envelope.optional(),
    httpErrors: parts.httpErrors.optional(),
    fields: z.strictObject({
      id: parts.expr,
      name: parts.expr.optional(),
      /** channel, private, direct, group, thread: an expression, or `{ path, map, default }` mapping the API's values */
      kind: kind.optional(),
      /** a thread's channel */
      parent: parts.expr.optional(),
      archived: parts.expr.optional(),
      /** false: the credential may not read it (not a member); default true */
      readable: parts.expr.optional(),
    }),
  });
  return z.union([listing, z.array(listing).min(1)]);
}

function streamParts(expr: ExprSchema) {
  return {
    expr,
    request: requestSchema(),
    paging: pagingSchema(expr),
    lookups: lookupsSchema(expr),
    end: endSchema(expr),
    envelope: envelopeSchema(expr),
    httpErrors: httpErrorsSchema(expr),
  };
}

/**
 * The schema of each part, one small schema each; a stream's parts (request,
 * paging, lookups, end, envelope, httpErrors) are what a channels, replies
 * or people part is made of too. Built on first use: a run of a built-in
 * provider never needs them (the built-ins are checked by the tests), and
 * building them costs start-up time.
 */
export function schemaParts() {
  const expr = expressionSchema();
  const stream = streamParts(expr);
  const fields = fieldsSchema(expr);
  return {
    ...stream,
    auth: authSchema(),
    timeField: timeFieldSchema(expr),
    fields,
    replies: repliesSchema({ ...stream, fields }),
    people: peopleSchema(stream),
    channels: channelsSchema(stream),
  };
}

function buildSchema() {
  const parts = schemaParts();
  return z
    .strictObject({
      summary: z.string().optional(),
      /** default API root; absent = self-hosted, --base-url required */
      baseUrl: z.url({ protocol: /^https?$/ }).optional(),
      /** word for a channel in messages ("conversation", "dialog") */
      noun: z.string().default('channel'),
      auth: z.array(parts.auth).default([]),
      request: parts.request,
      paging: parts.paging,
      order: z.enum(['newest-first', 'oldest-first']),
      lookups: parts.lookups.optional(),
      /** the list of records in the body; null or missing = an empty page */
      records: parts.expr,
      /** which records are messages (truthy = keep) */
      filter: parts.expr.optional(),
      end: parts.end.optional(),
      envelope: parts.envelope.optional(),
      httpErrors: parts.httpErrors.optional(),
      /** zone of `local` times unless --timezone says otherwise */
      timezone: z.string().optional(),
      /**
       * Response headers stating the request budget (Discord's X-RateLimit-*, GitHub's): when it is spent
       * the next request waits for its reset. With `bucket`, each request path has its own budget.
       */
      rateLimit: z
        .strictObject({ remaining: headerName(), reset: headerName().optional(), resetAfter: headerName().optional(), bucket: headerName().optional() })
        .refine((r) => r.reset !== undefined || r.resetAfter !== undefined, 'needs reset or resetAfter: when a spent budget comes back')
        .optional(),
      fields: parts.fields,
      replies: parts.replies.optional(),
      people: parts.people.optional(),
      channels: parts.channels.optional(),
    })
    .superRefine(checkDefinition);
}

/** What checkDefinition reads of a parsed definition. */
interface Checked {
  lookups?: Record<string, unknown> | undefined;
  replies?: { lookups?: Record<string, unknown> | undefined } | undefined;
  people?: { lookups?: Record<string, unknown> | undefined } | undefined;
  channels?: { lookups?: Record<string, unknown> | undefined } | Array<{ lookups?: Record<string, unknown> | undefined }> | undefined;
  paging: { type: string; param?: string | undefined };
  request: { path: string };
  envelope?: { success?: unknown; codes?: Record<string, unknown> | undefined; messages?: Array<{ pattern: string }> | undefined } | undefined;
}

/** What no one part can check alone. */
function checkDefinition(definition: Checked, ctx: z.RefinementCtx): void {
  // $people: the directory, where the definition has one
  const run = definition.people ? ['people'] : [];
  const variables = [...BUILTIN_VARIABLES, ...run, ...Object.keys(definition.lookups ?? {})];
  checkVariables(definition, [], variables, ctx);
  // each part's expressions see its own page and lookups (replies: the definition's unless it names its own)
  if (definition.replies) {
    const own = Object.keys(definition.replies.lookups ?? definition.lookups ?? {});
    checkVariables(definition.replies, ['replies'], [...BUILTIN_VARIABLES, ...run, ...own], ctx);
  }
  if (definition.people) checkVariables(definition.people, ['people'], [...BUILTIN_VARIABLES, ...Object.keys(definition.people.lookups ?? {})], ctx);
  const listings = definition.channels === undefined ? [] : Array.isArray(definition.channels) ? definition.channels : [definition.channels];
  for (const [index, listing] of listings.entries()) {
    const where = Array.isArray(definition.channels) ? ['channels', index] : ['channels'];
    checkVariables(listing, where, [...BUILTIN_VARIABLES, ...Object.keys(listing.lookups ?? {})], ctx);
  }
  const paging = definition.paging;
  if (paging.type === 'pages' && paging.param === undefined && !definition.request.path.includes('{page}')) {
    ctx.addIssue({ code: 'custom', path: ['paging', 'param'], message: 'required unless request.path contains {page}' });
  }
  for (const [code, _rule] of Object.entries(definition.envelope?.codes ?? {})) {
    if (!definition.envelope?.success) ctx.addIssue({ code: 'custom', path: ['envelope', 'codes', code], message: 'needs envelope.success' });
  }
  for (const [index, rule] of (definition.envelope?.messages ?? []).entries()) {
    const problem = patternProblem(rule.pattern);
    if (problem) ctx.addIssue({ code: 'custom', path: ['envelope', 'messages', index, 'pattern'], message: problem });
  }
}

let built: ReturnType<typeof buildSchema> | undefined;
export function definitionSchema(): ReturnType<typeof buildSchema> {
  built ??= buildSchema();
  return built;
}

export type Definition = z.output<ReturnType<typeof buildSchema>>;
export type DefinitionInput = z.input<ReturnType<typeof buildSchema>>;
export type Paging = Definition['paging'];
export type TimeFormat = Definition['fields']['time']['format'];

/** Keys whose values are expressions (their variables are checked against the lookups). */
const EXPRESSION_KEYS = new Set(['records', 'filter', 'from', 'key', 'body', 'path', 'message', 'code', 'id', 'text', 'replyTo', 'deleted', 'attachments', 'name', 'avatar', 'total', 'lastPage', 'perPage', 'hasMore', 'when', 'count', 'latest', 'forEach', 'container', 'kind', 'parent', 'archived', 'readable']);
const NOT_EXPRESSIONS = new Set(['request', 'auth', 'summary', 'baseUrl', 'noun', 'timezone', 'paging', 'rateLimit', 'replies', 'people', 'channels']);

function checkVariables(value: unknown, path: PropertyKey[], variables: string[], ctx: z.RefinementCtx): void {
  if (typeof value === 'string') {
    const key = path[path.length - 1];
    if (typeof key !== 'string' || !EXPRESSION_KEYS.has(key)) return;
    try {
      compileExpression(value, variables);
    } catch (error) {
      if (error instanceof ExpressionError && /unknown variable/.test(error.message)) ctx.addIssue({ code: 'custom', path, message: error.message });
    }
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, child] of Object.entries(value)) {
    if (path.length === 0 && NOT_EXPRESSIONS.has(key) && key !== 'paging') continue;
    if (path.length === 0 && key === 'paging') {
      const from = (child as { from?: { body?: string } }).from;
      if (from?.body) checkVariables(from.body, ['paging', 'from', 'body'], variables, ctx);
      continue;
    }
    checkVariables(child, [...path, key], variables, ctx);
  }
}
