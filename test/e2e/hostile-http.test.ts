/**
 * HTTP as real networks and servers speak it, through the real CLI: a
 * forward proxy from the environment, servers that echo the credential back
 * in encoded forms, credentials written into the base URL, values that no
 * header or timer can hold, ids that would climb a URL path.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { startFixtureServer, type FixtureServer } from '../../fixtures/server.js';
import { createSandbox, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { countingProxy, scriptedServer, type Cleanup } from '../helpers/servers.js';

const cleanups: Cleanup[] = [];
const boxes: Sandbox[] = [];
afterAll(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  for (const box of boxes) box.cleanup();
});

async function serve(): Promise<FixtureServer> {
  const server = await startFixtureServer({
    channels: [
      { provider: 'relation', id: 'C1', count: 120, seed: 4 },
      { provider: 'dishawang', id: '26', count: 20, seed: 5 },
    ],
  });
  cleanups.push(() => server.close());
  return server;
}

function sandbox(): Sandbox {
  const box = createSandbox();
  boxes.push(box);
  return box;
}

function explain(result: Pick<RunResult, 'code' | 'stderr'>): string {
  return `exit ${result.code}\n--- stderr\n${result.stderr}`;
}

const FAST = ['--no-progress', '--rate', '1000'];

describe('proxies from the environment, as curl reads them', () => {
  it.each(['HTTP_PROXY', 'http_proxy'])('%s: every request goes through the proxy, the export is complete', async (name) => {
    const server = await serve();
    const proxy = await countingProxy(cleanups);
    const before = server.log.length;
    const result = await runCli(['dump', '--provider', 'relation', '--base-url', server.url, '--channel', 'C1', '--page-size', '50', ...FAST], {
      env: sandbox().env({ [name]: proxy.url }),
    });
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout.split('\n').filter(Boolean)).toHaveLength(120);
    const requests = server.log.length - before;
    expect(requests).toBeGreaterThan(0);
    // plain-http targets are forwarded as absolute URIs (curl's way), not tunnelled
    expect(proxy.forwarded).toHaveLength(requests);
    expect(proxy.forwarded.every((url) => url.startsWith(`${server.url}/api/v1/message/list?`))).toBe(true);
    expect(proxy.tunnels).toEqual([]);
  });

  it('NO_PROXY naming the host bypasses the proxy', async () => {
    const server = await serve();
    const proxy = await countingProxy(cleanups);
    const result = await runCli(['dump', '--provider', 'relation', '--base-url', server.url, '--channel', 'C1', ...FAST], {
      env: sandbox().env({ HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }),
    });
    expect(result.code, explain(result)).toBe(0);
    expect(proxy.forwarded).toEqual([]);
    expect(proxy.tunnels).toEqual([]);
  });
});

// A token whose encodings all differ from it: `/` `+` `"` and a non-ASCII letter.
const SECRET = 'Zm9v/YmFy+c2VjcmV0"x-ü-42';
const FORMS = {
  literal: SECRET,
  json: JSON.stringify(SECRET).slice(1, -1),
  jsonSlashes: JSON.stringify(SECRET).slice(1, -1).replace(/\//g, '\\/'),
  unicode: Array.from(SECRET, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
  percent: encodeURIComponent(SECRET),
  percentLower: encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
  base64: Buffer.from(SECRET).toString('base64'),
};

describe('a server that echoes the credential back', () => {
  it.each(Object.keys(FORMS) as Array<keyof typeof FORMS>)('never prints it %s-encoded, also with -v', async (form) => {
    const echoed = FORMS[form];
    const server = await scriptedServer(cleanups, (_req, res, n) => {
      // A 502 with the echo in text, a 200 that is not the documented shape, then an API error naming it.
      if (n === 1) res.writeHead(502, { 'content-type': 'text/plain' }).end(`bad gateway for token=${echoed}`);
      else if (n === 2) res.writeHead(200, { 'content-type': 'application/json' }).end(`{"code":"0","data":[{"id":"1","createAt":"x","content":"${echoed}"}]}`);
      else res.writeHead(200, { 'content-type': 'application/json' }).end(`{"code":"10999","desc":"token ${echoed} is not valid"}`);
    });
    const result = await runCli(['dump', '--provider', 'relation', '--base-url', server.url, '--channel', 'C1', '-v', '--retries', '3', ...FAST], {
      env: sandbox().env({ CHAT_EXPORT_TOKEN: SECRET }),
    });
    expect(result.code, explain(result)).toBe(4);
    expect(server.hits.length).toBeGreaterThanOrEqual(3);
    const printed = result.stdout + result.stderr;
    for (const [name, value] of Object.entries(FORMS)) expect(printed.includes(value), `${name} form printed:\n${printed}`).toBe(false);
    expect(printed).toContain('••••');
  });
});

// The token of issue 25: `"` and `\` (escaped twice when a server embeds its request headers as JSON in a JSON string), `/` and `+`.
const DEEP_SECRET = 'VG9rZW5TZWNyZXQx/t+o"k\\n=7731';
const json = (text: string): string => JSON.stringify(text).slice(1, -1);
const unicodeAll = (text: string): string => Array.from(text, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
const DEEP_FORMS: Record<string, string> = {
  literal: DEEP_SECRET,
  json1: json(DEEP_SECRET),
  json2: json(json(DEEP_SECRET)),
  json3: json(json(json(DEEP_SECRET))),
  json4: json(json(json(json(DEEP_SECRET)))),
  json2Slashes: json(json(DEEP_SECRET).replace(/\//g, '\\/')),
  unicodeThenJson: json(unicodeAll(DEEP_SECRET)),
  percent: encodeURIComponent(DEEP_SECRET),
  percentTwice: encodeURIComponent(encodeURIComponent(DEEP_SECRET)),
  percentOfJson2: encodeURIComponent(json(json(DEEP_SECRET))).toLowerCase(),
  jsonOfPercentOfJson: json(json(encodeURIComponent(json(DEEP_SECRET)))),
  base64: Buffer.from(DEEP_SECRET).toString('base64'),
  base64url: Buffer.from(DEEP_SECRET).toString('base64url'),
  base64Json: json(json(Buffer.from(DEEP_SECRET).toString('base64').replace(/\//g, '\\/'))),
  base64Percent: encodeURIComponent(Buffer.from(DEEP_SECRET).toString('base64')),
  // Basic credentials echoed: the token sits at an offset inside the encoded `user:password`, at each alignment
  basic1: Buffer.from(`u:${DEEP_SECRET}`).toString('base64'),
  basic2: Buffer.from(`us:${DEEP_SECRET}`).toString('base64'),
  basic3: Buffer.from(`backup:${DEEP_SECRET}`).toString('base64'),
  basicJson: json(json(`Basic ${Buffer.from(`us:${DEEP_SECRET}`).toString('base64')}`)),
};

describe('a server that echoes the credential back escaped to any depth', () => {
  // Each form is echoed raw in a 502 text, inside a JSON string of an answer that is not the documented shape, and
  // as the request headers embedded as JSON inside the JSON string of an API error (issue 25).
  it.each(Object.keys(DEEP_FORMS))('never prints it as %s, also with -v', async (form) => {
    const echoed = DEEP_FORMS[form]!;
    const headers = JSON.stringify(JSON.stringify({ headers: { authorization: `Bearer ${echoed}` } }));
    const server = await scriptedServer(cleanups, (_req, res, n) => {
      if (n === 1) res.writeHead(502, { 'content-type': 'text/plain' }).end(`bad gateway: ${echoed} ${headers}`);
      else if (n === 2) res.writeHead(200, { 'content-type': 'application/json' }).end(`{"code":"0","data":[{"id":"1","createAt":"x","content":${headers}}]}`);
      else res.writeHead(200, { 'content-type': 'application/json' }).end(`{"code":"10999","desc":${headers}}`);
    });
    const result = await runCli(['dump', '--provider', 'relation', '--base-url', server.url, '--channel', 'C1', '-v', '--retries', '3', ...FAST], {
      env: sandbox().env({ CHAT_EXPORT_TOKEN: DEEP_SECRET }),
    });
    expect(result.code, explain(result)).toBe(4);
    expect(server.hits.length).toBeGreaterThanOrEqual(3);
    expect(server.hits[0]!.headers.authorization).toBe(`Bearer ${DEEP_SECRET}`);
    const printed = result.stdout + result.stderr;
    for (const [name, value] of Object.entries(DEEP_FORMS)) {
      // the whole form, and its middle (a Basic blob keeps its user's part: only the token's own characters must go)
      const middle = value.slice(Math.floor(value.length / 2) - 6, Math.floor(value.length / 2) + 6);
      expect(printed.includes(value), `${name} form printed:\n${printed}`).toBe(false);
      // (a middle that is only escape characters — json4's is a run of backslashes — carries none of the token)
      if (/[A-Za-z0-9]/.test(middle)) expect(printed.includes(middle), `${name} form's middle ${middle} printed:\n${printed}`).toBe(false);
    }
    expect(printed).toContain('••••');
  });
});

describe('credentials in the base URL are refused (exit 2), never silently dropped nor printed', () => {
  it.each([
    ['flag', ['--base-url', 'https://backup:Hunter2-PASSWORD@bbs.example:99999/'], {}],
    ['environment', [], { CHAT_EXPORT_BASE_URL: 'https://backup:Hunter2-PASSWORD@bbs.example:99999/' }],
  ] as const)('"not a URL" from the %s does not show the password', async (_where, flags, env) => {
    const result = await runCli(['dump', '--provider', 'discuz', '--channel', '1', ...flags, ...FAST], { env: sandbox().env(env) });
    expect(result.code, explain(result)).toBe(2);
    expect(result.stderr).toMatch(/is not a URL/);
    expect(result.stderr).not.toContain('Hunter2');
    expect(result.stderr).not.toContain('backup');
  });

  it.each([
    ['userinfo', 'https://backup:Hunter2-PASSWORD@bbs.example/', /credentials/],
    ['?token=', 'https://bbs.example/?token=Hunter2-PASSWORD', /query string/],
  ])('%s in the base URL → exit 2, also under --dry-run, the secret not shown', async (_what, url, message) => {
    for (const extra of [[], ['--dry-run']]) {
      const result = await runCli(['dump', '--provider', 'discuz', '--channel', '1', '--base-url', url, ...extra, ...FAST], { env: sandbox().env() });
      expect(result.code, explain(result)).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stdout + result.stderr).not.toContain('Hunter2');
    }
  });
});

describe('values no header or timer can hold → exit 2 before any request', () => {
  it('a token with a Windows line end says what is wrong with it', async () => {
    const server = await serve();
    const before = server.log.length;
    const result = await runCli(['dump', '--provider', 'relation', '--base-url', server.url, '--channel', 'C1', ...FAST], {
      env: sandbox().env({ CHAT_EXPORT_TOKEN: 'tok-from-a-file\r' }),
    });
    expect(result.code, explain(result)).toBe(2);
    expect(result.stderr).toMatch(/token contains a line break/);
    expect(result.stderr).not.toMatch(/network/);
    expect(server.log.length - before).toBe(0);
  });

  it.each([
    [['--timeout', '2147483648'], /--timeout must be between 1 and 2147483647/],
    [['--rate', '1e-7'], /--rate must be at least 0\.000001/],
  ])('%j → exit 2 naming the range', async (flags, message) => {
    const server = await serve();
    const before = server.log.length;
    const result = await runCli(['dump', '--provider', 'relation', '--base-url', server.url, '--channel', 'C1', '--no-progress', ...flags], {
      env: sandbox().env(),
    });
    expect(result.code, explain(result)).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/TimeoutOverflowWarning/);
    expect(server.log.length - before).toBe(0);
  });
});

describe('ids in a URL path', () => {
  it.each(['..', '.'])('%j as a dishawang conversation → exit 2, nothing requested', async (id) => {
    const server = await serve();
    const before = server.log.length;
    const result = await runCli(['dump', '--provider', 'dishawang', '--base-url', server.url, '--channel', id, ...FAST], { env: sandbox().env() });
    expect(result.code, explain(result)).toBe(2);
    expect(server.log.length - before).toBe(0);
  });

  it('an id with / ? # is percent-encoded into its path segment', async () => {
    const server = await scriptedServer(cleanups, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"code":1,"msg":"ok","data":{"total":0,"per_page":10,"current_page":1,"last_page":1,"data":[]}}');
    });
    const result = await runCli(['dump', '--provider', 'dishawang', '--base-url', server.url, '--channel', 'a/../b?c#d', ...FAST], { env: sandbox().env() });
    expect(result.code, explain(result)).toBe(0);
    expect(server.hits[0]!.url).toBe('/api/v1/im/a%2F..%2Fb%3Fc%23d/message/1');
  });
});

describe('one message with an impossible value', () => {
  it('is reported by id and counted missing (exit 5), not retried; the rest is exported with exact big sender ids', async () => {
    const bad = '{"id":"2","createAt":"99999999999999999","from":7,"content":"b"}';
    const one = '{"id":"1","createAt":"1000","from":12345678901234567890,"content":"a"}';
    const three = '{"id":"3","createAt":"3000","from":12345678901234567891,"content":"c"}';
    const server = await scriptedServer(cleanups, (req, res) => {
      const max = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams.get('maxCreateAt');
      const items = max === '1000' ? [one] : [three, bad, one];
      res.writeHead(200, { 'content-type': 'application/json' }).end(`{"code":"0","data":[${items.join(',')}]}`);
    });
    const result = await runCli(['dump', '--provider', 'relation', '--base-url', server.url, '--channel', 'C1', '-q', ...FAST], { env: sandbox().env() });
    expect(result.code, explain(result)).toBe(5);
    const messages = result.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { id: string; sender: { id: string } });
    expect(messages.map((m) => m.id)).toEqual(['1', '3']);
    // 2^64-ish sender ids: JSON.parse would round both to 12345678901234567000
    expect(messages.map((m) => m.sender.id)).toEqual(['12345678901234567890', '12345678901234567891']);
    expect(result.stderr).toMatch(/message 2: timestamp out of range/);
    expect(server.hits).toHaveLength(2);
  });
});
