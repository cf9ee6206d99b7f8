import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

import { ChatExportError, RemoteError } from '../../src/errors.js';
import { HttpClient, MAX_REDIRECTS, followRedirect } from '../../src/http/client.js';
import type { Logger } from '../../src/log.js';
import { scriptedServer, type Cleanup } from '../helpers/servers.js';

const cleanups: Cleanup[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const quiet: Logger = { verbosity: 'verbose', error() {}, warn() {}, info() {}, debug() {} };

function client(maxBodyBytes?: number): HttpClient {
  const http = new HttpClient({ timeoutMs: 5000, retries: 2, rate: 1000, retryBaseMs: 5, logger: quiet, ...(maxBodyBytes ? { maxBodyBytes } : {}) });
  cleanups.push(() => http.close());
  return http;
}

const page = { code: '0', data: [{ id: '1', createAt: '1000', content: '你好 — compressed' }] };
const parse = (body: unknown) => z.object({ code: z.literal('0'), data: z.array(z.object({ id: z.string(), content: z.string() })) }).parse(body);

async function failure(promise: Promise<unknown>): Promise<ChatExportError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ChatExportError);
  return error as ChatExportError;
}

describe('compressed bodies, as nginx sends them', () => {
  const encoders: Array<[string, (b: Buffer) => Buffer]> = [
    ['gzip', (b) => gzipSync(b)],
    ['br', (b) => brotliCompressSync(b)],
    ['deflate', (b) => deflateSync(b)],
  ];
  it.each(encoders)('asks for %s with Accept-Encoding and decodes it', async (coding, encode) => {
    const server = await scriptedServer(cleanups, (_req, res) => {
      const body = encode(Buffer.from(JSON.stringify(page)));
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': coding, 'content-length': body.length });
      res.end(body);
    });
    const result = await client().getJson({ url: new URL(`${server.url}/x`), headers: {} }, parse, { label: 'test' });
    expect(result.data[0]!.content).toBe('你好 — compressed');
    expect(String(server.hits[0]!.headers['accept-encoding'])).toMatch(/gzip/);
    expect(String(server.hits[0]!.headers['accept-encoding'])).toMatch(/br/);
    expect(String(server.hits[0]!.headers['accept-encoding'])).toMatch(/deflate/);
  });

  it('decodes raw deflate (no zlib header) as browsers and curl do', async () => {
    const server = await scriptedServer(cleanups, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'deflate' });
      res.end(deflateRawSync(Buffer.from(JSON.stringify(page))));
    });
    const result = await client().getJson({ url: new URL(`${server.url}/x`), headers: {} }, parse, { label: 'test' });
    expect(result.data).toHaveLength(1);
  });

  it('a compression bomb hits the size cap on its decoded size, not memory', async () => {
    // 64 MiB of zeros in a JSON string gzips to ~64 KiB: under the cap on the wire, far over it decoded.
    const inner = Buffer.alloc(64 * 1024 * 1024, 0x30);
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"code":"0","data":[],"pad":"'), inner, Buffer.from('"}')]));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const server = await scriptedServer(cleanups, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bomb.length });
      res.end(bomb);
    });
    const before = process.memoryUsage().rss;
    const error = await failure(client(1024 * 1024).getJson({ url: new URL(`${server.url}/x`), headers: {} }, parse, { label: 'test' }));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.message).toMatch(/size cap/);
    // a cap error is not retried: the server would send the same bomb again
    expect(server.hits).toHaveLength(1);
    expect(process.memoryUsage().rss - before).toBeLessThan(48 * 1024 * 1024);
  });

  it('a corrupt gzip body is a remote error, retried, never an internal one', async () => {
    const server = await scriptedServer(cleanups, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(Buffer.from('this is not gzip at all'));
    });
    const error = await failure(client().getJson({ url: new URL(`${server.url}/x`), headers: {} }, parse, { label: 'test' }));
    expect(error).toBeInstanceOf(RemoteError);
    expect(server.hits).toHaveLength(3);
  });
});

describe('a UTF-8 BOM before the JSON', () => {
  it('is stripped, also inside a gzip body', async () => {
    const text = `\uFEFF${JSON.stringify(page)}`;
    const server = await scriptedServer(cleanups, (_req, res, n) => {
      const body = n === 1 ? Buffer.from(text) : gzipSync(Buffer.from(text));
      res.writeHead(200, { 'content-type': 'application/json', ...(n === 1 ? {} : { 'content-encoding': 'gzip' }) });
      res.end(body);
    });
    const http = client();
    expect((await http.getJson({ url: new URL(`${server.url}/a`), headers: {} }, parse, { label: 'test' })).data).toHaveLength(1);
    expect((await http.getJson({ url: new URL(`${server.url}/b`), headers: {} }, parse, { label: 'test' })).data).toHaveLength(1);
    expect(server.hits).toHaveLength(2);
  });
});

describe('redirects', () => {
  it.each([301, 302, 303, 307, 308])('%i within the same origin is followed with the credentials', async (status) => {
    const server = await scriptedServer(cleanups, (req, res) => {
      if (req.url === '/old/x?a=1') {
        res.writeHead(status, { location: '/new/x?a=1' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(page));
    });
    const result = await client().getJson({ url: new URL(`${server.url}/old/x?a=1`), headers: { authorization: 'Bearer s3cret-token' } }, parse, { label: 'test' });
    expect(result.data).toHaveLength(1);
    expect(server.hits.map((h) => h.url)).toEqual(['/old/x?a=1', '/new/x?a=1']);
    expect(server.hits[1]!.headers.authorization).toBe('Bearer s3cret-token');
  });

  it.each([301, 302, 307, 308])('%i to another origin is not followed: an error naming the Location, no retry, the credential never sent there', async (status) => {
    const other = await scriptedServer(cleanups, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(page));
    });
    const server = await scriptedServer(cleanups, (_req, res) => {
      res.writeHead(status, { location: `${other.url}/stolen?x=1` }).end();
    });
    const error = await failure(
      client().getJson({ url: new URL(`${server.url}/x`), headers: { authorization: 'Bearer s3cret-token' } }, parse, { label: 'relation channel C1' }),
    );
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.exitCode).toBe(4);
    expect(error.message).toContain(`${other.url}/stolen?x=1`);
    expect(error.message).toContain('relation channel C1');
    expect(`${error.message} ${error.hint}`).not.toMatch(/later/i);
    expect(other.hits).toHaveLength(0);
    expect(server.hits).toHaveLength(1);
  });

  it(`more than ${MAX_REDIRECTS} hops is an error, not a loop`, async () => {
    const server = await scriptedServer(cleanups, (req, res) => {
      const n = Number((req.url ?? '').slice(1)) || 0;
      res.writeHead(302, { location: `/${n + 1}` }).end();
    });
    const error = await failure(client().getJson({ url: new URL(`${server.url}/0`), headers: {} }, parse, { label: 'test' }));
    expect(error.message).toMatch(/more than 5 redirects/);
    expect(server.hits).toHaveLength(MAX_REDIRECTS + 1);
  });

  it('a redirect without a Location says so instead of "HTTP 301 … empty body"', async () => {
    const server = await scriptedServer(cleanups, (_req, res) => res.writeHead(301).end());
    const error = await failure(client().getJson({ url: new URL(`${server.url}/x`), headers: {} }, parse, { label: 'test' }));
    expect(error.message).toMatch(/redirect but no Location/);
  });

  it('the rule itself: http → https on the same host is allowed, a host or scheme downgrade is not', () => {
    const from = new URL('http://api.example/v1/list');
    expect(followRedirect(from, 'https://api.example/v1/list', 0, 'l', 's').href).toBe('https://api.example/v1/list');
    expect(followRedirect(new URL('https://api.example:8443/a'), '/b', 0, 'l', 's').href).toBe('https://api.example:8443/b');
    expect(() => followRedirect(new URL('https://api.example/a'), 'http://api.example/a', 0, 'l', 's')).toThrow(/another origin/);
    expect(() => followRedirect(from, 'https://evil.example/v1/list', 0, 'l', 's')).toThrow(/evil\.example/);
    expect(() => followRedirect(from, 'http://api.example:8080/v1/list', 0, 'l', 's')).toThrow(/another origin/);
    // userinfo in a Location is never printed
    expect(() => followRedirect(from, 'https://user:pw-in-location@evil.example/', 0, 'l', 's')).toThrow(/^(?!.*pw-in-location)/s);
  });
});

describe('a closed client', () => {
  it('fails a late request at once instead of retrying a destroyed pool', async () => {
    const server = await scriptedServer(cleanups, (_req, res) => res.writeHead(200).end(JSON.stringify(page)));
    const http = client();
    await http.close();
    const error = await failure(http.getJson({ url: new URL(`${server.url}/x`), headers: {} }, parse, { label: 'test' }));
    expect(error.message).not.toMatch(/retr/);
    expect(server.hits).toHaveLength(0);
  });
});

describe('media downloads go through the same redirects, decoding and caps', () => {
  const save = async (body: AsyncIterable<Buffer>): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk);
    return Buffer.concat(chunks);
  };
  const download = (http: HttpClient, url: string, credentialOrigin: string, maxBytes = 1024 * 1024) =>
    http.download(new URL(url), { ctx: { label: 'relation channel C1 media' }, maxBytes, credentials: { authorization: 'Bearer s3cret-token' }, credentialOrigin }, save);

  it('a file the server gzips anyway is stored decoded', async () => {
    const file = Buffer.from('\x89PNG pretend picture bytes '.repeat(50));
    const server = await scriptedServer(cleanups, (_req, res) => {
      const body = gzipSync(file);
      res.writeHead(200, { 'content-type': 'image/png', 'content-encoding': 'gzip', 'content-length': body.length }).end(body);
    });
    expect(await download(client(), `${server.url}/a.png`, server.url)).toEqual(file);
  });

  it('a gzip bomb hits the media cap on its decoded size, without retries', async () => {
    const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024));
    const server = await scriptedServer(cleanups, (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-encoding': 'gzip', 'content-length': bomb.length }).end(bomb);
    });
    const error = await failure(download(client(), `${server.url}/bomb.png`, server.url, 256 * 1024));
    expect(error.message).toMatch(/over the 262144-byte media size cap/);
    expect(server.hits).toHaveLength(1);
  });

  it('a CDN hand-off is followed, the credential sent to the API origin only, hop by hop', async () => {
    const cdn = await scriptedServer(cleanups, (_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end('cdn bytes'));
    const api = await scriptedServer(cleanups, (req, res) => {
      if (req.url === '/files/1') res.writeHead(302, { location: '/files/1/signed' }).end();
      else res.writeHead(307, { location: `${cdn.url}/blob/1` }).end();
    });
    expect((await download(client(), `${api.url}/files/1`, api.url)).toString()).toBe('cdn bytes');
    expect(api.hits.map((hit) => [hit.url, hit.headers.authorization])).toEqual([
      ['/files/1', 'Bearer s3cret-token'],
      ['/files/1/signed', 'Bearer s3cret-token'],
    ]);
    expect(cdn.hits.map((hit) => [hit.url, hit.headers.authorization])).toEqual([['/blob/1', undefined]]);
  });

  it(`more than ${MAX_REDIRECTS} hops is the same error as for the API`, async () => {
    const server = await scriptedServer(cleanups, (req, res) => res.writeHead(302, { location: `${req.url}x` }).end());
    const error = await failure(download(client(), `${server.url}/m`, server.url));
    expect(error.message).toMatch(/more than 5 redirects/);
    expect(server.hits).toHaveLength(MAX_REDIRECTS + 1);
  });
});

describe('the API: a redirect hop waits for the rate limit and counts as a request', () => {
  it('two hops, two requests in the stats', async () => {
    const server = await scriptedServer(cleanups, (req, res) => {
      if (req.url === '/a') res.writeHead(301, { location: '/b' }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(page));
    });
    const http = client();
    await http.getJson({ url: new URL(`${server.url}/a`), headers: {} }, parse, { label: 'test' });
    expect(http.stats.requests).toBe(2);
  });
});

describe('--timeout is the server\'s time, not the rate limit\'s', () => {
  it('a request that waits longer than --timeout for its turn (--rate 2 …) still gets its full timeout once sent', async () => {
    const server = await scriptedServer(cleanups, (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(page)));
    const http = new HttpClient({ timeoutMs: 200, retries: 0, rate: 2, retryBaseMs: 5, logger: quiet });
    cleanups.push(() => http.close());
    const get = () => http.getJson({ url: new URL(`${server.url}/x`), headers: {} }, parse, { label: 'test' });
    // three in a row: the second and third wait ~500 ms each for the token bucket, longer than the 200 ms timeout
    for (let k = 0; k < 3; k++) expect((await get()).data).toHaveLength(1);
    expect(server.hits).toHaveLength(3);
  });
});
