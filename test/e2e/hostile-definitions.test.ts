/**
 * HTTP as real servers speak it, for every kind of provider on main: the
 * built-ins (relation's time cursor, discuz's pages) and three APIs known only
 * through a config definition (tokenchat's next token, offsetchat's offsets,
 * linkchat's Link header). The fixture server answers compressed with a BOM,
 * sends one message with a time no date can hold, redirects, and sits behind
 * TLS and a CONNECT proxy; each export is checked exactly against its ground truth.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { startFixtureServer, type Api, type CanonicalMessage, type FixtureServer } from '../../fixtures/server.js';
import { API_KEY, TOKEN, createSandbox, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { exportProblems, linesOf } from '../helpers/ground-truth.js';
import { countingProxy, scriptedServer, TEST_CA, tlsFront, type Cleanup } from '../helpers/servers.js';
import { readmeExample } from '../helpers/readme.js';

const cleanups: Cleanup[] = [];
const boxes: Sandbox[] = [];
afterAll(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  for (const box of boxes) box.cleanup();
});

const linkchat = {
  auth: [{ type: 'query', name: 'access_token', from: 'token' }],
  request: { path: '/api/rooms/{channel}/messages' },
  paging: { type: 'link', from: { header: 'Link' }, size: { param: 'per_page', default: 30, max: 100 } },
  order: 'newest-first',
  records: '@',
  fields: {
    id: 'id',
    time: { path: 'created_at', format: 'iso' },
    sender: { id: 'author.id', name: 'author.login', avatar: 'author.avatar_url' },
    text: 'body',
    updated: { path: 'updated_at', format: 'iso' },
  },
};

function sandbox(): Sandbox {
  const box = createSandbox();
  boxes.push(box);
  mkdirSync(dirname(box.config), { recursive: true });
  writeFileSync(box.config, JSON.stringify({ profiles: {}, providers: { tokenchat: readmeExample('tokenchat'), offsetchat: readmeExample('offsetchat'), linkchat } }), { mode: 0o600 });
  return box;
}

async function serve(options: { compress?: boolean; bom?: boolean; impossible?: boolean } = {}): Promise<FixtureServer> {
  const at = (k: number) => (options.impossible ? { impossibleAt: [k] } : {});
  const server = await startFixtureServer({
    auth: { token: TOKEN, apiKey: API_KEY },
    compress: options.compress ?? false,
    bom: options.bom ?? false,
    channels: [
      { provider: 'relation', id: 'R1', count: 150, ...at(37) },
      { provider: 'discuz', id: '12', count: 120, ...at(60) },
      { provider: 'tokenchat', id: 'C024BE91L', count: 160, ...at(40) },
      { provider: 'offsetchat', id: 'GENERAL', count: 130, ...at(55) },
      { provider: 'linkchat', id: 'team/room 1', count: 90, ...at(10) },
    ],
  });
  cleanups.push(() => server.close());
  return server;
}

const APIS: Array<[Api, string]> = [
  ['relation', 'R1'],
  ['discuz', '12'],
  ['tokenchat', 'C024BE91L'],
  ['offsetchat', 'GENERAL'],
  ['linkchat', 'team/room 1'],
];

async function dump(server: FixtureServer, box: Sandbox, api: Api, channel: string, extra: string[] = [], env: Record<string, string> = {}, baseUrl = server.url): Promise<RunResult> {
  return runCli(['dump', '--provider', api, '--channel', channel, '--base-url', baseUrl, '--page-size', '20', '--rate', '1000', '--no-progress', ...extra], {
    env: box.env(env),
    timeoutMs: 60_000,
  });
}

const explain = (r: RunResult) => `exit ${r.code}\n${r.stderr.slice(0, 3000)}`;

function problems(api: Api, channel: string, result: RunResult, truth: CanonicalMessage[]): string[] {
  return exportProblems({ provider: api, channel, lines: linesOf(result.stdout), start: truth, end: truth, order: 'asc' });
}

describe('compressed answers with a BOM, and one message with an impossible time', () => {
  it.each(APIS)('%s: decoded, the impossible message named and counted missing (exit 5), every other message exported exactly', async (api, channel) => {
    const server = await serve({ compress: true, bom: true, impossible: true });
    const all = server.messages(api, channel);
    const bad = all.filter((m) => m.impossible);
    expect(bad).toHaveLength(1);
    const result = await dump(server, sandbox(), api, channel);
    expect(result.code, explain(result)).toBe(5);
    expect(result.stderr).toContain(`message ${bad[0]!.id}: timestamp out of range`);
    expect(result.stderr).toMatch(/\(1 message missing\)/);
    expect(result.stderr).not.toMatch(/internal error|gave up after|retrying/);
    expect(problems(api, channel, result, all.filter((m) => !m.impossible))).toEqual([]);
    const requests = server.log.filter((entry) => entry.provider === api);
    expect(requests.length).toBeGreaterThan(1);
    // asked for every coding nginx may answer with, and never re-asked (nothing was retried)
    for (const entry of requests) expect(String(entry.headers['accept-encoding'])).toMatch(/gzip.*deflate.*br|br/);
    expect(new Set(requests.map((entry) => entry.url)).size).toBe(requests.length);
  });
});

describe('redirects', () => {
  it.each(APIS)('%s: 301, 302, 307 and 308 within the API origin are followed (two hops in a row) with the credentials; the export is exact', async (api, channel) => {
    const server = await serve({ compress: true });
    // requests 2→3 and 6→7 answer with a redirect to the very URL asked for; the hop after each is answered normally
    [301, 302].forEach((status, k) => server.addFault({ provider: api, kind: 'redirect', status, location: '{self}{path}', nth: 2 + k }));
    [307, 308].forEach((status, k) => server.addFault({ provider: api, kind: 'redirect', status, location: '{path}', nth: 6 + k }));
    const all = server.messages(api, channel);
    const result = await dump(server, sandbox(), api, channel);
    // the fixture refuses a request without the credentials (exit 3): they went along
    expect(result.code, explain(result)).toBe(0);
    expect(problems(api, channel, result, all)).toEqual([]);
    expect(server.log.filter((entry) => entry.fault === 'redirect')).toHaveLength(4);
  });

  it.each(APIS)('%s: a redirect to another origin is not followed: exit 4 naming the Location, nothing sent there, no secret shown', async (api, channel) => {
    const server = await serve();
    const other = await scriptedServer(cleanups, (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    server.addFault({ provider: api, kind: 'redirect', status: 302, location: `${other.url}{path}`, nth: 2 });
    const result = await dump(server, sandbox(), api, channel);
    expect(result.code, explain(result)).toBe(4);
    expect(result.stderr).toContain(`redirected to another origin: ${other.url}/`);
    expect(result.stderr).not.toMatch(/gave up after|retrying/);
    expect(other.hits).toEqual([]);
    // linkchat's token rides in the query string, so the server's Location carries it: shown redacted
    expect(result.stderr).not.toContain(TOKEN);
    expect(result.stderr).not.toContain(API_KEY);
  });

  it('a redirect loop ends after 5 hops with one line, not a hang', async () => {
    const server = await serve();
    server.addFault({ provider: 'tokenchat', kind: 'redirect', status: 302, location: '{path}', times: 1000 });
    const result = await dump(server, sandbox(), 'tokenchat', 'C024BE91L', ['--retries', '0']);
    expect(result.code, explain(result)).toBe(4);
    expect(result.stderr).toMatch(/more than 5 redirects/);
    expect(server.log).toHaveLength(6);
  });

  it('http → https on the same host is followed without the credentials; the refusal says why and what to do', async () => {
    const api = await scriptedServer(cleanups, (req, res) => {
      if (req.headers.authorization === undefined) res.writeHead(401, { 'content-type': 'application/json' }).end('{"code":"401","desc":"no token"}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"code":"0","data":[]}');
    });
    const https = await tlsFront(cleanups, api.url);
    const plain = await scriptedServer(cleanups, (req, res) => res.writeHead(301, { location: `${https}${req.url}` }).end());
    const box = sandbox();
    const result = await runCli(['dump', '--provider', 'relation', '--channel', 'C1', '--base-url', plain.url, '--no-progress'], {
      env: box.env({ NODE_EXTRA_CA_CERTS: TEST_CA }),
    });
    expect(result.code, explain(result)).toBe(3);
    expect(result.stderr).toContain(`redirected to ${https}/api/v1/message/list`);
    expect(result.stderr).toContain(`credentials are sent only to ${plain.url}`);
    expect(result.stderr).toContain(`pass it as --base-url`);
    expect(api.hits.length).toBeGreaterThan(0);
    expect(api.hits.every((hit) => hit.headers.authorization === undefined && hit.headers.apikey === undefined)).toBe(true);
  });
});

describe('an https API through a CONNECT proxy', () => {
  it.each(['relation', 'tokenchat'] as const)('%s: HTTPS_PROXY without a scheme (host:port) is http://, as curl reads it; the tunnel carries only TLS', async (api) => {
    const server = await serve();
    const https = await tlsFront(cleanups, server.url);
    const proxy = await countingProxy(cleanups);
    const channel = api === 'relation' ? 'R1' : 'C024BE91L';
    const all = server.messages(api, channel);
    const result = await dump(server, sandbox(), api, channel, [], { HTTPS_PROXY: proxy.url.replace('http://', ''), NODE_EXTRA_CA_CERTS: TEST_CA }, https);
    expect(result.code, explain(result)).toBe(0);
    expect(problems(api, channel, result, all)).toEqual([]);
    expect(proxy.forwarded).toEqual([]);
    expect(proxy.tunnels.length).toBeGreaterThan(0);
    expect(new Set(proxy.tunnels)).toEqual(new Set([new URL(https).host]));
    // the proxy saw TLS only: neither the credential nor the request line in the clear
    const seen = proxy.tunnelled().toString('latin1');
    expect(seen.length).toBeGreaterThan(0);
    expect(seen).not.toContain(TOKEN);
    expect(seen).not.toContain('GET /api');
  });

  it('only HTTP_PROXY set: an https API is reached directly, as curl does (the proxy sees nothing)', async () => {
    const server = await serve();
    const https = await tlsFront(cleanups, server.url);
    const proxy = await countingProxy(cleanups);
    const all = server.messages('relation', 'R1');
    const result = await dump(server, sandbox(), 'relation', 'R1', [], { HTTP_PROXY: proxy.url, NODE_EXTRA_CA_CERTS: TEST_CA }, https);
    expect(result.code, explain(result)).toBe(0);
    expect(problems('relation', 'R1', result, all)).toEqual([]);
    expect(proxy.tunnels).toEqual([]);
    expect(proxy.forwarded).toEqual([]);
  });

  it('only HTTP_PROXY set: a plain http API goes through it', async () => {
    const server = await serve();
    const proxy = await countingProxy(cleanups);
    const all = server.messages('relation', 'R1');
    const result = await dump(server, sandbox(), 'relation', 'R1', [], { HTTP_PROXY: proxy.url });
    expect(result.code, explain(result)).toBe(0);
    expect(problems('relation', 'R1', result, all)).toEqual([]);
    expect(proxy.forwarded.length).toBeGreaterThan(0);
    expect(proxy.tunnels).toEqual([]);
  });

  it('without the CA the certificate is refused: exit 4 with the reason, never a silent downgrade', async () => {
    const server = await serve();
    const https = await tlsFront(cleanups, server.url);
    const result = await dump(server, sandbox(), 'relation', 'R1', ['--retries', '0'], {}, https);
    expect(result.code, explain(result)).toBe(4);
    expect(result.stderr).toMatch(/certificate/i);
    expect(server.log).toEqual([]);
  });

  it.each([
    ['HTTPS_PROXY', 'socks5://127.0.0.1:1080', /a socks5:\/\/ proxy/],
    ['https_proxy', 'http://[::1', /not a proxy address/],
    ['HTTP_PROXY', 'http://:3128', /not a proxy address|names no proxy host/],
  ])('%s=%s → exit 2 before any request, naming the variable', async (name, value, said) => {
    const server = await serve();
    const result = await dump(server, sandbox(), 'relation', 'R1', [], { [name]: value });
    expect(result.code, explain(result)).toBe(2);
    expect(result.stderr).toContain(name);
    expect(result.stderr).toMatch(said);
    expect(server.log).toEqual([]);
  });

  it("a proxy's password is never printed", async () => {
    const server = await serve();
    const https = await tlsFront(cleanups, server.url);
    const result = await dump(server, sandbox(), 'relation', 'R1', ['--retries', '0'], { HTTPS_PROXY: 'http://me:Pr0xy-Passw0rd@127.0.0.1:9' }, https);
    expect(result.code, explain(result)).toBe(4);
    expect(result.stderr).toMatch(/HTTPS_PROXY/);
    expect(result.stderr).not.toContain('Pr0xy-Passw0rd');
  });
});

describe('ids sent as JSON numbers beyond 2^53', () => {
  it('providers check and dump both read them exactly (no "lost precision" record, no rounding into one id)', async () => {
    const ids = ['9007199254740993', '9007199254740994', '9007199254740995'];
    const api = await scriptedServer(cleanups, (_req, res) => {
      const items = ids.map((id, k) => `{"id":${id},"at":${1714000000 + k},"body":"m${k}"}`).join(',');
      res.writeHead(200, { 'content-type': 'application/json' }).end(`{"items":[${items}]}`);
    });
    const box = createSandbox();
    boxes.push(box);
    const bigids = {
      request: { path: '/h/{channel}' },
      paging: { type: 'offset', param: 'skip', size: { param: 'take', default: 10, max: 10 } },
      order: 'oldest-first',
      records: 'items',
      fields: { id: 'id', time: { path: 'at', format: 'epoch-s' }, text: 'body' },
    };
    mkdirSync(dirname(box.config), { recursive: true });
    writeFileSync(box.config, JSON.stringify({ providers: { bigids } }), { mode: 0o600 });
    const check = await runCli(['providers', 'check', 'bigids', '--channel', 'x', '--base-url', api.url, '--count', '3'], { env: box.env() });
    expect(check.code, explain(check)).toBe(0);
    expect(check.stdout).not.toMatch(/could not normalize|lost precision/);
    expect(check.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line).id)).toEqual(ids);
    const dumped = await runCli(['dump', '--provider', 'bigids', '--channel', 'x', '--base-url', api.url, '--no-progress'], { env: box.env() });
    expect(dumped.code, explain(dumped)).toBe(0);
    expect(linesOf(dumped.stdout).map((line) => JSON.parse(line).id)).toEqual(ids);
  });
});
