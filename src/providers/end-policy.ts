/**
 * The end and error policy of a stream: what an answer says about the end of
 * the list (total, last page, page size used, has-more), whether its envelope
 * is a success, and what a refusal means (the API's codes and messages,
 * HTTP statuses) — a typed error with the exit code it deserves.
 */
import type { StatusDescriber } from '../http/client.js';
import { RETRYABLE_STATUSES } from '../http/retry.js';
import { AuthError, RemoteError, UsageError, type ChatExportError, UnreadableError } from '../errors.js';
import { MAX_SERVER_MESSAGE_CHARS, sanitizeForTerminal } from '../text/sanitize.js';
import type { Definition } from './definition.js';
import type { Expr, ExprScope } from './expression.js';
import { count, FieldIssue, flag, stringOf } from './field-values.js';
import { compilePattern } from './pattern.js';
import type { ProviderPage, ResponseMeta } from './types.js';

export type EndSpec = NonNullable<Definition['end']>;
export type EnvelopeSpec = NonNullable<Definition['envelope']>;
export type HttpErrorsSpec = NonNullable<Definition['httpErrors']>;
/** `unreadable`: the credential may not read this channel (under --all-channels it is skipped, not failed) */
type ErrorKind = 'usage' | 'auth' | 'remote' | 'unreadable';
type EndSignals = Pick<ProviderPage, 'total' | 'lastPage' | 'perPage' | 'hasNext'>;
type Signal = EndSpec['total'];

/** The end signals an answer carries; each absent unless the definition names it. */
export function compileEndSignals(end: EndSpec | undefined, compile: (text: string) => Expr): (body: unknown, scope: ExprScope, response?: ResponseMeta) => EndSignals {
  const total = signalReader(end?.total, compile);
  const lastPage = signalReader(end?.lastPage, compile);
  const perPage = signalReader(end?.perPage, compile);
  const hasMore = signalReader(end?.hasMore, compile);
  return (body, scope, response) => ({
    total: count(total?.(body, scope, response)),
    lastPage: count(lastPage?.(body, scope, response)),
    perPage: count(perPage?.(body, scope, response)),
    hasNext: flag(hasMore?.(body, scope, response)),
  });
}

type SignalReader = (body: unknown, scope: ExprScope, response?: ResponseMeta) => unknown;

function signalReader(signal: Signal, compile: (text: string) => Expr): SignalReader | undefined {
  if (signal === undefined) return undefined;
  if (typeof signal === 'string' || 'body' in signal) {
    const read = compile(typeof signal === 'string' ? signal : signal.body);
    return (body, scope) => read(body, scope);
  }
  const name = signal.header.toLowerCase();
  return (_body, _scope, response) => headerValue(response?.headers[name]);
}

/** A header's text as the value it spells: `42` a count, `true` / `false` a flag; absent or empty = null. */
function headerValue(raw: string | string[] | undefined): unknown {
  const text = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (text === undefined || text === '') return null;
  if (/^\d+$/.test(text)) return Number(text);
  const lower = text.toLowerCase();
  if (lower === 'true' || lower === 'false') return lower === 'true';
  return text;
}

export interface ErrorPolicy {
  /** Throws the mapped error when a 2xx answer's envelope is not a success. `label` names the target. */
  check(body: unknown, label: () => string, scope: ExprScope, status?: number): void;
  /** A non-2xx answer as the definition reads it; absent = the client's defaults. */
  describeStatus: StatusDescriber | undefined;
}

interface Rule {
  kind: ErrorKind;
  note?: string | undefined;
  hint?: string | undefined;
  status?: number[] | undefined;
}

export function compileErrorPolicy(envelope: EnvelopeSpec | undefined, httpErrors: HttpErrorsSpec | undefined, compile: (text: string) => Expr): ErrorPolicy {
  const opt = (text: string | undefined) => (text === undefined ? undefined : compile(text));
  const success = envelope?.success ? { path: compile(envelope.success.path), equals: new Set(envelope.success.equals.map(String)) } : undefined;
  const envelopeMessage = opt(envelope?.message);
  const envelopeCode = opt(envelope?.code);
  const messageRules = (envelope?.messages ?? []).map((rule) => ({ ...rule, matches: compilePattern(rule.pattern) }));
  const applies = (rule: Rule | undefined, status: number | undefined) => rule !== undefined && (rule.status === undefined || status === undefined || rule.status.includes(status));
  const ruleFor = (code: unknown, message: string, status: number | undefined): Rule | undefined => {
    const byCode = envelope?.codes?.[stringOf(code)];
    if (applies(byCode, status)) return byCode;
    return messageRules.find((r) => applies(r, status) && r.matches(message));
  };
  /** "code X message (note)": the message left out when it is the code again, the note when the message says it. */
  const describe = (code: unknown, said: unknown, rule: Rule | undefined) => {
    const codeText = stringOf(code);
    const message = sanitizeForTerminal(typeof said === 'string' ? said : said == null ? '' : JSON.stringify(said), MAX_SERVER_MESSAGE_CHARS);
    const shown = message && message !== codeText ? ` ${message}` : '';
    // the server's message often says it already ("permission denied"): do not say it twice
    const note = rule?.note && !message.toLowerCase().includes(rule.note.toLowerCase()) ? ` (${rule.note})` : '';
    return { message, text: `code ${codeText}${shown}${note}` };
  };

  const check = (body: unknown, label: () => string, scope: ExprScope, status?: number) => {
    if (!success) return;
    if (body === null || typeof body !== 'object') throw new FieldIssue('(root)', 'expected a JSON object');
    const value = success.path(body, scope);
    if (value === null) throw new FieldIssue(envelope!.success!.path, 'required');
    if (success.equals.has(String(value))) return;
    const code = envelopeCode ? envelopeCode(body, scope) : value;
    const said = envelopeMessage?.(body, scope);
    const rule = ruleFor(code, describe(code, said, undefined).message, status);
    throw errorOf(rule?.kind ?? 'remote', `${label()}: ${describe(code, said, rule).text}`, rule?.hint ?? envelope?.hint);
  };

  /**
   * A non-2xx answer: an envelope code or message the definition maps wins
   * (APIs that send `{ ok: false, error: "invalid_auth" }` with any status),
   * then the definition's status rules; otherwise the client's defaults.
   * A 429 or 5xx is the server's passing trouble whatever its body says:
   * left to the client, which retries it, unless a rule names that status.
   */
  const fromEnvelope = (status: number, body: unknown, where: { label: string; url: string }, explicitOnly: boolean) => {
    if (!success || body === null || typeof body !== 'object') return undefined;
    const value = success.path(body);
    if (value === null || success.equals.has(String(value))) return undefined;
    const code = envelopeCode ? envelopeCode(body) : value;
    const said = envelopeMessage?.(body);
    const rule = ruleFor(code, typeof said === 'string' ? sanitizeForTerminal(said, MAX_SERVER_MESSAGE_CHARS) : '', status);
    if (!rule || (explicitOnly && !rule.status?.includes(status))) return undefined;
    return errorOf(rule.kind, `${where.label}: ${describe(code, typeof said === 'string' ? said : '', rule).text} (HTTP ${status} from ${where.url})`, rule.hint ?? envelope?.hint);
  };
  const fromStatus = httpErrors ? statusRules(httpErrors, opt(httpErrors.message)) : undefined;
  const describeStatus: StatusDescriber | undefined =
    httpErrors || envelope?.codes || envelope?.messages
      ? (status, body, where) => {
          const transient = RETRYABLE_STATUSES.has(status);
          if (transient && httpErrors?.status?.[String(status)] === undefined) return fromEnvelope(status, body, where, true);
          return fromEnvelope(status, body, where, false) ?? fromStatus?.(status, body, where);
        }
      : undefined;
  return { check, describeStatus };
}

export const FORBIDDEN_HINT = 'the account may not read this (not a member, a private channel, a missing scope): check the channel id and what the token may read';

function statusRules(httpErrors: HttpErrorsSpec, httpMessage: Expr | undefined): StatusDescriber {
  return (status, body, where) => {
    const said = httpMessage?.(body ?? null);
    const detail = sanitizeForTerminal(Array.isArray(said) ? said.filter((s) => typeof s === 'string' && s).join('; ') : typeof said === 'string' ? said : '', MAX_SERVER_MESSAGE_CHARS);
    const rule = httpErrors.status?.[String(status)];
    if (rule) {
      const text =
        rule.text !== undefined
          ? `${where.label}: ${rule.text} (HTTP ${status} from ${where.url})`
          : rule.kind === 'auth'
            ? status === 403
              ? `${where.label}: ${where.url} refused access (HTTP 403)`
              : `${where.label}: ${where.url} refused the credentials (HTTP ${status})`
            : `${where.label}: HTTP ${status} from ${where.url}`;
      // a 403 is a refusal of access, most often to this one channel, not of the token
      const hint = rule.hint ?? (status === 403 ? FORBIDDEN_HINT : undefined);
      return errorOf(rule.kind, `${text}${detail ? `: ${detail}` : ''}`, hint);
    }
    if (detail && status >= 400 && status < 500 && !RETRYABLE_STATUSES.has(status)) {
      return new RemoteError(`${where.label}: HTTP ${status} from ${where.url}: ${detail}`);
    }
    return undefined;
  };
}

export function errorOf(kind: ErrorKind, message: string, hint: string | undefined): ChatExportError {
  const options = hint === undefined ? {} : { hint };
  if (kind === 'unreadable') return new UnreadableError(message, options);
  return kind === 'usage' ? new UsageError(message, options) : kind === 'auth' ? new AuthError(message, options) : new RemoteError(message, options);
}
