import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

import { startFixtureServer, type FaultRule, type FixtureServer } from '../../fixtures/server.js';
import { AuthError, ChatExportError, RemoteError } from '../../src/errors.js';
import { HttpClient, type HttpClientOptions } from '../../src/http/client.js';
import type { Logger } from '../../src/log.js';
import { registerSecret } from '../../src/text/sanitize.js';

// ---------------------------------------------------------------- helpers

interface CapturedLogger extends Logger {
  lines: Array<{ level: string; line: string }>;
  text(): string;
}

function captureLogger(): CapturedLogger {
  const lines: Array<{ level: string; line: string }> = [];
  const push = (level: string) => (line: string) => lines.push({ level, line });
  return {
    verbosity: 'verbose',
    lines,
    error: push('error'),
    warn: push('warn'),
    info: push('info'),
    debug: push('debug'),
    text: () => lines.map((l) => `${l.level}: ${l.line}`).join('\n'),
  };
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function client(overrides: Partial<HttpClientOptions> = {}): { http: HttpClient; logger: CapturedLogger } {
  const logger = captureLogger();
  const http = new HttpClient({ timeoutMs: 2000, retries: 3, rate: 1000, retryBaseMs: 5, logger, ...overrides });
  cleanups.push(() => http.close());
  return { http, logger };
}

async function fixture(faults: FaultRule[] = [], extra: { auth?: { token?: string; apiKey?: string } } = {}): Promise<FixtureServer> {
  const server = await startFixtureServer({ channels: [{ provider: 'relation', id: 'C1', count: 30 }], faults, ...extra });
  cleanups.push(() => server.close());
  return server;
}

/** A relation page request against the fixture server. */
function relationRequest(server: FixtureServer, query = 'channelUuid=C1&limit=10') {
  return { url: new URL(`${server.url}/api/v1/message/list?${query}`), headers: {} };
}

const relationPage = z.object({ code: z.literal('0'), data: z.array(z.object({ id: z.string(), createAt: z.string().regex(/^\d+$/) })) });
const parseRelation = (body: unknown) => relationPage.parse(body);

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

/** A tiny server on port 0 whose n-th request (1-based) is answered by `handler`; logs arrival times. */
async function tinyServer(handler: Handler): Promise<{ url: string; hits: Array<{ n: number; at: number; url: string }> }> {
  const hits: Array<{ n: number; at: number; url: string }> = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    n++;
    hits.push({ n, at: performance.now(), url: req.url ?? '' });
    handler(req, res, n);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close').catch(() => {});
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const ok = { code: '0', data: [{ id: '1', createAt: '1000' }] };

async function failure(promise: Promise<unknown>): Promise<ChatExportError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ChatExportError);
  return error as ChatExportError;
}

// ---------------------------------------------------------------- tests

describe('HttpClient against the fixture server', () => {
  it('returns the parsed page and counts one request', async () => {
    const server = await fixture();
    const { http } = client();
    const page = await http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' });
    expect(page.data).toHaveLength(10);
    expect(http.stats).toEqual({ requests: 1, retries: 0 });
  });

  it.each<[string, FaultRule]>([
    ['three 503s in a row', { kind: 'status', status: 503, nth: 1, times: 3 }],
    ['an HTML 502 page', { kind: 'html', nth: 1, times: 2 }],
    ['a 200 with truncated JSON', { kind: 'truncate', nth: 1, times: 2 }],
    ['a connection reset mid-body', { kind: 'reset', nth: 1, times: 2 }],
    ['a 200 whose body fails the schema', { kind: 'body', body: { code: '0', data: 'nope' }, nth: 1, times: 2 }],
    ['408, 425, 500 and 504', { kind: 'status', status: 408, nth: 1 }],
  ])('survives %s', async (_name, rule) => {
    const rules: FaultRule[] = [rule];
    if (rule.kind === 'status' && rule.status === 408) {
      rules.push({ kind: 'status', status: 425, nth: 2 }, { kind: 'status', status: 500, nth: 3 }, { kind: 'status', status: 504, nth: 4 });
    }
    const server = await fixture(rules);
    const { http } = client({ retries: 5 });
    const page = await http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' });
    expect(page.data).toHaveLength(10);
    const faulted = server.log.filter((entry) => entry.fault !== undefined).length;
    expect(faulted).toBeGreaterThanOrEqual(2);
    expect(server.log).toHaveLength(faulted + 1);
    expect(http.stats.retries).toBe(faulted);
  });

  it('--retries N means N retries after the first attempt, then a RemoteError naming label, URL and the cause', async () => {
    const server = await fixture([{ kind: 'status', status: 500 }]);
    const { http } = client({ retries: 2 });
    const error = await failure(http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' }));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.exitCode).toBe(4);
    expect(server.log).toHaveLength(3);
    expect(error.message).toContain('relation channel C1');
    expect(error.message).toContain(`${server.url}/api/v1/message/list?channelUuid=C1`);
    expect(error.message).toContain('HTTP 500');
    expect(error.message).toMatch(/gave up after 2 retries/);
    expect(error.hint).toBeTruthy();
  });

  it('retries 0 means one attempt', async () => {
    const server = await fixture([{ kind: 'status', status: 503 }]);
    const { http } = client({ retries: 0 });
    await failure(http.getJson(relationRequest(server), parseRelation, { label: 'x' }));
    expect(server.log).toHaveLength(1);
  });

  it('a persistent schema failure ends with the zod path and a short sanitized excerpt of the body', async () => {
    const body = { code: '0', data: [{ id: '1', createAt: 'yesterday' }], note: `\u001b[31mred\u0007 ${'y'.repeat(500)}` };
    const server = await fixture([{ kind: 'body', body }]);
    const { http } = client({ retries: 1 });
    const error = await failure(http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' }));
    expect(error).toBeInstanceOf(RemoteError);
    expect(server.log).toHaveLength(2);
    expect(error.message).toContain('data.0.createAt');
    expect(error.message).toContain('"createAt":"yesterday"');
    expect(error.message).not.toContain('\u001b');
    expect(error.message).not.toContain('\u0007');
    expect(error.message).not.toContain('y'.repeat(200));
  });

  it('a non-JSON 200 with raw escapes is shown stripped', async () => {
    const server = await fixture([{ kind: 'body', body: '\u001b]0;pwned\u0007\u001b[31mERROR\u001b[0m\u0000 upstream died' }]);
    const { http } = client({ retries: 1 });
    const error = await failure(http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' }));
    expect(error.message).toMatch(/not JSON/);
    expect(error.message).toContain('ERROR upstream died');
    expect(error.message).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(error.message).not.toContain('pwned');
  });

  it('a truncated body is described as such, with its tail', async () => {
    const server = await fixture([{ kind: 'truncate' }]);
    const { http } = client({ retries: 1 });
    const error = await failure(http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' }));
    expect(error.message).toMatch(/not JSON/);
    expect(error.message).toMatch(/bytes, ends/);
  });

  it('an HTML error page is described as HTML, with its text and not its tags', async () => {
    const server = await fixture([{ kind: 'html', status: 502 }]);
    const { http } = client({ retries: 1 });
    const error = await failure(http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' }));
    expect(error.message).toContain('HTTP 502');
    expect(error.message).toMatch(/HTML page: .*502 Bad Gateway/);
    expect(error.message).not.toContain('<html>');
  });

  it('a response slower than the timeout is abandoned and retried', async () => {
    // The server would answer after 20 s; it stops waiting when the client hangs up.
    const server = await fixture([{ kind: 'delay', ms: 20_000, nth: 1 }]);
    const { http } = client({ timeoutMs: 200 });
    const page = await http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' });
    expect(page.data).toHaveLength(10);
    // the first request was never answered: the client let go of it (not a clock reading, which a loaded machine skews)
    expect(server.log[0]!.status).toBe(0);
    expect(server.log).toHaveLength(2);
    expect(http.stats.retries).toBe(1);
  });

  it('a timeout that persists says so', async () => {
    const server = await fixture([{ kind: 'delay', ms: 1000 }]);
    const { http } = client({ timeoutMs: 100, retries: 1 });
    const error = await failure(http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' }));
    expect(error.message).toMatch(/no complete answer .* within 100 ms/);
  });

  it('the timeout covers the body too: headers then a stall is abandoned and retried', async () => {
    const { url, hits } = await tinyServer((_req, res, n) => {
      if (n === 1) {
        const text = JSON.stringify(ok);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': text.length });
        res.write(text.slice(0, 5)); // and never the rest
      } else json(res, 200, ok);
    });
    const { http } = client({ timeoutMs: 200 });
    // A stall the timeout did not cover would hang here until the test's own timeout fails it.
    const page = await http.getJson({ url: new URL(`${url}/x`), headers: {} }, parseRelation, { label: 'x' });
    expect(page.data).toHaveLength(1);
    expect(hits).toHaveLength(2);
  });

  it.each([400, 404])('does not retry HTTP %i', async (status) => {
    const server = await fixture([{ kind: 'status', status }]);
    const { http } = client();
    const error = await failure(http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' }));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.exitCode).toBe(4);
    expect(server.log).toHaveLength(1);
  });

  it.each([401, 403])('HTTP %i is an AuthError (exit 3), not retried', async (status) => {
    const server = await fixture([{ kind: 'status', status }]);
    const { http } = client();
    const error = await failure(http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' }));
    expect(error).toBeInstanceOf(AuthError);
    expect(error.exitCode).toBe(3);
    expect(server.log).toHaveLength(1);
  });

  it('refuses a body whose Content-Length is over the cap without reading it, and does not retry', async () => {
    const server = await fixture([{ kind: 'huge', bytes: 70 * 1024 * 1024, contentLength: true }]);
    const { http } = client();
    const started = performance.now();
    const error = await failure(http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' }));
    expect(performance.now() - started).toBeLessThan(5000);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.message).toMatch(/exceeds the 64 MiB size cap/);
    expect(server.log).toHaveLength(1);
  });

  it('stops reading a body without Content-Length once it passes the cap', async () => {
    const server = await fixture([{ kind: 'huge', bytes: 4 * 1024 * 1024 }]);
    const { http } = client({ maxBodyBytes: 1024 * 1024 });
    const error = await failure(http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' }));
    expect(error.message).toMatch(/exceeds the 1 MiB size cap/);
    expect(server.log).toHaveLength(1);
  });

  it('a 429 with Retry-After pauses the host: the retry waits the asked time, and the wait is said', async () => {
    const server = await fixture([{ kind: 'status', status: 429, nth: 1, headers: { 'Retry-After': '2' } }]);
    const { http, logger } = client();
    await http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' });
    expect(server.log).toHaveLength(2);
    expect(server.log[1]!.start - server.log[0]!.end!).toBeGreaterThanOrEqual(1900);
    expect(logger.lines.some((l) => l.level === 'info' && /rate limited, waiting 2 s/.test(l.line))).toBe(true);
  });

  it('a Retry-After over the ceiling fails at once instead of sleeping', async () => {
    const server = await fixture([{ kind: 'status', status: 503, headers: { 'Retry-After': '7200' } }]);
    const { http, logger } = client({ maxRetryAfterMs: 60_000 });
    // Sleeping the 7200 s would outlast the test's own timeout: the failure itself shows it did not.
    const error = await failure(http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' }));
    expect(error.message).toMatch(/asked to wait 7200 s/);
    expect(logger.lines.some((l) => /waiting/.test(l.line))).toBe(false);
    expect(server.log).toHaveLength(1);
  });

  it('a Retry-After pause holds the other requests queued for that host, not those of another host', async () => {
    const { url, hits } = await tinyServer((_req, res, n) => {
      if (n === 1) json(res, 429, { error: 'slow down' }, { 'Retry-After': '1' });
      else json(res, 200, ok);
    });
    const other = await tinyServer((_req, res) => json(res, 200, ok));
    const { http } = client({ rate: 4 });
    const get = (base: string, path: string) => http.getJson({ url: new URL(`${base}${path}`), headers: {} }, parseRelation, { label: path });
    // a goes first and is refused; b and c were queued behind it (250 ms apart at rate 4)
    const a = get(url, '/a');
    const b = get(url, '/b');
    const c = get(url, '/c');
    await new Promise((resolve) => setTimeout(resolve, 150));
    const d = await get(other.url, '/d');
    expect(d.data).toHaveLength(1);
    await Promise.all([a, b, c]);
    const first = hits[0]!;
    expect(first.url).toBe('/a');
    // the other host was served while this one was paused: before anything queued here went out
    for (const hit of hits.slice(1)) expect(other.hits[0]!.at).toBeLessThan(hit.at);
    // nothing reached the paused host in the second it asked for
    for (const hit of hits.slice(1)) expect(hit.at - first.at).toBeGreaterThanOrEqual(950);
    expect(hits.map((h) => h.url).sort()).toEqual(['/a', '/a', '/b', '/c']);
  });

  it('an HTTP-date Retry-After is honoured', async () => {
    const { url, hits } = await tinyServer((_req, res, n) => {
      // HTTP dates have whole seconds: two seconds ahead is at least one second of wait
      if (n === 1) json(res, 503, { error: 'busy' }, { 'Retry-After': new Date(Date.now() + 2000).toUTCString() });
      else json(res, 200, ok);
    });
    const { http } = client();
    await http.getJson({ url: new URL(`${url}/x`), headers: {} }, parseRelation, { label: 'x' });
    expect(hits).toHaveLength(2);
    expect(hits[1]!.at - hits[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('a backoff over a second is said on stderr', async () => {
    const server = await fixture([{ kind: 'status', status: 503, nth: 1 }]);
    // base 2.5 s: the first retry waits below 2.5 s; draw it high with a stubbed random
    const random = Math.random;
    Math.random = () => 0.9;
    try {
      const { http, logger } = client({ retryBaseMs: 1500 });
      await http.getJson(relationRequest(server), parseRelation, { label: 'relation channel C1' });
      expect(logger.lines.some((l) => l.level === 'info' && /relation channel C1: .*HTTP 503.*retrying in 2 s/.test(l.line))).toBe(true);
    } finally {
      Math.random = random;
    }
  });

  it('a network error (nothing listening) is retried, then reported as a network error', async () => {
    const { url } = await tinyServer(() => {});
    // take the port, then free it
    const port = new URL(url).port;
    await cleanups.pop()!();
    const { http } = client({ retries: 2 });
    const error = await failure(http.getJson({ url: new URL(`http://127.0.0.1:${port}/x`), headers: {} }, parseRelation, { label: 'x' }));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.message).toMatch(/network error on http:\/\/127\.0\.0\.1:\d+\/x: .*ECONNREFUSED/);
    expect(http.stats.requests).toBe(3);
  });

  it('an abort during the backoff ends the request promptly', async () => {
    const server = await fixture([{ kind: 'status', status: 503 }]);
    // The first backoff drawn high (9 s of a 10 s ceiling), so "promptly" means: before that backoff was over.
    const random = Math.random;
    Math.random = () => 0.9;
    try {
      const { http } = client({ retryBaseMs: 10_000, retries: 5 });
      const controller = new AbortController();
      const started = performance.now();
      const pending = http.getJson(relationRequest(server), parseRelation, { label: 'x', signal: controller.signal });
      setTimeout(() => controller.abort(new Error('interrupted')), 100);
      await expect(pending).rejects.toThrow('interrupted');
      expect(performance.now() - started).toBeLessThan(9_000);
      expect(server.log).toHaveLength(1);
    } finally {
      Math.random = random;
    }
  });

  it('-v logs each request: method, URL without secrets, status and ms; no credential anywhere', async () => {
    const secret = 'sk-http-client-secret-77';
    registerSecret(secret);
    const server = await fixture([{ kind: 'status', status: 503, nth: 1 }], { auth: { token: secret } });
    const { http, logger } = client();
    const req = {
      url: new URL(`${server.url}/api/v1/message/list?channelUuid=C1&limit=10&access_token=${secret}`),
      headers: { Authorization: `Bearer ${secret}` },
    };
    await http.getJson(req, parseRelation, { label: 'relation channel C1' });
    const debug = logger.lines.filter((l) => l.level === 'debug').map((l) => l.line);
    expect(debug.some((line) => /^GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/message\/list\?channelUuid=C1&limit=10&access_token=•••• 200 \d+ ms( \(after waiting \d+ ms for its turn\))?$/.test(line))).toBe(true);
    expect(debug.some((line) => /^GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/message\/list\?.* failed after \d+ ms: .*HTTP 503/.test(line))).toBe(true);
    expect(logger.text()).not.toContain(secret);
  });
});

describe('HttpClient reading bodies into reused buffers', () => {
  /** A body of about `bytes` bytes, distinct per `n`, with text of 1- to 4-byte UTF-8 characters. */
  const bodyFor = (n: number, bytes: number) => {
    const unit = `${n}:a中😀é\u2028`;
    const texts: string[] = [];
    for (let size = 0; size < bytes; size += unit.length * 8) texts.push(`${unit.repeat(4)}#${texts.length}`);
    return { n, texts };
  };
  const sizes = [300 * 1024, 20, 1200 * 1024, 600 * 1024, 5, 9 * 1024 * 1024, 40, 2 * 1024 * 1024];

  async function slowServer(): Promise<string> {
    // Written in odd-sized pieces with pauses, so that characters split across chunks and the
    // bodies of concurrent requests arrive interleaved.
    const { url } = await tinyServer((req, res) => {
      const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n'));
      const bytes = Buffer.from((n % 3 === 0 ? '\ufeff' : '') + JSON.stringify(bodyFor(n, sizes[n]!)));
      res.writeHead(200, { 'content-type': 'application/json' });
      let at = 0;
      const next = () => {
        if (at >= bytes.length) return res.end();
        const piece = 7_777 + ((n * 1_013) % 50_000);
        res.write(bytes.subarray(at, at + piece));
        at += piece;
        if (at % 5 === 0) setTimeout(next, 1);
        else setImmediate(next);
      };
      next();
    });
    return url;
  }

  // These two are about bytes, not speed: the server trickles 16 MiB in small pieces, which on a loaded
  // machine takes longer than client()'s 2 s timeout; a hang is bounded by the test's own timeout.
  it('concurrent answers of every size each decode to their own body, whole', async () => {
    const url = await slowServer();
    const { http } = client({ rate: 100_000, timeoutMs: 50_000 });
    const bodies = await Promise.all(
      sizes.map((_, n) => http.getJson({ url: new URL(`${url}/?n=${n}`), headers: {} }, (body) => body, { label: 'x' })),
    );
    bodies.forEach((body, n) => expect(body).toEqual(bodyFor(n, sizes[n]!)));
    // What the client keeps for the next pages is bounded, however large the burst was (16 MiB of bodies here).
    const kept = (http as unknown as { bodyBuffers: Buffer[] }).bodyBuffers;
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.reduce((sum, buffer) => sum + buffer.length, 0)).toBeLessThanOrEqual(8 * 1024 * 1024);
  });

  it('one after another, a small answer after a large one is only its own bytes', async () => {
    const url = await slowServer();
    const { http } = client({ rate: 100_000, timeoutMs: 50_000 });
    for (const n of [2, 1, 5, 4, 0, 6, 3, 1]) {
      const body = await http.getJson({ url: new URL(`${url}/?n=${n}`), headers: {} }, (b) => b, { label: 'x' });
      expect(body).toEqual(bodyFor(n, sizes[n]!));
    }
  });
});

describe('HttpClient under a caller stop signal', () => {
  it('stopping aborts every request in flight under it at once, with the stop reason and no listener warning', async () => {
    const { url } = await tinyServer(() => {
      // never answers
    });
    const { http } = client({ rate: 100_000, timeoutMs: 30_000, retries: 0 });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    cleanups.push(() => void process.off('warning', onWarning));
    const stop = new AbortController();
    const pending = Array.from({ length: 24 }, (_, n) =>
      http.getJson({ url: new URL(`${url}/?n=${n}`), headers: {} }, (b) => b, { label: 'x', signal: stop.signal }).then(
        () => 'answered',
        (error: unknown) => error,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const reason = new Error('stopped by the caller');
    stop.abort(reason);
    const outcomes = await Promise.all(pending);
    // Each ended with the stop's own reason: one the stop did not reach would end only at its 30 s
    // timeout, with a timeout error (a clock reading here would measure the machine's load instead).
    expect(outcomes.every((outcome) => outcome === reason)).toBe(true);
    // a request started after the stop does not go out
    await expect(http.getJson({ url: new URL(`${url}/?late`), headers: {} }, (b) => b, { label: 'x', signal: stop.signal })).rejects.toBe(reason);
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.map(String)).toEqual([]);
  });

  it('requests that finish leave the stop signal as they found it: a later stop aborts only what is in flight', async () => {
    const server = await fixture();
    const { http } = client({ rate: 100_000 });
    const stop = new AbortController();
    for (let i = 0; i < 30; i++) await http.getJson(relationRequest(server), parseRelation, { label: 'x', signal: stop.signal });
    stop.abort(new Error('later'));
    expect(server.log).toHaveLength(30);
  });
});
