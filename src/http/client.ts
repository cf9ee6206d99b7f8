import { Agent, request } from 'undici';
import { AuthError, ChatExportError, RemoteError } from '../errors.js';
import type { Logger } from '../log.js';
import { excerpt, redactSecrets, redactUrl } from '../text/sanitize.js';
import { RateLimiter } from './rate-limit.js';
import { RETRYABLE_STATUSES, computeRetryDelay, parseRetryAfter } from './retry.js';

export interface HttpRequest {
  url: URL;
  headers: Record<string, string>;
}

/** What a parser gets: the decoded JSON of a 2xx answer, and its headers (next tokens and links may live there). */
export type BodyParser<T> = (body: unknown, response: { headers: Record<string, string | string[] | undefined>; url: URL }) => T;

/** Lets a provider explain a non-2xx answer in its own words (e.g. discuz 404). */
export type StatusDescriber = (status: number, body: unknown, where: { label: string; url: string }) => ChatExportError | undefined;

export interface HttpClientOptions {
  timeoutMs: number;
  retries: number;
  rate: number;
  maxBodyBytes?: number;
  /** Retry-After beyond this fails the run instead of sleeping for hours. */
  maxRetryAfterMs?: number;
  /** backoff base; tests shorten it */
  retryBaseMs?: number;
  logger: Logger;
}

export interface RequestContext {
  /** "relation 4f32…": who is asking, for messages */
  label: string;
  signal?: AbortSignal | undefined;
  describeStatus?: StatusDescriber | undefined;
  /** per-channel counters, besides the client's own */
  stats?: HttpStats | undefined;
}

export interface HttpStats {
  requests: number;
  retries: number;
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

export const MAX_DOWNLOAD_REDIRECTS = 5;

export interface DownloadOptions {
  ctx: RequestContext;
  maxBytes: number;
  /** the API's credential headers, sent only to this origin (the API's own) */
  credentials: Record<string, string>;
  credentialOrigin: string | undefined;
}

export interface DownloadInfo {
  contentType: string | undefined;
  /** where the file came from after redirects */
  url: URL;
}

/**
 * The one door to the network: keep-alive pool, per-host rate limit, timeout,
 * body cap, JSON decoding and retry. A body that decodes but fails the
 * provider's schema is retried like a 5xx: servers under load send HTML error
 * pages and cut-off bodies with status 200.
 */
export class HttpClient {
  private readonly agent: Agent;
  private readonly limiter: RateLimiter;
  readonly stats: HttpStats = { requests: 0, retries: 0 };

  constructor(private readonly options: HttpClientOptions) {
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: 32, pipelining: 1 });
    this.limiter = new RateLimiter({
      rate: options.rate,
      onPause: (host, ms) => {
        if (ms > 1000) options.logger.info(`${host}: rate limited, waiting ${Math.ceil(ms / 1000)} s`);
      },
      onSlowRate: (host, ms) => {
        options.logger.info(`${host}: --rate ${options.rate} allows one request every ${+(1 / options.rate).toFixed(2)} s; waiting ${Math.ceil(ms / 1000)} s`);
      },
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  async getJson<T>(req: HttpRequest, parse: BodyParser<T>, ctx: RequestContext): Promise<T> {
    const shownUrl = redactUrl(req.url);
    const host = req.url.host;
    const { retries, logger } = this.options;
    for (let attempt = 0; ; attempt++) {
      await this.limiter.acquire(host, ctx.signal);
      const started = Date.now();
      let outcome: ChatExportError;
      try {
        const body = await this.exchange(req, ctx);
        logger.debug(`GET ${shownUrl} 200 ${Date.now() - started} ms`);
        try {
          try {
            return parse(body.json, { headers: body.headers, url: req.url });
          } catch (error) {
            // Rare: an integer id too large for a double. Only then is the body parsed the slow, exact way.
            if (!(error instanceof LossyNumberError)) throw error;
            return parse(parseJsonKeepingBigIntegers(body.text), { headers: body.headers, url: req.url });
          }
        } catch (error) {
          if (error instanceof ChatExportError) {
            // An API's own error code (relation 10120, dishawang code 0): name the request too.
            if (!error.message.includes(shownUrl)) error.message = `${error.message} (GET ${shownUrl})`;
            throw error;
          }
          outcome = new RemoteError(`${ctx.label}: unexpected response from ${shownUrl}: ${describeParseError(error)}; body: ${excerpt(body.text)}`, {
            retryable: true,
            cause: error,
            hint: 'the server answered 200 with a body that is not the documented shape',
          });
        }
      } catch (error) {
        if (ctx.signal?.aborted) throw ctx.signal.reason ?? error;
        if (!(error instanceof ChatExportError)) throw error;
        outcome = error;
        logger.debug(`GET ${shownUrl} failed after ${Date.now() - started} ms: ${error.message}`);
      }
      if (!(outcome instanceof RemoteError) || !outcome.retryable) throw outcome;
      if (attempt >= retries) {
        throw new RemoteError(`${outcome.message} (gave up after ${retries} ${retries === 1 ? 'retry' : 'retries'})`, {
          cause: outcome,
          hint: outcome.hint ?? 'the server kept failing; try again later or raise --retries / --timeout',
        });
      }
      const maxWait = this.options.maxRetryAfterMs ?? 300_000;
      if (outcome.retryAfterMs !== undefined && outcome.retryAfterMs > maxWait) {
        throw new RemoteError(
          `${ctx.label}: server asked to wait ${Math.ceil(outcome.retryAfterMs / 1000)} s before retrying ${shownUrl}, over the ${maxWait / 1000} s ceiling`,
          { cause: outcome, hint: 'run again later' },
        );
      }
      if (outcome.retryAfterMs !== undefined) this.limiter.pause(host, outcome.retryAfterMs);
      const delay = computeRetryDelay({
        attempt,
        retryAfterMs: outcome.retryAfterMs,
        baseMs: this.options.retryBaseMs ?? 500,
      });
      this.stats.retries++;
      if (ctx.stats) ctx.stats.retries++;
      logger.debug(`retry ${attempt + 1}/${retries} of ${shownUrl} in ${delay} ms: ${outcome.message}`);
      if (delay > 1000 && outcome.retryAfterMs === undefined) {
        logger.info(`${ctx.label}: ${shortReason(outcome, shownUrl)}; retrying in ${Math.ceil(delay / 1000)} s`);
      }
      // The limiter already holds the host for a Retry-After; sleeping here too would double it.
      if (outcome.retryAfterMs === undefined) await sleep(delay, ctx.signal);
    }
  }

  /** One attempt: status handling, body cap and JSON decoding. */
  private async exchange(req: HttpRequest, ctx: RequestContext): Promise<{ json: unknown; text: string; headers: Record<string, string | string[] | undefined> }> {
    const shownUrl = redactUrl(req.url);
    const maxBytes = this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error('timeout')), this.options.timeoutMs);
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout.signal]) : timeout.signal;
    this.stats.requests++;
    if (ctx.stats) ctx.stats.requests++;
    try {
      const response = await request(req.url, {
        method: 'GET',
        headers: { accept: 'application/json', 'user-agent': 'chat-export', ...req.headers },
        signal,
        dispatcher: this.agent,
      });
      const status = response.statusCode;
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        response.body.destroy();
        throw tooLarge(ctx.label, shownUrl, maxBytes);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) {
          response.body.destroy();
          throw tooLarge(ctx.label, shownUrl, maxBytes);
        }
        chunks.push(chunk as Buffer);
      }
      const text = Buffer.concat(chunks, size).toString('utf8');
      let json: unknown;
      let jsonError: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        jsonError = error;
      }
      if (status >= 200 && status < 300) {
        if (jsonError !== undefined) {
          throw new RemoteError(`${ctx.label}: response from ${shownUrl} is not JSON (${describeBody(text, response.headers['content-type'])})`, {
            retryable: true,
            cause: jsonError,
            hint: 'the server sent a truncated or non-JSON body',
          });
        }
        return { json, text, headers: response.headers };
      }
      throw this.statusError(status, json, text, response.headers, shownUrl, ctx);
    } catch (error) {
      if (error instanceof ChatExportError) throw error;
      if (ctx.signal?.aborted) throw error;
      if (timeout.signal.aborted) {
        throw new RemoteError(`${ctx.label}: no complete answer from ${shownUrl} within ${this.options.timeoutMs} ms`, {
          retryable: true,
          hint: 'the server is slow; raise --timeout or try later',
        });
      }
      throw new RemoteError(`${ctx.label}: network error on ${shownUrl}: ${networkReason(error)}`, {
        retryable: true,
        cause: error,
        hint: 'check the network and --base-url',
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Streams one file (a media download) through `consume`, with the same
   * per-host rate limit, timeout and retry rules as the API requests.
   * Redirects are followed (at most MAX_DOWNLOAD_REDIRECTS, http(s) only; a
   * file host may hand off to a CDN), but `credentials` are sent only while
   * the URL is on `credentialOrigin`. A body over `maxBytes` (declared or
   * streamed) fails without retry. `consume` may be called again on a retry:
   * it must undo its own partial work when it throws.
   */
  async download<T>(url: URL, options: DownloadOptions, consume: (body: AsyncIterable<Buffer>, info: DownloadInfo) => Promise<T>): Promise<T> {
    const shownUrl = redactUrl(url);
    const { retries, logger } = this.options;
    for (let attempt = 0; ; attempt++) {
      let outcome: ChatExportError;
      try {
        return await this.downloadOnce(url, options, consume);
      } catch (error) {
        if (options.ctx.signal?.aborted) throw options.ctx.signal.reason ?? error;
        if (!(error instanceof ChatExportError)) throw error;
        outcome = error;
      }
      if (!(outcome instanceof RemoteError) || !outcome.retryable) throw outcome;
      if (attempt >= retries) {
        throw new RemoteError(`${outcome.message} (gave up after ${retries} ${retries === 1 ? 'retry' : 'retries'})`, { cause: outcome });
      }
      if (outcome.retryAfterMs !== undefined) this.limiter.pause(url.host, Math.min(outcome.retryAfterMs, this.options.maxRetryAfterMs ?? 300_000));
      const delay = computeRetryDelay({ attempt, retryAfterMs: outcome.retryAfterMs, baseMs: this.options.retryBaseMs ?? 500 });
      this.stats.retries++;
      if (options.ctx.stats) options.ctx.stats.retries++;
      logger.debug(`retry ${attempt + 1}/${retries} of ${shownUrl} in ${delay} ms: ${outcome.message}`);
      if (outcome.retryAfterMs === undefined) await sleep(delay, options.ctx.signal);
    }
  }

  private async downloadOnce<T>(start: URL, options: DownloadOptions, consume: (body: AsyncIterable<Buffer>, info: DownloadInfo) => Promise<T>): Promise<T> {
    const { ctx, maxBytes } = options;
    let url = start;
    for (let hop = 0; ; hop++) {
      const shownUrl = redactUrl(url);
      await this.limiter.acquire(url.host, ctx.signal);
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(new Error('timeout')), this.options.timeoutMs);
      const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout.signal]) : timeout.signal;
      this.stats.requests++;
      if (ctx.stats) ctx.stats.requests++;
      const started = Date.now();
      try {
        const credentials = options.credentialOrigin !== undefined && url.origin === options.credentialOrigin ? options.credentials : {};
        const response = await request(url, {
          method: 'GET',
          headers: { accept: '*/*', 'accept-encoding': 'identity', 'user-agent': 'chat-export', ...credentials },
          signal,
          dispatcher: this.agent,
        });
        const status = response.statusCode;
        this.options.logger.debug(`GET ${shownUrl} ${status} ${Date.now() - started} ms`);
        if (status >= 300 && status < 400 && response.headers.location !== undefined) {
          discard(response.body);
          const location = Array.isArray(response.headers.location) ? response.headers.location[0] : response.headers.location;
          let next: URL;
          try {
            next = new URL(location ?? '', url);
          } catch {
            throw new RemoteError(`${ctx.label}: ${shownUrl} redirected to something that is not a URL`);
          }
          if (next.protocol !== 'https:' && next.protocol !== 'http:') {
            throw new RemoteError(`${ctx.label}: ${shownUrl} redirected to a ${next.protocol} URL; only http(s) is downloaded`);
          }
          if (hop >= MAX_DOWNLOAD_REDIRECTS) throw new RemoteError(`${ctx.label}: more than ${MAX_DOWNLOAD_REDIRECTS} redirects from ${redactUrl(start)}`);
          url = next;
          continue;
        }
        if (status < 200 || status >= 300) {
          discard(response.body);
          throw new RemoteError(`${ctx.label}: HTTP ${status} from ${shownUrl}`, {
            retryable: RETRYABLE_STATUSES.has(status),
            retryAfterMs: parseRetryAfter(response.headers['retry-after']),
          });
        }
        const declared = Number(response.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          discard(response.body);
          throw new RemoteError(`${ctx.label}: ${shownUrl} is ${declared} bytes, over the ${maxBytes}-byte media size cap`, { hint: 'raise --media-max-size to keep it' });
        }
        const contentType = response.headers['content-type'];
        let size = 0;
        const capped = async function* (): AsyncIterable<Buffer> {
          for await (const chunk of response.body) {
            size += (chunk as Buffer).length;
            if (size > maxBytes) {
              discard(response.body);
              throw new RemoteError(`${ctx.label}: ${shownUrl} is over the ${maxBytes}-byte media size cap`, { hint: 'raise --media-max-size to keep it' });
            }
            yield chunk as Buffer;
          }
        };
        return await consume(capped(), { contentType: Array.isArray(contentType) ? contentType[0] : contentType, url });
      } catch (error) {
        if (error instanceof ChatExportError) throw error;
        if (ctx.signal?.aborted) throw error;
        if (timeout.signal.aborted) {
          throw new RemoteError(`${ctx.label}: no complete answer from ${shownUrl} within ${this.options.timeoutMs} ms`, { retryable: true });
        }
        throw new RemoteError(`${ctx.label}: network error on ${shownUrl}: ${networkReason(error)}`, { retryable: true, cause: error });
      } finally {
        clearTimeout(timer);
      }
    }
  }

  private statusError(
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
    if (status === 401 || status === 403) {
      return new AuthError(`${ctx.label}: ${shownUrl} refused the credentials (HTTP ${status}): ${detail}`, {
        hint: 'check the token / API key (environment variable, profile or flag) and that it may read this channel',
      });
    }
    if (RETRYABLE_STATUSES.has(status)) {
      return new RemoteError(`${ctx.label}: HTTP ${status} from ${shownUrl}: ${detail}`, {
        retryable: true,
        retryAfterMs: parseRetryAfter(headers['retry-after']),
      });
    }
    return new RemoteError(`${ctx.label}: HTTP ${status} from ${shownUrl}: ${detail}`, {
      hint: status === 404 ? 'check the channel id and --base-url' : undefined,
    } as { hint?: string });
  }
}

/** Drops a body we will not read (an error status, a redirect, over the cap) without an unhandled 'error'. */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => {});
  body.destroy();
}

function tooLarge(label: string, url: string, maxBytes: number): RemoteError {
  return new RemoteError(`${label}: response from ${url} exceeds the ${Math.round(maxBytes / 1024 / 1024)} MiB size cap`, {
    hint: 'lower --page-size',
  });
}

function describeBody(text: string, contentType: string | string[] | undefined): string {
  const type = Array.isArray(contentType) ? contentType[0] : contentType;
  if (text.length === 0) return 'empty body';
  if (/html/i.test(type ?? '') || /^\s*</.test(text)) return `an HTML page: ${excerpt(text.replace(/<[^>]*>/g, ' '))}`;
  // Redact before cutting: a tail that starts inside a credential would otherwise show most of it.
  const clean = redactSecrets(text);
  return `${text.length} bytes, ends ${JSON.stringify(excerpt(clean.slice(-40), 40))}`;
}

function describeParseError(error: unknown): string {
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

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Thrown by a schema that met an integer JSON.parse could not hold exactly;
 * the client then parses that body again with parseJsonKeepingBigIntegers.
 */
export class LossyNumberError extends Error {
  constructor() {
    super('an integer beyond 2^53 lost precision in JSON.parse');
  }
}

// A string literal, or a number literal (only the integers matter below).
const JSON_TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/**
 * JSON.parse, except that an integer too large for a double (a 19-digit
 * message id sent as a number) becomes its exact decimal string instead of a
 * rounded number: ids are strings in the output, and two ids that round alike
 * must not collapse into one message.
 */
export function parseJsonKeepingBigIntegers(text: string): unknown {
  const quoted = text.replace(JSON_TOKEN, (token) => {
    if (token.charCodeAt(0) === 34 /* " */ || !/^-?\d{16,}$/.test(token)) return token;
    return Number.isSafeInteger(Number(token)) ? token : `"${token}"`;
  });
  return JSON.parse(quoted);
}
