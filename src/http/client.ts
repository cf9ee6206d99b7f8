import { subscribe } from 'node:diagnostics_channel';
import { PassThrough, Transform, pipeline, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import { Agent, EnvHttpProxyAgent, request, type Dispatcher } from './undici.js';
import { AuthError, ChatExportError, RemoteError } from '../errors.js';
import type { Logger } from '../log.js';
import { excerpt, redactSecrets, redactUrl } from '../text/sanitize.js';
import { proxyFromEnv } from './proxy.js';
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
  /** where HTTPS_PROXY / HTTP_PROXY / NO_PROXY are read (process.env when absent) */
  env?: NodeJS.ProcessEnv;
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
const BODY_BUFFER_BYTES = 256 * 1024;
/** Body buffers kept for reuse: at most this many bytes in all, so a burst of large pages is not held for the run. */
const MAX_KEPT_BODY_BYTES = 8 * 1024 * 1024;

/** Redirects followed for one request, API and media alike (DESIGN.md section 5). */
export const MAX_REDIRECTS = 5;

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
  private readonly agent: Dispatcher;
  private readonly directHttps: Dispatcher | undefined;
  private readonly limiter: RateLimiter;
  private closed = false;
  /** bodies of API answers are read into these, one per request in flight (see exchange) */
  private readonly bodyBuffers: Buffer[] = [];
  private keptBodyBytes = 0;
  readonly stats: HttpStats = { requests: 0, retries: 0 };

  constructor(private readonly options: HttpClientOptions) {
    // HTTPS_PROXY / HTTP_PROXY / NO_PROXY (either case) as curl reads them, checked
    // beforehand (a value without a scheme is http://, as curl takes it). Plain-http
    // targets go to the proxy as absolute-URI requests (curl's way), not CONNECT
    // tunnels, which many corporate proxies refuse for port 80. One pool for the run.
    const proxies = proxyFromEnv(options.env ?? process.env);
    const pool = { keepAliveTimeout: 10_000, connections: 32, pipelining: 1 };
    this.agent = new EnvHttpProxyAgent({ ...proxies, ...pool, proxyTunnel: false });
    // undici sends https:// through HTTP_PROXY when HTTPS_PROXY is unset; curl (and the user's expectation) goes direct.
    this.directHttps = proxies.httpsProxy === '' && proxies.httpProxy !== '' ? new Agent(pool) : undefined;
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
    // Requests still queued after this fail at once instead of retrying a destroyed pool.
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.agent.close(), this.directHttps?.close()]);
  }

  async getJson<T>(req: HttpRequest, parse: BodyParser<T>, ctx: RequestContext): Promise<T> {
    // Redacted only when something is printed: redaction costs tens of µs, and most requests print nothing.
    const shown = shownLazily(req.url);
    const host = req.url.host;
    const { retries, logger } = this.options;
    for (let attempt = 0; ; attempt++) {
      const started = Date.now();
      let outcome: ChatExportError;
      try {
        const body = await this.exchange(req, ctx);
        if (logger.verbosity === 'verbose') logger.debug(`GET ${shown()} 200 ${Date.now() - started} ms`);
        try {
          try {
            return parse(body.json, { headers: body.headers, url: body.url });
          } catch (error) {
            // Rare: an integer id too large for a double. Only then is the body parsed the slow, exact way.
            if (!(error instanceof LossyNumberError)) throw error;
            return parse(parseJsonKeepingBigIntegers(body.text()), { headers: body.headers, url: body.url });
          }
        } catch (error) {
          if (error instanceof ChatExportError) {
            // An API's own error code (relation 10120, dishawang code 0): name the request too.
            if (!error.message.includes(shown())) error.message = `${error.message} (GET ${shown()})`;
            throw error;
          }
          outcome = new RemoteError(`${ctx.label}: unexpected response from ${shown()}: ${describeParseError(error)}; body: ${excerpt(body.text())}`, {
            retryable: true,
            cause: error,
            hint: 'the server answered 200 with a body that is not the documented shape',
          });
        } finally {
          body.release();
        }
      } catch (error) {
        if (ctx.signal?.aborted) throw ctx.signal.reason ?? error;
        if (!(error instanceof ChatExportError)) throw error;
        outcome = error;
        logger.debug(`GET ${shown()} failed after ${Date.now() - started} ms: ${error.message}`);
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
          `${ctx.label}: server asked to wait ${Math.ceil(outcome.retryAfterMs / 1000)} s before retrying ${shown()}, over the ${maxWait / 1000} s ceiling`,
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
      logger.debug(`retry ${attempt + 1}/${retries} of ${shown()} in ${delay} ms: ${outcome.message}`);
      if (delay > 1000 && outcome.retryAfterMs === undefined) {
        logger.info(`${ctx.label}: ${shortReason(outcome, shown())}; retrying in ${Math.ceil(delay / 1000)} s`);
      }
      // The limiter already holds the host for a Retry-After; sleeping here too would double it.
      if (outcome.retryAfterMs === undefined) await sleep(delay, ctx.signal);
    }
  }

  private takeBodyBuffer(): Buffer {
    const kept = this.bodyBuffers.pop();
    if (!kept) return Buffer.allocUnsafeSlow(BODY_BUFFER_BYTES);
    this.keptBodyBytes -= kept.length;
    return kept;
  }

  /** One attempt of an API request: redirects, status handling, decoding, body cap, BOM and JSON. */
  private async exchange(
    req: HttpRequest,
    ctx: RequestContext,
  ): Promise<{ json: unknown; text: () => string; release: () => void; headers: Record<string, string | string[] | undefined>; url: URL }> {
    const shownUrl = shownLazily(req.url);
    const maxBytes = this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const attempt = this.attemptSignal(ctx);
    try {
      const { url, response, withoutCredentials } = await this.open(
        req.url,
        // Everything the request carries besides these is the provider's (credentials, its own headers): its origin's only.
        { headers: { accept: 'application/json', 'accept-encoding': 'gzip, deflate, br' }, credentials: req.headers, credentialOrigin: req.url.origin, anyOrigin: false },
        ctx,
        attempt,
      );
      const shownHere = url === req.url ? shownUrl : shownLazily(url);
      const tooBig = () => tooLarge(ctx.label, shownHere(), maxBytes);
      const declared = Number(response.headers['content-length']);
      // The declared length of a compressed body says nothing of its decoded size; the cap below does.
      if (Number.isFinite(declared) && declared > maxBytes) {
        discard(response.body);
        throw tooBig();
      }
      // Each chunk is copied at once into a buffer the client reuses, so undici's chunks die young: held in a
      // list until the body ended, the ones that outlived two scavenges were promoted, and a promoted Buffer's
      // memory comes back only at a full GC (off-heap memory grew by most of every body read).
      let buffer = this.takeBodyBuffer();
      let size = 0;
      // Kept out of the pool while the caller may still need the text (see release below).
      let handedOver = false;
      const release = () => {
        // One buffer per request in flight, as many as fit in MAX_KEPT_BODY_BYTES (a rare huge body's is not kept).
        if (this.keptBodyBytes + buffer.length <= MAX_KEPT_BODY_BYTES) {
          this.keptBodyBytes += buffer.length;
          this.bodyBuffers.push(buffer);
        }
      };
      try {
        await readBody(response.body, response.headers['content-encoding'], maxBytes, tooBig, async (body) => {
          for await (const chunk of body) {
            if (size + chunk.length > buffer.length) {
              const bigger = Buffer.allocUnsafeSlow(Math.max(buffer.length * 2, size + chunk.length));
              buffer.copy(bigger, 0, 0, size);
              buffer = bigger;
            }
            size += chunk.copy(buffer, size);
          }
        });
        const text = bodyText(buffer, size);
        let json: unknown;
        let jsonError: unknown;
        try {
          json = JSON.parse(text);
        } catch (error) {
          jsonError = error;
        }
        const status = response.statusCode;
        if (status >= 200 && status < 300) {
          if (jsonError !== undefined) {
            throw new RemoteError(`${ctx.label}: response from ${shownHere()} is not JSON (${describeBody(text, response.headers['content-type'])})`, {
              retryable: true,
              cause: jsonError,
              hint: 'the server sent a truncated or non-JSON body',
            });
          }
          // Not the text itself: a page's text is a large object, and held while the provider reads the page
          // it was often promoted and died in the old generation. The rare caller that needs it decodes it again.
          const bytes = buffer;
          handedOver = true;
          return { json, text: () => bodyText(bytes, size), release, headers: response.headers, url };
        }
        if ((status === 401 || status === 403) && withoutCredentials) {
          // Followed to the https:// of the same host, which is another origin: the credentials stayed behind.
          throw new AuthError(`${ctx.label}: ${shownUrl()} redirected to ${shownHere()}, which refused the request (HTTP ${status}); credentials are sent only to ${req.url.origin}, not to another origin`, {
            hint: `if ${url.origin} is the API, pass it as --base-url`,
          });
        }
        throw this.statusError(status, json, text, response.headers, shownHere(), ctx);
      } finally {
        if (!handedOver) release();
      }
    } catch (error) {
      throw transportError(error, ctx, shownUrl(), attempt, this.options.timeoutMs);
    } finally {
      attempt.done();
    }
  }

  /**
   * Streams one file (a media download) through `consume`, with the same
   * per-host rate limit, timeout, redirects, decoding and retry rules as the
   * API requests (the same code: `open` and `readBody`). Unlike an API
   * request, a download may be redirected to another origin (a file host
   * hands off to a CDN), but `credentials` are sent only while the URL is on
   * `credentialOrigin`. A body over `maxBytes` (declared, streamed or
   * decoded) fails without retry. `consume` may be called again on a retry:
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
    const shownStart = redactUrl(start);
    const attempt = this.attemptSignal(ctx);
    try {
      const { url, response } = await this.open(
        start,
        // The file as stored, please; a server that compresses anyway is decoded below.
        { headers: { accept: '*/*', 'accept-encoding': 'identity' }, credentials: options.credentials, credentialOrigin: options.credentialOrigin, anyOrigin: true },
        ctx,
        attempt,
      );
      const shownUrl = redactUrl(url);
      const status = response.statusCode;
      if (status < 200 || status >= 300) {
        discard(response.body);
        throw new RemoteError(`${ctx.label}: HTTP ${status} from ${shownUrl}`, {
          retryable: RETRYABLE_STATUSES.has(status),
          retryAfterMs: parseRetryAfter(response.headers['retry-after']),
        });
      }
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes && !response.headers['content-encoding']) {
        discard(response.body);
        throw new RemoteError(`${ctx.label}: ${shownUrl} is ${declared} bytes, over the ${maxBytes}-byte media size cap`, { hint: 'raise --media-max-size to keep it' });
      }
      const contentType = response.headers['content-type'];
      const tooBig = () => new RemoteError(`${ctx.label}: ${shownUrl} is over the ${maxBytes}-byte media size cap`, { hint: 'raise --media-max-size to keep it' });
      return await readBody(response.body, response.headers['content-encoding'], maxBytes, tooBig, (body) =>
        consume(body, { contentType: Array.isArray(contentType) ? contentType[0] : contentType, url }),
      );
    } catch (error) {
      throw transportError(error, ctx, shownStart, attempt, this.options.timeoutMs);
    } finally {
      attempt.done();
    }
  }

  /**
   * The timeout of one attempt, joined with the caller's stop. `arm` starts it
   * again as each hop is sent (after its wait for the rate limit, which is no
   * slowness of the server); the last hop's covers its whole body.
   */
  private attemptSignal(ctx: RequestContext): { signal: AbortSignal; arm: () => void; timedOut: () => boolean; done: () => void } {
    const attempt = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const unfollow = ctx.signal ? followStop(ctx.signal, attempt) : undefined;
    return {
      signal: attempt.signal,
      arm: () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          timedOut = true;
          attempt.abort(new Error('timeout'));
        }, this.options.timeoutMs);
      },
      timedOut: () => timedOut,
      done: () => {
        clearTimeout(timer);
        unfollow?.();
      },
    };
  }

  /**
   * The one redirect loop, for API requests and downloads alike. Each hop
   * waits for its host's rate limit and counts as a request; `credentials`
   * go only to `credentialOrigin`, hop by hop. Returns the first answer that
   * is not a redirect (its body unread).
   */
  private async open(
    start: URL,
    hop: { headers: Record<string, string>; credentials: Record<string, string>; credentialOrigin: string | undefined; anyOrigin: boolean },
    ctx: RequestContext,
    attempt: { signal: AbortSignal; arm: () => void },
  ): Promise<{ url: URL; response: Dispatcher.ResponseData; withoutCredentials: boolean }> {
    const shownStart = shownLazily(start);
    const signal = attempt.signal;
    let url = start;
    let withoutCredentials = false;
    for (let n = 0; ; n++) {
      // A pause for the rate limit (or a Retry-After) is not the server being slow: --timeout starts after it.
      await this.limiter.acquire(url.host, ctx.signal);
      attempt.arm();
      if (this.closed) throw new RemoteError(`${ctx.label}: the run is ending; ${redactUrl(url)} was not requested`);
      const trusted = hop.credentialOrigin !== undefined && url.origin === hop.credentialOrigin;
      if (!trusted && Object.keys(hop.credentials).length > 0) withoutCredentials = true;
      const started = Date.now();
      // Counted once it is written to the socket: a request asked for ahead that the walk no longer needs is
      // aborted while it waits for a connection, never sent, and is no request (it was counted as one).
      const sent = whenSent(() => {
        this.stats.requests++;
        if (ctx.stats) ctx.stats.requests++;
      });
      const answer = request(url.protocol === 'https:' && this.directHttps ? this.directHttps : this.agent, url, {
        method: 'GET',
        headers: { ...hop.headers, 'user-agent': 'chat-export', ...(trusted ? hop.credentials : {}) },
        signal,
      });
      sent.dispatched();
      let response: Dispatcher.ResponseData;
      try {
        response = await answer;
      } catch (error) {
        // Never written, but tried (no connection, a timeout): an attempt. Withdrawn by the run's stop: nothing.
        if (!ctx.signal?.aborted) sent.failed();
        throw error;
      }
      const status = response.statusCode;
      if (!REDIRECTS.has(status)) return { url, response, withoutCredentials };
      // A redirect's own body is small: read it so the connection stays in the pool.
      await response.body.dump({ limit: 64 * 1024 }).catch(() => {});
      const next = followRedirect(url, response.headers.location, n, ctx.label, url === start ? shownStart() : redactUrl(url), hop.anyOrigin);
      this.options.logger.debug(`GET ${redactUrl(url)} ${status} ${Date.now() - started} ms → ${redactUrl(next)}`);
      url = next;
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

/**
 * Calls `count` when undici writes the request about to be dispatched to its
 * socket (its `undici:request:create` and `undici:request:bodySent`
 * diagnostics channels). undici creates the request synchronously inside
 * `request()`; `dispatched()` right after it ends the window in which a
 * created request is taken for this one (and counts at once should undici
 * ever create it later: never fewer requests than were sent). A request
 * that failed unsent (no connection, a timeout) was tried: `failed()` counts it.
 */
function whenSent(count: () => void): { dispatched: () => void; failed: () => void } {
  listenForSends();
  let counted = false;
  const once = () => {
    if (counted) return;
    counted = true;
    count();
  };
  const tag = { count: once, tagged: false };
  nextRequest = tag;
  return {
    dispatched: () => {
      nextRequest = undefined;
      if (!tag.tagged) once();
    },
    failed: once,
  };
}

let nextRequest: { count: () => void; tagged: boolean } | undefined;
const pendingSends = new WeakMap<object, () => void>();
let listening = false;

function listenForSends(): void {
  if (listening) return;
  listening = true;
  subscribe('undici:request:create', (message) => {
    const tag = nextRequest;
    if (!tag || tag.tagged) return;
    tag.tagged = true;
    pendingSends.set((message as { request: object }).request, tag.count);
  });
  subscribe('undici:request:bodySent', (message) => {
    const request = (message as { request: object }).request;
    const count = pendingSends.get(request);
    if (!count) return;
    pendingSends.delete(request);
    count();
  });
}

/** `redactUrl(url)`, computed on first use and kept. */
function shownLazily(url: URL): () => string {
  let shown: string | undefined;
  return () => (shown ??= redactUrl(url));
}

/** The attempts in flight under each caller's stop signal (a walk's, a run's), aborted with it. */
const attemptsUnder = new WeakMap<AbortSignal, Set<AbortController>>();

/**
 * Aborts `attempt` when `stop` is aborted, until the returned function is
 * called. Not AbortSignal.any: each signal it makes stays registered with its
 * long-lived sources (through WeakRefs only a full GC clears), so every
 * request's signal, undici's listener on it and the request behind that were
 * promoted and died in the old generation (1M relation walk: 125–130 → 123 MiB
 * peak RSS). And not one listener per attempt: more than ten at once on one
 * signal is a MaxListenersExceededWarning.
 */
function followStop(stop: AbortSignal, attempt: AbortController): () => void {
  if (stop.aborted) {
    attempt.abort(stop.reason);
    return () => {};
  }
  let attempts = attemptsUnder.get(stop);
  if (!attempts) {
    const all = new Set<AbortController>();
    attempts = all;
    attemptsUnder.set(stop, all);
    stop.addEventListener(
      'abort',
      () => {
        for (const each of all) each.abort(stop.reason);
        all.clear();
      },
      { once: true },
    );
  }
  const set = attempts;
  set.add(attempt);
  return () => set.delete(attempt);
}

/** Drops a body we will not read (an error status, a redirect, over the cap) without an unhandled 'error'. */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => {});
  body.destroy();
}

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/**
 * The next URL of a redirect, when it may be followed: for an API request
 * the same origin, or http → https on the same host (DESIGN.md section 5);
 * for a download (`anyOrigin`) any http(s) URL, a file host handing off to a
 * CDN. At most MAX_REDIRECTS hops. Anything else is an error naming the
 * Location, never retried (the server would say the same again).
 */
export function followRedirect(
  from: URL,
  location: string | string[] | undefined,
  hop: number,
  label: string,
  shownUrl: string,
  anyOrigin = false,
): URL {
  const raw = Array.isArray(location) ? location[0] : location;
  if (!raw) {
    throw new RemoteError(`${label}: ${shownUrl} answered with a redirect but no Location`, { hint: 'check --base-url' });
  }
  let next: URL;
  try {
    next = new URL(raw, from);
  } catch {
    throw new RemoteError(`${label}: ${shownUrl} redirected to ${JSON.stringify(redactUrl(raw))}, which is not a URL`, { hint: 'check --base-url' });
  }
  const shownNext = redactUrl(next);
  if (next.protocol !== 'https:' && next.protocol !== 'http:') {
    throw new RemoteError(`${label}: ${shownUrl} redirected to a ${next.protocol} URL (${shownNext}); only http(s) is followed`);
  }
  if (hop >= MAX_REDIRECTS) {
    throw new RemoteError(`${label}: more than ${MAX_REDIRECTS} redirects from ${shownUrl} (the last to ${shownNext})`, {
      hint: 'check --base-url; the server redirects in a loop',
    });
  }
  if (anyOrigin) return next;
  const sameOrigin = next.origin === from.origin;
  const upgrade = from.protocol === 'http:' && next.protocol === 'https:' && next.hostname === from.hostname;
  if (!sameOrigin && !upgrade) {
    throw new RemoteError(`${label}: ${shownUrl} redirected to another origin: ${shownNext}; not followed, so the credentials stay with ${from.host}`, {
      hint: `if ${next.host} is the real API, pass it as --base-url`,
    });
  }
  return next;
}

/**
 * Hands the body to `consume` decoded per Content-Encoding (gzip, deflate,
 * br, or a list of them), with the size cap applied to the bytes as they
 * arrive AND as they decode: a small compressed bomb hits the cap instead of
 * filling memory or the disk.
 */
async function readBody<T>(
  body: Readable,
  encodingHeader: string | string[] | undefined,
  maxBytes: number,
  tooLargeError: () => Error,
  consume: (body: AsyncIterable<Buffer>) => Promise<T>,
): Promise<T> {
  const header = Array.isArray(encodingHeader) ? encodingHeader.join(',') : (encodingHeader ?? '');
  const codings = header
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  if (codings.length === 0) return readIdentity(body, maxBytes, tooLargeError, consume);
  // Decoded in the reverse of the order the server applied them.
  let stages: NodeJS.ReadWriteStream[];
  try {
    stages = codings.reverse().map(decoderFor);
  } catch (error) {
    discard(body);
    throw error;
  }
  let wire = 0;
  const onWire = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      wire += chunk.length;
      if (wire > maxBytes) return callback(tooLargeError());
      callback(null, chunk);
    },
  });
  // A failure anywhere destroys every stage, and the last one with that error: the loop below sees it.
  const decoded = pipeline([body, onWire, ...stages, new PassThrough()], () => {}) as unknown as Readable;
  try {
    return await consume(capped(decoded, maxBytes, tooLargeError));
  } finally {
    // consume stopped early (its own failure): the connection is not read to the end
    if (!decoded.readableEnded) decoded.destroy();
  }
}

/**
 * An unencoded body, read straight from undici's stream. Not through the
 * decoding pipeline: its stages hold each chunk long enough for V8 to promote
 * it, and a promoted Buffer's memory comes back only at a full GC — a page
 * walk's off-heap memory then grew by most of every body it read (measured:
 * 5 → 25–45 MiB of arrayBuffers, +10–30 MiB peak RSS, relation 300k).
 */
async function readIdentity<T>(body: Readable, maxBytes: number, tooLargeError: () => Error, consume: (body: AsyncIterable<Buffer>) => Promise<T>): Promise<T> {
  try {
    return await consume(capped(body, maxBytes, tooLargeError));
  } finally {
    // consume stopped early (its own failure, the cap): the connection is not read to the end
    if (!body.readableEnded) discard(body);
  }
}

/** The chunks of a body, failing as soon as they come to more than `maxBytes` (decoded, when it was encoded). */
async function* capped(chunks: AsyncIterable<unknown>, maxBytes: number, tooLargeError: () => Error): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of chunks) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw tooLargeError();
    yield chunk as Buffer;
  }
}

/** A body's text: UTF-8, without the BOM some Windows and PHP stacks put before the JSON. */
function bodyText(bytes: Buffer, size: number): string {
  const text = bytes.toString('utf8', 0, size);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function decoderFor(coding: string): NodeJS.ReadWriteStream {
  // Trailing garbage and a body cut short are reported, not silently accepted.
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'br':
      return createBrotliDecompress();
    case 'deflate':
      return createDeflateDecoder();
    default:
      throw new RemoteError(`the server sent a body encoded as ${JSON.stringify(coding.slice(0, 40))}, which chat-export cannot decode`, {
        hint: 'only gzip, deflate and br are supported',
      });
  }
}

/**
 * "deflate" is meant to be zlib-wrapped (RFC 9110), yet some servers send raw
 * deflate: the first byte tells them apart (a zlib header's low nibble is 8), as
 * browsers and curl do.
 */
function createDeflateDecoder(): NodeJS.ReadWriteStream {
  let inner: NodeJS.ReadWriteStream | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (!inner) {
        inner = (chunk[0]! & 0x0f) === 0x08 ? createInflate() : createInflateRaw();
        inner.on('data', (data: Buffer) => this.push(data));
        inner.on('error', (error: Error) => this.destroy(error));
      }
      if (inner.write(chunk)) callback();
      else inner.once('drain', () => callback());
    },
    flush(callback) {
      if (!inner) return callback();
      inner.once('end', () => callback());
      inner.end();
    },
  });
}

/** What a failed attempt was, for the retry loop: a stop, a timeout, a corrupt encoding, or the network. */
function transportError(error: unknown, ctx: RequestContext, shownUrl: string, attempt: { timedOut: () => boolean }, timeoutMs: number): unknown {
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
