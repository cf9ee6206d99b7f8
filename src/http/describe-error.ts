import { retryAfterFromBody } from './budget.js';
import { AuthError, ChatExportError, RemoteError } from '../errors.js';
import { excerpt, redactSecrets } from '../text/sanitize.js';
import type { RequestContext } from './client.js';
import { RETRYABLE_STATUSES, parseRetryAfter } from './retry.js';

/**
 * What went wrong, in words a person can act on: an answer's status, a failed
 * attempt (stop, timeout, corrupt encoding, network), a body over the cap or
 * of the wrong shape. Every URL given here is already redacted.
 */

/** A non-2xx answer that is no redirect: the provider's own words first, then 401/403, retryable statuses, the rest. */
export function statusError(
  status: number,
  json: unknown,
  text: string,
  headers: Record<string, string | string[] | undefined>,
  shownUrl: string,
  ctx: RequestContext,
): ChatExportError {
  const described = ctx.describeStatus?.(status, json, { label: ctx.label, url: shownUrl });
  if (described) return described;
  const detail = json !== undefined ? excerpt(JSON.stringify(json)) : describeBody(text, headers['content-type']);
  if (status === 401) {
    return new AuthError(`${ctx.label}: ${shownUrl} refused the credentials (HTTP 401): ${detail}`, {
      hint: 'check the token / API key (environment variable, profile or flag) and that it may read this channel',
    });
  }
  // 403: the server knows who asks and says no, most often to this one channel (not a member, private); not a bad token
  if (status === 403) {
    return new AuthError(`${ctx.label}: ${shownUrl} refused access (HTTP 403): ${detail}`, {
      hint: 'the account may not read this (not a member, a private channel, a missing scope): check the channel id and what the token may read',
    });
  }
  if (RETRYABLE_STATUSES.has(status)) {
    // Discord says it twice: Retry-After in whole seconds, the body's retry_after to the millisecond; the longer wins.
    const said = [parseRetryAfter(headers['retry-after']), retryAfterFromBody(json)].filter((ms) => ms !== undefined);
    return new RemoteError(`${ctx.label}: HTTP ${status} from ${shownUrl}: ${detail}`, {
      retryable: true,
      ...(said.length > 0 ? { retryAfterMs: Math.max(...said) } : {}),
    });
  }
  return new RemoteError(`${ctx.label}: HTTP ${status} from ${shownUrl}: ${detail}`, {
    hint: status === 404 ? 'check the channel id and --base-url' : undefined,
  } as { hint?: string });
}

/** What a failed attempt was, for the retry loop: a stop, a timeout, a corrupt encoding, or the network. */
export function transportError(error: unknown, ctx: RequestContext, shownUrl: string, attempt: { timedOut: () => boolean }, timeoutMs: number): unknown {
  if (error instanceof ChatExportError) return error;
  if (ctx.signal?.aborted) return error;
  if (attempt.timedOut()) {
    return new RemoteError(`${ctx.label}: no complete answer from ${shownUrl} within ${timeoutMs} ms`, {
      retryable: true,
      hint: 'the server is slow; raise --timeout or try later',
    });
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new RemoteError(`${ctx.label}: the compressed response from ${shownUrl} is corrupt: ${networkReason(error)}`, { retryable: true, cause: error });
  }
  return new RemoteError(`${ctx.label}: network error on ${shownUrl}: ${networkReason(error)}`, {
    retryable: true,
    cause: error,
    hint: 'check the network, --base-url and any HTTPS_PROXY / HTTP_PROXY / NO_PROXY setting',
  });
}

export function tooLarge(label: string, url: string, maxBytes: number): RemoteError {
  return new RemoteError(`${label}: response from ${url} exceeds the ${Math.round(maxBytes / 1024 / 1024)} MiB size cap`, {
    hint: 'lower --page-size',
  });
}

export function describeBody(text: string, contentType: string | string[] | undefined): string {
  const type = Array.isArray(contentType) ? contentType[0] : contentType;
  if (text.length === 0) return 'empty body';
  if (/html/i.test(type ?? '') || /^\s*</.test(text)) return `an HTML page: ${excerpt(text.replace(/<[^>]*>/g, ' '))}`;
  // Redact before cutting: a tail that starts inside a credential would otherwise show most of it.
  const clean = redactSecrets(text);
  return `${text.length} bytes, ends ${JSON.stringify(excerpt(clean.slice(-40), 40))}`;
}

export function describeParseError(error: unknown): string {
  if (error && typeof error === 'object' && 'issues' in error && Array.isArray((error as { issues: unknown[] }).issues)) {
    const issues = (error as { issues: Array<{ path: PropertyKey[]; message: string }> }).issues;
    return issues
      .slice(0, 3)
      .map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
  }
  return error instanceof Error ? error.message : String(error);
}

function networkReason(error: unknown): string {
  const code = (error as { code?: string } | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${code} ${message}` : message;
}

/**
 * A retry line names the request briefly and the cause in full: the URL is
 * what gets long (its query), the cause (ECONNREFUSED, HTTP 503) is what a
 * person needs.
 */
export function shortReason(error: ChatExportError, shownUrl: string): string {
  const reason = error.message.replace(/^[^:]*: /, '');
  return reason.split(shownUrl).join(shortUrl(shownUrl));
}

/** host and path, the query elided: "127.0.0.1:8080/api/v1/message/list?…". */
export function shortUrl(url: string): string {
  try {
    const parsed = new URL(url);
    let path = `${parsed.host}${parsed.pathname}`;
    if (path.length > 60) path = `${path.slice(0, 59)}…`;
    return parsed.search ? `${path}?…` : path;
  } catch {
    return url.length > 60 ? `${url.slice(0, 59)}…` : url;
  }
}
