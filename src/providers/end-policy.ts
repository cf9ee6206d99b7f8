/**
 * The end and error policy of a stream: what an answer says about the end of
 * the list (total, last page, page size used, has-more), whether its envelope
 * is a success, and what a refusal means (the API's codes and messages,
 * HTTP statuses) — a typed error with the exit code it deserves.
 */
import type { StatusDescriber } from '../http/client.js';
import { AuthError, RemoteError, UsageError, type ChatExportError, UnreadableError } from '../errors.js';
import { sanitizeForTerminal } from '../text/sanitize.js';
import type { Definition } from './definition.js';
import type { Expr, ExprScope } from './expression.js';
import { count, FieldIssue, flag, stringOf } from './field-values.js';
import type { ProviderPage } from './types.js';

export type EndSpec = NonNullable<Definition['end']>;
export type EnvelopeSpec = NonNullable<Definition['envelope']>;
export type HttpErrorsSpec = NonNullable<Definition['httpErrors']>;
/** `unreadable`: the credential may not read this channel (under --all-channels it is skipped, not failed) */
type ErrorKind = 'usage' | 'auth' | 'remote' | 'unreadable';
type EndSignals = Pick<ProviderPage, 'total' | 'lastPage' | 'perPage' | 'hasNext'>;

/** The end signals an answer carries; each absent unless the definition names it. */
export function compileEndSignals(end: EndSpec | undefined, compile: (text: string) => Expr): (body: unknown, scope: ExprScope) => EndSignals {
  const opt = (text: string | undefined) => (text === undefined ? undefined : compile(text));
  const total = opt(end?.total);
  const lastPage = opt(end?.lastPage);
  const perPage = opt(end?.perPage);
  const hasMore = opt(end?.hasMore);
  return (body, scope) => ({
    total: count(total?.(body, scope)),
    lastPage: count(lastPage?.(body, scope)),
    perPage: count(perPage?.(body, scope)),
    hasNext: flag(hasMore?.(body, scope)),
  });
}

export interface ErrorPolicy {
  /** Throws the mapped error when a 2xx answer's envelope is not a success. `label` names the target. */
  check(body: unknown, label: () => string, scope: ExprScope): void;
  /** A non-2xx answer as the definition reads it; absent = the client's defaults. */
  describeStatus: StatusDescriber | undefined;
}

export function compileErrorPolicy(envelope: EnvelopeSpec | undefined, httpErrors: HttpErrorsSpec | undefined, compile: (text: string) => Expr): ErrorPolicy {
  const opt = (text: string | undefined) => (text === undefined ? undefined : compile(text));
  const success = envelope?.success ? { path: compile(envelope.success.path), equals: new Set(envelope.success.equals.map(String)) } : undefined;
  const envelopeMessage = opt(envelope?.message);
  const envelopeCode = opt(envelope?.code);
  const messageRules = (envelope?.messages ?? []).map((rule) => ({ ...rule, regex: new RegExp(rule.pattern, 'i') }));
  const ruleFor = (code: unknown, message: string) => envelope?.codes?.[stringOf(code)] ?? messageRules.find((r) => r.regex.test(message));

  const check = (body: unknown, label: () => string, scope: ExprScope) => {
    if (!success) return;
    if (body === null || typeof body !== 'object') throw new FieldIssue('(root)', 'expected a JSON object');
    const value = success.path(body, scope);
    if (value === null) throw new FieldIssue(envelope!.success!.path, 'required');
    if (success.equals.has(String(value))) return;
    const code = envelopeCode ? envelopeCode(body, scope) : value;
    const said = envelopeMessage?.(body, scope);
    const message = sanitizeForTerminal(typeof said === 'string' ? said : said == null ? '' : JSON.stringify(said));
    const what = `${label()}: code ${stringOf(code)}${message ? ` ${message}` : ''}`;
    const rule = ruleFor(code, message);
    // the server's message often says it already ("permission denied"): do not say it twice
    const text = rule?.note && !message.toLowerCase().includes(rule.note.toLowerCase()) ? `${what} (${rule.note})` : what;
    throw errorOf(rule?.kind ?? 'remote', text, rule?.hint ?? envelope?.hint);
  };

  /**
   * A non-2xx answer: an envelope code or message the definition maps wins
   * (APIs that send `{ ok: false, error: "invalid_auth" }` with any status),
   * then the definition's status rules; otherwise the client's defaults
   * (which know what to retry).
   */
  const fromEnvelope: StatusDescriber = (status, body, where) => {
    if (!success || body === null || typeof body !== 'object') return undefined;
    const value = success.path(body);
    if (value === null || success.equals.has(String(value))) return undefined;
    const code = envelopeCode ? envelopeCode(body) : value;
    const said = envelopeMessage?.(body);
    const message = sanitizeForTerminal(typeof said === 'string' ? said : '');
    const rule = ruleFor(code, message);
    if (!rule) return undefined;
    const note = rule.note && !message.toLowerCase().includes(rule.note.toLowerCase()) ? ` (${rule.note})` : '';
    const what = `${where.label}: code ${stringOf(code)}${message ? ` ${message}` : ''}${note} (HTTP ${status} from ${where.url})`;
    return errorOf(rule.kind, what, rule.hint ?? envelope?.hint);
  };
  const fromStatus = httpErrors ? statusRules(httpErrors, opt(httpErrors.message)) : undefined;
  const describeStatus: StatusDescriber | undefined =
    httpErrors || envelope?.codes || envelope?.messages ? (status, body, where) => fromEnvelope(status, body, where) ?? fromStatus?.(status, body, where) : undefined;
  return { check, describeStatus };
}

function statusRules(httpErrors: HttpErrorsSpec, httpMessage: Expr | undefined): StatusDescriber {
  return (status, body, where) => {
    const said = httpMessage?.(body ?? null);
    const detail = sanitizeForTerminal(Array.isArray(said) ? said.filter((s) => typeof s === 'string' && s).join('; ') : typeof said === 'string' ? said : '');
    const rule = httpErrors.status?.[String(status)];
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
  };
}

export function errorOf(kind: ErrorKind, message: string, hint: string | undefined): ChatExportError {
  const options = hint === undefined ? {} : { hint };
  if (kind === 'unreadable') return new UnreadableError(message, options);
  return kind === 'usage' ? new UsageError(message, options) : kind === 'auth' ? new AuthError(message, options) : new RemoteError(message, options);
}
