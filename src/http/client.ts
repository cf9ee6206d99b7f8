import { subscribe } from 'node:diagnostics_channel';
import { AuthError, ChatExportError, RemoteError } from '../errors.js';
import type { Logger } from '../log.js';
import { excerpt, redactUrl, sanitizeForTerminal } from '../text/sanitize.js';
import { sleep, startAttempt, type Attempt } from './attempt.js';
import { describeBody, describeParseError, shortReason, statusError, tooLarge, transportError } from './describe-error.js';
import { createDispatchers, type Dispatchers } from './dispatcher.js';
import { LossyNumberError, parseJsonKeepingBigIntegers } from './json.js';
import { BudgetGate } from './budget-gate.js';
import { retryAfterFromBody, type RateLimitHeaders } from './budget.js';
import { RateLimiter } from './rate-limit.js';
import { bodyText, discard, readBody } from './read-body.js';
import { REDIRECTS, followRedirect } from './redirect.js';
import { RETRYABLE_STATUSES, computeRetryDelay, parseRetryAfter } from './retry.js';
import { request, type Dispatcher } from './undici.js';
import type { AddressGuard } from './address-guard.js';
import { hostFailureKind, type HostBreaker, type HostFailureKind } from './host-breaker.js';

// The client's public face: what callers and tests import from here lives in the files it composes.
export { sleep } from './attempt.js';
export { shortReason, shortUrl } from './describe-error.js';
export { LossyNumberError, parseJsonKeepingBigIntegers } from './json.js';
export { MAX_REDIRECTS, followRedirect } from './redirect.js';

export interface HttpRequest {
  url: URL;
  headers: Record<string, string>;
  /** the definition's rate-limit headers: requests wait while the budget they state is spent */
  rateLimit?: RateLimitHeaders | undefined;
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

export interface DownloadOptions {
  ctx: RequestContext;
  maxBytes: number;
  /** the API's credential headers, sent only to this origin (the API's own) */
  credentials: Record<string, string>;
  credentialOrigin: string | undefined;
  /** which addresses the download (each hop of it) may reach */
  guard?: AddressGuard | undefined;
  /** hosts given up for the run: not tried again; a failure that says a host is unreachable is reported here */
  hosts?: HostBreaker | undefined;
}

/** A download that failed because a host cannot be reached (its name, its port, its silence), or was not tried because of it. */
export class UnreachableHostError extends RemoteError {
  constructor(
    message: string,
    readonly host: string,
    readonly kind: HostFailureKind | 'given up',
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, { ...options, hint: 'tried again by the next --media run' });
  }
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
 *
 * The client is the request loop (attempts, retries, the hops of `open`); it
 * composes the parts beside it: dispatcher.ts and proxy.ts (pools, proxies),
 * redirect.ts (which hop may be followed), read-body.ts (caps, decoding,
 * buffers), attempt.ts (timeout and stop), describe-error.ts (what failed, in
 * words), json.ts (exact big integers), rate-limit.ts and retry.ts (policy).
 */
export class HttpClient {
  private readonly dispatchers: Dispatchers;
  /** downloads under an address guard: their direct connections check the addresses they resolve */
  private guarded: { guard: AddressGuard; dispatchers: Dispatchers } | undefined;
  private readonly limiter: RateLimiter;
  private readonly budgets: BudgetGate;
  private closed = false;
  /** bodies of API answers are read into these, one per request in flight (see exchange) */
  private readonly bodyBuffers: Buffer[] = [];
  private keptBodyBytes = 0;
  readonly stats: HttpStats = { requests: 0, retries: 0 };

  constructor(private readonly options: HttpClientOptions) {
    this.dispatchers = createDispatchers(options.env ?? process.env);
    this.limiter = new RateLimiter({
      rate: options.rate,
      onPause: (host, ms) => {
        if (ms > 1000) options.logger.info(`${host}: rate limited, waiting ${Math.ceil(ms / 1000)} s`);
      },
      onSlowRate: (host, ms) => {
        options.logger.info(`${host}: --rate ${options.rate} allows one request every ${+(1 / options.rate).toFixed(2)} s; waiting ${Math.ceil(ms / 1000)} s`);
      },
    });
    this.budgets = new BudgetGate({
      maxWaitMs: options.maxRetryAfterMs ?? 300_000,
      onWait: (host, ms, bucket) => {
        options.logger.info(`${host}: rate limit${bucket ? ` (bucket ${sanitizeForTerminal(bucket)})` : ''} spent as the server's headers say, waiting ${Math.ceil(ms / 1000)} s`);
      },
    });
  }

  async close(): Promise<void> {
    // Requests still queued after this fail at once instead of retrying a destroyed pool.
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.dispatchers.close(), this.guarded?.dispatchers.close()]);
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
        if (logger.verbosity === 'verbose') {
          // The server's time apart from the wait for a turn: a 300 ms server behind --rate 2 is not an 800 ms one.
          const waited = body.sentAt - started;
          logger.debug(`GET ${shown()} 200 ${Date.now() - body.sentAt} ms${waited >= 20 ? ` (after waiting ${waited} ms for its turn)` : ''}`);
        }
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
  ): Promise<{ json: unknown; text: () => string; release: () => void; headers: Record<string, string | string[] | undefined>; url: URL; sentAt: number }> {
    const shownUrl = shownLazily(req.url);
    const maxBytes = this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const attempt = startAttempt(ctx, this.options.timeoutMs);
    try {
      const { url, response, withoutCredentials, sentAt } = await this.open(
        req.url,
        // Everything the request carries besides these is the provider's (credentials, its own headers): its origin's only.
        {
          headers: { accept: 'application/json', 'accept-encoding': 'gzip, deflate, br' },
          credentials: req.headers,
          credentialOrigin: req.url.origin,
          anyOrigin: false,
          rateLimit: req.rateLimit,
        },
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
          return { json, text: () => bodyText(bytes, size), release, headers: response.headers, url, sentAt };
        }
        if ((status === 401 || status === 403) && withoutCredentials) {
          // Followed to the https:// of the same host, which is another origin: the credentials stayed behind.
          throw new AuthError(`${ctx.label}: ${shownUrl()} redirected to ${shownHere()}, which refused the request (HTTP ${status}); credentials are sent only to ${req.url.origin}, not to another origin`, {
            hint: `if ${url.origin} is the API, pass it as --base-url`,
          });
        }
        throw statusError(status, json, text, response.headers, shownHere(), ctx);
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
      // A name that does not resolve, a port that refuses: no retry will change that within the run. Timeouts may pass.
      if (outcome instanceof UnreachableHostError && outcome.kind !== 'given up' && options.hosts?.failed(outcome.host, outcome.kind, shortCause(outcome))) throw outcome;
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
    const attempt = startAttempt(ctx, this.options.timeoutMs);
    try {
      const { url, response } = await this.open(
        start,
        // The file as stored, please; a server that compresses anyway is decoded below.
        {
          headers: { accept: '*/*', 'accept-encoding': 'identity' },
          credentials: options.credentials,
          credentialOrigin: options.credentialOrigin,
          anyOrigin: true,
          guard: options.guard,
          hosts: options.hosts,
        },
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
      const described = transportError(error, ctx, shownStart, attempt, this.options.timeoutMs);
      const kind = error instanceof ChatExportError || ctx.signal?.aborted ? undefined : attempt.timedOut() ? 'timeout' : hostFailureKind(error);
      if (kind && described instanceof RemoteError && attempt.host !== undefined) {
        throw new UnreachableHostError(described.message, attempt.host, kind, { cause: error, retryable: kind === 'timeout' });
      }
      throw described;
    } finally {
      attempt.done();
    }
  }

  /** The pools of guarded downloads: one guard per run (the media stage's); another one replaces it. */
  private guardedDispatchers(guard: AddressGuard): Dispatchers {
    if (this.guarded?.guard !== guard) {
      void this.guarded?.dispatchers.close();
      this.guarded = { guard, dispatchers: createDispatchers(this.options.env ?? process.env, guard) };
    }
    return this.guarded.dispatchers;
  }

  /**
   * The one redirect loop, for API requests and downloads alike. Each hop
   * waits for its host's rate limit and counts as a request; `credentials`
   * go only to `credentialOrigin`, hop by hop. Returns the first answer that
   * is not a redirect (its body unread).
   */
  private async open(
    start: URL,
    hop: {
      headers: Record<string, string>;
      credentials: Record<string, string>;
      credentialOrigin: string | undefined;
      anyOrigin: boolean;
      guard?: AddressGuard | undefined;
      hosts?: HostBreaker | undefined;
      rateLimit?: RateLimitHeaders | undefined;
    },
    ctx: RequestContext,
    attempt: Pick<Attempt, 'signal' | 'arm'> & { host?: string | undefined },
  ): Promise<{ url: URL; response: Dispatcher.ResponseData; withoutCredentials: boolean; sentAt: number }> {
    const shownStart = shownLazily(start);
    const signal = attempt.signal;
    let url = start;
    let withoutCredentials = false;
    // Credentials go to their origin only while every hop so far was on it: a URL elsewhere that redirects into the
    // API's origin chose that request, and must not have the token sent with it.
    let onCredentialOrigin = hop.credentialOrigin !== undefined;
    const dispatchers = hop.guard ? this.guardedDispatchers(hop.guard) : this.dispatchers;
    // when the first hop left: what came before it was waiting for a turn (rate limit, budget, Retry-After)
    let sentAt = 0;
    for (let n = 0; ; n++) {
      // A host given up earlier (a first URL there, or a redirect to it) fails at once, without waiting for its turn.
      const skipped = hop.hosts?.skip(url.host);
      if (skipped) throw new UnreachableHostError(`${ctx.label}: ${redactUrl(url)} ${skipped}`, url.host, 'given up');
      attempt.host = url.host;
      // Before the request (and its turn), so that a host reached through a proxy is checked too.
      await hop.guard?.check(url);
      // A wait for the server's stated budget, the rate limit or a Retry-After is not the server being
      // slow: --timeout starts after it.
      const budget = hop.rateLimit ? await this.budgets.take(url, hop.rateLimit, ctx.label, ctx.signal) : undefined;
      let response: Dispatcher.ResponseData | undefined;
      let started = 0;
      try {
        await this.limiter.acquire(url.host, ctx.signal);
        // The host may have been given up while this request waited for its turn.
        const givenUp = hop.hosts?.skip(url.host);
        if (givenUp) throw new UnreachableHostError(`${ctx.label}: ${redactUrl(url)} ${givenUp}`, url.host, 'given up');
        attempt.arm();
        if (this.closed) throw new RemoteError(`${ctx.label}: the run is ending; ${redactUrl(url)} was not requested`);
        onCredentialOrigin &&= url.origin === hop.credentialOrigin;
        const trusted = onCredentialOrigin;
        if (!trusted && Object.keys(hop.credentials).length > 0) withoutCredentials = true;
        started = Date.now();
        if (n === 0) sentAt = started;
        // Counted once it is written to the socket: a request asked for ahead that the walk no longer needs is
        // aborted while it waits for a connection, never sent, and is no request (it was counted as one).
        const sent = whenSent(() => {
          this.stats.requests++;
          if (ctx.stats) ctx.stats.requests++;
        });
        const answer = request(dispatchers.for(url), url, {
          method: 'GET',
          headers: { ...hop.headers, 'user-agent': 'chat-export', ...(trusted ? hop.credentials : {}) },
          signal,
        });
        sent.dispatched();
        try {
          response = await answer;
        } catch (error) {
          // Never written, but tried (no connection, a timeout): an attempt. Withdrawn by the run's stop: nothing.
          if (!ctx.signal?.aborted) sent.failed();
          throw error;
        }
      } finally {
        budget?.settle(response?.headers);
      }
      const status = response.statusCode;
      if (!REDIRECTS.has(status)) return { url, response, withoutCredentials, sentAt };
      // A redirect's own body is small: read it so the connection stays in the pool.
      await response.body.dump({ limit: 64 * 1024 }).catch(() => {});
      const next = followRedirect(url, response.headers.location, n, ctx.label, url === start ? shownStart() : redactUrl(url), hop.anyOrigin);
      this.options.logger.debug(`GET ${redactUrl(url)} ${status} ${Date.now() - started} ms → ${redactUrl(next)}`);
      url = next;
    }
  }
}

/** "name not found, ENOTFOUND", "no answer in time": what a host failure was, for the line that gives the host up. */
function shortCause(error: UnreachableHostError): string {
  if (error.kind === 'timeout' && !hostFailureKind(error.cause)) return 'no answer in time';
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  const what = error.kind === 'dns' ? 'name not found' : error.kind === 'unreachable' ? 'connection refused or unreachable' : 'timed out';
  return typeof code === 'string' ? `${what}, ${code}` : what;
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
