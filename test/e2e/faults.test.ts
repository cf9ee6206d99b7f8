/**
 * The HTTP layer through the real CLI: fault injection on the fixture
 * server, exit codes (DESIGN.md section 2) and the reliability and security
 * rules of section 5, checked against the server's request log.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFixtureServer, type FaultRule, type FixtureServer, type FixtureServerOptions, type LogEntry } from '../../fixtures/server.js';
import { createSandbox, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { jsonlIds as ids } from '../helpers/ground-truth.js';

const RELATION = 'c0ffee01';
const DISCUZ = '12';
const DISHAWANG = '26';

const CHANNELS: NonNullable<FixtureServerOptions['channels']> = [
  { provider: 'relation', id: RELATION, count: 60 },
  { provider: 'relation', id: 'c0ffee02', count: 40 },
  { provider: 'discuz', id: DISCUZ, count: 45 },
  { provider: 'dishawang', id: DISHAWANG, count: 35 },
];

/** for output files the tests look at */
let sandbox: Sandbox;
const servers: FixtureServer[] = [];
const boxes: Sandbox[] = [];

beforeAll(() => {
  sandbox = createSandbox();
  return () => {
    sandbox.cleanup();
    for (const box of boxes) box.cleanup();
  };
});

/** A clean environment of its own for each run (own config and state), as runs go side by side. */
function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const box = createSandbox();
  boxes.push(box);
  return box.env(extra);
}

// Tests run concurrently: a server is closed with the file, not after "each" test (which would be another test's).
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

async function serve(faults: FaultRule[] = [], options: FixtureServerOptions = {}): Promise<FixtureServer> {
  const server = await startFixtureServer({ channels: CHANNELS, faults, ...options });
  servers.push(server);
  return server;
}

/** `chat-export dump` against `server` with fast retries and a high rate unless the args say otherwise. */
function dump(server: FixtureServer, args: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> {
  const rate = args.includes('--rate') ? [] : ['--rate', '1000'];
  return runCli(['dump', '--base-url', server.url, '--no-progress', ...rate, ...args], { env: cleanEnv(env), timeoutMs: 30_000 });
}

/** Every message of the channel, oldest first, exactly once. */
function expectComplete(server: FixtureServer, provider: 'relation' | 'discuz' | 'dishawang', channel: string, stdout: string) {
  const truth = server
    .messages(provider, channel)
    .map((m) => m.id)
    .reverse();
  expect(ids(stdout)).toEqual(truth);
}

function channelLog(server: FixtureServer, channel: string): LogEntry[] {
  return server.log.filter((entry) => entry.channel === channel);
}

function explain(result: RunResult): string {
  return `exit ${result.code}\n--- stderr\n${result.stderr}`;
}

describe.concurrent('retryable faults are survived', () => {
  it.each<[string, FaultRule]>([
    ['a burst of three 503s', { provider: 'relation', nth: 1, times: 3, kind: 'status', status: 503 }],
    ['an HTML 502 page', { provider: 'relation', nth: 2, kind: 'html', status: 502 }],
    ['a 200 with truncated JSON', { provider: 'relation', nth: 2, kind: 'truncate' }],
    ['a connection reset mid-body', { provider: 'relation', nth: 1, kind: 'reset' }],
  ])('%s', async (_name, rule) => {
    const server = await serve([rule]);
    const result = await dump(server, ['--provider', 'relation', '--channel', RELATION, '--page-size', '20']);
    expect(result.code, explain(result)).toBe(0);
    expectComplete(server, 'relation', RELATION, result.stdout);
    const faulted = server.log.filter((entry) => entry.fault !== undefined);
    expect(faulted.length).toBe(rule.times ?? 1);
  });

  it('a response slower than --timeout 300 is abandoned, retried and the export completes', async () => {
    const server = await serve([{ provider: 'relation', nth: 1, kind: 'delay', ms: 3000 }]);
    const result = await dump(server, ['--provider', 'relation', '--channel', RELATION, '--timeout', '300', '-v']);
    expect(result.code, explain(result)).toBe(0);
    expectComplete(server, 'relation', RELATION, result.stdout);
    const [slow, retry] = server.log;
    expect(slow!.fault).toBe('delay');
    expect(slow!.status).toBe(0); // the client left before any answer
    // it gave up after about 300 ms (its own clock), long before the server's 3 s
    const gaveUp = /failed after (\d+) ms: .*no complete answer .* within 300 ms/.exec(result.stderr);
    expect(gaveUp, result.stderr).not.toBeNull();
    expect(Number(gaveUp![1])).toBeGreaterThanOrEqual(295);
    expect(retry!.start - slow!.start).toBeLessThan(2500);
  });

  it('the same faults on discuz and dishawang are survived too', async () => {
    const server = await serve([
      { provider: 'discuz', nth: 1, kind: 'html' },
      { provider: 'discuz', nth: 2, kind: 'truncate' },
      { provider: 'dishawang', nth: 1, times: 2, kind: 'status', status: 503 },
      { provider: 'dishawang', nth: 4, kind: 'reset' },
    ]);
    const discuz = await dump(server, ['--provider', 'discuz', '--channel', DISCUZ, '--page-size', '10']);
    expect(discuz.code, explain(discuz)).toBe(0);
    expectComplete(server, 'discuz', DISCUZ, discuz.stdout);
    const dishawang = await dump(server, ['--provider', 'dishawang', '--channel', DISHAWANG]);
    expect(dishawang.code, explain(dishawang)).toBe(0);
    expectComplete(server, 'dishawang', DISHAWANG, dishawang.stdout);
  });
});

describe.concurrent('failures after retries: exit 4', () => {
  it('a persistent 500 exits 4 naming the channel and the URL; -o file keeps its old content and leaves no temp file', async () => {
    // the first page succeeds, every later one fails: the run has data in hand when it gives up
    const server = await serve([{ provider: 'relation', nth: 2, times: 1000, kind: 'status', status: 500 }]);
    const dir = join(sandbox.dir, 'out-500');
    mkdirSync(dir, { recursive: true });
    const target = join(dir, 'backup.jsonl');
    writeFileSync(target, 'OLD CONTENT\n');
    const result = await dump(server, ['--provider', 'relation', '--channel', RELATION, '--page-size', '20', '--retries', '2', '-o', target]);
    expect(result.code, explain(result)).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`channel ${RELATION}`);
    expect(result.stderr).toContain(`${server.url}/api/v1/message/list?channelUuid=${RELATION}`);
    expect(result.stderr).toMatch(/HTTP 500/);
    expect(channelLog(server, RELATION)).toHaveLength(1 + 3);
    expect(readFileSync(target, 'utf8')).toBe('OLD CONTENT\n');
    expect(readdirSync(dir)).toEqual(['backup.jsonl']);
  });

  it('a persistent 500 with -o to a new file creates nothing', async () => {
    const server = await serve([{ provider: 'discuz', kind: 'status', status: 500 }]);
    const dir = join(sandbox.dir, 'out-500-new');
    mkdirSync(dir, { recursive: true });
    const result = await dump(server, ['--provider', 'discuz', '--channel', DISCUZ, '--retries', '1', '-o', join(dir, 'x.csv')]);
    expect(result.code, explain(result)).toBe(4);
    expect(result.stderr).toContain(`discuz channel ${DISCUZ}`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a 200 whose body fails the schema every time exits 4 with the zod path and a short excerpt', async () => {
    const body = { status: 'ok', data: [], filler: 'z'.repeat(2000) };
    const server = await serve([{ provider: 'relation', kind: 'body', body }]);
    const result = await dump(server, ['--provider', 'relation', '--channel', RELATION, '--retries', '2']);
    expect(result.code, explain(result)).toBe(4);
    expect(server.log).toHaveLength(3);
    expect(result.stderr).toMatch(/code: /); // the zod path of the missing field
    expect(result.stderr).toContain('"status":"ok"');
    expect(result.stderr).not.toContain('z'.repeat(300));
    expect(result.stderr.length).toBeLessThan(2000);
  });

  it('a body over the 64 MiB cap (announced by Content-Length) is refused with exit 4, quickly', async () => {
    const server = await serve([{ provider: 'relation', kind: 'huge', bytes: 65 * 1024 * 1024, contentLength: true }]);
    const result = await dump(server, ['--provider', 'relation', '--channel', RELATION]);
    expect(result.code, explain(result)).toBe(4);
    expect(result.stderr).toMatch(/64 MiB size cap/);
    expect(result.elapsedMs).toBeLessThan(15_000);
    expect(server.log).toHaveLength(1);
  });

  it('server text with ANSI escapes and control characters in an API error is shown stripped', async () => {
    const desc = '\u001b[31mboom\u0007\u001b]0;pwned\u0007 \u0000end\u009b2J';
    const server = await serve([{ provider: 'relation', kind: 'body', body: { code: '99999', desc, data: null } }]);
    const result = await dump(server, ['--provider', 'relation', '--channel', RELATION]);
    expect(result.code, explain(result)).toBe(4);
    expect(result.stderr).toMatch(/code 99999 boom end/);
    expect(result.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(result.stderr).not.toContain('pwned');
  });

  it('the same error without a data field reaches the terminal with no raw control characters either', async () => {
    const server = await serve([{ provider: 'relation', kind: 'body', body: { code: '99999', desc: '\u001b[31mboom\u0007' } }]);
    const result = await dump(server, ['--provider', 'relation', '--channel', RELATION, '--retries', '1', '-v']);
    expect(result.code, explain(result)).toBe(4);
    expect(result.stderr).toContain('boom');
    expect(result.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });

  it('a raw (non-JSON) body with escapes is shown stripped', async () => {
    const server = await serve([{ provider: 'dishawang', kind: 'body', body: '\u001b[2J\u001b[31mGateway\u0007 exploded\u001b[0m', status: 502 }]);
    const result = await dump(server, ['--provider', 'dishawang', '--channel', DISHAWANG, '--retries', '1']);
    expect(result.code, explain(result)).toBe(4);
    expect(result.stderr).toMatch(/HTTP 502/);
    expect(result.stderr).toContain('Gateway exploded');
    expect(result.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });
});

describe.concurrent('credentials', () => {
  const SERVER_TOKEN = 'srv-token-5a4b3c2d1e';
  const SERVER_KEY = 'srv-apikey-0f9e8d7c6b';
  const WRONG = 'wrong-token-77aa88bb99';

  it.each([
    ['relation', RELATION],
    ['discuz', DISCUZ],
    ['dishawang', DISHAWANG],
  ] as const)('%s: a wrong token exits 3 and is printed nowhere, also with -v', async (provider, channel) => {
    const server = await serve([], { auth: { token: SERVER_TOKEN, apiKey: SERVER_KEY } });
    for (const verbose of [[], ['-v']]) {
      const result = await dump(server, ['--provider', provider, '--channel', channel, ...verbose], {
        CHAT_EXPORT_TOKEN: WRONG,
        CHAT_EXPORT_API_KEY: SERVER_KEY,
      });
      expect(result.code, explain(result)).toBe(3);
      expect(result.stderr).toContain(channel);
      for (const secret of [WRONG, SERVER_KEY, SERVER_TOKEN]) {
        expect(result.stdout).not.toContain(secret);
        expect(result.stderr).not.toContain(secret);
      }
    }
    // refused: not retried
    expect(server.log).toHaveLength(2);
  });

  it('a wrong token given as a flag is printed nowhere either', async () => {
    const server = await serve([], { auth: { token: SERVER_TOKEN, apiKey: SERVER_KEY } });
    const result = await dump(server, ['--provider', 'relation', '--channel', RELATION, '-v', '--token', WRONG, '--api-key', `${WRONG}-key`]);
    expect(result.code, explain(result)).toBe(3);
    expect(result.stdout + result.stderr).not.toContain(WRONG);
  });

  it('the correct secrets never appear in -v logs of a successful run', async () => {
    const server = await serve([{ provider: 'relation', nth: 2, kind: 'status', status: 503 }], { auth: { token: SERVER_TOKEN, apiKey: SERVER_KEY } });
    const result = await dump(server, ['--provider', 'relation', '--channel', RELATION, '--page-size', '20', '-v'], {
      CHAT_EXPORT_TOKEN: SERVER_TOKEN,
      CHAT_EXPORT_API_KEY: SERVER_KEY,
    });
    expect(result.code, explain(result)).toBe(0);
    expectComplete(server, 'relation', RELATION, result.stdout);
    expect(result.stderr).toMatch(/GET http/);
    for (const secret of [SERVER_TOKEN, SERVER_KEY]) {
      expect(result.stdout).not.toContain(secret);
      expect(result.stderr).not.toContain(secret);
    }
    // they were sent, though
    expect(server.log[0]!.headers.authorization).toBe(`Bearer ${SERVER_TOKEN}`);
  });
});

describe('-v request times', () => {
  it('show the server\'s own time, and the wait for a turn under --rate apart from it', async () => {
    const server = await startFixtureServer({ channels: [{ provider: 'discuz', id: 'vt', count: 60 }], latencyMs: 150 });
    servers.push(server);
    const result = await dump(server, ['--provider', 'discuz', '--channel', 'vt', '--page-size', '20', '--rate', '2', '-v']);
    expect(result.code, explain(result)).toBe(0);
    const times = [...result.stderr.matchAll(/ 200 (\d+) ms(?: \(after waiting (\d+) ms for its turn\))?$/gm)].map((m) => ({ server: Number(m[1]), waited: Number(m[2] ?? 0) }));
    expect(times.length).toBeGreaterThanOrEqual(3);
    // --rate 2 spaces requests 500 ms apart; the server answers in 150 ms: what was waiting is not its time
    expect(times.some((t) => t.waited >= 200), JSON.stringify(times)).toBe(true);
    for (const t of times) expect(t.server, JSON.stringify(times)).toBeGreaterThanOrEqual(140);
    expect(Math.min(...times.map((t) => t.server)), JSON.stringify(times)).toBeLessThan(450);
  });
});

describe.concurrent('-v', () => {
  it('logs each request to stderr: method, URL, status and ms', async () => {
    const server = await serve([{ provider: 'discuz', nth: 2, kind: 'status', status: 503 }]);
    const result = await dump(server, ['--provider', 'discuz', '--channel', DISCUZ, '--page-size', '20', '-v']);
    expect(result.code, explain(result)).toBe(0);
    const lines = result.stderr.split('\n');
    // the server's time, and apart from it any wait for a turn (the rate limit, a Retry-After)
    const ok = lines.filter((line) => /GET http:\/\/127\.0\.0\.1:\d+\/api\/dialog\/message\?\S+ 200 \d+ ms( \(after waiting \d+ ms for its turn\))?$/.test(line));
    const failed = lines.filter((line) => /GET http:\/\/127\.0\.0\.1:\d+\/api\/dialog\/message\?\S+ failed after \d+ ms: .*HTTP 503/.test(line));
    // one line per answered request, whatever its outcome
    expect(ok.length).toBe(server.log.filter((e) => e.status === 200).length);
    expect(failed).toHaveLength(1);
    // without -v none of this
    const quiet = await dump(server, ['--provider', 'discuz', '--channel', DISCUZ]);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toMatch(/GET http/);
  });
});

// Tests that wait on the clock; they are mostly idle, so they run side by side, apart from the busy ones.
describe.concurrent('waits: Retry-After and rate limiting', () => {
  it('429 with Retry-After: 2 — the retry waits at least 2 s, stderr says so, the export completes', async () => {
    const server = await serve([{ provider: 'relation', nth: 1, kind: 'status', status: 429, headers: { 'Retry-After': '2' } }]);
    const result = await dump(server, ['--provider', 'relation', '--channel', RELATION]);
    expect(result.code, explain(result)).toBe(0);
    expectComplete(server, 'relation', RELATION, result.stdout);
    const [refused, retry] = server.log;
    expect(refused!.status).toBe(429);
    expect(retry!.start - refused!.end!).toBeGreaterThanOrEqual(1950);
    expect(result.stderr).toMatch(/rate limited, waiting 2 s/);
  });

  it('503 with an HTTP-date Retry-After: the retry waits until that date', async () => {
    // Dated when the 503 is served (a loaded machine may take seconds to start the CLI); whole
    // seconds: 3 s ahead is 2 to 3 s ahead.
    let until = Number.NaN;
    const retryAfter = () => {
      const date = new Date(Date.now() + 3000).toUTCString();
      until = Date.parse(date);
      return { 'Retry-After': date };
    };
    const server = await serve([{ provider: 'relation', nth: 1, kind: 'status', status: 503, headers: retryAfter }]);
    const result = await dump(server, ['--provider', 'relation', '--channel', RELATION]);
    expect(result.code, explain(result)).toBe(0);
    expectComplete(server, 'relation', RELATION, result.stdout);
    const [refused, retry] = server.log;
    expect(refused!.status).toBe(503);
    // the server's log is performance.now() of this process: map it to wall-clock time
    const refusedAt = performance.timeOrigin + refused!.end!;
    const retryAt = performance.timeOrigin + retry!.start;
    expect(until - refusedAt).toBeGreaterThan(500);
    expect(retryAt).toBeGreaterThanOrEqual(until - 50);
  });

  it('--rate 2 keeps the requests to the host at 2 per second or fewer', async () => {
    // 75 messages at 10 a page: 8 pages, fetched several at a time once the page count is known
    const server = await startFixtureServer({ channels: [{ provider: 'dishawang', id: 'r', count: 75 }] });
    servers.push(server);
    const result = await dump(server, ['--provider', 'dishawang', '--channel', 'r', '--rate', '2', '--concurrency', '4']);
    expect(result.code, explain(result)).toBe(0);
    const starts = server.log.map((entry) => entry.start).sort((a, b) => a - b);
    expect(starts.length).toBeGreaterThanOrEqual(8);
    const gaps = starts.slice(1).map((start, i) => Math.round(start - starts[i]!));
    // The first request also opens the connection, so on a loaded machine it reaches the server late
    // (seen: 180 ms), which shortens the first gap as the server sees it: the pace is judged from the
    // second request on, and the first gap only has to show the two did not leave together.
    // The server logs a request when its own event loop gets to it, and the server shares this test's process:
    // on a loaded machine one arrival can be logged up to a few hundred ms late, which makes the gap before it
    // look longer and the gap after it shorter. So no single gap is judged; what a limiter that lets requests
    // out too early would break is the count: by t seconds after the second request, at most 1 + 2t more
    // (300 ms allowed for one late-logged arrival). Two sent together show as one of these falling short.
    for (let i = 2; i < starts.length; i++) {
      expect(starts[i]! - starts[1]!, `request ${i}; gaps ${gaps.join(', ')}`).toBeGreaterThanOrEqual((i - 1) * 500 - 300);
    }
    expect(starts.at(-1)! - starts[0]!, `gaps ${gaps.join(', ')}`).toBeGreaterThanOrEqual((starts.length - 1) * 500 - 300);
  });

  it('a 429 on one channel pauses the other channel’s requests to the same host too', async () => {
    const server = await serve([{ provider: 'relation', channel: RELATION, nth: 2, kind: 'status', status: 429, headers: { 'Retry-After': '2' } }]);
    const result = await dump(server, [
      '--provider', 'relation', '--channel', RELATION, '--channel', 'c0ffee02',
      '--page-size', '5', '--rate', '10', '--concurrency', '2',
    ]);
    expect(result.code, explain(result)).toBe(0);
    const refused = server.log.find((entry) => entry.status === 429)!;
    const other = channelLog(server, 'c0ffee02');
    // the other channel was still being read when the 429 came, and went on after the pause
    expect(other.some((entry) => entry.start > refused.end! + 1900)).toBe(true);
    // but nothing started in the paused window, where the rate alone would have let about 19 through
    // (allowing the one or two granted before the client had read the 429)
    const inPause = server.log.filter((entry) => entry.start > refused.end! && entry.start < refused.end! + 1950);
    expect(inPause.length, JSON.stringify(inPause.map((e) => Math.round(e.start - refused.end!)))).toBeLessThanOrEqual(2);
    expect(result.stderr).toMatch(/rate limited, waiting 2 s/);
  });
});

describe.concurrent('several channels', () => {
  it('an unknown relation channel next to a good one exits 5; the good one is complete', async () => {
    const server = await serve();
    const result = await dump(server, ['--provider', 'relation', '--channel', RELATION, '--channel', 'no-such-channel']);
    // no crash trace, whatever happens
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.code, explain(result)).toBe(5);
    expectComplete(server, 'relation', RELATION, result.stdout);
    expect(result.stderr).toContain('no-such-channel');
    expect(result.stderr).toMatch(/10120/);
  });

  it('a persistent 500 on one channel of two, into a directory: exit 5, the other file complete, no file for the failed one', async () => {
    const server = await serve([{ provider: 'relation', channel: 'c0ffee02', kind: 'status', status: 500 }]);
    const dir = join(sandbox.dir, 'out-partial');
    const result = await dump(server, ['--provider', 'relation', '--channel', RELATION, '--channel', 'c0ffee02', '--retries', '1', '-o', `${dir}/`]);
    expect(result.code, explain(result)).toBe(5);
    expect(result.stderr).toContain('c0ffee02');
    expect(result.stderr).toMatch(/HTTP 500/);
    expect(readdirSync(dir)).toEqual([`relation-${RELATION}.jsonl`]);
    expectComplete(server, 'relation', RELATION, readFileSync(join(dir, `relation-${RELATION}.jsonl`), 'utf8'));
  });
});

describe.concurrent('plain http to a non-loopback host', () => {
  it('is refused with exit 2 before any connection', async () => {
    const result = await runCli(
      ['dump', '--provider', 'relation', '--channel', RELATION, '--base-url', 'http://192.0.2.1', '--timeout', '60000'],
      { env: cleanEnv(), timeoutMs: 20_000 },
    );
    expect(result.code, explain(result)).toBe(2);
    expect(result.elapsedMs).toBeLessThan(10_000);
    expect(result.stderr).toMatch(/http:\/\//);
    expect(result.stderr).toMatch(/--allow-insecure/);
    expect(result.stdout).toBe('');
  });

  it('--allow-insecure is accepted (with --dry-run nothing is sent) and the secrets stay redacted', async () => {
    const result = await runCli(
      ['dump', '--provider', 'relation', '--channel', RELATION, '--base-url', 'http://192.0.2.1', '--allow-insecure', '--dry-run'],
      { env: cleanEnv({ CHAT_EXPORT_TOKEN: 'dry-run-token-0123456789' }), timeoutMs: 20_000 },
    );
    expect(result.code, explain(result)).toBe(0);
    expect(result.elapsedMs).toBeLessThan(10_000);
    const shown = JSON.parse(result.stdout) as { baseUrl: string; firstRequest: { url: string } };
    expect(shown.baseUrl).toMatch(/^http:\/\/192\.0\.2\.1/);
    expect(shown.firstRequest.url).toMatch(/^http:\/\/192\.0\.2\.1\/api\/v1\/message\/list\?/);
    expect(result.stdout + result.stderr).not.toContain('dry-run-token-0123456789');
  });

  it('a loopback http:// address needs no flag', async () => {
    const server = await serve();
    const result = await dump(server, ['--provider', 'relation', '--channel', RELATION, '--limit', '5']);
    expect(result.code, explain(result)).toBe(0);
    expect(ids(result.stdout)).toHaveLength(5);
  });
});
